import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { GetObjectCommand, S3Client } from '@aws-sdk/client-s3';
import { connect } from 'amqplib';
import { api, uniqueName } from '../helpers/api';
import { eventually } from '../helpers/eventually';
import { SHARED_AMQP_URL } from '../helpers/rabbitmq';
import { startSshd, writeRemoteFile, type Sshd } from '../../scripts/fixtures/sshd';

let sshd: Sshd;
const s3 = new S3Client({ region: 'us-east-1', forcePathStyle: true });

before(async () => {
  sshd = await startSshd();
});
after(async () => {
  s3.destroy();
  await sshd.dispose();
});

describe('detection and transfer through the running stack', () => {
  it('registers a server over the API, its files land in the bucket and are announced on the default broker; the API shows the poll status', async () => {
    // The stack runs with its default broker settings: the local RabbitMQ, exchange sluice.
    const broker = await connect(SHARED_AMQP_URL);
    const channel = await broker.createChannel();
    await channel.assertExchange('sluice', 'topic', { durable: true });
    const { queue } = await channel.assertQueue('', { exclusive: true });
    await channel.bindQueue(queue, 'sluice', 'file.ingested');
    const announced: { serverId: string; remotePath: string }[] = [];
    await channel.consume(queue, (message) => message && announced.push(JSON.parse(message.content.toString())), { noAck: true });
    writeRemoteFile(sshd, 'e2e/one.csv', 'one', 1_700_000_000);
    writeRemoteFile(sshd, 'e2e/two.csv', 'two', 1_700_000_000);
    const created = await api('POST', '/servers', {
      body: {
        name: uniqueName('e2e'),
        host: '127.0.0.1',
        port: sshd.port,
        username: sshd.username,
        password: sshd.password,
        remoteDir: `${sshd.root}/e2e`,
        stableAfterSeconds: 0,
      },
    });
    assert.equal(created.status, 201, created.text);
    const serverId: string = created.json.id;
    const keyPrefix: string = created.json.keyPrefix;
    const landed = new Map<string, Buffer>();
    await eventually(
      'both objects in the bucket',
      async () => {
        for (const name of ['one.csv', 'two.csv']) {
          if (landed.has(name)) continue;
          try {
            const { Body } = await s3.send(new GetObjectCommand({ Bucket: 'sluice-ingest', Key: `${keyPrefix}/${name}` }));
            landed.set(name, Buffer.from(await Body!.transformToByteArray()));
          } catch {
            // Not stored yet (NoSuchKey): looked for again on the next round.
          }
        }
        return landed.size === 2 ? true : undefined;
      },
      150_000,
      { everyMs: 500 },
    );
    assert.deepEqual(Object.fromEntries([...landed].map(([name, body]) => [name, body.toString()])), { 'one.csv': 'one', 'two.csv': 'two' });

    await eventually('both announcements', () => (announced.filter((message) => message.serverId === serverId).length >= 2 ? true : undefined), 60_000, { everyMs: 250 });
    await broker.close();
    assert.deepEqual(
      announced.filter((message) => message.serverId === serverId).map((message) => message.remotePath.split('/').pop()).sort(),
      ['one.csv', 'two.csv'],
      'one message per file on the default exchange',
    );

    const view = await api('GET', `/servers/${serverId}`);
    assert.equal(view.json.observedHostKey, sshd.hostKey, 'first-seen host key recorded and shown');
    assert.equal(view.json.consecutiveFailures, 0);
    assert.equal(view.json.lastError, null);
    assert.ok(view.json.lastPollAt);
    const history = await api('GET', `/files?serverId=${serverId}`);
    assert.equal(history.status, 200, history.text);
    assert.deepEqual(history.json.items.map((file: { relativePath: string }) => file.relativePath).sort(), ['one.csv', 'two.csv']);
    for (const file of history.json.items) {
      assert.equal(file.status, 'notified');
      assert.ok(file.notifiedAt);
      assert.equal(file.key, `${keyPrefix}/${file.relativePath}`);
      assert.match(file.sha256, /^[0-9a-f]{64}$/);
      const one = await api('GET', `/files/${file.fileId}`);
      assert.deepEqual(one.json, file);
    }
    assert.equal((await api('GET', '/files/0123456789abcdef0123456789abcdef')).status, 404);
    assert.equal((await api('GET', '/files')).status, 400, 'serverId is required');

    assert.equal((await api('DELETE', `/servers/${serverId}`)).status, 204);
    const kept = await api('GET', `/files?serverId=${serverId}`);
    assert.equal(kept.json.items.length, 2, 'the ingestion history outlives the server');
  });
});
