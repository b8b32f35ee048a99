import assert from 'node:assert/strict';
import { after, describe, it } from 'node:test';
import {
  CreateQueueCommand,
  GetQueueAttributesCommand,
  ReceiveMessageCommand,
  SendMessageBatchCommand,
  SQSClient,
} from '@aws-sdk/client-sqs';
import type { SQSEvent } from 'aws-lambda';
import { startSqsEventSources, type Invoke } from '../../scripts/local/sqs-event-source';
import { uniqueName } from '../helpers/api';

const sqs = new SQSClient({ region: 'us-east-1', useQueueUrlAsEndpoint: false });
after(() => sqs.destroy());

async function queueWithDeadLetter(visibilityTimeout: number, maxReceiveCount: number) {
  const name = uniqueName('q');
  const dlq = await sqs.send(new CreateQueueCommand({ QueueName: `${name}-dlq` }));
  const { Attributes } = await sqs.send(new GetQueueAttributesCommand({ QueueUrl: dlq.QueueUrl, AttributeNames: ['QueueArn'] }));
  const queue = await sqs.send(
    new CreateQueueCommand({
      QueueName: name,
      Attributes: {
        VisibilityTimeout: String(visibilityTimeout),
        RedrivePolicy: JSON.stringify({ deadLetterTargetArn: Attributes!.QueueArn, maxReceiveCount }),
      },
    }),
  );
  return { name, url: queue.QueueUrl!, dlqUrl: dlq.QueueUrl! };
}

async function send(url: string, bodies: string[]) {
  await sqs.send(new SendMessageBatchCommand({ QueueUrl: url, Entries: bodies.map((body, index) => ({ Id: String(index), MessageBody: body })) }));
}

async function until(condition: () => boolean | Promise<boolean>, timeoutMs = 15_000) {
  const deadline = Date.now() + timeoutMs;
  while (!(await condition())) {
    if (Date.now() > deadline) throw new Error('condition not met in time');
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
}

describe('local SQS event source (Lambda event source mapping semantics)', () => {
  it('deletes succeeded items, redelivers reported failures after the visibility timeout, then dead-letters them', async () => {
    const queue = await queueWithDeadLetter(1, 2);
    const deliveries: { body: string; receiveCount: string }[] = [];
    const batchSizes: number[] = [];
    const invoke: Invoke = async (_name, event: SQSEvent) => {
      batchSizes.push(event.Records.length);
      for (const record of event.Records) deliveries.push({ body: record.body, receiveCount: record.attributes.ApproximateReceiveCount });
      const failed = event.Records.filter((record) => record.body === 'poison');
      return { payload: { batchItemFailures: failed.map((record) => ({ itemIdentifier: record.messageId })) } };
    };
    const runner = startSqsEventSources({
      sqs,
      region: 'us-east-1',
      invoke,
      waitTimeSeconds: 1,
      mappings: [{ functionName: 'f', queueName: queue.name, batchSize: 3, maximumConcurrency: 1, reportBatchItemFailures: true }],
    });
    try {
      await send(queue.url, ['a', 'b', 'c', 'd', 'poison']);
      await until(async () => {
        const { Messages = [] } = await sqs.send(new ReceiveMessageCommand({ QueueUrl: queue.dlqUrl, WaitTimeSeconds: 0 }));
        return Messages.some((message) => message.Body === 'poison');
      });
    } finally {
      await runner.stop();
    }
    for (const body of ['a', 'b', 'c', 'd']) {
      assert.equal(deliveries.filter((delivery) => delivery.body === body).length, 1, `${body} delivered exactly once`);
    }
    const poison = deliveries.filter((delivery) => delivery.body === 'poison');
    assert.deepEqual(poison.map((delivery) => delivery.receiveCount), ['1', '2']);
    assert.ok(batchSizes.every((size) => size >= 1 && size <= 3), `batch sizes ${batchSizes.join()}`);
  });

  it('gathers a batch larger than one receive within the batching window, as Lambda does, and never exceeds batchSize', async () => {
    const queue = await queueWithDeadLetter(30, 5);
    const batches: string[][] = [];
    const invoke: Invoke = async (_name, event: SQSEvent) => {
      batches.push(event.Records.map((record) => record.body));
      return { payload: { batchItemFailures: [] } };
    };
    const bodies = Array.from({ length: 30 }, (_, index) => `m${index}`);
    for (let index = 0; index < bodies.length; index += 10) await send(queue.url, bodies.slice(index, index + 10));
    const runner = startSqsEventSources({
      sqs,
      region: 'us-east-1',
      invoke,
      waitTimeSeconds: 1,
      mappings: [{ functionName: 'f', queueName: queue.name, batchSize: 25, maximumBatchingWindow: 1, maximumConcurrency: 1, reportBatchItemFailures: true }],
    });
    try {
      await until(() => batches.flat().length >= bodies.length);
    } finally {
      await runner.stop();
    }
    assert.deepEqual(batches.flat().sort(), [...bodies].sort(), 'each message delivered exactly once');
    assert.ok(batches.every((batch) => batch.length <= 25), `batch sizes ${batches.map((batch) => batch.length).join()}`);
    assert.ok(batches[0]!.length > 10, `the first batch gathered more than one receive: ${batches[0]!.length}`);
  });

  it('redelivers the whole batch when the function fails', async () => {
    const queue = await queueWithDeadLetter(1, 5);
    let calls = 0;
    const seen: string[] = [];
    const runner = startSqsEventSources({
      sqs,
      region: 'us-east-1',
      waitTimeSeconds: 1,
      invoke: async (_name, event) => {
        calls++;
        seen.push(...event.Records.map((record) => record.body));
        return calls === 1 ? { error: 'Unhandled: boom' } : { payload: null };
      },
      mappings: [{ functionName: 'f', queueName: queue.name, batchSize: 10, maximumConcurrency: 1, reportBatchItemFailures: true }],
    });
    try {
      await send(queue.url, ['x', 'y']);
      await until(() => seen.filter((body) => body === 'x').length >= 2 && seen.filter((body) => body === 'y').length >= 2);
      // Deleted after the success: nothing left to deliver again (neither waiting nor in flight).
      await until(async () => {
        const { Attributes } = await sqs.send(new GetQueueAttributesCommand({ QueueUrl: queue.url, AttributeNames: ['ApproximateNumberOfMessages', 'ApproximateNumberOfMessagesNotVisible'] }));
        return Attributes?.ApproximateNumberOfMessages === '0' && Attributes?.ApproximateNumberOfMessagesNotVisible === '0';
      });
    } finally {
      await runner.stop();
    }
    assert.equal(seen.filter((body) => body === 'x').length, 2, 'failed once, succeeded once, then deleted');
    assert.equal(seen.filter((body) => body === 'y').length, 2);
  });
});
