import type { Context, SQSEvent } from 'aws-lambda';
import { z } from 'zod';
import { getContainer } from '../lib/container';
import { sqsBatchHandler } from '../lib/sqs/batch';
import { pollServer } from '../lib/use-cases/poll';

const container = getContainer();

export const PollTickMessage = z.object({ serverId: z.string().min(1), dueAt: z.iso.datetime() });

/**
 * Poll queue consumer: one tick = one poll of one server. A poll that fails is recorded on the
 * server (with backoff) and the tick is still acknowledged: retries follow the server's backoff,
 * not SQS redelivery. Only an unexpected error (e.g. DynamoDB unavailable) fails the record.
 */
const run = sqsBatchHandler(
  PollTickMessage,
  () => container.logger,
  async (tick) => {
    await pollServer(tick, container.pollDeps);
  },
);

export async function handler(event: SQSEvent, context?: Context) {
  container.invocation.begin(context);
  try {
    return await run(event);
  } finally {
    // One write per touched stats item for the whole batch (lib/adapters/dynamodb-stats.ts), one metrics line.
    await container.invocation.end();
  }
}
