import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { after, before, describe, it } from 'node:test';
import { GetItemCommand } from '@aws-sdk/client-dynamodb';
import { ReceiveMessageCommand } from '@aws-sdk/client-sqs';
import { unmarshall } from '@aws-sdk/util-dynamodb';
import { connect, type ChannelModel, type ConsumeMessage } from 'amqplib';
import { AmqpPublisher } from '../../lib/adapters/amqp-publisher';
import type { Container } from '../../lib/container';
import type { FileIngestedMessage, Publisher } from '../../lib/ports';
import { notifyFile, renotifyFile, type NotifyDeps } from '../../lib/use-cases/notify';
import { sweep } from '../../lib/use-cases/sweep';
import { eventually } from '../helpers/eventually';
import { RecordingLogger } from '../helpers/fakes';
import { SHARED_AMQP_URL } from '../helpers/rabbitmq';
import { isolatedContainer } from '../../scripts/fixtures/resources';

let container: Container;
let prefix: string;
let notifyQueueUrl: string;
let broker: ChannelModel;
let exchange: string;
let publisher: AmqpPublisher;
let counter = 0;

before(async () => {
  const isolated = await isolatedContainer();
  container = isolated.container;
  prefix = isolated.prefix;
  notifyQueueUrl = isolated.queueUrls[`${prefix}-notify`]!;
  broker = await connect(SHARED_AMQP_URL);
  exchange = `sluice-test-${prefix}`;
  publisher = new AmqpPublisher({ url: SHARED_AMQP_URL, exchange, routingKey: 'file.ingested', mandatory: true, declareExchange: true });
});
after(async () => {
  await publisher.close();
  const channel = await broker.createChannel();
  await channel.deleteExchange(exchange).catch(() => {});
  await broker.close();
});

const deps = (overrides: Partial<NotifyDeps> = {}): NotifyDeps => ({ ...container.notifyDeps, publisher, random: () => 0.5, ...overrides });

/** A version the transfer has uploaded (ledger only: the notifier never reads the object). */
async function uploadedFile(name = `file-${++counter}.bin`) {
  const fileId = randomBytes(16).toString('hex');
  await container.pollDeps.ledger.createIfAbsent({
    fileId,
    serverId: `${prefix}-server`,
    serverName: `${prefix}-name`,
    remotePath: `/in/${name}`,
    relativePath: name,
    size: 1234,
    mtime: 1_700_000_000,
    discoveredAt: new Date().toISOString(),
  });
  const ledger = container.transferDeps.ledger;
  const claim = await ledger.claim(fileId, 'test', new Date(Date.now() + 60_000));
  assert.equal(typeof claim, 'object');
  await ledger.markUploaded(fileId, 'test', { key: `prefix/${name}`, bucket: 'sluice-ingest', sha256: 'ab'.repeat(32), etag: '"etag-1"' });
  return fileId;
}

/** A fresh queue bound to the exchange; collects what arrives. */
async function consumer(routingKey = 'file.ingested') {
  const channel = await broker.createChannel();
  await channel.assertExchange(exchange, 'topic', { durable: true });
  const { queue } = await channel.assertQueue('', { exclusive: true });
  await channel.bindQueue(queue, exchange, routingKey);
  const received: ConsumeMessage[] = [];
  const sentinels = new Set<string>();
  await channel.consume(
    queue,
    (message) => {
      if (!message) return;
      if (message.properties.type === 'sentinel') sentinels.add(message.properties.messageId as string);
      else received.push(message);
    },
    { noAck: true },
  );
  return {
    received,
    ids: () => received.map((message) => message.properties.messageId as string),
    /**
     * Everything published and confirmed before this call has arrived: a sentinel published (and
     * confirmed) after it is queued behind it, so once the sentinel is here nothing earlier is still
     * on its way, and a duplicate would already be counted.
     */
    settle: async () => {
      const id = randomBytes(8).toString('hex');
      const confirms = await broker.createConfirmChannel();
      confirms.publish(exchange, routingKey, Buffer.from('{}'), { messageId: id, type: 'sentinel' });
      await confirms.waitForConfirms();
      await confirms.close();
      await eventually('the sentinel behind the messages', () => (sentinels.has(id) ? true : undefined), 10_000, { everyMs: 10 });
    },
    close: () => channel.close(),
  };
}

async function ledgerItem(fileId: string) {
  const { Item } = await container.clients.dynamodb.send(new GetItemCommand({ TableName: container.config.FILES_TABLE, Key: { fileId: { S: fileId } }, ConsistentRead: true }));
  return unmarshall(Item!);
}

describe('notify: one durable message per uploaded version', () => {
  it('publishes the contract fields and properties, then records notified', async () => {
    const queue = await consumer();
    const fileId = await uploadedFile('report 1.csv');
    const outcome = await notifyFile({ fileId }, deps());
    assert.equal(outcome.status, 'notified');
    await queue.settle();
    assert.equal(queue.received.length, 1);
    const [message] = queue.received;
    const body = JSON.parse(message!.content.toString()) as FileIngestedMessage;
    const item = await ledgerItem(fileId);
    assert.deepEqual(body, {
      fileId,
      serverId: `${prefix}-server`,
      serverName: `${prefix}-name`,
      remotePath: '/in/report 1.csv',
      size: 1234,
      mtime: new Date(1_700_000_000_000).toISOString(),
      sha256: 'ab'.repeat(32),
      bucket: 'sluice-ingest',
      key: 'prefix/report 1.csv',
      etag: '"etag-1"',
      ingestedAt: item.uploadedAt,
    });
    assert.equal(message!.properties.messageId, fileId);
    assert.equal(message!.properties.deliveryMode, 2);
    assert.equal(message!.properties.contentType, 'application/json');
    assert.equal(message!.properties.type, 'file.ingested');
    assert.equal(typeof message!.properties.timestamp, 'number');
    assert.equal(message!.fields.routingKey, 'file.ingested');
    assert.equal(item.status, 'notified');
    assert.ok(item.notifiedAt);
    await queue.close();
  });

  it('announces once however often and however concurrently the job is delivered', async () => {
    const queue = await consumer();
    const fileId = await uploadedFile();
    const outcomes = await Promise.all([1, 2, 3, 4].map(() => notifyFile({ fileId }, deps())));
    assert.equal(outcomes.filter((outcome) => outcome.status === 'notified').length, 1, JSON.stringify(outcomes));
    assert.equal((await notifyFile({ fileId }, deps())).status, 'already-notified');
    await queue.settle();
    assert.deepEqual(queue.ids(), [fileId]);
    await queue.close();
  });

  it('does not announce a version that has no object yet', async () => {
    const fileId = randomBytes(16).toString('hex');
    await container.pollDeps.ledger.createIfAbsent({ fileId, serverId: 's', serverName: 'n', remotePath: '/x', relativePath: 'x', size: 1, mtime: 1, discoveredAt: new Date().toISOString() });
    assert.equal((await notifyFile({ fileId }, deps())).status, 'not-uploaded');
    assert.equal((await notifyFile({ fileId: randomBytes(16).toString('hex') }, deps())).status, 'missing');
  });
});

describe('notify: failures', () => {
  it('recovers a crash between the broker confirm and the ledger update: the sweep re-announces with the same messageId', async () => {
    const queue = await consumer();
    const fileId = await uploadedFile();
    // The process dies right after the broker confirmed: the ledger never hears of it.
    const crashing: Publisher = {
      publish: async (message) => {
        await publisher.publish(message);
        throw new Error('process died');
      },
      close: async () => {},
    };
    assert.equal((await notifyFile({ fileId }, deps({ publisher: crashing, leaseSeconds: 1 }))).status, 'retry');
    assert.equal((await ledgerItem(fileId)).status, 'uploaded');

    const report = await sweep({ ...container.sweepDeps, notifyAfterSeconds: 0 }, new Date(Date.now() + 1000));
    assert.ok(report.renotified >= 1);
    const jobs = await drainNotifyQueue();
    assert.ok(jobs.includes(fileId), 'the sweep re-enqueued the unannounced version');
    assert.equal((await notifyFile({ fileId }, deps())).status, 'notified');
    await queue.settle();
    assert.deepEqual(queue.ids(), [fileId, fileId], 'published twice, both with the same messageId for consumers to drop');
    await queue.close();
  });

  it('keeps the version unannounced and asks for a retry with backoff while the broker is unreachable', async () => {
    const fileId = await uploadedFile();
    const down = new AmqpPublisher({ url: 'amqp://guest:secret-pw@127.0.0.1:9', exchange, routingKey: 'file.ingested', mandatory: true, declareExchange: true, connectTimeoutMs: 1000 });
    const logger = new RecordingLogger();
    const first = await notifyFile({ fileId }, deps({ publisher: down, logger }));
    const second = await notifyFile({ fileId }, deps({ publisher: down, logger }));
    assert.equal(first.status, 'retry');
    assert.equal(second.status, 'retry');
    assert.ok(second.status === 'retry' && first.status === 'retry' && second.delaySeconds > first.delaySeconds, 'backs off');
    const item = await ledgerItem(fileId);
    assert.equal(item.status, 'uploaded');
    assert.equal(item.lastError.code, 'broker_unavailable');
    assert.ok(!JSON.stringify(item).includes('secret-pw') && !JSON.stringify(logger.lines).includes('secret-pw'), 'no credentials in the ledger or logs');
    await down.close();
    assert.equal((await notifyFile({ fileId }, deps())).status, 'notified', 'delivered once the broker is back');
  });

  it('reports an unroutable message, parks it after a few tries, and renotify delivers it once a queue is bound', async () => {
    const lonely = `sluice-test-${prefix}-unbound`;
    const strict = new AmqpPublisher({ url: SHARED_AMQP_URL, exchange: lonely, routingKey: 'file.ingested', mandatory: true, declareExchange: true });
    const fileId = await uploadedFile();
    const logger = new RecordingLogger();
    const outcomes = [];
    for (let attempt = 0; attempt < 3; attempt++) outcomes.push(await notifyFile({ fileId }, deps({ publisher: strict, maxRejections: 3, logger })));
    assert.deepEqual(outcomes.map((outcome) => outcome.status), ['retry', 'retry', 'parked']);
    assert.ok(logger.lines.some((entry) => entry.event === 'notification_rejected' && entry.fields.code === 'unroutable'));
    const item = await ledgerItem(fileId);
    assert.equal(item.lastError.code, 'unroutable');
    assert.equal(item.notifyParked, true);
    const report = await sweep({ ...container.sweepDeps, notifyAfterSeconds: 0 }, new Date(Date.now() + 1000));
    assert.ok(!(await drainNotifyQueue()).includes(fileId), `parked versions are not swept (${JSON.stringify(report)})`);

    const channel = await broker.createChannel();
    const { queue } = await channel.assertQueue('', { exclusive: true });
    await channel.bindQueue(queue, lonely, '#');
    const view = await renotifyFile(fileId, deps({ publisher: strict }));
    assert.equal(view.status, 'notified');
    const message = await channel.get(queue, { noAck: true });
    assert.ok(message && message.properties.messageId === fileId);
    await channel.deleteExchange(lonely);
    await channel.close();
    await strict.close();
  });

  it('renotify re-publishes a notified version with the same messageId and refuses one without an object', async () => {
    const queue = await consumer();
    const fileId = await uploadedFile();
    await notifyFile({ fileId }, deps());
    const view = await renotifyFile(fileId, deps());
    assert.equal(view.status, 'notified');
    await queue.settle();
    assert.deepEqual(queue.ids(), [fileId, fileId]);
    const pending = randomBytes(16).toString('hex');
    await container.pollDeps.ledger.createIfAbsent({ fileId: pending, serverId: 's', serverName: 'n', remotePath: '/x', relativePath: 'x', size: 1, mtime: 1, discoveredAt: new Date().toISOString() });
    await assert.rejects(renotifyFile(pending, deps()), (error: Error & { status?: number }) => error.status === 409);
    await assert.rejects(renotifyFile(randomBytes(16).toString('hex'), deps()), (error: Error & { status?: number }) => error.status === 404);
    await queue.close();
  });
});

async function drainNotifyQueue(): Promise<string[]> {
  const ids: string[] = [];
  while (true) {
    const { Messages = [] } = await container.clients.sqs.send(new ReceiveMessageCommand({ QueueUrl: notifyQueueUrl, MaxNumberOfMessages: 10, WaitTimeSeconds: 0, VisibilityTimeout: 60 }));
    if (Messages.length === 0) return ids;
    ids.push(...Messages.map((message) => (JSON.parse(message.Body!) as { fileId: string }).fileId));
  }
}
