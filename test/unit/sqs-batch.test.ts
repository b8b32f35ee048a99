import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { SQSEvent } from 'aws-lambda';
import { z } from 'zod';
import { sqsBatchHandler } from '../../lib/sqs/batch';
import { RecordingLogger } from '../helpers/fakes';

const event = (bodies: string[]): SQSEvent =>
  ({
    Records: bodies.map((body, index) => ({ messageId: `m${index}`, receiptHandle: `r${index}`, body, attributes: { ApproximateReceiveCount: '1' }, eventSourceARN: 'arn:test' })),
  }) as unknown as SQSEvent;

describe('sqsBatchHandler', () => {
  it('runs light messages up to the weight limit at once and a heavy one alone, in order', async () => {
    const log: string[] = [];
    let inFlight = 0;
    let most = 0;
    const handler = sqsBatchHandler(
      z.object({ name: z.string(), heavy: z.boolean() }),
      () => new RecordingLogger(),
      async ({ name, heavy }) => {
        inFlight++;
        most = Math.max(most, inFlight);
        log.push(`start ${name}${heavy ? ` (with ${inFlight - 1} others)` : ''}`);
        await new Promise((resolve) => setTimeout(resolve, 5));
        inFlight--;
      },
      { concurrency: { limit: 3, weight: ({ heavy }) => (heavy ? 3 : 1) } },
    );
    const names = ['a', 'b', 'c', 'd', 'BIG', 'e', 'f'];
    const response = await handler(event(names.map((name) => JSON.stringify({ name, heavy: name === 'BIG' }))));
    assert.deepEqual(response.batchItemFailures, []);
    assert.equal(most, 3, 'never more than the limit');
    assert.ok(log.includes('start BIG (with 0 others)'), 'the heavy message ran alone');
    assert.deepEqual(log.map((line) => line.split(' ')[1]), names, 'started in order');
  });

  it('reports a body that does not parse and a handler that throws, and only those', async () => {
    const handler = sqsBatchHandler(
      z.object({ n: z.number() }),
      () => new RecordingLogger(),
      async ({ n }) => {
        if (n === 2) throw new Error('boom');
      },
      { concurrency: { limit: 2, weight: () => 1 } },
    );
    const response = await handler(event([JSON.stringify({ n: 1 }), 'not json', JSON.stringify({ n: 2 }), JSON.stringify({ n: 3 })]));
    assert.deepEqual(response.batchItemFailures.map((failure) => failure.itemIdentifier).sort(), ['m1', 'm2']);
  });
});
