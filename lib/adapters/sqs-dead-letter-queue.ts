import { ChangeMessageVisibilityBatchCommand, DeleteMessageBatchCommand, GetQueueUrlCommand, ReceiveMessageCommand, type SQSClient } from '@aws-sdk/client-sqs';
import type { DeadLetter, DeadLetterQueue } from '../ports';

/**
 * A dead-letter queue read message by message (receive, then delete or release), which every SQS
 * implementation has; StartMessageMoveTask would move them without a look at each, and the local
 * emulator does not implement it.
 */
export class SqsDeadLetterQueue implements DeadLetterQueue {
  private queueUrl: Promise<string> | undefined;

  constructor(private readonly options: { client: SQSClient; queueName: string; hideSeconds?: number }) {}

  private url(): Promise<string> {
    this.queueUrl ??= this.options.client.send(new GetQueueUrlCommand({ QueueName: this.options.queueName })).then(({ QueueUrl }) => QueueUrl!);
    return this.queueUrl;
  }

  async receive(): Promise<DeadLetter[]> {
    const { Messages = [] } = await this.options.client.send(
      new ReceiveMessageCommand({
        QueueUrl: await this.url(),
        MaxNumberOfMessages: 10,
        // Long polling asks every SQS host, so an empty answer means the queue shows no more; 2 s
        // outlasts a release (below), so a run right after another one sees what that one left.
        WaitTimeSeconds: 2,
        VisibilityTimeout: this.options.hideSeconds ?? 900,
      }),
    );
    return Messages.map((message) => ({ messageId: message.MessageId!, receiptHandle: message.ReceiptHandle!, body: message.Body ?? '' }));
  }

  async delete(messages: DeadLetter[]): Promise<void> {
    const QueueUrl = await this.url();
    for (const Entries of entriesOf(messages)) {
      const { Failed = [] } = await this.options.client.send(new DeleteMessageBatchCommand({ QueueUrl, Entries }));
      refused(Failed, Entries.length);
    }
  }

  async release(messages: DeadLetter[]): Promise<void> {
    const QueueUrl = await this.url();
    for (const Entries of entriesOf(messages)) {
      const { Failed = [] } = await this.options.client.send(
        // 1 s, not 0: the local emulator fails a change to 0 on its persisted queues (and loses the message).
        new ChangeMessageVisibilityBatchCommand({ QueueUrl, Entries: Entries.map((entry) => ({ ...entry, VisibilityTimeout: 1 })) }),
      );
      refused(Failed, Entries.length);
    }
  }
}

/** Batch entries, ten to a request. */
function entriesOf(messages: DeadLetter[]): { Id: string; ReceiptHandle: string }[][] {
  const batches: { Id: string; ReceiptHandle: string }[][] = [];
  for (let start = 0; start < messages.length; start += 10) {
    batches.push(messages.slice(start, start + 10).map((message, index) => ({ Id: String(index), ReceiptHandle: message.receiptHandle })));
  }
  return batches;
}

function refused(failed: { Code?: string }[], of: number): void {
  if (failed.length) throw new Error(`SQS refused ${failed.length} of ${of} entries: ${failed.map((entry) => entry.Code).join(', ')}`);
}
