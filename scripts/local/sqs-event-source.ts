import {
  DeleteMessageBatchCommand,
  GetQueueUrlCommand,
  ReceiveMessageCommand,
  type Message,
  type SQSClient,
} from '@aws-sdk/client-sqs';
import type { SQSBatchResponse, SQSEvent, SQSRecord } from 'aws-lambda';

/**
 * A local stand-in for Lambda's SQS event source mapping (serverless-offline has none that works
 * with fauxqs). Same semantics as AWS:
 * - long-polls the queue and hands up to `batchSize` messages to the function as one SQS event;
 *   above 10 (one ReceiveMessage's most) it keeps receiving for up to `maximumBatchingWindow`
 *   seconds, as Lambda gathers a batch;
 * - on success deletes the batch; with `ReportBatchItemFailures` deletes all but the reported items;
 * - on a function error deletes nothing: the messages reappear after the queue's visibility timeout
 *   and, past the redrive policy's maxReceiveCount, go to the dead-letter queue;
 * - at most `maximumConcurrency` batches of one mapping are in flight at a time.
 */
export interface SqsMapping {
  functionName: string;
  queueName: string;
  batchSize: number;
  /** Seconds to keep gathering a batch larger than one receive (Lambda's MaximumBatchingWindowInSeconds). */
  maximumBatchingWindow?: number;
  maximumConcurrency: number;
  reportBatchItemFailures: boolean;
}

export type Invoke = (functionName: string, event: SQSEvent) => Promise<{ error?: string; payload?: unknown }>;

export interface EventSourceRunner {
  stop(): Promise<void>;
}

export function startSqsEventSources(options: {
  sqs: SQSClient;
  mappings: SqsMapping[];
  invoke: Invoke;
  region: string;
  accountId?: string;
  waitTimeSeconds?: number;
  log?: (event: string, fields: Record<string, unknown>) => void;
}): EventSourceRunner {
  const controller = new AbortController();
  const log = options.log ?? (() => {});
  const loops: Promise<void>[] = [];

  for (const mapping of options.mappings) {
    for (let worker = 0; worker < mapping.maximumConcurrency; worker++) {
      loops.push(pollLoop(mapping));
    }
  }

  async function pollLoop(mapping: SqsMapping): Promise<void> {
    let queueUrl: string | undefined;
    const eventSourceARN = `arn:aws:sqs:${options.region}:${options.accountId ?? '000000000000'}:${mapping.queueName}`;
    while (!controller.signal.aborted) {
      try {
        queueUrl ??= (await options.sqs.send(new GetQueueUrlCommand({ QueueName: mapping.queueName }))).QueueUrl!;
        const url = queueUrl;
        const receive = async (waitTimeSeconds: number, most: number) =>
          (
            await options.sqs.send(
              new ReceiveMessageCommand({ QueueUrl: url, MaxNumberOfMessages: Math.min(10, most), WaitTimeSeconds: waitTimeSeconds, MessageSystemAttributeNames: ['All'], MessageAttributeNames: ['All'] }),
              { abortSignal: controller.signal },
            )
          ).Messages ?? [];
        const Messages = await receive(options.waitTimeSeconds ?? 2, mapping.batchSize);
        if (Messages.length === 0) continue;
        const gatherUntil = Date.now() + (mapping.maximumBatchingWindow ?? 0) * 1000;
        while (Messages.length < mapping.batchSize && Date.now() < gatherUntil) {
          const more = await receive(0, mapping.batchSize - Messages.length);
          if (more.length === 0) break;
          Messages.push(...more);
        }
        const event: SQSEvent = { Records: Messages.map((message) => toRecord(message, eventSourceARN, options.region)) };
        const result = await options.invoke(mapping.functionName, event);
        const done = settledMessages(Messages, result, mapping, log);
        if (done.length > 0) {
          await options.sqs.send(
            new DeleteMessageBatchCommand({
              QueueUrl: queueUrl,
              Entries: done.map((message, index) => ({ Id: String(index), ReceiptHandle: message.ReceiptHandle! })),
            }),
          );
        }
      } catch (error) {
        if (controller.signal.aborted) return;
        log('event_source_error', { function: mapping.functionName, queue: mapping.queueName, error: String(error) });
        await new Promise((resolve) => setTimeout(resolve, 1000));
      }
    }
  }

  return {
    async stop() {
      controller.abort();
      await Promise.allSettled(loops);
    },
  };
}

/** Which messages of a batch are finished and may be deleted, by Lambda's rules. */
export function settledMessages(
  messages: Message[],
  result: { error?: string; payload?: unknown },
  mapping: Pick<SqsMapping, 'functionName' | 'reportBatchItemFailures'>,
  log: (event: string, fields: Record<string, unknown>) => void = () => {},
): Message[] {
  if (result.error !== undefined) {
    log('event_source_batch_failed', { function: mapping.functionName, messages: messages.length, error: result.error });
    return [];
  }
  if (!mapping.reportBatchItemFailures) return messages;
  const failures = (result.payload as SQSBatchResponse | undefined)?.batchItemFailures;
  if (failures === undefined || failures === null) return messages;
  if (!Array.isArray(failures)) return [];
  const failed = new Set(failures.map((failure) => failure.itemIdentifier));
  // Like Lambda: an identifier that is not in the batch fails the whole batch.
  if ([...failed].some((id) => !messages.some((message) => message.MessageId === id))) return [];
  return messages.filter((message) => !failed.has(message.MessageId!));
}

function toRecord(message: Message, eventSourceARN: string, awsRegion: string): SQSRecord {
  const attributes = message.Attributes ?? {};
  return {
    messageId: message.MessageId!,
    receiptHandle: message.ReceiptHandle!,
    body: message.Body ?? '',
    attributes: {
      ApproximateReceiveCount: attributes.ApproximateReceiveCount ?? '1',
      SentTimestamp: attributes.SentTimestamp ?? String(Date.now()),
      SenderId: attributes.SenderId ?? 'local',
      ApproximateFirstReceiveTimestamp: attributes.ApproximateFirstReceiveTimestamp ?? String(Date.now()),
    },
    messageAttributes: Object.fromEntries(
      Object.entries(message.MessageAttributes ?? {}).map(([name, value]) => [
        name,
        { dataType: value.DataType ?? 'String', stringValue: value.StringValue, binaryValue: value.BinaryValue ? Buffer.from(value.BinaryValue).toString('base64') : undefined },
      ]),
    ),
    md5OfBody: message.MD5OfBody ?? '',
    eventSource: 'aws:sqs',
    eventSourceARN,
    awsRegion,
  };
}

interface PrintedFunction {
  name?: string;
  events?: { sqs?: { arn: unknown; batchSize?: number; maximumBatchingWindow?: number; functionResponseType?: string; maximumConcurrency?: number } }[];
}

/** Reads the SQS event mappings declared in the resolved serverless.yml. */
export function sqsMappings(
  functions: Record<string, PrintedFunction>,
  resources: Record<string, { Properties?: Record<string, unknown> }>,
): SqsMapping[] {
  const mappings: SqsMapping[] = [];
  for (const [key, definition] of Object.entries(functions)) {
    for (const event of definition.events ?? []) {
      if (!event.sqs) continue;
      const arn = event.sqs.arn as { 'Fn::GetAtt'?: [string, string] } | string;
      const queueName =
        typeof arn === 'string' ? arn.split(':').at(-1)! : String(resources[arn['Fn::GetAtt']![0]]?.Properties?.QueueName);
      mappings.push({
        functionName: key,
        queueName,
        batchSize: event.sqs.batchSize ?? 10,
        maximumBatchingWindow: event.sqs.maximumBatchingWindow,
        maximumConcurrency: event.sqs.maximumConcurrency ?? 2,
        reportBatchItemFailures: event.sqs.functionResponseType === 'ReportBatchItemFailures',
      });
    }
  }
  return mappings;
}
