import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { chmodSync } from 'node:fs';
import { after, before, describe, it } from 'node:test';
import { promisify } from 'node:util';
import type { ChannelModel } from 'amqplib';
import type { FileIngestedMessage } from '../../lib/ports';
import { api, polledAgain, registerSshdServer, waitForStack } from '../helpers/api';
import { bindIngestedQueue } from '../helpers/rabbitmq';
import { startSshd, writeRemoteFile, type Sshd } from '../../scripts/fixtures/sshd';

/**
 * Re-drive and replay through the running stack: a real sshd whose files are made unreadable (a
 * permission_denied SftpError is not retryable: one failure quarantines the version), a password
 * broken and fixed over the API, and the stack's own broker, on which every delivery is counted by
 * its AMQP messageId.
 */
let sshd: Sshd;
let broker: ChannelModel;
/** Every file.ingested delivery on the default exchange, by messageId, with its body. */
const deliveries = new Map<string, { messageId: string; body: FileIngestedMessage }[]>();

before(async () => {
  sshd = await startSshd();
  broker = await bindIngestedQueue((message) => {
    const body = JSON.parse(message.content.toString()) as FileIngestedMessage;
    const messageId = String(message.properties.messageId);
    deliveries.set(body.fileId, [...(deliveries.get(body.fileId) ?? []), { messageId, body }]);
  });
});
after(async () => {
  await broker?.close();
  await sshd?.dispose();
});

const waitFor = waitForStack;

async function register(dir: string): Promise<string> {
  const id = await registerSshdServer(sshd, dir, 'redrive');
  return id;
}

/** Writes files the SFTP account may list but not read. */
function writeUnreadable(dir: string, names: string[]): string[] {
  return names.map((name) => {
    const path = writeRemoteFile(sshd, `${dir}/${name}`, `content of ${name}\n`);
    chmodSync(path, 0o000);
    return path;
  });
}

interface FileView {
  fileId: string;
  relativePath: string;
  status: string;
  attempts: number;
  lastError: { code: string } | null;
}

async function filesOf(serverId: string): Promise<FileView[]> {
  const page = await api('GET', `/files?serverId=${serverId}&limit=100`);
  assert.equal(page.status, 200, page.text);
  return page.json.items;
}

/** Waits until the server has `count` versions, all in `status` (with `code` when given). */
const allIn = (serverId: string, count: number, status: string, code?: string) =>
  waitFor(`${count} version(s) ${status}${code ? ` (${code})` : ''}`, async () => {
    const files = await filesOf(serverId);
    return files.length === count && files.every((file) => file.status === status && (code === undefined || file.lastError?.code === code)) ? files : undefined;
  });


const runRedrive = (...args: string[]) =>
  promisify(execFile)(process.execPath, ['--import', 'tsx', 'scripts/redrive.ts', '--stage', 'local', ...args], { env: process.env, encoding: 'utf8' });

// eslint-disable-next-line @typescript-eslint/no-explicit-any
const lastJsonLine = (stdout: string): any => JSON.parse(stdout.trim().split('\n').pop()!);

describe('re-drive and replay through the running stack', () => {
  let healed: { serverId: string; fileIds: string[]; since: string };

  it('retries a quarantined file once it is readable again: ingested and announced exactly once; a notified version is a 409', async () => {
    const [path] = writeUnreadable('retry-one', ['locked.csv']);
    const serverId = await register('retry-one');
    const [quarantined] = await allIn(serverId, 1, 'quarantined', 'permission_denied');
    const fileId = quarantined!.fileId;
    assert.equal(deliveries.has(fileId), false);

    chmodSync(path!, 0o644);
    const retried = await api('POST', `/files/${fileId}/retry`);
    assert.equal(retried.status, 202, retried.text);
    assert.equal(retried.json.status, 'pending');
    assert.equal(retried.json.attempts, 0);
    assert.deepEqual(Object.keys(retried.json).sort(), Object.keys((await api('GET', `/files/${fileId}`)).json).sort(), 'the file view GET /files/{id} returns');

    await waitFor('the retried file announced', async () => ((await api('GET', `/files/${fileId}`)).json.status === 'notified' && deliveries.has(fileId) ? true : undefined));
    await polledAgain(serverId, 2);
    assert.equal(deliveries.get(fileId)!.length, 1, 'announced exactly once');
    assert.equal(deliveries.get(fileId)![0]!.messageId, fileId);

    const again = await api('POST', `/files/${fileId}/retry`);
    assert.equal(again.status, 409, again.text);
    assert.match(again.headers.get('content-type') ?? '', /^application\/problem\+json/);
    assert.equal(again.json.code, 'conflict');
    assert.match(again.json.detail, /notified/);
    assert.equal((await api('POST', '/files/0123456789abcdef0123456789abcdef/retry')).status, 404);
  });

  it('retries a whole server after its password is fixed: every quarantined file ingested and announced once', async () => {
    const paths = writeUnreadable('retry-server', ['a.csv', 'b.csv', 'c.csv']);
    const serverId = await register('retry-server');
    await allIn(serverId, 3, 'quarantined', 'permission_denied');

    // The partner "rotates" the password and makes the files readable: transfers now fail to log in.
    assert.equal((await api('PATCH', `/servers/${serverId}`, { body: { password: 'not-the-password' } })).status, 200);
    for (const path of paths) chmodSync(path, 0o644);
    const first = await api('POST', `/servers/${serverId}/retry?status=quarantined`);
    assert.equal(first.status, 202, first.text);
    assert.deepEqual(first.json, { retried: 3, complete: true });
    await allIn(serverId, 3, 'quarantined', 'auth_failed');

    const since = new Date().toISOString();
    assert.equal((await api('PATCH', `/servers/${serverId}`, { body: { password: sshd.password } })).status, 200);
    const second = await api('POST', `/servers/${serverId}/retry`);
    assert.equal(second.status, 202, second.text);
    assert.deepEqual(second.json, { retried: 3, complete: true });
    const files = await allIn(serverId, 3, 'notified');
    const fileIds = files.map((file) => file.fileId);
    await waitFor('three announcements', () => (fileIds.every((id) => deliveries.has(id)) ? true : undefined));
    assert.deepEqual(fileIds.map((id) => deliveries.get(id)!.length), [1, 1, 1], 'each announced once');
    healed = { serverId, fileIds, since };

    const nothingLeft = await api('POST', `/servers/${serverId}/retry`);
    assert.deepEqual(nothingLeft.json, { retried: 0, complete: true });
  });

  it('renotify since a time delivers the same messages again, with the same messageIds', async () => {
    const { serverId, fileIds, since } = healed;
    const before = new Map(fileIds.map((id) => [id, deliveries.get(id)![0]!]));
    const response = await api('POST', `/servers/${serverId}/renotify?since=${encodeURIComponent(since)}`);
    assert.equal(response.status, 202, response.text);
    assert.deepEqual(response.json, { queued: 3, complete: true });
    await waitFor('the second deliveries', () => (fileIds.every((id) => deliveries.get(id)!.length >= 2) ? true : undefined));
    for (const id of fileIds) {
      const [first, repeat] = deliveries.get(id)!;
      assert.equal(repeat!.messageId, first!.messageId, 'same messageId');
      assert.deepEqual(repeat!.body, first!.body, 'the same message');
      assert.deepEqual(before.get(id), first);
    }

    const later = await api('POST', `/servers/${serverId}/renotify?since=${encodeURIComponent(new Date(Date.now() + 60_000).toISOString())}`);
    assert.deepEqual(later.json, { queued: 0, complete: true }, 'none announced after then');
  });

  it('refuses bad queries naming query.status and query.since, and unknown servers with a 404', async () => {
    const serverId = healed.serverId;
    for (const [path, field] of [
      [`/servers/${serverId}/retry?status=notified`, 'query.status'],
      [`/servers/${serverId}/retry?state=failed`, 'query.state'],
      [`/servers/${serverId}/renotify`, 'query.since'],
      [`/servers/${serverId}/renotify?since=yesterday`, 'query.since'],
      [`/servers/${serverId}/renotify?since=2026-01-01`, 'query.since'],
    ] as const) {
      const response = await api('POST', path);
      assert.equal(response.status, 400, `${path}: ${response.text}`);
      assert.match(response.headers.get('content-type') ?? '', /^application\/problem\+json/);
      assert.deepEqual(response.json.errors.map((error: { field: string }) => error.field), [field], path);
    }
    assert.equal((await api('POST', '/servers/no-such-server/retry')).status, 404);
    assert.equal((await api('POST', `/servers/no-such-server/renotify?since=${encodeURIComponent(new Date().toISOString())}`)).status, 404);
    assert.equal((await api('POST', `/servers/${serverId}/retry`, { token: null })).status, 401);
  });

  it('npm run redrive moves a quarantined job out of the transfer dead-letter queue once the cause is fixed, resetting its version', async () => {
    const [path] = writeUnreadable('redrive-dlq', ['parked.csv']);
    const serverId = await register('redrive-dlq');
    const [quarantined] = await allIn(serverId, 1, 'quarantined', 'permission_denied');
    const fileId = quarantined!.fileId;
    chmodSync(path!, 0o644);

    const dry = await runRedrive('--queue', 'transfer', '--server-id', serverId, '--dry-run');
    const wouldDo = lastJsonLine(dry.stdout);
    assert.deepEqual([wouldDo.queue, wouldDo.dryRun, wouldDo.moved, wouldDo.retried, wouldDo.dropped], ['sluice-local-transfer-dlq', true, 0, 1, {}], dry.stdout);
    assert.equal((await api('GET', `/files/${fileId}`)).json.status, 'quarantined', 'a dry run changes nothing');

    // The dry run left the message for about a second: a run may come too early to see it.
    await waitFor('the redrive retrying it', async () => (lastJsonLine((await runRedrive('--queue', 'transfer', '--server-id', serverId)).stdout).retried === 1 ? true : undefined));
    await waitFor('the redriven file announced', async () => ((await api('GET', `/files/${fileId}`)).json.status === 'notified' && deliveries.has(fileId) ? true : undefined));
    await polledAgain(serverId, 2);
    assert.equal(deliveries.get(fileId)!.length, 1, 'announced exactly once');

    const empty = lastJsonLine((await runRedrive('--queue', 'transfer', '--server-id', serverId)).stdout);
    assert.equal(empty.retried + empty.moved, 0, 'its message left the dead-letter queue');
    // The earlier servers' announcements did not repeat meanwhile.
    assert.deepEqual(healed.fileIds.map((id) => deliveries.get(id)!.length), [2, 2, 2]);
  });
});
