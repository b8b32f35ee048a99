import type { SQSBatchResponse, SQSEvent, SQSRecord } from 'aws-lambda';
import type { z } from 'zod';
import type { Logger } from '../ports';

/**
 * Builds an SQS batch handler: every record's body is parsed with `schema`, records are processed
 * concurrently (one after another with `sequential`, e.g. to share one connection; or in order with
 * at most `concurrency.limit` weight at once, e.g. several small files but one large), and only the
 * records that failed are reported (`batchItemFailures`), so one bad
 * record never replays the batch. A body that does not parse is reported too: after the queue's
 * maxReceiveCount it lands in the dead-letter queue, where an operator can look at it.
 */
export function sqsBatchHandler<S extends z.ZodType>(
  schema: S,
  logger: () => Logger,
  handle: (message: z.infer<S>, record: SQSRecord) => Promise<void>,
  options: { sequential?: boolean; concurrency?: { limit: number; weight: (message: z.infer<S>) => number } } = {},
) {
  return async (event: SQSEvent): Promise<SQSBatchResponse> => {
    const parsed = event.Records.map((record) => {
      try {
        return { record, message: schema.parse(JSON.parse(record.body)) as z.infer<S> };
      } catch {
        logger().error('sqs_message_invalid', { messageId: record.messageId, source: record.eventSourceARN });
        return { record, message: undefined };
      }
    });
    const concurrency = options.concurrency ?? (options.sequential ? { limit: 1, weight: () => 1 } : undefined);
    const results = await mapRecords(
      parsed,
      concurrency && { limit: concurrency.limit, weight: ({ message }) => (message === undefined ? 0 : concurrency.weight(message)) },
      async ({ record, message }) => {
        if (message === undefined) return record.messageId;
        try {
          await handle(message, record);
          return undefined;
        } catch (error) {
          logger().error('sqs_message_failed', {
            messageId: record.messageId,
            ...subjectOf(message),
            receiveCount: record.attributes.ApproximateReceiveCount,
            error: error instanceof Error ? `${error.name}: ${error.message}` : String(error),
          });
          return record.messageId;
        }
      },
    );
    return { batchItemFailures: results.filter((id): id is string => id !== undefined).map((itemIdentifier) => ({ itemIdentifier })) };
  };
}

/** The file and server a job is about, when it names them: every log line about a file carries both. */
function subjectOf(message: unknown): { fileId?: string; serverId?: string } {
  if (typeof message !== 'object' || message === null) return {};
  const { fileId, serverId } = message as Record<string, unknown>;
  return { ...(typeof fileId === 'string' ? { fileId } : {}), ...(typeof serverId === 'string' ? { serverId } : {}) };
}

/**
 * Runs `each` over the items in order, with at most `limit` weight in flight (an item weighing the
 * limit or more runs alone); all at once without `concurrency`.
 */
async function mapRecords<I, T>(items: I[], concurrency: { limit: number; weight: (item: I) => number } | undefined, each: (item: I) => Promise<T>): Promise<T[]> {
  if (!concurrency) return Promise.all(items.map(each));
  let inFlight = 0;
  const waiting: (() => boolean)[] = [];
  const admit = (weight: number) =>
    new Promise<void>((resolve) => {
      const tryNow = () => {
        if (inFlight > 0 && inFlight + weight > concurrency.limit) return false;
        inFlight += weight;
        resolve();
        return true;
      };
      if (waiting.length > 0 || !tryNow()) waiting.push(tryNow);
    });
  const leave = (weight: number) => {
    inFlight -= weight;
    while (waiting.length > 0 && waiting[0]!()) waiting.shift();
  };
  return Promise.all(
    items.map(async (item) => {
      const weight = Math.max(0, concurrency.weight(item));
      await admit(weight);
      try {
        return await each(item);
      } finally {
        leave(weight);
      }
    }),
  );
}
