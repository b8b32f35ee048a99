import assert from 'node:assert/strict';
import type { AddressInfo } from 'node:net';
import { after, before, describe, it } from 'node:test';
import ssh2 from 'ssh2';
import { api, functionLog, uniqueName } from '../helpers/api';
import { eventually } from '../helpers/eventually';
import { startSshd, type Sshd } from '../../scripts/fixtures/sshd';

const { Server, utils } = ssh2;

/** An SSH server of an attacker's: it accepts connections and records every password offered to it, letting no one in. */
async function startCapturingServer(): Promise<{ port: number; passwords: string[]; close(): Promise<void> }> {
  const passwords: string[] = [];
  const server = new Server({ hostKeys: [utils.generateKeyPairSync('ed25519').private] }, (client) => {
    client.on('error', () => {});
    client.on('authentication', (context) => {
      if (context.method === 'password') passwords.push(context.password);
      context.reject(['password', 'publickey']);
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    port: (server.address() as AddressInfo).port,
    passwords,
    close: () => new Promise((resolve) => server.close(() => resolve())),
  };
}

let sshd: Sshd;
let capture: Awaited<ReturnType<typeof startCapturingServer>>;
before(async () => {
  [sshd, capture] = await Promise.all([startSshd(), startCapturingServer()]);
});
after(async () => {
  await capture?.close();
  await sshd?.dispose();
});

describe('credentials are bound to their destination', () => {
  it('a PATCH that points a server elsewhere must bring new credentials; the old password never reaches the new host', async () => {
    const created = await api('POST', '/servers', {
      body: { name: uniqueName('moved'), host: '127.0.0.1', port: sshd.port, username: sshd.username, password: sshd.password, remoteDir: sshd.root },
    });
    assert.equal(created.status, 201, created.text);
    const { id } = created.json;
    // Polled once where it belongs: the host key is recorded (first seen) and the password was used there.
    const polled = await eventually('a first poll', async () => {
      const view = (await api('GET', `/servers/${id}`)).json;
      return view.lastPollAt && view.observedHostKey ? view : undefined;
    }, 60_000);
    assert.equal(polled.lastError, null);

    for (const change of [{ port: capture.port }, { host: 'localhost' }, { username: 'someone-else' }]) {
      const refused = await api('PATCH', `/servers/${id}`, { body: change });
      assert.equal(refused.status, 400, `${JSON.stringify(change)}: ${refused.text}`);
      assert.match(refused.headers.get('content-type') ?? '', /application\/problem\+json/);
      assert.ok(refused.json.errors.some((error: { field: string }) => error.field === 'password'), refused.text);
    }

    const replacement = `new-${Math.random().toString(36).slice(2)}-pw`;
    const moved = await api('PATCH', `/servers/${id}`, { body: { port: capture.port, password: replacement } });
    assert.equal(moved.status, 200, moved.text);
    assert.equal(moved.json.port, capture.port);
    assert.equal(moved.json.observedHostKey, null, 'the old host key is forgotten');
    assert.equal(moved.json.hostKey, null);
    assert.doesNotMatch(moved.text, new RegExp(replacement));

    // The next poll trusts the new host's key on first sight and offers only the new password.
    await eventually('a login attempt at the new host', async () => (capture.passwords.length > 0 ? true : undefined), 60_000);
    assert.ok(capture.passwords.includes(replacement));
    assert.ok(!capture.passwords.includes(sshd.password), 'the old password was never sent to the new host');

    // Audit: what changed (names only) and the request it came with, never a secret's value.
    const requestId = moved.headers.get('x-request-id');
    const audits = functionLog()
      .split('\n')
      .filter((line) => line.includes('"event":"audit"') && line.includes(id))
      .map((line) => JSON.parse(line) as { action: string; fields: string[]; requestId: string });
    assert.ok(audits.some((line) => line.action === 'server.created'), 'creation audited');
    const update = audits.find((line) => line.action === 'server.updated' && line.requestId === requestId);
    assert.ok(update, `the update is audited with its request id: ${JSON.stringify(audits)}`);
    assert.deepEqual(update.fields, ['password', 'port']);
    assert.ok(audits.some((line) => line.action === 'server.credentials_rotated' && line.requestId === requestId));
    assert.doesNotMatch(functionLog(), new RegExp(`${replacement}|${sshd.password}`));

    const deleted = await api('DELETE', `/servers/${id}`);
    assert.equal(deleted.status, 204);
    await eventually('the deletion audited', async () => (functionLog().includes(`"action":"server.deleted","serverId":"${id}"`) ? true : undefined), 10_000);
  });

  it('a PATCH that moves a server drops its pinned host key unless it pins a new one', async () => {
    const created = await api('POST', '/servers', {
      body: { name: uniqueName('pinned'), host: '127.0.0.1', port: 9, username: 'ingest', password: 'first-password', active: false, hostKey: sshd.hostKey },
    });
    assert.equal(created.status, 201, created.text);
    const dropped = await api('PATCH', `/servers/${created.json.id}`, { body: { port: 10, password: 'second-password' } });
    assert.equal(dropped.status, 200, dropped.text);
    assert.equal(dropped.json.hostKey, null);
    const pinned = await api('PATCH', `/servers/${created.json.id}`, { body: { port: 11, password: 'third-password', hostKey: sshd.hostKey } });
    assert.equal(pinned.json.hostKey, sshd.hostKey);
    const same = await api('PATCH', `/servers/${created.json.id}`, { body: { port: 11, maxConnections: 3 } });
    assert.equal(same.status, 200, 'no new destination, no new credentials needed');
    assert.equal(same.json.hostKey, sshd.hostKey);
    await api('DELETE', `/servers/${created.json.id}`);
  });
});
