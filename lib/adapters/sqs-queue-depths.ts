import { GetQueueAttributesCommand, GetQueueUrlCommand, type SQSClient } from '@aws-sdk/client-sqs';
import type { QueueDepths, QueueName } from '../ports';

/** ApproximateNumberOfMessages(NotVisible) of each queue: one GetQueueAttributes per queue per scrape. */
export class SqsQueueDepths implements QueueDepths {
  private readonly urls = new Map<QueueName, Promise<string>>();

  constructor(private readonly options: { client: SQSClient; queueNames: Record<QueueName, string> }) {}

  private url(queue: QueueName): Promise<string> {
    let url = this.urls.get(queue);
    if (!url) {
      url = this.options.client.send(new GetQueueUrlCommand({ QueueName: this.options.queueNames[queue] })).then(({ QueueUrl }) => QueueUrl!);
      // A failed lookup is tried again at the next scrape.
      url.catch(() => this.urls.delete(queue));
      this.urls.set(queue, url);
    }
    return url;
  }

  async depths() {
    const queues = Object.keys(this.options.queueNames) as QueueName[];
    return Promise.all(
      queues.map(async (queue) => {
        const { Attributes = {} } = await this.options.client.send(
          new GetQueueAttributesCommand({ QueueUrl: await this.url(queue), AttributeNames: ['ApproximateNumberOfMessages', 'ApproximateNumberOfMessagesNotVisible'] }),
        );
        return { queue, visible: Number(Attributes.ApproximateNumberOfMessages ?? 0), inflight: Number(Attributes.ApproximateNumberOfMessagesNotVisible ?? 0) };
      }),
    );
  }
}
