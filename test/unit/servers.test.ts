import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { CreateServerInput, UpdateServerInput } from '../../lib/domain/server';
import { ConflictError, NotFoundError, ValidationError } from '../../lib/errors';
import { createServer, deleteServer, getServer, listServers, updateServer } from '../../lib/use-cases/servers';
import { fakeServerDeps } from '../helpers/fakes';
import { ALWAYS_DENIED_CIDRS, DestinationPolicy, LOOPBACK_CIDRS, parseCidr, type Cidr } from '../../lib/domain/destination';

const input = (fields: Record<string, unknown> = {}) =>
  CreateServerInput.parse({ name: 'acme', host: 'sftp.example.com', username: 'ingest', password: 'hunter2-secret', ...fields });

/** PEM-shaped text that is not a key (built, so no key-looking literal sits in the repository). */
const fakePem = (body: string) => ['-----BEGIN', 'OPENSSH', `PRIVATE KEY-----\n${body}`].join(' ');

describe('createServer', () => {
  it('stores credentials in a secret and only the secret ARN in the record', async () => {
    const deps = fakeServerDeps();
    const view = await createServer(input(), deps);
    const record = deps.servers.servers.get(view.id)!;
    assert.match(record.secretArn, /^arn:aws:secretsmanager:.*:secret:sluice\/test\/servers\//);
    assert.doesNotMatch(JSON.stringify(record), /hunter2-secret/);
    assert.deepEqual(await deps.secrets.read(record.secretArn), { type: 'password', password: 'hunter2-secret' });
    assert.doesNotMatch(JSON.stringify(view), /hunter2-secret|secretArn/);
  });

  it('applies the defaults the API documents', async () => {
    const view = await createServer(input(), fakeServerDeps());
    assert.deepEqual(
      { port: view.port, remoteDir: view.remoteDir, pattern: view.pattern, recursive: view.recursive, pollIntervalSeconds: view.pollIntervalSeconds, active: view.active, keyPrefix: view.keyPrefix, hostKey: view.hostKey },
      { port: 22, remoteDir: '/', pattern: '*', recursive: false, pollIntervalSeconds: 5, active: true, keyPrefix: 'acme', hostKey: null },
    );
  });

  it('refuses a duplicate name and deletes the secret it had created', async () => {
    const deps = fakeServerDeps();
    await createServer(input(), deps);
    await assert.rejects(createServer(input({ password: 'other' }), deps), ConflictError);
    assert.equal(deps.secrets.secrets.size, 1);
  });

  it('refuses a private key the SSH library cannot parse, naming the field', async () => {
    const deps = fakeServerDeps({ checkPrivateKey: () => 'could not be parsed as a private key' });
    await assert.rejects(
      createServer(input({ password: undefined, privateKey: fakePem('nope') }), deps),
      (error: unknown) => error instanceof ValidationError && error.issues[0]?.field === 'privateKey',
    );
    assert.equal(deps.secrets.secrets.size, 0);
  });

  it('never logs credentials', async () => {
    const deps = fakeServerDeps();
    await createServer(input(), deps);
    assert.doesNotMatch(JSON.stringify(deps.logger.lines), /hunter2-secret/);
  });
});

describe('polls of a new server', () => {
  it('are enqueued at its interval until the scheduler\'s next run, not just once', async () => {
    const deps = fakeServerDeps();
    const view = await createServer(input({ pollIntervalSeconds: 5 }), deps);
    assert.deepEqual(deps.ticks.messages.map((entry) => entry.delaySeconds), [0, 5, 10, 15, 20, 25, 30, 35, 40, 45, 50, 55]);
    assert.ok(deps.ticks.messages.every((entry) => entry.message.serverId === view.id));
    const [first, second] = deps.ticks.messages.map((entry) => Date.parse(entry.message.dueAt));
    assert.equal(second! - first!, 5000, 'each tick is due when it is delivered');
  });

  it('are one, now, for a server polled less often than once a minute; none for an inactive one', async () => {
    const deps = fakeServerDeps();
    await createServer(input({ name: 'hourly', pollIntervalSeconds: 3600 }), deps);
    await createServer(input({ name: 'paused', active: false }), deps);
    assert.deepEqual(deps.ticks.messages.map((entry) => entry.delaySeconds), [0]);
  });
});

describe('updateServer', () => {
  it('rotates the secret in place when a new password is given', async () => {
    const deps = fakeServerDeps();
    const { id } = await createServer(input(), deps);
    const arn = deps.servers.servers.get(id)!.secretArn;
    await updateServer(id, UpdateServerInput.parse({ password: 'rotated-pw' }), deps);
    assert.deepEqual(await deps.secrets.read(arn), { type: 'password', password: 'rotated-pw' });
    assert.equal(deps.secrets.secrets.get(arn)!.versions, 2);
  });

  it('switches from password to key authentication', async () => {
    const deps = fakeServerDeps();
    const { id } = await createServer(input(), deps);
    const view = await updateServer(id, UpdateServerInput.parse({ privateKey: fakePem('k') }), deps);
    assert.equal(view.authMethod, 'privateKey');
  });

  it('leaves the secret alone when no credential changes', async () => {
    const deps = fakeServerDeps();
    const { id } = await createServer(input(), deps);
    const view = await updateServer(id, UpdateServerInput.parse({ active: false, hostKey: null }), deps);
    assert.equal(view.active, false);
    assert.equal([...deps.secrets.secrets.values()][0]!.versions, 1);
  });

  it('refuses a new host, port or username without new credentials, naming password', async () => {
    const deps = fakeServerDeps();
    const { id } = await createServer(input(), deps);
    for (const change of [{ host: 'evil.example.net' }, { port: 2222 }, { username: 'other' }]) {
      await assert.rejects(
        updateServer(id, UpdateServerInput.parse(change), deps),
        (error: unknown) => error instanceof ValidationError && error.issues[0]?.field === 'password',
        JSON.stringify(change),
      );
    }
    assert.equal(deps.servers.servers.get(id)!.host, 'sftp.example.com', 'nothing changed');
  });

  it('moves a server with new credentials to a new secret in the same write, dropping the old secret and host keys', async () => {
    const deps = fakeServerDeps();
    const { id } = await createServer(input({ hostKey: 'SHA256:47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU' }), deps);
    const oldArn = deps.servers.servers.get(id)!.secretArn;
    deps.pollState.states.set(id, { serverId: id, consecutiveFailures: 0, observedHostKey: 'SHA256:old' });
    const view = await updateServer(id, UpdateServerInput.parse({ host: 'new.example.com', password: 'new-password' }), deps, { requestId: 'req-1' });
    const record = deps.servers.servers.get(id)!;
    assert.notEqual(record.secretArn, oldArn);
    assert.deepEqual(await deps.secrets.read(record.secretArn), { type: 'password', password: 'new-password' });
    assert.ok(!deps.secrets.secrets.has(oldArn), 'the old secret is deleted');
    assert.equal(view.hostKey, null);
    assert.equal(view.observedHostKey, null);
    const audit = deps.logger.lines.find((line) => line.event === 'audit' && line.fields.action === 'server.updated');
    assert.deepEqual(audit?.fields, { action: 'server.updated', serverId: id, fields: ['host', 'hostKey', 'password'], requestId: 'req-1' });
    assert.doesNotMatch(JSON.stringify(deps.logger.lines), /new-password|hunter2-secret/);
  });

  it('gives new credentials a secret of their own when the stored one was deleted, and switches the record to it', async () => {
    const deps = fakeServerDeps();
    const { id } = await createServer(input(), deps);
    const goneArn = deps.servers.servers.get(id)!.secretArn;
    await deps.secrets.delete(goneArn);
    await updateServer(id, UpdateServerInput.parse({ password: 'after-the-loss' }), deps, { requestId: 'req-2' });
    const record = deps.servers.servers.get(id)!;
    assert.notEqual(record.secretArn, goneArn);
    assert.deepEqual(await deps.secrets.read(record.secretArn), { type: 'password', password: 'after-the-loss' });
    assert.equal(record.host, 'sftp.example.com', 'the same destination');
    assert.ok(deps.logger.lines.some((line) => line.event === 'server_secret_recreated' && line.fields.previousSecretArn === goneArn));
    assert.ok(deps.logger.lines.some((line) => line.event === 'audit' && line.fields.action === 'server.credentials_rotated' && line.fields.requestId === 'req-2'));
  });

  it('names a new secret apart from the secrets of a version a restored record brings back', async () => {
    const deps = fakeServerDeps();
    const { id } = await createServer(input(), deps);
    const before = structuredClone(deps.servers.servers.get(id)!);
    await updateServer(id, UpdateServerInput.parse({ host: 'new.example.com', password: 'moved' }), deps);
    const movedArn = deps.servers.servers.get(id)!.secretArn;
    // The servers table restored to before the move: version 1 again, the move's secret still there.
    deps.servers.servers.set(id, before);
    await updateServer(id, UpdateServerInput.parse({ host: 'new.example.com', password: 'moved-again' }), deps);
    const record = deps.servers.servers.get(id)!;
    assert.equal(record.version, 2);
    assert.notEqual(record.secretArn, movedArn);
    assert.deepEqual(await deps.secrets.read(record.secretArn), { type: 'password', password: 'moved-again' });
  });

  it('refuses a rename onto another server name', async () => {
    const deps = fakeServerDeps();
    await createServer(input({ name: 'first' }), deps);
    const { id } = await createServer(input({ name: 'second' }), deps);
    await assert.rejects(updateServer(id, UpdateServerInput.parse({ name: 'first' }), deps), ConflictError);
  });

  it('reports an unknown id as not found', async () => {
    await assert.rejects(updateServer('missing', UpdateServerInput.parse({ active: false }), fakeServerDeps()), NotFoundError);
  });
});

describe('deleteServer', () => {
  it('removes the record and its secret', async () => {
    const deps = fakeServerDeps();
    const { id } = await createServer(input(), deps);
    await deleteServer(id, deps);
    await assert.rejects(getServer(id, deps), NotFoundError);
    assert.equal(deps.secrets.secrets.size, 0);
  });

  it('logs (by ARN only) a secret it could not delete, and still deletes the server', async () => {
    const deps = fakeServerDeps();
    const { id } = await createServer(input(), deps);
    deps.secrets.delete = async () => {
      throw new Error('throttled');
    };
    await deleteServer(id, deps);
    const line = deps.logger.lines.find((entry) => entry.event === 'secret_delete_failed');
    assert.ok(line);
    assert.doesNotMatch(JSON.stringify(line), /hunter2-secret/);
  });
});

describe('listServers', () => {
  it('pages through every server exactly once', async () => {
    const deps = fakeServerDeps();
    for (let index = 0; index < 5; index++) await createServer(input({ name: `s${index}` }), deps);
    const seen: string[] = [];
    let nextToken: string | undefined;
    do {
      const page = await listServers(2, nextToken, deps);
      assert.ok(page.items.length <= 2);
      seen.push(...page.items.map((item) => item.name));
      nextToken = page.nextToken;
    } while (nextToken);
    assert.deepEqual(seen, ['s0', 's1', 's2', 's3', 's4']);
  });
});

describe('destinations and deployment caps', () => {
  const denyLoopback = () => new DestinationPolicy([...ALWAYS_DENIED_CIDRS, ...LOOPBACK_CIDRS].map((range) => parseCidr(range) as Cidr));
  const fieldsOf = async (promise: Promise<unknown>) => {
    const error = await promise.then(() => undefined, (caught: unknown) => caught);
    assert.ok(error instanceof ValidationError, `expected a ValidationError, got ${String(error)}`);
    return error.issues.map((issue) => issue.field);
  };

  it('refuses an address literal in a denied range on create and on update, naming host', async () => {
    const deps = fakeServerDeps({ destinations: denyLoopback() });
    for (const host of ['169.254.169.254', '127.0.0.1', '0.0.0.0', '::1', '::ffff:169.254.169.254', 'fe80::1', '224.0.0.1']) {
      assert.deepEqual(await fieldsOf(createServer(input({ host }), deps)), ['host'], host);
    }
    assert.equal(deps.secrets.secrets.size, 0, 'no secret is written for a refused destination');
    const view = await createServer(input({ host: '203.0.113.7' }), deps);
    assert.deepEqual(await fieldsOf(updateServer(view.id, UpdateServerInput.parse({ host: '169.254.169.254', password: 'new-one' }), deps)), ['host']);
    assert.equal((await getServer(view.id, deps)).host, '203.0.113.7');
  });

  it('refuses numeric hosts the resolver would read as addresses (2130706433, 0x7f000001, 169.254.43518)', () => {
    for (const host of ['2130706433', '0x7f000001', '169.254.43518', '127.1', '10.0.0.1.']) {
      const parsed = CreateServerInput.safeParse({ name: 'n', host, username: 'u', password: 'p' });
      assert.ok(!parsed.success && parsed.error.issues.some((issue) => issue.path[0] === 'host'), host);
    }
    for (const host of ['sftp.example.com', '1password.example.com', 'a1.b2', '10.0.0.1', '::1']) {
      assert.ok(CreateServerInput.safeParse({ name: 'n', host, username: 'u', password: 'p' }).success, host);
    }
  });

  it('accepts names (judged when connecting) and, with an allow-list, only addresses inside it', async () => {
    const allowOnly = new DestinationPolicy([], [parseCidr('198.51.100.0/24') as Cidr]);
    const deps = fakeServerDeps({ destinations: allowOnly });
    await createServer(input({ name: 'by-name', host: 'localhost' }), deps);
    await createServer(input({ name: 'inside', host: '198.51.100.9' }), deps);
    assert.deepEqual(await fieldsOf(createServer(input({ name: 'outside', host: '198.51.101.9' }), deps)), ['host']);
  });

  it('keeps every server to a key prefix of its own: none equal to, inside or around another', async () => {
    const deps = fakeServerDeps();
    const a = await createServer(input({ name: 'a', keyPrefix: 'tenants/acme' }), deps);
    for (const keyPrefix of ['tenants/acme', 'tenants/acme/inbox', 'tenants']) {
      await assert.rejects(createServer(input({ name: `n${keyPrefix.length}`, keyPrefix }), deps), (error: unknown) => error instanceof ConflictError && error.field === 'keyPrefix', keyPrefix);
    }
    assert.equal(deps.secrets.secrets.size, 1, 'no secret left behind by a refused prefix');
    const b = await createServer(input({ name: 'b', keyPrefix: 'tenants/acme-2' }), deps);
    await assert.rejects(updateServer(b.id, UpdateServerInput.parse({ keyPrefix: 'tenants/acme/x' }), deps), (error: unknown) => error instanceof ConflictError && error.field === 'keyPrefix');
    await deleteServer(a.id, deps);
    await updateServer(b.id, UpdateServerInput.parse({ keyPrefix: 'tenants/acme/x' }), deps);
  });

  it('gives a server whose name a renamed server left behind a default prefix of its own', async () => {
    const deps = fakeServerDeps();
    const first = await createServer(input({ name: 'acme' }), deps);
    await updateServer(first.id, UpdateServerInput.parse({ name: 'acme-old' }), deps);
    const second = await createServer(input({ name: 'acme' }), deps);
    assert.equal((await getServer(first.id, deps)).keyPrefix, 'acme', 'kept on rename');
    assert.equal(second.keyPrefix, `acme-${second.id.slice(0, 8)}`);
  });

  it('holds at most maxServers servers, and makes room again when one is deleted', async () => {
    const deps = fakeServerDeps({ maxServers: 2 });
    const first = await createServer(input({ name: 'one' }), deps);
    await createServer(input({ name: 'two' }), deps);
    await assert.rejects(createServer(input({ name: 'three' }), deps), (error: unknown) => error instanceof ConflictError && /MAX_SERVERS/.test(error.message));
    assert.equal(deps.secrets.secrets.size, 2, 'the refused server leaves no secret behind');
    await deleteServer(first.id, deps);
    await createServer(input({ name: 'three' }), deps);
  });

  it('enforces the deployment\'s minimum poll interval, which also raises the default', async () => {
    const deps = fakeServerDeps({ minPollIntervalSeconds: 60 });
    assert.deepEqual(await fieldsOf(createServer(input({ pollIntervalSeconds: 30 }), deps)), ['pollIntervalSeconds']);
    const view = await createServer(input(), deps);
    assert.equal(view.pollIntervalSeconds, 60);
    assert.deepEqual(await fieldsOf(updateServer(view.id, UpdateServerInput.parse({ pollIntervalSeconds: 10 }), deps)), ['pollIntervalSeconds']);
  });
});
