import type { Context, SQSEvent } from 'aws-lambda';
import { z } from 'zod';
import { getContainer } from '../lib/container';
import { sqsBatchHandler } from '../lib/sqs/batch';
import { transferFile } from '../lib/use-cases/transfer';

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
 * Transfer queue consumer (batch size 1: one file per invocation; the event source's maximum
 * concurrency is the global cap on concurrent transfers). A retryable failure hides the message for
 * the backoff delay and reports it failed, so SQS redelivers it then; after maxReceiveCount it lands
 * in the dead-letter queue.
 */
export async function handler(event: SQSEvent, context: Context) {
  const run = sqsBatchHandler(TransferJobMessage, () => container.logger, async (job, record) => {
    const outcome = await transferFile(job, {
      ...container.transferDeps,
      shouldYield: () => typeof context?.getRemainingTimeInMillis === 'function' && context.getRemainingTimeInMillis() < YIELD_MARGIN_MS,
    });
    if (outcome.status === 'retry') {
      await container.transfers.retryAfter(record.receiptHandle, outcome.delaySeconds).catch(() => {});
      throw new Error(`transfer will be retried in ${Math.round(outcome.delaySeconds)} s (${outcome.code})`);
    }
  });
  return run(event);
}
