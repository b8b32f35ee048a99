import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { describe, it } from 'node:test';
import { mergedPage, serverPage, type FetchFiles } from '../../console/src/file-pages';
import { formatBytes, hostKeyState, relativeTime, serverHealth } from '../../console/src/format';
import { metricValue, parseMetrics, queueDepths } from '../../console/src/prometheus';
import { href, parseRoute } from '../../console/src/routes';
import { EMPTY_FORM, fieldErrors, formFromServer, requestBody } from '../../console/src/server-form-model';
import { CONSOLE_BUNDLE, type ConsoleBundle } from '../../scripts/console-build';

interface File {
  fileId: string;
  discoveredAt: string;
  serverId: string;
}

/** A server's history, newest first, served `pageSize` at a time like GET /files (optionally filtered after the limit, as DynamoDB does). */
function history(files: Record<string, File[]>, pageSize: number, keep: (file: File) => boolean = () => true) {
  const requests: string[] = [];
  const fetch: FetchFiles<File> = async (serverId, nextToken) => {
    requests.push(serverId);
    const all = files[serverId] ?? [];
    const start = nextToken ? Number(nextToken) : 0;
    const slice = all.slice(start, start + pageSize);
    return { items: slice.filter(keep), nextToken: start + pageSize < all.length ? String(start + pageSize) : null };
  };
  return { fetch, requests };
}

const file = (serverId: string, minute: number): File => ({ serverId, fileId: `${serverId}-${minute}`, discoveredAt: `2026-12-03T10:${String(minute).padStart(2, '0')}:00.000Z` });
const newestFirst = (files: File[]) => [...files].sort((a, b) => b.discoveredAt.localeCompare(a.discoveredAt));

describe('console: paging through files', () => {
  const files = { a: newestFirst([1, 4, 7, 10, 13].map((minute) => file('a', minute))), b: newestFirst([2, 3, 11, 12].map((minute) => file('b', minute))) };

  it('merges servers newest first, page after page, with nothing lost or repeated', async () => {
    const { fetch } = history(files, 2);
    const pages = [];
    for (let index = 0; index < 4; index++) pages.push(await mergedPage(fetch, ['a', 'b'], index, 3));
    assert.deepEqual(
      pages.map((page) => page.items.map((item) => item.fileId)),
      [['a-13', 'b-12', 'b-11'], ['a-10', 'a-7', 'a-4'], ['b-3', 'b-2', 'a-1'], []],
    );
    assert.deepEqual(pages.map((page) => page.hasMore), [true, true, false, false]);
  });

  it('keeps reading a filtered history whose pages come back short, within a request budget', async () => {
    const long = { a: newestFirst(Array.from({ length: 40 }, (_, minute) => file('a', minute))) };
    const { fetch, requests } = history(long, 5, (item) => item.fileId === 'a-2' || item.fileId === 'a-38');
    const first = await serverPage(fetch, 'a', undefined, 10);
    assert.deepEqual(first.items.map((item) => item.fileId), ['a-38']);
    assert.equal(requests.length, 5, 'stops after its budget');
    assert.ok(first.nextToken);
    const rest = await serverPage(fetch, 'a', first.nextToken ?? undefined, 10);
    assert.deepEqual(rest.items.map((item) => item.fileId), ['a-2']);
    assert.equal(rest.nextToken, null);
  });
});

describe('console: presentation rules', () => {
  it('shows sizes in binary units and times relative to now', () => {
    assert.deepEqual([0, 1000, 1536, 10 * 1024 * 1024, 3 * 1024 ** 3].map(formatBytes), ['0 B', '1000 B', '1.50 KiB', '10.0 MiB', '3.00 GiB']);
    const now = new Date('2026-12-03T12:00:00Z');
    assert.equal(relativeTime('2026-12-03T11:59:48Z', now), '12 s ago');
    assert.equal(relativeTime('2026-12-03T12:03:00Z', now), 'in 3 min');
    assert.equal(relativeTime(null, now), '—');
  });

  it('names the host key state: a mismatch first, then pinned, first-seen, not seen yet', () => {
    const base = { hostKey: null, observedHostKey: null, lastError: null };
    assert.equal(hostKeyState({ ...base, hostKey: 'SHA256:a', lastError: { code: 'host_key_mismatch' } }).state, 'mismatch');
    assert.equal(hostKeyState({ ...base, hostKey: 'SHA256:a', observedHostKey: 'SHA256:b' }).state, 'pinned');
    assert.equal(hostKeyState({ ...base, observedHostKey: 'SHA256:b' }).state, 'first-seen');
    assert.equal(hostKeyState(base).state, 'unknown');
  });

  it('tells failing servers from healthy, inactive and never polled ones', () => {
    assert.equal(serverHealth({ active: true, lastPollAt: 'x', consecutiveFailures: 3 }).label, 'failing (3×)');
    assert.equal(serverHealth({ active: true, lastPollAt: 'x', consecutiveFailures: 0 }).state, 'healthy');
    assert.equal(serverHealth({ active: false, lastPollAt: 'x', consecutiveFailures: 3 }).state, 'inactive');
    assert.equal(serverHealth({ active: true, lastPollAt: null, consecutiveFailures: 0 }).state, 'waiting');
  });

  it('reads queue depths out of the Prometheus text of GET /metrics', () => {
    const samples = parseMetrics(
      '# TYPE sluice_queue_messages gauge\nsluice_queue_messages{queue="transfer",state="visible"} 7\nsluice_queue_messages{queue="transfer",state="inflight"} 2\nsluice_servers{state="failing"} 1\n',
    );
    assert.equal(metricValue(samples, 'sluice_servers', { state: 'failing' }), 1);
    assert.deepEqual(queueDepths(samples).find((depth) => depth.queue === 'transfer'), { queue: 'transfer', visible: 7, inflight: 2 });
    assert.equal(queueDepths(samples).length, 6);
  });

  it('keeps the view in the URL fragment', () => {
    for (const route of [{ view: 'servers' }, { view: 'server', id: 'a b' }, { view: 'files', server: 'all', status: 'failed' }, { view: 'charts', server: 'x' }] as const) {
      assert.deepEqual(parseRoute(href(route)), route);
    }
    assert.deepEqual(parseRoute(''), { view: 'servers' });
  });
});

describe('console: the server form', () => {
  it('registers with what was filled in, numbers as numbers, text that is no number as typed (the API names it)', () => {
    const body = requestBody({ ...EMPTY_FORM, name: ' acme ', host: 'sftp.example', port: '2222', username: 'u', password: 'pw', maxConnections: 'two', privateKey: 'ignored' });
    assert.deepEqual(body, { name: 'acme', host: 'sftp.example', port: 2222, username: 'u', remoteDir: '/', pattern: '*', stableAfterSeconds: 5, maxConnections: 'two', afterIngest: 'keep', recursive: false, active: true, password: 'pw' });
  });

  it('sends only what changed on an edit; blank credentials keep the stored ones and a cleared key unpins', () => {
    const initial = formFromServer({ authMethod: 'password', name: 'acme', host: 'h', port: 22, username: 'u', remoteDir: '/in', pattern: '*', recursive: false, pollIntervalSeconds: 5, hostKey: 'SHA256:k', active: true, keyPrefix: 'acme', maxConnections: 2, stableAfterSeconds: 5, afterIngest: 'keep' });
    assert.deepEqual(requestBody({ ...initial, active: false, hostKey: '' }, initial), { active: false, hostKey: null });
    assert.deepEqual(requestBody({ ...initial, host: 'h2', password: 'new' }, initial), { host: 'h2', password: 'new' });
  });

  it('puts each API field error beside its field and the others on the form', () => {
    const errors = fieldErrors([{ field: 'port', message: 'too big' }, { field: 'port', message: 'not whole' }, { field: 'body', message: 'is not valid JSON' }, { field: 'color', message: 'is not a known field' }], Object.keys(EMPTY_FORM));
    assert.deepEqual(errors, { byField: { port: 'too big; not whole' }, general: ['is not valid JSON', 'color: is not a known field'] });
  });
});

describe('console: the built page', () => {
  const bundle = JSON.parse(readFileSync(CONSOLE_BUNDLE, 'utf8')) as ConsoleBundle;
  const html = bundle.files['index.html']!.body;

  it('has no inline script or style and refers only to its own hashed assets', () => {
    assert.doesNotMatch(html, /<script(?![^>]*\bsrc=)[^>]*>/, 'every script has a src');
    assert.doesNotMatch(html, /\sstyle=|<style|\son[a-z]+=/i);
    const references = [...html.matchAll(/(?:src|href)="([^"]+)"/g)].map((match) => match[1]!);
    assert.ok(references.length >= 2);
    for (const reference of references) {
      assert.match(reference, /^\/console\/assets\/[\w.-]+-[\w-]{8}\.(js|css|svg)$/);
      assert.ok(bundle.files[reference.slice('/console/'.length)], `${reference} is in the bundle`);
    }
  });

  it('needs no eval and loads nothing from another origin', () => {
    for (const [name, file] of Object.entries(bundle.files)) {
      assert.doesNotMatch(file.body, /\beval\(|new Function\(/, name);
      assert.doesNotMatch(file.body, /(?:src|href)=["']?https?:|@import\s+url\(|url\(["']?https?:/i, name);
    }
  });
});
