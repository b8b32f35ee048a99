import assert from 'node:assert/strict';
import { randomBytes, randomUUID } from 'node:crypto';
import { createServer, type AddressInfo, type Socket } from 'node:net';
import { after, before, describe, it } from 'node:test';
import { connect, type Channel, type ChannelModel, type GetMessage } from 'amqplib';
import type { ConnectionOptions as TlsConnectionOptions } from 'node:tls';
import { AmqpPublisher, PublishError, type AmqpPublisherOptions, type FileIngestedMessage } from '../../lib/adapters/amqp-publisher';
import { createLogger } from '../../lib/logger';
import { SHARED_AMQP_URL, startRabbitMq, type PrivateRabbitMq } from '../helpers/rabbitmq';
import { freePort } from '../../scripts/fixtures/sshd';
import { startTcpProxy } from '../../scripts/fixtures/tcp-proxy';

const uniqueName = () => `sluice-test-${randomBytes(5).toString('hex')}`;

function ingested(overrides: Partial<FileIngestedMessage> = {}): FileIngestedMessage {
  const fileId = randomUUID();
  return {
    fileId,
    serverId: 'srv-1',
    serverName: 'acme-sftp',
    remotePath: `/outbox/${fileId}.csv`,
    size: 1234,
    mtime: '2026-01-02T03:04:05.000Z',
    sha256: 'a'.repeat(64),
    bucket: 'ingest',
    key: `acme-sftp/outbox/${fileId}.csv`,
    etag: '"0123456789abcdef"',
    versionId: 'v1',
    ingestedAt: new Date().toISOString(),
    ...overrides,
  };
}

/** A test's own view of a broker: a channel to declare, bind and read with, and a per-test exchange. */
interface Observer {
  connection: ChannelModel;
  channel: Channel;
  exchange: string;
  /** Declares the exchange (as the publisher does) and binds a fresh queue to it. */
  bindQueue(routingKey: string, options?: { durable?: boolean }): Promise<string>;
  /** Everything in the queue now (confirmed messages are already routed, so no waiting is needed). */
  drain(queue: string): Promise<GetMessage[]>;
  dispose(): Promise<void>;
}

async function observe(url: string, socketOptions: TlsConnectionOptions = {}): Promise<Observer> {
  const connection = await connect(url, socketOptions);
  connection.on('error', () => {});
  const channel = await connection.createChannel();
  channel.on('error', () => {});
  const exchange = uniqueName();
  return {
    connection,
    channel,
    exchange,
    async bindQueue(routingKey, { durable = false } = {}) {
      await channel.assertExchange(exchange, 'topic', { durable: true });
      const { queue } = durable
        ? await channel.assertQueue(uniqueName(), { durable: true })
        : await channel.assertQueue('', { exclusive: true });
      await channel.bindQueue(queue, exchange, routingKey);
      return queue;
    },
    async drain(queue) {
      const messages: GetMessage[] = [];
      for (let message = await channel.get(queue, { noAck: true }); message; message = await channel.get(queue, { noAck: true })) {
        messages.push(message);
      }
      return messages;
    },
    async dispose() {
      await channel.deleteExchange(exchange).catch(() => {});
      await connection.close().catch(() => {});
    },
  };
}

function publisherFor(url: string, exchange: string, options: Partial<AmqpPublisherOptions> = {}): AmqpPublisher {
  return new AmqpPublisher({ url, exchange, routingKey: 'file.ingested', mandatory: true, declareExchange: true, connectTimeoutMs: 3_000, ...options });
}

function parse(message: GetMessage): FileIngestedMessage {
  return JSON.parse(message.content.toString('utf8')) as FileIngestedMessage;
}

/** Asserts `promise` rejects with a PublishError of `code`, and returns it for further checks. */
async function rejectsWith(promise: Promise<unknown>, code: PublishError['code']): Promise<PublishError> {
  const error = await promise.then(
    () => assert.fail(`expected a PublishError '${code}', but the publish succeeded`),
    (reason: unknown) => reason,
  );
  assert.ok(error instanceof PublishError, `expected a PublishError, got ${String(error)}`);
  assert.equal(error.code, code, error.message);
  return error;
}

describe('AmqpPublisher against the shared broker', () => {
  it('publishes a confirmed, persistent JSON message carrying the announcement properties', async () => {
    const observer = await observe(SHARED_AMQP_URL);
    const publisher = publisherFor(SHARED_AMQP_URL, observer.exchange);
    try {
      const queue = await observer.bindQueue('file.ingested');
      const message = ingested();
      const before = Math.floor(Date.now() / 1000);

      await publisher.publish(message);

      const [received, ...rest] = await observer.drain(queue);
      assert.equal(rest.length, 0);
      assert.ok(received);
      assert.deepEqual(parse(received), message);
      assert.equal(received.fields.exchange, observer.exchange);
      assert.equal(received.fields.routingKey, 'file.ingested');
      const { properties } = received;
      assert.equal(properties.messageId, message.fileId);
      assert.equal(properties.deliveryMode, 2);
      assert.equal(properties.contentType, 'application/json');
      assert.equal(properties.contentEncoding, 'utf-8');
      assert.equal(properties.type, 'file.ingested');
      assert.equal(properties.appId, 'sluice');
      assert.ok(properties.timestamp >= before && properties.timestamp <= Math.floor(Date.now() / 1000) + 1, `timestamp ${properties.timestamp}`);
    } finally {
      await publisher.close();
      await observer.dispose();
    }
  });

  it('opens one connection for many publishes, including concurrent first publishes', async () => {
    const observer = await observe(SHARED_AMQP_URL);
    const publisher = publisherFor(SHARED_AMQP_URL, observer.exchange);
    try {
      const queue = await observer.bindQueue('file.ingested');
      const concurrent = Array.from({ length: 20 }, () => ingested());
      const sequential = Array.from({ length: 20 }, () => ingested());

      await Promise.all(concurrent.map((message) => publisher.publish(message)));
      for (const message of sequential) await publisher.publish(message);

      assert.equal(publisher.connectionCount, 1);
      const received = (await observer.drain(queue)).map((message) => parse(message).fileId);
      assert.deepEqual(received.sort(), [...concurrent, ...sequential].map((message) => message.fileId).sort());
    } finally {
      await publisher.close();
      await observer.dispose();
    }
  });

  it('rejects a mandatory message no queue is bound for as unroutable (not retryable), and keeps the connection', async () => {
    const observer = await observe(SHARED_AMQP_URL);
    const publisher = publisherFor(SHARED_AMQP_URL, observer.exchange, { routingKey: 'file.ingested.acme' });
    try {
      const error = await rejectsWith(publisher.publish(ingested()), 'unroutable');
      assert.equal(error.retryable, false);
      assert.match(error.message, new RegExp(`"${observer.exchange}".*"file\\.ingested\\.acme"`));

      const queue = await observer.bindQueue('file.ingested.*');
      const routed = ingested();
      await publisher.publish(routed);
      assert.deepEqual((await observer.drain(queue)).map((message) => parse(message).fileId), [routed.fileId]);
      assert.equal(publisher.connectionCount, 1);
    } finally {
      await publisher.close();
      await observer.dispose();
    }
  });

  it('rejects with exchange_missing (not retryable) when it may not declare the exchange and it does not exist', async () => {
    const exchange = uniqueName();
    const publisher = publisherFor(SHARED_AMQP_URL, exchange, { declareExchange: false });
    try {
      const error = await rejectsWith(publisher.publish(ingested()), 'exchange_missing');
      assert.equal(error.retryable, false);
      assert.ok(error.message.includes(`"${exchange}"`), error.message);
      // Still failing the same way on the next call (a new channel each time), not stuck.
      await rejectsWith(publisher.publish(ingested()), 'exchange_missing');
    } finally {
      await publisher.close();
    }
  });

  it('reports exchange_missing when the exchange is deleted under a live channel, and recovers once it is back', async () => {
    const observer = await observe(SHARED_AMQP_URL);
    const publisher = publisherFor(SHARED_AMQP_URL, observer.exchange, { declareExchange: false });
    try {
      await observer.bindQueue('file.ingested');
      await publisher.publish(ingested());
      await observer.channel.deleteExchange(observer.exchange);

      const error = await rejectsWith(publisher.publish(ingested()), 'exchange_missing');
      assert.equal(error.retryable, false);

      const queue = await observer.bindQueue('file.ingested');
      const later = ingested();
      await publisher.publish(later);
      assert.deepEqual((await observer.drain(queue)).map((message) => parse(message).fileId), [later.fileId]);
      assert.equal(publisher.connectionCount, 2);
    } finally {
      await publisher.close();
      await observer.dispose();
    }
  });

  it('rejects a wrong password as access_refused (not retryable) without the password in the error or the log', async () => {
    const password = `wrong-${randomBytes(8).toString('hex')}`;
    const lines: string[] = [];
    const logger = createLogger({ level: 'debug', write: (line) => lines.push(line) });
    const url = SHARED_AMQP_URL.replace(/:\/\/([^:@]+):[^@]*@/, `://$1:${password}@`);
    const publisher = publisherFor(url, uniqueName(), { logger });
    try {
      const error = await rejectsWith(publisher.publish(ingested()), 'access_refused');
      assert.equal(error.retryable, false);
      // The message ends up in a file's lastError: it says "the broker", never its host or user.
      assert.match(error.message, /on the broker: access refused/);
      assert.doesNotMatch(error.message, /127\.0\.0\.1|localhost|guest/);
      const cause = error.cause as Error;
      const everything = [error.message, String(error), error.stack, cause.message, cause.stack, JSON.stringify(error), ...lines].join('\n');
      assert.ok(!everything.includes(password), everything);
    } finally {
      await publisher.close();
    }
  });

  it('rejects as broker_unavailable (retryable) when nothing listens', async () => {
    const port = await freePort();
    const publisher = publisherFor(`amqp://guest:guest@127.0.0.1:${port}`, uniqueName());
    const error = await rejectsWith(publisher.publish(ingested()), 'broker_unavailable');
    assert.equal(error.retryable, true);
    assert.match(error.message, /ECONNREFUSED/);
    await publisher.close();
  });

  it('rejects as broker_unavailable (retryable) when the broker accepts TCP but never answers the handshake', async () => {
    const sockets = new Set<Socket>();
    const silent = createServer((socket) => sockets.add(socket));
    await new Promise<void>((resolve) => silent.listen(0, '127.0.0.1', resolve));
    const { port } = silent.address() as AddressInfo;
    const publisher = publisherFor(`amqp://guest:guest@127.0.0.1:${port}`, uniqueName(), { connectTimeoutMs: 300 });
    try {
      const started = Date.now();
      const error = await rejectsWith(publisher.publish(ingested()), 'broker_unavailable');
      assert.equal(error.retryable, true);
      assert.ok(Date.now() - started < 2_000, `took ${Date.now() - started} ms`);
    } finally {
      await publisher.close();
      for (const socket of sockets) socket.destroy();
      await new Promise((resolve) => silent.close(resolve));
    }
  });

  it('rejects a virtual host the broker refuses as access_refused (not retryable)', async () => {
    const publisher = publisherFor(`${SHARED_AMQP_URL.replace(/\/+$/, '')}/${uniqueName()}`, uniqueName());
    const error = await rejectsWith(publisher.publish(ingested()), 'access_refused');
    assert.equal(error.retryable, false);
    assert.match(error.message, /virtual host "sluice-test-/);
    await publisher.close();
  });

  it('times out (retryable) when confirms stop arriving, then publishes on a fresh connection', async () => {
    const observer = await observe(SHARED_AMQP_URL);
    const proxy = await startTcpProxy(Number(new URL(SHARED_AMQP_URL).port || 5672));
    const proxied = SHARED_AMQP_URL.replace(/@[^/]+/, `@127.0.0.1:${proxy.port}`);
    const publisher = publisherFor(proxied, observer.exchange, { confirmTimeoutMs: 500 });
    try {
      const queue = await observer.bindQueue('file.ingested');
      await publisher.publish(ingested());
      // At 10 bytes/s the proxy holds back what follows the next ack (21 bytes) for about 2 s.
      proxy.throttle(10);
      await publisher.publish(ingested());

      const error = await rejectsWith(publisher.publish(ingested()), 'timeout');
      assert.equal(error.retryable, true);

      proxy.throttle(0);
      await publisher.publish(ingested());
      assert.equal(publisher.connectionCount, 2);
      // The timed-out message reached the broker all the same (at least once): 4 messages, or 3.
      const count = (await observer.drain(queue)).length;
      assert.ok(count === 3 || count === 4, `queued ${count}`);
    } finally {
      await publisher.close();
      await proxy.close();
      await observer.dispose();
    }
  });

  it('rejects as broker_unavailable when the connection is cut before the confirm, and reconnects on the next publish', async () => {
    const observer = await observe(SHARED_AMQP_URL);
    const proxy = await startTcpProxy(Number(new URL(SHARED_AMQP_URL).port || 5672));
    const proxied = SHARED_AMQP_URL.replace(/@[^/]+/, `@127.0.0.1:${proxy.port}`);
    const publisher = publisherFor(proxied, observer.exchange);
    try {
      await observer.bindQueue('file.ingested');
      await publisher.publish(ingested());
      proxy.cutAfter(1); // the ack is the next thing the broker sends

      const error = await rejectsWith(publisher.publish(ingested()), 'broker_unavailable');
      assert.equal(error.retryable, true);

      await publisher.publish(ingested());
      assert.equal(publisher.connectionCount, 2);
    } finally {
      await publisher.close();
      await proxy.close();
      await observer.dispose();
    }
  });
});

describe('AmqpPublisher against a private broker', () => {
  let broker: PrivateRabbitMq;

  before(async () => {
    broker = await startRabbitMq({ tls: true });
  });
  after(async () => {
    await broker?.dispose();
  });

  it('survives broker restarts with the same publisher: fails retryably while down, then publishes again', async () => {
    const exchange = uniqueName();
    const lines: string[] = [];
    const publisher = publisherFor(broker.url, exchange, { logger: createLogger({ write: (line) => lines.push(line) }) });
    let observer = await observe(broker.url);
    const durableQueue = await (async () => {
      await observer.channel.assertExchange(exchange, 'topic', { durable: true });
      const { queue } = await observer.channel.assertQueue(uniqueName(), { durable: true });
      await observer.channel.bindQueue(queue, exchange, 'file.ingested');
      return queue;
    })();
    await observer.connection.close();
    try {
      const first = ingested();
      await publisher.publish(first);

      await broker.stop();
      const whileDown = await rejectsWith(publisher.publish(ingested()), 'broker_unavailable');
      assert.equal(whileDown.retryable, true);
      await broker.start();
      const afterRestart = ingested();
      await publisher.publish(afterRestart);
      assert.equal(publisher.connectionCount, 2);

      // A crash instead of a clean shutdown: the socket just dies.
      await broker.stop({ signal: 'SIGKILL' });
      await rejectsWith(publisher.publish(ingested()), 'broker_unavailable');
      await broker.start();
      const afterCrash = ingested();
      await publisher.publish(afterCrash);
      assert.equal(publisher.connectionCount, 3);

      observer = await observe(broker.url);
      const received = (await observer.drain(durableQueue)).map((message) => parse(message).fileId);
      assert.deepEqual(received, [first.fileId, afterRestart.fileId, afterCrash.fileId]);
      assert.ok(lines.some((line) => line.includes('"amqp_connection_lost"')), lines.join('\n'));
      await observer.channel.deleteQueue(durableQueue);
      await observer.channel.deleteExchange(exchange);
    } finally {
      await publisher.close();
      await observer.connection.close().catch(() => {});
    }
  });

  it('publishes over amqps:// verifying the broker against the given CA', async () => {
    assert.ok(broker.tlsUrl && broker.caPem);
    const observer = await observe(broker.tlsUrl, { ca: [broker.caPem] });
    const publisher = publisherFor(broker.tlsUrl, observer.exchange, { socketOptions: { ca: [broker.caPem] } });
    const byName = publisherFor(broker.tlsUrl, observer.exchange, { socketOptions: { ca: [broker.caPem], servername: 'localhost' } });
    try {
      const queue = await observer.bindQueue('file.ingested');
      const message = ingested();
      const another = ingested();

      await publisher.publish(message);
      await byName.publish(another);

      assert.deepEqual((await observer.drain(queue)).map(parse), [message, another]);
    } finally {
      await publisher.close();
      await byName.close();
      await observer.dispose();
    }
  });

  it('refuses an amqps:// broker whose certificate it cannot verify', async () => {
    assert.ok(broker.tlsUrl);
    const publisher = publisherFor(broker.tlsUrl, uniqueName());
    const error = await rejectsWith(publisher.publish(ingested()), 'broker_unavailable');
    assert.match(error.message, /certificate/i);
    await publisher.close();
  });
});
