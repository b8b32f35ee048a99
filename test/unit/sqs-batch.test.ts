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

  it('hides a record to retry later for its delay and reports it failed, without an error line; a failing delay still reports it', async () => {
    const hidden: [string, number][] = [];
    const logger = new RecordingLogger();
    let hideFails = false;
    const handler = sqsBatchHandler(
      z.object({ fileId: z.string(), serverId: z.string(), outcome: z.enum(['done', 'retry', 'throw']) }),
      () => logger,
      async ({ outcome }) => {
        if (outcome === 'throw') throw new TypeError('unexpected');
        return outcome === 'retry' ? { retryInSeconds: 42, code: 'timeout' } : undefined;
      },
      {
        retryAfter: async (receiptHandle, seconds) => {
          if (hideFails) throw new Error('SQS unavailable');
          hidden.push([receiptHandle, seconds]);
        },
      },
    );
    const bodies = ['done', 'retry', 'throw'].map((outcome, index) => JSON.stringify({ fileId: `f${index}`, serverId: 's1', outcome }));
    const response = await handler(event(bodies));
    assert.deepEqual(response.batchItemFailures.map((failure) => failure.itemIdentifier).sort(), ['m1', 'm2']);
    assert.deepEqual(hidden, [['r1', 42]], 'only the retry is hidden, for its delay');
    assert.deepEqual(
      logger.lines.filter((line) => line.level === 'error').map((line) => [line.event, line.fields.messageId, line.fields.fileId, line.fields.serverId]),
      [['sqs_message_failed', 'm2', 'f2', 's1']],
      'the thrown error is logged with its file and server; the retry is not an error',
    );
    hideFails = true;
    const again = await handler(event([bodies[1]!]));
    assert.deepEqual(again.batchItemFailures, [{ itemIdentifier: 'm0' }], 'reported even when the delay could not be set');
  });
});
