import type { Context } from 'aws-lambda';
import { getContainer } from '../lib/container';
import { schedulePollTicks } from '../lib/use-cases/schedule';

const container = getContainer();

/** Once a minute (EventBridge): enqueue each active server's poll ticks for the coming minute. */
export async function handler(_event?: unknown, context?: Context): Promise<{ servers: number; ticks: number }> {
  container.invocation.begin(context);
  try {
    return await schedulePollTicks(container.scheduleDeps);
  } finally {
    await container.invocation.end();
  }
}
