import type { Context, SQSEvent } from 'aws-lambda';
import { getContainer } from '../lib/container';
import { batchResponse, parseRecords } from '../lib/sqs/batch';
import { TransferJob } from '../lib/domain/file-version';
import { SftpSessions } from '../lib/use-cases/sftp-sessions';
import { transferBatch } from '../lib/use-cases/transfer-batch';

const container = getContainer();
/** Kept across the warm invocations of this environment (see TRANSFER_KEEP_CONNECTION_SECONDS). */
const sessions = new SftpSessions(container.transferDeps, { keepIdleSeconds: container.config.TRANSFER_KEEP_CONNECTION_SECONDS });

/**
 * Transfer queue consumer: the batch's files go through transferBatch (its order, time budget and
 * connection caps are the use case's). A retryable failure hides its message for the backoff delay
 * and reports it failed, so SQS redelivers it then; after maxReceiveCount it lands in the dead-letter
 * queue. The event source's maximum concurrency is the global cap on concurrent transfers.
 */
export async function handler(event: SQSEvent, context?: Context) {
  container.invocation.begin(context);
  try {
    const { parsed, invalid } = parseRecords(TransferJob, event.Records, container.logger);
    const report = await transferBatch(
      parsed.map(({ id, message }) => ({ id, job: message })),
      container.transferDeps,
      {
        sessions,
        smallFilesAtOnce: container.config.TRANSFER_SMALL_FILES_AT_ONCE,
        ...(typeof context?.getRemainingTimeInMillis === 'function' ? { remainingMs: () => context.getRemainingTimeInMillis() } : {}),
      },
    );
    const receiptHandles = new Map(event.Records.map((record) => [record.messageId, record.receiptHandle]));
    return await batchResponse(
      [...invalid.map((id) => ({ id })), ...report.redeliver].map((entry) => ({ ...entry, receiptHandle: receiptHandles.get(entry.id)! })),
      (receiptHandle, seconds) => container.transfers.retryAfter(receiptHandle, seconds),
    );
  } finally {
    await container.invocation.end();
  }
}
