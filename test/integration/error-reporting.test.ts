import assert from 'node:assert/strict';
import { createServer, type IncomingMessage, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { after, before, describe, it } from 'node:test';
import { loadConfig } from '../../lib/config';
import { buildContainer } from '../../lib/container';
import { createLogger } from '../../lib/logger';
import { SentryReporter } from '../../lib/adapters/sentry-reporter';

/** A stand-in for Sentry's ingest on loopback: keeps every envelope it is sent. */
interface SentryStandIn {
  dsn: string;
  envelopes: { path: string; body: string }[];
  close(): Promise<void>;
}

async function startSentryStandIn(): Promise<SentryStandIn> {
  const envelopes: { path: string; body: string }[] = [];
  const server: Server = createServer(async (request: IncomingMessage, response) => {
    const chunks: Buffer[] = [];
    for await (const chunk of request) chunks.push(chunk as Buffer);
    envelopes.push({ path: request.url ?? '', body: Buffer.concat(chunks).toString('utf8') });
    response.writeHead(200, { 'content-type': 'application/json' }).end('{}');
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    dsn: `http://0123456789abcdef0123456789abcdef@127.0.0.1:${port}/42`,
    envelopes,
    close: () => new Promise((resolve) => server.close(() => resolve())),
  };
}

/** The event items of the envelopes (an envelope is newline-separated JSON: header, item header, item). */
function eventsOf(envelopes: { body: string }[]): Record<string, unknown>[] {
  return envelopes.flatMap(({ body }) => {
    const [, itemHeader, item] = body.split('\n');
    return itemHeader && (JSON.parse(itemHeader) as { type: string }).type === 'event' ? [JSON.parse(item!) as Record<string, unknown>] : [];
  });
}

const SECRETS = { password: 'hunter2-sentry', privateKey: 'not-a-key-sentinel-7f3a9c', brokerPassword: 'br0ker-pass' };

let sentry: SentryStandIn;
before(async () => {
  sentry = await startSentryStandIn();
});
after(async () => {
  await sentry.close();
});

describe('error reporting to Sentry (SENTRY_DSN)', () => {
  it('is off without SENTRY_DSN: the container builds no reporter and an error line sends nothing', async () => {
    const container = buildContainer(loadConfig({ SLUICE_API_TOKEN: 'x'.repeat(24) }));
    container.logger.error('something_broke', { serverId: 's-off' });
    await container.invocation.end();
    assert.equal(sentry.envelopes.length, 0);
  });

  it('sends each error line once, at the end of the invocation, scrubbed of secrets; warnings stay in the log', async () => {
    const container = buildContainer(loadConfig({ SLUICE_API_TOKEN: 'x'.repeat(24), SENTRY_DSN: sentry.dsn, POWERTOOLS_SERVICE_NAME: 'sluice-sentry-test' }));
    container.logger.warn('transfer_failed', { serverId: 's-1', fileId: 'f-1', code: 'timeout' });
    container.logger.error('transfer_quarantined', {
      serverId: 's-1',
      fileId: 'f-1',
      code: 'auth_failed',
      password: SECRETS.password,
      login: { privateKey: SECRETS.privateKey },
      error: `connect amqp://sluice:${SECRETS.brokerPassword}@127.0.0.1:5672/ refused`,
      remotePath: '/in/evil\u202Etxt.csv',
    });
    await container.invocation.end();
    const events = eventsOf(sentry.envelopes);
    assert.equal(events.length, 1, 'the warning is not reported');
    assert.ok(sentry.envelopes.every((envelope) => envelope.path.startsWith('/api/42/envelope/?')), sentry.envelopes.map((envelope) => envelope.path).join());
    const [event] = events as [Record<string, any>]; // eslint-disable-line @typescript-eslint/no-explicit-any
    assert.equal(event.message, 'transfer_quarantined');
    assert.equal(event.level, 'error');
    assert.equal(event.environment, 'sluice-sentry-test');
    assert.deepEqual(event.tags, { serverId: 's-1', fileId: 'f-1', code: 'auth_failed' });
    assert.deepEqual(event.fingerprint, ['transfer_quarantined', 'auth_failed']);
    assert.equal(event.extra.password, '[redacted]');
    assert.equal(event.extra.login.privateKey, '[redacted]');
    assert.equal(event.extra.error, 'connect amqp://***@127.0.0.1:5672/ refused');
    assert.equal(event.extra.remotePath, '/in/evil\\u{202E}txt.csv');
    const everything = sentry.envelopes.map((envelope) => envelope.body).join('\n');
    for (const secret of Object.values(SECRETS)) assert.ok(!everything.includes(secret), `${secret} never leaves the process`);
    assert.ok(!everything.includes('"user"') && !everything.includes('"request"'), 'no user or request data');
    sentry.envelopes.length = 0;
  });

  it('never holds an invocation up: a Sentry that is down or never answers costs at most the send deadline, and nothing throws', async () => {
    const down = await startSentryStandIn();
    await down.close();
    // Takes the connection and the request, and never answers.
    const silent = createServer(() => {});
    await new Promise<void>((resolve) => silent.listen(0, '127.0.0.1', resolve));
    try {
      const silentDsn = `http://0123456789abcdef0123456789abcdef@127.0.0.1:${(silent.address() as AddressInfo).port}/42`;
      for (const dsn of [down.dsn, silentDsn]) {
        const reporter = new SentryReporter({ dsn, environment: 'test' });
        const lines: string[] = [];
        const logger = createLogger({ write: (line) => lines.push(line), reporter });
        logger.error('broker_down', { code: 'unreachable' });
        const started = Date.now();
        await reporter.flush();
        assert.ok(Date.now() - started < 3_000, `flush took ${Date.now() - started} ms`);
        assert.equal(lines.length, 1, 'the log line is written whatever happens to the report');
      }
    } finally {
      silent.closeAllConnections();
      silent.close();
    }
  });
});
