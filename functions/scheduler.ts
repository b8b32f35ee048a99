import { getContainer } from '../lib/container';
import { schedulePollTicks } from '../lib/use-cases/schedule';

const container = getContainer();

/** Once a minute (EventBridge): enqueue each active server's poll ticks for the coming minute. */
export async function handler(): Promise<{ servers: number; ticks: number }> {
  return schedulePollTicks(container.scheduleDeps);
}
