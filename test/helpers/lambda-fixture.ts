import { threadId } from 'node:worker_threads';

/**
 * A function for the local Lambda runtime's tests: counts its invocations in module scope (a warm
 * environment keeps counting; a cold one starts at 1), sleeps or fails on request.
 */
if (process.env.FAIL_INIT === '1') throw new Error('init failed on purpose');
const loadedAt = Date.now();
let invocations = 0;

export async function handler(event: { sleepMs?: number; fail?: boolean }, context: { getRemainingTimeInMillis(): number; awsRequestId: string }) {
  invocations++;
  if (event.sleepMs) await new Promise((resolve) => setTimeout(resolve, event.sleepMs));
  if (event.fail) throw new Error('handler failed on purpose');
  return { threadId, invocations, loadedAt, remainingMs: context.getRemainingTimeInMillis(), requestId: context.awsRequestId, gc: typeof (globalThis as { gc?: unknown }).gc, marker: process.env.FIXTURE_MARKER };
}
