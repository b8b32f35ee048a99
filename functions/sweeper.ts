import { getContainer } from '../lib/container';
import { sweep, type SweepReport } from '../lib/use-cases/sweep';

const container = getContainer();

/** Every few minutes (EventBridge): the outbox of notifications, lost transfer jobs, orphaned uploads. */
export async function handler(): Promise<SweepReport> {
  return sweep(container.sweepDeps);
}
