import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { GetObjectCommand, ListObjectsV2Command, S3Client } from '@aws-sdk/client-s3';
import { GetQueueAttributesCommand, GetQueueUrlCommand, SQSClient } from '@aws-sdk/client-sqs';
import { connect, type ChannelModel } from 'amqplib';
import type { FileIngestedMessage } from '../../lib/ports';
import { eventually as waitFor } from '../helpers/eventually';
import { startRabbitMq, type PrivateRabbitMq } from '../helpers/rabbitmq';
import { startSshd, writeRemoteFile, type Sshd } from '../../scripts/fixtures/sshd';

/**
 * The whole path through `npm start` (register -> poll -> transfer -> notify), with a private broker
 * and sshd so both can be stopped and started, and a restart of the service itself.
 */
const ports = { PORT: '3400', SLUICE_LAMBDA_PORT: '3402', SLUICE_LOCAL_AWS_PORT: '4966', SLUICE_LOCAL_DYNAMODB_PORT: '8400', SLUICE_LOCAL_SECRETS_PORT: '4984' };
const apiUrl = `http://127.0.0.1:${ports.PORT}`;
const token = 'pipeline-e2e-token-0123456789';
const bucket = 'sluice-ingest';
const MiB = 1024 * 1024;

let dataDir: string;
let broker: PrivateRabbitMq;
let sshd: Sshd;
let service: Service | undefined;
let consumer: Consumer;
const sqs = new SQSClient({ region: 'us-east-1', endpoint: `http://127.0.0.1:${ports.SLUICE_LOCAL_AWS_PORT}`, credentials: { accessKeyId: 'test', secretAccessKey: 'test' } });
const s3 = new S3Client({ region: 'us-east-1', endpoint: `http://127.0.0.1:${ports.SLUICE_LOCAL_AWS_PORT}`, forcePathStyle: true, credentials: { accessKeyId: 'test', secretAccessKey: 'test' } });

interface Service {
  child: ChildProcess;
  output: () => string;
  /** Files this instance uploaded (its `file_uploaded` log lines), by server id. */
  uploads: Map<string, number>;
}

/**
 * `npm start`; `extra` starts another instance on its own ports and data directory, pointed at the
 * first one's stand-ins through AWS_ENDPOINT_URL_* (several instances on one set of servers).
 */
async function startService(extra?: { ports: Record<string, string>; dataDir: string; endpoints: Record<string, string> }): Promise<Service> {
  const env: NodeJS.ProcessEnv = {
    ...process.env,
    ...(extra?.ports ?? ports),
    SLUICE_DATA_DIR: extra?.dataDir ?? join(dataDir, 'service'),
    SLUICE_API_TOKEN: token,
    AMQP_URL: broker.url,
    S3_PART_SIZE_MIB: '5',
    NOTIFY_BACKOFF_CAP_SECONDS: '4',
    LOG_LEVEL: 'info',
  };
  for (const name of Object.keys(env)) if (name.startsWith('AWS_ENDPOINT_URL')) delete env[name];
  Object.assign(env, extra?.endpoints);
  const child = spawn(process.execPath, ['--import', 'tsx', 'scripts/start.ts'], { env, stdio: ['ignore', 'pipe', 'pipe'] });
  let output = '';
  let partial = '';
  const uploads = new Map<string, number>();
  await new Promise<void>((resolve, reject) => {
    const onData = (chunk: Buffer) => {
      const text = chunk.toString('utf8');
      const lines = (partial + text).split('\n');
      partial = lines.pop()!;
      for (const line of lines) {
        const serverId = /"event":"file_uploaded".*?"serverId":"([^"]+)"/.exec(line)?.[1];
        if (serverId) uploads.set(serverId, (uploads.get(serverId) ?? 0) + 1);
      }
      output = (output + text).slice(-400_000);
      if (output.includes('Press Ctrl-C to stop.')) resolve();
    };
    child.stdout!.on('data', onData);
    child.stderr!.on('data', onData);
    child.once('exit', (code) => reject(new Error(`npm start exited with ${code}:\n${output.slice(-4000)}`)));
    setTimeout(() => reject(new Error(`npm start not ready in time:\n${output.slice(-4000)}`)), 150_000).unref();
  });
  return { child, output: () => output, uploads };
}

async function stopService(running: Service): Promise<void> {
  const exited = new Promise((resolve) => running.child.once('exit', resolve));
  running.child.kill('SIGINT');
  await exited;
}

async function api(method: string, path: string, body?: unknown) {
  const response = await fetch(`${apiUrl}${path}`, {
    method,
    headers: { authorization: `Bearer ${token}`, ...(body ? { 'content-type': 'application/json' } : {}) },
    ...(body ? { body: JSON.stringify(body) } : {}),
  });
  const text = await response.text();
  return { status: response.status, text, json: text ? JSON.parse(text) : undefined };
}

/** A durable queue bound to the exchange, counting every delivery by messageId; reconnects on demand. */
interface Consumer {
  deliveries: Map<string, FileIngestedMessage[]>;
  reconnect(): Promise<void>;
  close(): Promise<void>;
}

async function startConsumer(): Promise<Consumer> {
  const queue = `pipeline-e2e-${randomBytes(4).toString('hex')}`;
  const deliveries = new Map<string, FileIngestedMessage[]>();
  let connection: ChannelModel | undefined;
  const open = async () => {
    connection = await connect(broker.url);
    connection.on('error', () => {});
    const channel = await connection.createChannel();
    channel.on('error', () => {});
    await channel.assertExchange('sluice', 'topic', { durable: true });
    await channel.assertQueue(queue, { durable: true });
    await channel.bindQueue(queue, 'sluice', 'file.ingested');
    await channel.consume(queue, (message) => {
      if (!message) return;
      assert.equal(message.properties.deliveryMode, 2, 'persistent');
      const body = JSON.parse(message.content.toString()) as FileIngestedMessage;
      assert.equal(message.properties.messageId, body.fileId);
      deliveries.set(body.fileId, [...(deliveries.get(body.fileId) ?? []), body]);
      channel.ack(message);
    });
  };
  await open();
  return {
    deliveries,
    reconnect: open,
    close: async () => {
      await connection?.close().catch(() => {});
    },
  };
}

/** Waits for a condition, showing the end of npm start's output when it never comes. */
const eventually = <T>(what: string, check: () => Promise<T | undefined> | T | undefined, timeoutMs: number) =>
  // Every half second: some checks page through thousands of file versions.
  waitFor(what, check, timeoutMs, { context: () => service?.output().slice(-3000) ?? '', everyMs: 500 });

async function objectBytes(key: string): Promise<Buffer> {
  const { Body } = await s3.send(new GetObjectCommand({ Bucket: bucket, Key: key }));
  return Buffer.from(await Body!.transformToByteArray());
}

async function objectCount(prefix: string): Promise<number> {
  let count = 0;
  let token: string | undefined;
  do {
    const page = await s3.send(new ListObjectsV2Command({ Bucket: bucket, Prefix: `${prefix}/`, ContinuationToken: token }));
    count += page.KeyCount ?? 0;
    token = page.NextContinuationToken;
  } while (token);
  return count;
}

async function register(name: string, dir: string, fields: Record<string, unknown> = {}) {
  const created = await api('POST', '/servers', {
    name,
    host: '127.0.0.1',
    port: sshd.port,
    username: sshd.username,
    password: sshd.password,
    remoteDir: `${sshd.root}/${dir}`,
    recursive: true,
    stableAfterSeconds: 1,
    ...fields,
  });
  assert.equal(created.status, 201, created.text);
  return created.json as { id: string; keyPrefix: string; name: string };
}

/** Every file version of a server, page by page. */
async function allFiles(serverId: string): Promise<{ status: string }[]> {
  const files: { status: string }[] = [];
  let nextToken: string | undefined;
  do {
    const page = await api('GET', `/files?serverId=${serverId}&limit=100${nextToken ? `&nextToken=${encodeURIComponent(nextToken)}` : ''}`);
    files.push(...page.json.items);
    nextToken = page.json.nextToken ?? undefined;
  } while (nextToken);
  return files;
}

/**
 * Settled: every version of the server is `notified` and the notify queue holds no message, visible
 * or in flight. A duplicate announcement would have been published by then (a notifier publishes
 * before its job leaves the queue), so counting messages after this proves there was none.
 */
async function settled(serverId: string, count: number): Promise<void> {
  await eventually(
    'every version notified and the notify queue empty',
    async () => {
      const files = await allFiles(serverId);
      if (files.length !== count || !files.every((file) => file.status === 'notified')) return undefined;
      const { Attributes = {} } = await sqs.send(
        new GetQueueAttributesCommand({ QueueUrl: await notifyQueueUrl(), AttributeNames: ['ApproximateNumberOfMessages', 'ApproximateNumberOfMessagesNotVisible'] }),
      );
      return Number(Attributes.ApproximateNumberOfMessages) + Number(Attributes.ApproximateNumberOfMessagesNotVisible) === 0 ? true : undefined;
    },
    120_000,
  );
}

let notifyQueue: string | undefined;
const notifyQueueUrl = async () => (notifyQueue ??= (await sqs.send(new GetQueueUrlCommand({ QueueName: 'sluice-local-notify' }))).QueueUrl!);

/** Waits until the server has been polled `polls` more times (its lastPollAt moved on that often). */
async function polledAgain(serverId: string, polls: number): Promise<void> {
  let last = (await api('GET', `/servers/${serverId}`)).json.lastPollAt;
  for (let seen = 0; seen < polls; ) {
    await eventually(
      'another poll',
      async () => {
        const now = (await api('GET', `/servers/${serverId}`)).json.lastPollAt;
        if (now === last) return undefined;
        last = now;
        return true;
      },
      60_000,
    );
    seen++;
  }
}

const messagesFor = (serverId: string) => [...consumer.deliveries.values()].filter((bodies) => bodies[0]!.serverId === serverId);
const sha256 = (data: Buffer) => createHash('sha256').update(data).digest('hex');

before(async () => {
  dataDir = mkdtempSync(join(tmpdir(), 'sluice-pipeline-'));
  [broker, sshd] = await Promise.all([startRabbitMq(), startSshd()]);
  consumer = await startConsumer();
  service = await startService();
});
after(async () => {
  if (service) await stopService(service);
  await consumer?.close();
  await broker?.dispose();
  await sshd?.dispose();
  s3.destroy();
  sqs.destroy();
  rmSync(dataDir, { recursive: true, force: true });
});

describe('pipeline end to end through npm start', () => {
  const sources = new Map<string, Buffer>([
    ['empty.bin', Buffer.alloc(0)],
    ['small.txt', Buffer.from('hello, sluice\n')],
    ['multi-part.bin', randomBytes(12 * MiB + 7)],
    ['nested/deeper/leaf.csv', Buffer.from('a,b\n1,2\n')],
  ]);
  let server: { id: string; keyPrefix: string; name: string };

  it('ingests every file byte-exact and announces each exactly once, with fields that match the object', async () => {
    for (const [path, content] of sources) writeRemoteFile(sshd, `main/${path}`, content);
    server = await register(`e2e-${randomBytes(3).toString('hex')}`, 'main');
    await eventually('four announcements', () => (messagesFor(server.id).length >= sources.size ? true : undefined), 180_000);
    await settled(server.id, sources.size);
    const messages = messagesFor(server.id);
    assert.equal(messages.length, sources.size);
    for (const bodies of messages) {
      assert.equal(bodies.length, 1, `one message for ${bodies[0]!.remotePath}`);
      const message = bodies[0]!;
      const relative = message.remotePath.slice(`${sshd.root}/main/`.length);
      const source = sources.get(relative);
      assert.ok(source, `announced file ${message.remotePath} is one of ours`);
      assert.equal(message.key, `${server.keyPrefix}/${relative}`);
      assert.equal(message.bucket, bucket);
      assert.equal(message.serverName, server.name);
      assert.equal(message.size, source.length);
      assert.equal(message.sha256, sha256(source));
      assert.ok((await objectBytes(message.key)).equals(source), `${relative} byte-exact`);
      const file = await api('GET', `/files/${message.fileId}`);
      assert.equal(file.json.status, 'notified');
      assert.equal(file.json.etag, message.etag);
      assert.equal(file.json.mtime, message.mtime);
      assert.equal(file.json.uploadedAt, message.ingestedAt);
    }
    assert.equal(await objectCount(server.keyPrefix), sources.size);
  });

  it('ingests and announces nothing again after npm start restarts', async () => {
    await stopService(service!);
    service = await startService();
    const before = consumer.deliveries.size;
    await polledAgain(server.id, 2);
    await settled(server.id, sources.size);
    assert.equal(consumer.deliveries.size, before, 'no new announcements');
    assert.ok(messagesFor(server.id).every((bodies) => bodies.length === 1), 'no repeated announcements');
    assert.equal(await objectCount(server.keyPrefix), sources.size, 'no new objects');
    const files = await api('GET', `/files?serverId=${server.id}&limit=100`);
    assert.equal(files.json.items.length, sources.size, 'no new file versions');
  });

  it('re-publishes a file on POST /files/{id}/renotify, with the same messageId', async () => {
    const [bodies] = messagesFor(server.id);
    const { fileId } = bodies![0]!;
    const response = await api('POST', `/files/${fileId}/renotify`);
    assert.equal(response.status, 200, response.text);
    assert.equal(response.json.status, 'notified');
    assert.ok(response.json.notifiedAt);
    await eventually('the second delivery', () => (consumer.deliveries.get(fileId)!.length === 2 ? true : undefined), 10_000);
    assert.deepEqual(consumer.deliveries.get(fileId)![1], consumer.deliveries.get(fileId)![0], 'the same message again');
    const unknown = await api('POST', '/files/0123456789abcdef0123456789abcdef/renotify');
    assert.equal(unknown.status, 404);
  });

  it('holds announcements while the broker is down and delivers each once when it is back', async () => {
    const target = await register(`e2e-broker-${randomBytes(3).toString('hex')}`, 'broker-outage');
    await broker.stop();
    const names = ['a.txt', 'b.txt', 'c.txt', 'd.txt', 'e.txt'];
    for (const name of names) writeRemoteFile(sshd, `broker-outage/${name}`, `content of ${name}`);
    await eventually(
      'files uploaded while the broker is down',
      async () => {
        const files = await api('GET', `/files?serverId=${target.id}&limit=100`);
        return files.json.items.length === names.length && files.json.items.every((file: { status: string }) => file.status === 'uploaded') ? true : undefined;
      },
      120_000,
    );
    await broker.start();
    await consumer.reconnect();
    await eventually('announcements after the broker returned', () => (messagesFor(target.id).length === names.length ? true : undefined), 120_000);
    await settled(target.id, names.length);
    assert.deepEqual(messagesFor(target.id).map((bodies) => bodies.length), names.map(() => 1), 'each delivered once');
  });

  it('loses and duplicates nothing when sshd is stopped mid-run and started again', async () => {
    const target = await register(`e2e-sshd-${randomBytes(3).toString('hex')}`, 'sshd-outage');
    const first = ['1.bin', '2.bin', '3.bin'];
    for (const name of first) writeRemoteFile(sshd, `sshd-outage/${name}`, randomBytes(100_000));
    await eventually('the first files announced', () => (messagesFor(target.id).length >= 1 ? true : undefined), 120_000);
    await sshd.stop();
    // Down long enough for the server's polls to fail (and back off), not just for one to be missed.
    await eventually('polls failing while sshd is down', async () => {
      const server = await api('GET', `/servers/${target.id}`);
      return server.json.consecutiveFailures >= 2 ? true : undefined;
    }, 60_000);
    const later = ['4.bin', '5.bin'];
    for (const name of later) writeRemoteFile(sshd, `sshd-outage/${name}`, randomBytes(100_000));
    await sshd.start();
    await eventually('all five announced', () => (messagesFor(target.id).length === first.length + later.length ? true : undefined), 180_000);
    await settled(target.id, first.length + later.length);
    assert.ok(messagesFor(target.id).every((bodies) => bodies.length === 1), 'no duplicate messages');
    assert.equal(await objectCount(target.keyPrefix), first.length + later.length, 'no duplicate objects');
  });

  it('with a second npm start on the same stand-ins, ingests 300 files of one server with no duplicate object or message', async () => {
    const second = await startService({
      ports: { PORT: '3410', SLUICE_LAMBDA_PORT: '3412', SLUICE_LOCAL_AWS_PORT: '4976', SLUICE_LOCAL_DYNAMODB_PORT: '8410', SLUICE_LOCAL_SECRETS_PORT: '4994' },
      dataDir: join(dataDir, 'second'),
      endpoints: {
        AWS_ENDPOINT_URL_S3: `http://127.0.0.1:${ports.SLUICE_LOCAL_AWS_PORT}`,
        AWS_ENDPOINT_URL_SQS: `http://127.0.0.1:${ports.SLUICE_LOCAL_AWS_PORT}`,
        AWS_ENDPOINT_URL_DYNAMODB: `http://127.0.0.1:${ports.SLUICE_LOCAL_DYNAMODB_PORT}`,
        AWS_ENDPOINT_URL_SECRETS_MANAGER: `http://127.0.0.1:${ports.SLUICE_LOCAL_SECRETS_PORT}`,
      },
    });
    try {
      assert.match(second.output(), /127\.0\.0\.1:3410/, 'the second instance serves its own API');
      const dir = join(sshd.root, 'two-instances');
      mkdirSync(dir, { recursive: true, mode: 0o755 });
      const count = 300;
      const contents = new Map<string, Buffer>();
      for (let index = 0; index < count; index++) {
        const content = randomBytes(2000 + index);
        contents.set(`f${index}.dat`, content);
        writeFileSync(join(dir, `f${index}.dat`), content);
      }
      // Slots enough for both instances' transfer environments: with the default two, the instance
      // that is warm first can keep both (its sessions stay warm between batches) and the other,
      // deferring, takes no part - which proves nothing about two instances (seen in a loaded CI run).
      const target = await register(`e2e-two-${randomBytes(3).toString('hex')}`, 'two-instances', { maxConnections: 8 });
      await eventually(`${count} announcements`, () => (messagesFor(target.id).length === count ? true : undefined), 300_000);
      // Both instances took part: each one's transfer function uploaded some of the files.
      await eventually('uploads by both instances', () => ((service!.uploads.get(target.id) ?? 0) + (second.uploads.get(target.id) ?? 0) === count ? true : undefined), 30_000);
      assert.ok((service!.uploads.get(target.id) ?? 0) > 0, 'the first instance uploaded some files');
      assert.ok((second.uploads.get(target.id) ?? 0) > 0, 'the second instance uploaded some files');
      await settled(target.id, count);
      assert.deepEqual(messagesFor(target.id).filter((bodies) => bodies.length > 1).map((bodies) => bodies[0]!.remotePath), [], 'no file announced twice');
      assert.equal(await objectCount(target.keyPrefix), count, 'one object per file');
      for (const bodies of messagesFor(target.id).slice(0, 20)) {
        const name = bodies[0]!.remotePath.slice(dir.length + 1);
        assert.equal(bodies[0]!.sha256, sha256(contents.get(name)!), `${name} announced with its own digest`);
      }
    } finally {
      await stopService(second);
    }
  });

  it('ingests and announces 2,000 small files with no duplicates', async () => {
    const dir = join(sshd.root, 'many');
    mkdirSync(dir, { recursive: true, mode: 0o755 });
    const count = 2000;
    for (let index = 0; index < count; index++) writeFileSync(join(dir, `f${String(index).padStart(4, '0')}.dat`), randomBytes(4096));
    const target = await register(`e2e-many-${randomBytes(3).toString('hex')}`, 'many', { maxConnections: 4 });
    const started = Date.now();
    await eventually(`${count} announcements`, () => (messagesFor(target.id).length === count ? true : undefined), 600_000);
    await settled(target.id, count);
    const duplicates = messagesFor(target.id).filter((bodies) => bodies.length > 1).length;
    assert.equal(duplicates, 0, 'duplicate announcements');
    assert.equal(messagesFor(target.id).length, count);
    assert.equal(await objectCount(target.keyPrefix), count);
    console.log(`# 2,000 files ingested and announced in ${((Date.now() - started) / 1000).toFixed(0)} s`);
  });
});
