import type { SQSBatchResponse, SQSEvent, SQSRecord } from 'aws-lambda';
import type { z } from 'zod';
import { mapWeighted } from '../domain/weighted-map';
import { errorSummary } from '../errors';
import type { Logger } from '../ports';

/** A record to be delivered again once `retryInSeconds` have passed (a failure that may go away). */
export interface RetryLater {
  retryInSeconds: number;
  /** Why, for the log: the failure's code. */
  code: string;
}

/** A record that parsed: its message and the SQS message id it is reported by. */
export interface ParsedRecord<T> {
  id: string;
  message: T;
  record: SQSRecord;
}

/**
 * Parses every record's body with `schema`. A body that does not parse is logged and returned as
 * invalid: reported failed, it lands in the dead-letter queue after maxReceiveCount, where an
 * operator can look at it.
 */
export function parseRecords<S extends z.ZodType>(schema: S, records: SQSRecord[], logger: Logger): { parsed: ParsedRecord<z.infer<S>>[]; invalid: string[] } {
  const parsed: ParsedRecord<z.infer<S>>[] = [];
  const invalid: string[] = [];
  for (const record of records) {
    try {
      parsed.push({ id: record.messageId, message: schema.parse(JSON.parse(record.body)) as z.infer<S>, record });
    } catch {
      logger.error('sqs_message_invalid', { messageId: record.messageId, source: record.eventSourceARN });
      invalid.push(record.messageId);
    }
  }
  return { parsed, invalid };
}

/**
 * The batch response: every record not done is reported failed, so SQS delivers it again (one bad
 * record never replays the batch). A record to retry later is first hidden for its delay (the
 * queue's `retryAfter`), so it comes back then rather than at the visibility timeout.
 */
export async function batchResponse(
  failed: { id: string; receiptHandle: string; retryLater?: RetryLater }[],
  retryAfter: ((receiptHandle: string, seconds: number) => Promise<void>) | undefined,
): Promise<SQSBatchResponse> {
  await Promise.all(
    failed.map(({ receiptHandle, retryLater }) =>
      retryLater && retryAfter
        ? // A delay not set leaves the message to come back at its visibility timeout: later, not lost.
          retryAfter(receiptHandle, retryLater.retryInSeconds).catch(() => {})
        : undefined,
    ),
  );
  return { batchItemFailures: failed.map(({ id }) => ({ itemIdentifier: id })) };
}

/**
 * Builds an SQS batch handler: records parsed with `schema` (parseRecords), processed concurrently
 * (one after another with `sequential`, e.g. to share one connection; or in order with at most
 * `concurrency.limit` weight at once), and only the records that failed are reported
 * (batchResponse). `handle` returns a RetryLater for a failure that may go away: the record is
 * hidden for that delay and reported failed, without an error in the log (the use case logged
 * it); a thrown error is logged as `sqs_message_failed`.
 */
export function sqsBatchHandler<S extends z.ZodType>(
  schema: S,
  logger: () => Logger,
  handle: (message: z.infer<S>, record: SQSRecord) => Promise<void | RetryLater>,
  options: {
    sequential?: boolean;
    concurrency?: { limit: number; weight: (message: z.infer<S>) => number };
    /** Hides a record for a delay (the queue adapter's retryAfter). */
    retryAfter?: (receiptHandle: string, seconds: number) => Promise<void>;
  } = {},
) {
  return async (event: SQSEvent): Promise<SQSBatchResponse> => {
    const { parsed, invalid } = parseRecords(schema, event.Records, logger());
    const concurrency = options.concurrency ?? (options.sequential ? { limit: 1, weight: () => 1 } : undefined);
    const results = await mapWeighted(
      parsed,
      concurrency && { limit: concurrency.limit, weight: ({ message }) => concurrency.weight(message) },
      async ({ id, message, record }) => {
        try {
          const retryLater = await handle(message, record);
          return retryLater ? { id, receiptHandle: record.receiptHandle, retryLater } : undefined;
        } catch (error) {
          logger().error('sqs_message_failed', {
            messageId: id,
            ...subjectOf(message),
            receiveCount: record.attributes.ApproximateReceiveCount,
            error: errorSummary(error),
          });
          return { id, receiptHandle: record.receiptHandle };
        }
      },
    );
    const invalidRecords = event.Records.filter((record) => invalid.includes(record.messageId)).map((record) => ({ id: record.messageId, receiptHandle: record.receiptHandle }));
    return batchResponse([...invalidRecords, ...results.filter((result) => result !== undefined)], options.retryAfter);
  };
}

/** The file and server a job is about, when it names them: every log line about a file carries both. */
export function subjectOf(message: unknown): { fileId?: string; serverId?: string } {
  if (typeof message !== 'object' || message === null) return {};
  const { fileId, serverId } = message as Record<string, unknown>;
  return { ...(typeof fileId === 'string' ? { fileId } : {}), ...(typeof serverId === 'string' ? { serverId } : {}) };
}
