import type { Context, SQSEvent } from 'aws-lambda';
import { getContainer } from '../lib/container';
import { sqsBatchHandler } from '../lib/sqs/batch';
import { NotifyJob } from '../lib/domain/file-version';
import { notifyFile } from '../lib/use-cases/notify';

const container = getContainer();

/**
 * Notify queue consumer: announces each uploaded version on the broker. The broker connection is
 * kept across warm invocations. A failure the broker may get over (down, no confirm) hides the
 * message for the backoff delay and reports it failed, so SQS redelivers it then; the outbox sweep
 * re-enqueues anything that still ends up unannounced.
 */
export async function handler(event: SQSEvent, context?: Context) {
  container.invocation.begin(context);
  const run = sqsBatchHandler(
    NotifyJob,
    () => container.logger,
    async (job) => {
      // A job marked `again` (server-wide renotify) re-publishes a notified version; 'busy' then means
      // another notifier is publishing the same message right now, which is what was asked.
      const outcome = await notifyFile(job, container.notifyDeps, { again: job.again === true });
      return outcome.status === 'retry' ? { retryInSeconds: outcome.delaySeconds, code: outcome.code } : undefined;
    },
    { retryAfter: (receiptHandle, seconds) => container.notifications.retryAfter(receiptHandle, seconds) },
  );
  try {
    return await run(event);
  } finally {
    await container.invocation.end();
  }
}
