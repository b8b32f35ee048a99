import type { SQSEvent } from 'aws-lambda';
import { z } from 'zod';
import { getContainer } from '../lib/container';
import { sqsBatchHandler } from '../lib/sqs/batch';
import { notifyFile } from '../lib/use-cases/notify';

const container = getContainer();

export const NotifyJobMessage = z.object({ fileId: z.string().regex(/^[0-9a-f]{32}$/) });

/**
 * Notify queue consumer: announces each uploaded version on the broker. The broker connection is
 * kept across warm invocations. A failure the broker may get over (down, no confirm) hides the
 * message for the backoff delay and reports it failed, so SQS redelivers it then; the outbox sweep
 * re-enqueues anything that still ends up unannounced.
 */
export async function handler(event: SQSEvent) {
  const run = sqsBatchHandler(NotifyJobMessage, () => container.logger, async (job, record) => {
    const outcome = await notifyFile(job, container.notifyDeps);
    if (outcome.status === 'retry') {
      await container.notifications.retryAfter?.(record.receiptHandle, outcome.delaySeconds).catch(() => {});
      throw new Error(`notification will be retried in ${Math.round(outcome.delaySeconds)} s (${outcome.code})`);
    }
  });
  return run(event);
}
