import assert from 'node:assert/strict';
import { before, describe, it } from 'node:test';
import { ReceiveMessageCommand } from '@aws-sdk/client-sqs';
import { CreateServerInput } from '../../lib/domain/server';
import type { Container } from '../../lib/container';
import type { PollTick } from '../../lib/ports';
import { schedulePollTicks } from '../../lib/use-cases/schedule';
import { createServer } from '../../lib/use-cases/servers';
import { isolatedContainer } from '../../scripts/fixtures/resources';
import { RecordingQueue } from '../helpers/fakes';

let container: Container;
let pollQueueUrl: string;

before(async () => {
  const isolated = await isolatedContainer();
  container = isolated.container;
  pollQueueUrl = isolated.queueUrls[`${isolated.prefix}-poll`]!;
});

const register = (fields: Record<string, unknown>) =>
  createServer(
    CreateServerInput.parse({ name: `sched-${Math.random().toString(36).slice(2)}`, host: '127.0.0.1', port: 9, username: 'u', password: 'p', ...fields }),
    { ...container.serverDeps, ticks: new RecordingQueue<PollTick>() },
  );

describe('scheduler fan-out', () => {
  it('turns one run into per-server ticks spaced by each server\'s interval, skipping inactive servers', async () => {
    const every5 = await register({ pollIntervalSeconds: 5 });
    const every20 = await register({ pollIntervalSeconds: 20 });
    const hourly = await register({ pollIntervalSeconds: 3600 });
    const inactive = await register({ pollIntervalSeconds: 5, active: false });
    const ticks = new RecordingQueue<PollTick>();
    const result = await schedulePollTicks({ ...container.scheduleDeps, ticks });
    const delaysOf = (serverId: string) => ticks.messages.filter((entry) => entry.message.serverId === serverId).map((entry) => entry.delaySeconds);
    assert.deepEqual(delaysOf(every5.id), [0, 5, 10, 15, 20, 25, 30, 35, 40, 45, 50, 55]);
    assert.deepEqual(delaysOf(every20.id), [0, 20, 40]);
    assert.deepEqual(delaysOf(hourly.id), [0], 'never polled yet: due now');
    assert.deepEqual(delaysOf(inactive.id), []);
    assert.equal(result.ticks, ticks.messages.length);
  });

  it('delivers ticks through SQS with their delays', async () => {
    const server = await register({ pollIntervalSeconds: 30 });
    await schedulePollTicks(container.scheduleDeps);
    const { Messages = [] } = await container.clients.sqs.send(
      new ReceiveMessageCommand({ QueueUrl: pollQueueUrl, MaxNumberOfMessages: 10, WaitTimeSeconds: 1 }),
    );
    const due = Messages.map((message) => JSON.parse(message.Body!) as PollTick).filter((tick) => tick.serverId === server.id);
    assert.equal(due.length, 1, 'only the tick due now is visible; the +30 s one is delayed');
  });
});
