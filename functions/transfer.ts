import type { Context, SQSEvent } from 'aws-lambda';
import { z } from 'zod';
import { sweepArrayBuffersPromptly } from '../lib/adapters/native-garbage';
import { getContainer } from '../lib/container';
import type { TransferJob } from '../lib/ports';
import { sqsBatchHandler } from '../lib/sqs/batch';
import { SftpSessions } from '../lib/use-cases/sftp-sessions';
import { transferFile } from '../lib/use-cases/transfer';

sweepArrayBuffersPromptly();
const container = getContainer();

export const TransferJobMessage = z.object({
  fileId: z.string().regex(/^[0-9a-f]{32}$/),
  serverId: z.string().min(1),
  remotePath: z.string().min(1),
  size: z.number().int().min(0),
  mtime: z.number().int(),
});

/** Leave this much of the invocation for the final checkpoint and re-enqueue. */
const YIELD_MARGIN_MS = 90_000;

/**
 * Transfer queue consumer. The files of a batch are transferred one after another, and those from
 * the same server share one SFTP connection; the event source's maximum concurrency is the global
 * cap on concurrent transfers. A retryable failure hides the message for the backoff delay and
 * reports it failed, so SQS redelivers it then; after maxReceiveCount it lands in the dead-letter
 * queue. Files the invocation has no time left for are re-enqueued for a fresh one.
 */
export async function handler(event: SQSEvent, context: Context) {
  const timeIsShort = () => typeof context?.getRemainingTimeInMillis === 'function' && context.getRemainingTimeInMillis() < YIELD_MARGIN_MS;
  const sessions = new SftpSessions(container.transferDeps);
  /** Servers at their connection cap, with the wait the use case asked for: the batch's other files from them wait without trying. */
  const saturated = new Map<string, number>();
  // Waiting for a server's connection cap is not a failure: a fresh message (its receive count back
  // at zero) comes back later, so a busy server never pushes its files into the dead-letter queue.
  const later = (job: TransferJob, delaySeconds: number) => container.transfers.sendAll([job], delaySeconds);
  const run = sqsBatchHandler(
    TransferJobMessage,
    () => container.logger,
    async (job, record) => {
      if (timeIsShort()) {
        await container.transfers.sendAll([job]);
        return;
      }
      const wait = saturated.get(job.serverId);
      if (wait !== undefined) return later(job, wait);
      const outcome = await transferFile(job, { ...container.transferDeps, sessions, shouldYield: timeIsShort });
      if (outcome.status === 'retry' && outcome.code === 'no_connection_slot') {
        saturated.set(job.serverId, outcome.delaySeconds);
        return later(job, outcome.delaySeconds);
      }
      if (outcome.status === 'retry') {
        await container.transfers.retryAfter(record.receiptHandle, outcome.delaySeconds).catch(() => {});
        throw new Error(`transfer will be retried in ${Math.round(outcome.delaySeconds)} s (${outcome.code})`);
      }
    },
    { sequential: true },
  );
  try {
    return await run(event);
  } finally {
    await sessions.closeAll();
  }
}
