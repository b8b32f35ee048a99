import type { Context, SQSBatchResponse, SQSEvent, SQSRecord } from 'aws-lambda';
import { sweepArrayBuffersPromptly } from '../lib/adapters/native-garbage';
import { getContainer } from '../lib/container';
import type { TransferJob } from '../lib/ports';
import { sqsBatchHandler } from '../lib/sqs/batch';
import { TransferJobMessage } from '../lib/sqs/messages';
import { SftpSessions } from '../lib/use-cases/sftp-sessions';
import { batchOrder, TransferBatch } from '../lib/use-cases/transfer-batch';
import { transferFile } from '../lib/use-cases/transfer';

sweepArrayBuffersPromptly();
const container = getContainer();
/** Kept across the warm invocations of this environment (see TRANSFER_KEEP_CONNECTION_SECONDS). */
const sessions = new SftpSessions(container.transferDeps, { keepIdleSeconds: container.config.TRANSFER_KEEP_CONNECTION_SECONDS });

/** Leave this much of the invocation for the final checkpoint and re-enqueue. */
const YIELD_MARGIN_MS = 90_000;
/**
 * A read still going this close to the end is stopped and recorded as a failed attempt (`timeout`),
 * rather than killed with the invocation: a slow server's files then back off and, after
 * TRANSFER_MAX_ATTEMPTS, are quarantined; the other files of the batch are not lost with it.
 */
const ABORT_MARGIN_MS = 30_000;

/**
 * Transfer queue consumer. The small files of a batch are transferred a few at a time, a multipart
 * one alone; those from the same server share one SFTP connection (kept warm for the next batch),
 * one read of the server and batched notifications (see TransferBatch); the event source's maximum concurrency is the global cap on concurrent transfers. A retryable failure hides the message for the backoff delay and
 * reports it failed, so SQS redelivers it then; after maxReceiveCount it lands in the dead-letter
 * queue. Files the invocation has no time left for, or whose server is at its connection cap, are
 * re-enqueued together at the end of the batch. Small files go first and at most one large file is
 * kept (the others handed on at once): no file waits behind a large one from a slow server.
 */
export async function handler(event: SQSEvent, context: Context) {
  container.invocation.begin(context);
  const timeIsShort = () => typeof context?.getRemainingTimeInMillis === 'function' && context.getRemainingTimeInMillis() < YIELD_MARGIN_MS;
  const batch = new TransferBatch(container.transferDeps, sessions);
  const deadline = new AbortController();
  const remainingMs = typeof context?.getRemainingTimeInMillis === 'function' ? context.getRemainingTimeInMillis() : undefined;
  const stopTimer = remainingMs === undefined ? undefined : setTimeout(() => deadline.abort(), Math.max(0, remainingMs - ABORT_MARGIN_MS));
  /** Servers at their connection cap, with the wait the use case asked for: the batch's other files from them wait without trying. */
  const saturated = new Map<string, number>();
  // Waiting for a server's connection cap is not a failure: a fresh message (its receive count back
  // at zero) comes back later, so a busy server never pushes its files into the dead-letter queue.
  const run = sqsBatchHandler(
    TransferJobMessage,
    () => container.logger,
    async (job, record) => {
      if (timeIsShort()) return batch.defer(job, 0, record.messageId);
      const wait = saturated.get(job.serverId);
      if (wait !== undefined) return batch.defer(job, wait, record.messageId);
      const outcome = await transferFile(job, batch.deps({ shouldYield: timeIsShort, deadline: deadline.signal }));
      if (outcome.status === 'retry' && outcome.code === 'no_connection_slot') {
        saturated.set(job.serverId, outcome.delaySeconds);
        return batch.defer(job, outcome.delaySeconds, record.messageId);
      }
      if (outcome.status === 'retry') {
        await container.transfers.retryAfter(record.receiptHandle, outcome.delaySeconds).catch(() => {});
        throw new Error(`transfer will be retried in ${Math.round(outcome.delaySeconds)} s (${outcome.code})`);
      }
    },
    {
      // Small files several at a time over their server's shared connection; a multipart one alone.
      concurrency: {
        limit: container.config.TRANSFER_SMALL_FILES_AT_ONCE,
        weight: (job) => (job.size < container.transferDeps.minPartBytes ? 1 : container.config.TRANSFER_SMALL_FILES_AT_ONCE),
      },
    },
  );
  const isLarge = (record: SQSRecord) => {
    const parsed = TransferJobMessage.safeParse(safeJson(record.body));
    return parsed.success && parsed.data.size >= container.transferDeps.minPartBytes;
  };
  const order = batchOrder(event.Records, isLarge);
  let ordered = order.run;
  if (order.handOn.length > 0) {
    // At once, not with the batch's end: they are to start elsewhere while this one runs. If the
    // send fails they simply stay in this batch, after the others.
    const handedOn = await container.transfers
      .sendEntries(order.handOn.map((record) => ({ message: TransferJobMessage.parse(JSON.parse(record.body)), delaySeconds: 0 })))
      .then(() => true, () => false);
    if (!handedOn) ordered = [...ordered, ...order.handOn];
  }
  let response: SQSBatchResponse | undefined;
  try {
    response = await run({ ...event, Records: ordered });
  } finally {
    clearTimeout(stopTimer);
    const notRequeued = await batch.finish();
    await container.invocation.end();
    if (response) response.batchItemFailures.push(...notRequeued.map((itemIdentifier) => ({ itemIdentifier })));
  }
  return response;
}

function safeJson(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch {
    return undefined;
  }
}
