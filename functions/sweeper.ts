import type { Context } from 'aws-lambda';
import { getContainer } from '../lib/container';
import { sweep, type SweepReport } from '../lib/use-cases/sweep';

const container = getContainer();

/** Every few minutes (EventBridge): the outbox of notifications, lost transfer jobs, orphaned uploads. */
export async function handler(_event?: unknown, context?: Context): Promise<SweepReport> {
  container.invocation.begin(context);
  try {
    return await sweep(container.sweepDeps);
  } finally {
    await container.invocation.end();
  }
}
