import { statSync } from 'node:fs';
import assert from 'node:assert/strict';
import { createServer as createTcpServer, type AddressInfo, type Server as TcpServer } from 'node:net';
import { after, before, describe, it } from 'node:test';
import { Ssh2SftpConnector } from '../../lib/adapters/sftp-connector';
import type { Container } from '../../lib/container';
import { ALWAYS_DENIED_CIDRS, DestinationPolicy, LOOPBACK_CIDRS, parseCidr, type Cidr } from '../../lib/domain/destination';
import { fileVersionId } from '../../lib/domain/file-identity';
import { CreateServerInput } from '../../lib/domain/server';
import type { PollTick } from '../../lib/ports';
import { pollServer, type PollDeps } from '../../lib/use-cases/poll';
import { createServer, getServer } from '../../lib/use-cases/servers';
import { testServer } from '../../lib/use-cases/server-test';
import { transferFile, type TransferDeps } from '../../lib/use-cases/transfer';
import { api, uniqueName } from '../helpers/api';
import { eventually } from '../helpers/eventually';
import { startDnsServer } from '../helpers/dns-server';
import { RecordingQueue } from '../helpers/fakes';
import { startFixtureSftpServer, type FixtureSftpOptions, type FixtureSftpServer } from '../helpers/fixture-sftp-server';
import { isolatedContainer } from '../../scripts/fixtures/resources';
import { startSshd, writeRemoteFile, type Sshd } from '../../scripts/fixtures/sshd';

const policy = (ranges: string[]) => new DestinationPolicy(ranges.map((range) => parseCidr(range) as Cidr));
const DENY_LOOPBACK = policy([...ALWAYS_DENIED_CIDRS, ...LOOPBACK_CIDRS]);
const LOCAL_RULES = policy(ALWAYS_DENIED_CIDRS);
/** Short deadlines, so stalls show in seconds (the deployed default is 30 s). */
const REQUEST_TIMEOUT_MS = 1500;
/** Every partner file's mtime, so the ledger records `detected` writes match what the partner lists. */
const MTIME = 1_700_000_000;

let container: Container;
let sshd: Sshd;
let counter = 0;

before(async () => {
  [{ container }, sshd] = await Promise.all([isolatedContainer(), startSshd()]);
});
after(async () => {
  await sshd?.dispose();
});

/** A server registered through the use case (the test stack's own rules: loopback allowed). */
async function register(fields: Record<string, unknown>) {
  return createServer(
    CreateServerInput.parse({ name: `hostile-${process.pid}-${++counter}`, username: 'ingest', password: 'never-offered', stableAfterSeconds: 0, active: true, ...fields }),
    { ...container.serverDeps, ticks: new RecordingQueue<PollTick>() },
  );
}

/** The fields that reach a fixture partner on loopback and log in to it. */
const loginTo = (partner: FixtureSftpServer) => ({ host: '127.0.0.1', port: partner.port, username: partner.username, password: partner.password });

/** A fixture partner serving these files (all at MTIME), misbehaving as `options` say. */
async function partnerWith(files: Record<string, Buffer>, options?: FixtureSftpOptions): Promise<FixtureSftpServer> {
  const partner = await startFixtureSftpServer(options);
  for (const [path, content] of Object.entries(files)) partner.put(path, content, MTIME);
  return partner;
}

/** The polls' clock runs a minute ahead per poll, so each finds its server due without real waiting. */
let clockOffsetMs = 0;
const clock = { now: () => new Date(Date.now() + clockOffsetMs) };
const pollDeps = (sftp: Ssh2SftpConnector): PollDeps => ({ ...container.pollDeps, sftp, clock, ticks: new RecordingQueue<PollTick>(), random: () => 0.5 });
const poll = (serverId: string, deps: PollDeps) => {
  clockOffsetMs += 60_000;
  return pollServer({ serverId, dueAt: clock.now().toISOString() }, deps);
};

/** A TCP listener that counts the connections it is offered (and closes them). */
async function countingListener(): Promise<{ port: number; connections: () => number; close(): Promise<void> }> {
  let connections = 0;
  const server: TcpServer = createTcpServer((socket) => {
    connections++;
    socket.destroy();
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return { port: (server.address() as AddressInfo).port, connections: () => connections, close: () => new Promise((resolve) => server.close(() => resolve())) };
}

describe('destinations sluice may connect to', () => {
  it('refuses address literals in denied ranges on POST and PATCH, naming host', async () => {
    for (const host of ['169.254.169.254', '0.0.0.0', 'fe80::1', '::ffff:169.254.169.254', '224.0.0.251']) {
      const refused = await api('POST', '/servers', { body: { name: uniqueName('denied'), host, username: 'u', password: 'p' } });
      assert.equal(refused.status, 400, `${host}: ${refused.text}`);
      assert.match(refused.headers.get('content-type') ?? '', /application\/problem\+json/);
      assert.deepEqual(refused.json.errors.map((error: { field: string }) => error.field), ['host'], refused.text);
    }
    const created = await api('POST', '/servers', { body: { name: uniqueName('allowed'), host: '127.0.0.1', port: 9, username: 'u', password: 'p', active: false } });
    assert.equal(created.status, 201, 'the local stack allows loopback, so partners can be simulated');
    const moved = await api('PATCH', `/servers/${created.json.id}`, { body: { host: '169.254.169.254', password: 'new' } });
    assert.equal(moved.status, 400, moved.text);
    assert.deepEqual(moved.json.errors.map((error: { field: string }) => error.field), ['host']);
    await api('DELETE', `/servers/${created.json.id}`);
  });

  it('resolves a name once and makes no connection when any address it resolves to is denied', async () => {
    const listener = await countingListener();
    const dns = await startDnsServer(() => ['198.51.100.20', '127.0.0.1']);
    try {
      const server = await register({ host: 'partner.sluice.test', port: listener.port });
      const result = await poll(server.id, pollDeps(new Ssh2SftpConnector({ destinations: DENY_LOOPBACK, resolve: dns.resolve, requestTimeoutMs: REQUEST_TIMEOUT_MS })));
      assert.deepEqual(result, { status: 'failed', code: 'destination_denied', retryInSeconds: result.status === 'failed' ? result.retryInSeconds : 0 });
      const view = await getServer(server.id, container.serverDeps);
      assert.equal(view.lastError?.code, 'destination_denied');
      assert.doesNotMatch(view.lastError!.message, /127\.0\.0\.1|198\.51/, 'how the name resolved stays out of the API');
      assert.equal(view.consecutiveFailures, 1);
      assert.equal(listener.connections(), 0, 'no TCP connection was made');
    } finally {
      await Promise.all([dns.close(), listener.close()]);
    }
  });

  it('connects to the address it checked: a rebinding DNS server gets one question per connection', async () => {
    const partner = await partnerWith({ '/in/a.csv': Buffer.from('a') });
    // Allowed on the first answer, the metadata service on every later one.
    const dns = await startDnsServer((_name, query) => [query === 1 ? '127.0.0.1' : '169.254.169.254']);
    try {
      const server = await register({ ...loginTo(partner), host: 'rebind.sluice.test', remoteDir: '/in' });
      const deps = pollDeps(new Ssh2SftpConnector({ destinations: LOCAL_RULES, resolve: dns.resolve, requestTimeoutMs: REQUEST_TIMEOUT_MS }));
      const first = await poll(server.id, deps);
      assert.equal(first.status, 'polled', JSON.stringify(first));
      assert.equal(dns.queries.filter((query) => query.type === 1).length, 1, 'one A question for the first connection');
      assert.equal(partner.stats().connections, 1);
      const second = await poll(server.id, deps);
      assert.equal(second.status === 'failed' && second.code, 'destination_denied');
      assert.equal(partner.stats().connections, 1, 'the rebound answer got no connection');
    } finally {
      await Promise.all([dns.close(), partner.close()]);
    }
  });
});

describe('a stalling server holds nothing but itself', () => {
  for (const stallOn of ['OPENDIR', 'READDIR'] as const) {
    it(`a poll stalled on ${stallOn} ends as timeout and backs off, while a healthy server's poll goes on`, async () => {
      const stalled = await partnerWith({ '/in/a.csv': Buffer.from('a') }, { stallOn });
      try {
        const stalledServer = await register({ ...loginTo(stalled), remoteDir: '/in' });
        const healthyDir = `/healthy-${++counter}`;
        writeRemoteFile(sshd, `${healthyDir}/good.csv`, Buffer.from('good'));
        const healthyServer = await register({ host: '127.0.0.1', port: sshd.port, username: sshd.username, password: sshd.password, remoteDir: `${sshd.root}${healthyDir}` });
        const deps = pollDeps(new Ssh2SftpConnector({ destinations: LOCAL_RULES, requestTimeoutMs: REQUEST_TIMEOUT_MS }));

        const started = Date.now();
        let healthyDoneAt = 0;
        const [stalledResult, healthyResult] = await Promise.all([
          poll(stalledServer.id, deps),
          poll(healthyServer.id, deps).then((result) => {
            healthyDoneAt = Date.now();
            return result;
          }),
        ]);
        const stalledDoneAt = Date.now();
        assert.equal(healthyResult.status === 'polled' && healthyResult.listed, 1, JSON.stringify(healthyResult));
        assert.ok(healthyDoneAt <= stalledDoneAt, 'the healthy poll did not wait for the stalled one');
        assert.equal(stalledResult.status === 'failed' && stalledResult.code, 'timeout', JSON.stringify(stalledResult));
        assert.ok(stalledDoneAt - started < REQUEST_TIMEOUT_MS * 4, `the stall was cut at its deadline (${stalledDoneAt - started} ms)`);
        assert.equal(stalled.received(stallOn), 1);
        const view = await getServer(stalledServer.id, container.serverDeps);
        assert.equal(view.lastError?.code, 'timeout');
        assert.equal(view.consecutiveFailures, 1);
        assert.ok(Date.parse(view.nextPollAt!) > Date.parse(view.lastPollAt!), 'the next poll is backed off');
      } finally {
        await stalled.close();
      }
    });
  }

  it('a transfer whose server stops answering READ fails as timeout, an attempt counted, while a healthy server\'s file goes through', async () => {
    const content = Buffer.alloc(64 * 1024, 7);
    const stalled = await partnerWith({ '/in/big.bin': content }, { stallOn: 'READ' });
    try {
      const server = await register({ ...loginTo(stalled), remoteDir: '/in', hostKey: stalled.hostKey });
      const job = await detected(server, '/in/big.bin', content.length, MTIME);
      const healthyDir = `/healthy-transfer-${++counter}`;
      const healthyPath = writeRemoteFile(sshd, `${healthyDir}/good.bin`, Buffer.alloc(32 * 1024, 1));
      const healthyServer = await register({ host: '127.0.0.1', port: sshd.port, username: sshd.username, password: sshd.password, remoteDir: `${sshd.root}${healthyDir}`, hostKey: sshd.hostKey });
      const healthyJob = await detected(healthyServer, healthyPath, 32 * 1024, Math.floor(statSync(healthyPath).mtimeMs / 1000));
      const deps: TransferDeps = { ...transferDeps(), sftp: new Ssh2SftpConnector({ destinations: LOCAL_RULES, requestTimeoutMs: REQUEST_TIMEOUT_MS }) };
      let healthyDoneAt = 0;
      const [outcome, healthyOutcome] = await Promise.all([
        transferFile(job, deps),
        transferFile(healthyJob, deps).then((result) => {
          healthyDoneAt = Date.now();
          return result;
        }),
      ]);
      const stalledDoneAt = Date.now();
      assert.equal(healthyOutcome.status, 'uploaded', JSON.stringify(healthyOutcome));
      assert.ok(healthyDoneAt <= stalledDoneAt, 'the healthy transfer did not wait for the stalled one');
      assert.equal(outcome.status === 'retry' && outcome.code, 'timeout', JSON.stringify(outcome));
      const entry = await container.transferDeps.ledger.claim(job.fileId, 'inspector', new Date(Date.now() + 1000));
      assert.ok(typeof entry !== 'string' && entry.attempts === 2, 'the stalled try counted as an attempt');
    } finally {
      await stalled.close();
    }
  });

  it('a server that trickles bytes forever ends quarantined after its attempts, hand-ons included', async () => {
    const content = Buffer.alloc(256 * 1024, 3);
    const trickling = await partnerWith({ '/in/slow.bin': content }, { trickle: { bytes: 16, everyMs: 100 } });
    try {
      const server = await register({ ...loginTo(trickling), remoteDir: '/in', hostKey: trickling.hostKey });
      const job = await detected(server, '/in/slow.bin', content.length, MTIME);
      const outcomes: string[] = [];
      for (let invocation = 0; invocation < 3; invocation++) {
        // Each invocation ends (its deadline aborts the read) long before the file could arrive.
        const deadline = AbortSignal.timeout(800);
        const outcome = await transferFile(job, { ...transferDeps(), maxAttempts: 2, deadline, sftp: new Ssh2SftpConnector({ destinations: LOCAL_RULES, requestTimeoutMs: 5000 }) });
        outcomes.push(outcome.status === 'retry' ? `retry:${outcome.code}` : outcome.status === 'quarantined' ? `quarantined:${outcome.reason}` : outcome.status);
        if (outcome.status === 'quarantined') break;
      }
      assert.deepEqual(outcomes, ['retry:timeout', 'quarantined:timeout']);
      assert.ok(trickling.received('READ') > 0, 'it was read from, slowly');
    } finally {
      await trickling.close();
    }
  });
});

describe('a listing has a deadline of its own', () => {
  it('a listing still going at POLL_LISTING_TIMEOUT_SECONDS is cut off as timeout, before any request deadline', async () => {
    const stalled = await partnerWith({ '/in/a.csv': Buffer.from('a') }, { stallOn: 'READDIR' });
    try {
      const server = await register({ ...loginTo(stalled), remoteDir: '/in' });
      const deps = pollDeps(new Ssh2SftpConnector({ destinations: LOCAL_RULES, requestTimeoutMs: 20_000 }));
      const started = Date.now();
      const result = await poll(server.id, { ...deps, listingBounds: { ...deps.listingBounds, maxSeconds: 1 } });
      assert.equal(result.status === 'failed' && result.code, 'timeout', JSON.stringify(result));
      assert.ok(Date.now() - started < 10_000, 'cut at the listing deadline, not the 20 s request deadline');
      assert.match((await getServer(server.id, container.serverDeps)).lastError!.message, /POLL_LISTING_TIMEOUT_SECONDS/);
    } finally {
      await stalled.close();
    }
  });
});

describe('SFTP_HOST_KEY_POLICY=pinned', () => {
  it('sends no credentials to a server without a pinned key; the test route still shows its key', async () => {
    const partner = await partnerWith({ '/in/a.csv': Buffer.from('a') });
    try {
      const server = await register({ ...loginTo(partner), remoteDir: '/in' });
      const result = await poll(server.id, { ...pollDeps(new Ssh2SftpConnector({ destinations: LOCAL_RULES, requestTimeoutMs: REQUEST_TIMEOUT_MS })), hostKeyPolicy: 'pinned' });
      assert.equal(result.status === 'failed' && result.code, 'host_key_not_pinned', JSON.stringify(result));
      assert.equal((await getServer(server.id, container.serverDeps)).lastError?.code, 'host_key_not_pinned');
      assert.equal(partner.stats().connections, 0, 'not even connected');

      const tested = await testServer(server.id, { ...container.serverTestDeps, hostKeyPolicy: 'pinned' });
      assert.equal(tested.hostKey, partner.hostKey, 'the key is shown, so an operator can pin it');
      assert.equal(tested.error?.code, 'host_key_not_pinned');
      assert.equal(tested.authenticated, false);
      assert.deepEqual(partner.offeredPasswords, []);

      // A key recorded on first sight (by a poll under first-seen) is not enough under `pinned`.
      assert.ok(await container.pollDeps.pollState.recordHostKey(server.id, partner.hostKey));
      const recorded = await testServer(server.id, { ...container.serverTestDeps, hostKeyPolicy: 'pinned' });
      assert.equal(recorded.error?.code, 'host_key_not_pinned');
      assert.equal(recorded.hostKeyTrusted, false);
      const polledAgain = await poll(server.id, { ...pollDeps(new Ssh2SftpConnector({ destinations: LOCAL_RULES, requestTimeoutMs: REQUEST_TIMEOUT_MS })), hostKeyPolicy: 'pinned' });
      assert.equal(polledAgain.status === 'failed' && polledAgain.code, 'host_key_not_pinned');
      assert.deepEqual(partner.offeredPasswords, [], 'still no password offered');
    } finally {
      await partner.close();
    }
  });
});

describe('through the running service', () => {
  it("a healthy server registered next to a stalled one gets its files in the usual time; the stalled one is recorded and backed off", async () => {
    const stalled = await partnerWith({ '/in/a.csv': Buffer.from('a') }, { stallOn: 'READDIR' });
    const ids: string[] = [];
    try {
      const stalledServer = await api('POST', '/servers', {
        body: { name: uniqueName('stalled'), ...loginTo(stalled), remoteDir: '/in', hostKey: stalled.hostKey, stableAfterSeconds: 0 },
      });
      assert.equal(stalledServer.status, 201, stalledServer.text);
      ids.push(stalledServer.json.id);
      const dir = `/neighbour-${++counter}`;
      writeRemoteFile(sshd, `${dir}/one.csv`, Buffer.from('one'));
      writeRemoteFile(sshd, `${dir}/two.csv`, Buffer.from('two'));
      const healthy = await api('POST', '/servers', {
        body: { name: uniqueName('neighbour'), host: '127.0.0.1', port: sshd.port, username: sshd.username, password: sshd.password, remoteDir: `${sshd.root}${dir}`, hostKey: sshd.hostKey, stableAfterSeconds: 0 },
      });
      assert.equal(healthy.status, 201, healthy.text);
      ids.push(healthy.json.id);
      const registeredAt = Date.now();
      // The usual time: a few poll intervals (5 s) and a transfer, well inside one request deadline.
      // Stored is what this proves (announcing needs a queue bound on the broker, which this test has not).
      const files = await eventually('the healthy server\'s files stored', async () => {
        const { json } = await api('GET', `/files?serverId=${healthy.json.id}`);
        return json.items.length === 2 && json.items.every((file: { status: string }) => ['uploaded', 'notified'].includes(file.status)) ? json.items : undefined;
      }, 60_000);
      assert.equal(files.length, 2);
      const tookMs = Date.now() - registeredAt;
      const view = await eventually('the stall recorded', async () => {
        const { json } = await api('GET', `/servers/${stalledServer.json.id}`);
        return json.lastError?.code === 'timeout' ? json : undefined;
      }, 60_000);
      assert.ok(view.consecutiveFailures >= 1);
      assert.ok(Date.parse(view.nextPollAt) > Date.parse(view.lastPollAt), 'backed off');
      assert.ok(tookMs < 30_000, `the neighbour's files took ${tookMs} ms`);
    } finally {
      for (const id of ids) await api('DELETE', `/servers/${id}`);
      await stalled.close();
    }
  });
});

describe('POST /servers/{id}/test', () => {
  it('a trusted key: logs in and lists the first page of remoteDir', async () => {
    const dir = `/tested-${++counter}`;
    writeRemoteFile(sshd, `${dir}/one.csv`, Buffer.from('1'));
    const created = await api('POST', '/servers', {
      body: { name: uniqueName('tested'), host: '127.0.0.1', port: sshd.port, username: sshd.username, password: sshd.password, remoteDir: `${sshd.root}${dir}`, hostKey: sshd.hostKey, active: false },
    });
    assert.equal(created.status, 201, created.text);
    const tested = await api('POST', `/servers/${created.json.id}/test`);
    assert.equal(tested.status, 200, tested.text);
    assert.deepEqual(
      { ...tested.json, entries: tested.json.entries.map((entry: { name: string; type: string; size: number }) => ({ name: entry.name, type: entry.type, size: entry.size })) },
      { ok: true, hostKey: sshd.hostKey, hostKeyTrusted: true, authenticated: true, entries: [{ name: 'one.csv', type: 'file', size: 1 }], error: null },
    );
    assert.doesNotMatch(tested.text, new RegExp(sshd.password));
    await api('DELETE', `/servers/${created.json.id}`);
  });

  it('an unknown key and a changed key: reported, and no credential is offered', async () => {
    const partner = await partnerWith({ '/in/a.csv': Buffer.from('a') });
    try {
      const unknown = await api('POST', '/servers', {
        body: { name: uniqueName('unknown-key'), ...loginTo(partner), remoteDir: '/in', active: false },
      });
      const first = await api('POST', `/servers/${unknown.json.id}/test`);
      assert.equal(first.status, 200, first.text);
      assert.deepEqual(first.json, {
        ok: false,
        hostKey: partner.hostKey,
        hostKeyTrusted: false,
        authenticated: false,
        entries: null,
        error: { code: 'host_key_unknown', message: first.json.error.message },
      });

      const changed = await api('PATCH', `/servers/${unknown.json.id}`, { body: { hostKey: sshd.hostKey } });
      assert.equal(changed.status, 200, changed.text);
      const second = await api('POST', `/servers/${unknown.json.id}/test`);
      assert.equal(second.json.ok, false);
      assert.equal(second.json.hostKey, partner.hostKey);
      assert.equal(second.json.hostKeyTrusted, false);
      assert.equal(second.json.error.code, 'host_key_mismatch');
      assert.deepEqual(partner.offeredPasswords, [], 'a key that is not trusted is never sent a password');

      const pinned = await api('PATCH', `/servers/${unknown.json.id}`, { body: { hostKey: partner.hostKey } });
      assert.equal(pinned.status, 200);
      const third = await api('POST', `/servers/${unknown.json.id}/test`);
      assert.equal(third.json.ok, true, third.text);
      assert.deepEqual(third.json.entries.map((entry: { name: string }) => entry.name), ['a.csv']);
      assert.deepEqual(partner.offeredPasswords, [partner.password]);
      await api('DELETE', `/servers/${unknown.json.id}`);
    } finally {
      await partner.close();
    }
  });

  it('a server that accepts the connection and never answers: a timeout result within the deadline', async () => {
    const listener = createTcpServer(() => {}); // accepts, never speaks SSH
    await new Promise<void>((resolve) => listener.listen(0, '127.0.0.1', resolve));
    try {
      const created = await api('POST', '/servers', {
        body: { name: uniqueName('silent'), host: '127.0.0.1', port: (listener.address() as AddressInfo).port, username: 'u', password: 'p', active: false },
      });
      const tested = await api('POST', `/servers/${created.json.id}/test`);
      assert.equal(tested.status, 200, tested.text);
      assert.equal(tested.json.ok, false);
      assert.equal(tested.json.error.code, 'timeout', tested.text);
      assert.equal(tested.json.hostKey, null);
      await api('DELETE', `/servers/${created.json.id}`);
    } finally {
      listener.close();
    }
  });

  it('an unknown server id is 404', async () => {
    const missing = await api('POST', '/servers/00000000-0000-4000-8000-000000000000/test');
    assert.equal(missing.status, 404, missing.text);
  });
});

function transferDeps(): TransferDeps {
  return { ...container.transferDeps, notifications: new RecordingQueue(), transfers: new RecordingQueue(), deadLetters: new RecordingQueue(), random: () => 0.5 };
}

/** The version's ledger record, as the poller writes it, and its job. */
async function detected(server: { id: string; name: string }, path: string, size: number, mtime: number) {
  const fileId = fileVersionId(server.id, { path, size, mtime });
  await container.pollDeps.ledger.createIfAbsent({
    fileId,
    serverId: server.id,
    serverName: server.name,
    remotePath: path,
    relativePath: path.slice(path.lastIndexOf('/') + 1),
    size,
    mtime,
    discoveredAt: new Date().toISOString(),
  });
  return { fileId, serverId: server.id, remotePath: path, size, mtime };
}
