import { ChangeMessageVisibilityCommand, GetQueueUrlCommand, SendMessageBatchCommand, type SQSClient } from '@aws-sdk/client-sqs';
import type { JobQueue } from '../ports';

/** JSON messages to one queue, named (its URL is looked up once: names are stable across stacks). */
export class SqsJobQueue<T> implements JobQueue<T> {
  private queueUrl: Promise<string> | undefined;

  constructor(private readonly options: { client: SQSClient; queueName: string }) {}

  private url(): Promise<string> {
    this.queueUrl ??= this.options.client
      .send(new GetQueueUrlCommand({ QueueName: this.options.queueName }))
      .then(({ QueueUrl }) => QueueUrl!)
      .catch((error: unknown) => {
        this.queueUrl = undefined;
        throw error;
      });
    return this.queueUrl;
  }

  async retryAfter(receiptHandle: string, seconds: number): Promise<void> {
    await this.options.client.send(
      new ChangeMessageVisibilityCommand({
        QueueUrl: await this.url(),
        ReceiptHandle: receiptHandle,
        VisibilityTimeout: Math.min(43_200, Math.max(0, Math.round(seconds))),
      }),
    );
  }

  async sendAll(messages: T[], delaySeconds?: number): Promise<void> {
    await this.sendEntries(messages.map((message) => ({ message, delaySeconds })));
  }

  /** Sends with a delay per message (0–900 s), ten to a request; entries SQS refuses are retried once. */
  async sendEntries(entries: { message: T; delaySeconds?: number }[]): Promise<void> {
    const QueueUrl = await this.url();
    for (let start = 0; start < entries.length; start += 10) {
      let batch = entries.slice(start, start + 10).map((entry, index) => ({
        Id: String(index),
        MessageBody: JSON.stringify(entry.message),
        ...(entry.delaySeconds ? { DelaySeconds: Math.min(900, Math.max(0, Math.round(entry.delaySeconds))) } : {}),
      }));
      for (let attempt = 1; batch.length > 0; attempt++) {
        const { Failed = [] } = await this.options.client.send(new SendMessageBatchCommand({ QueueUrl, Entries: batch }));
        if (Failed.length === 0) break;
        if (attempt === 2) throw new Error(`SQS refused ${Failed.length} message(s): ${Failed.map((entry) => entry.Code).join(', ')}`);
        const failedIds = new Set(Failed.map((entry) => entry.Id));
        batch = batch.filter((entry) => failedIds.has(entry.Id));
      }
    }
  }
}
