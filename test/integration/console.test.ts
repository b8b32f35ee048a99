import assert from 'node:assert/strict';
import { chmodSync } from 'node:fs';
import { after, before, describe, it } from 'node:test';
import type { ChannelModel } from 'amqplib';
import type { Page } from 'playwright-core';
import { api, apiToken, apiUrl, functionLog, uniqueName } from '../helpers/api';
import { openBrowser, PHONE, screenshot, LAPTOP, type ConsoleBrowser } from '../helpers/browser';
import { eventually } from '../helpers/eventually';
import { bindIngestedQueue } from '../helpers/rabbitmq';
import { freePort, startSshd, writeRemoteFile, type Sshd } from '../../scripts/fixtures/sshd';

/**
 * The operator console in Debian's Chromium against the running stack: sign-in, a registration
 * through the form against a real sshd, its files announced, a file made unreadable (quarantined)
 * and retried from the page, the connection test and key pinning, the API unreachable and the
 * token refused, a phone's width, deletion. Every wait has a deadline; the page refreshes itself
 * (it is never reloaded to see new data).
 */
let sshd: Sshd;
let broker: ChannelModel;
/** The remote paths of every file.ingested message on the stack's exchange (the broker returns a message no queue takes). */
const announced: string[] = [];
let session: ConsoleBrowser;
let page: Page;
const created: string[] = [];
let serverId = '';
const name = uniqueName('console');
const dir = `console-${process.pid}`;
const INGEST_MS = 90_000;
const UI_MS = 15_000;

before(async () => {
  sshd = await startSshd();
  for (let index = 1; index <= 6; index++) writeRemoteFile(sshd, `${dir}/orders-${index}.csv`, `id,amount\n${'1,9.99\n'.repeat(index * 700)}`);
  chmodSync(writeRemoteFile(sshd, `${dir}/locked.csv`, 'id\n1\n'), 0o000);
  broker = await bindIngestedQueue((message) => announced.push(JSON.parse(message.content.toString()).remotePath));
  // Neighbours for the lists and the pictures: a second healthy server and one whose port is closed.
  for (let index = 1; index <= 3; index++) writeRemoteFile(sshd, `${dir}-b/report-${index}.json`, JSON.stringify({ rows: Array.from({ length: index * 500 }, (_, row) => row) }));
  const neighbours = [
    { name: uniqueName('console'), host: '127.0.0.1', port: sshd.port, username: sshd.username, password: sshd.password, remoteDir: `${sshd.root}/${dir}-b`, stableAfterSeconds: 0 },
    { name: uniqueName('console'), host: '127.0.0.1', port: await freePort(), username: 'nobody', password: 'never-sent' },
  ];
  for (const body of neighbours) {
    const response = await api('POST', '/servers', { body });
    assert.equal(response.status, 201, response.text);
    created.push(response.json.id);
  }
  session = await openBrowser();
  page = session.page;
});

after(async () => {
  await session?.close();
  for (const id of created) await api('DELETE', `/servers/${id}`).catch(() => undefined);
  await broker?.close();
  await sshd?.dispose();
});

const console_ = () => `${apiUrl()}/console`;
const serverByName = async (wanted: string) => ((await api('GET', '/servers?limit=100')).json.items as { id: string; name: string; hostKey: string | null; active: boolean }[]).find((server) => server.name === wanted);
const row = (text: string) => page.locator('tbody tr', { hasText: text });
const waitForStatus = (file: string, status: string, timeout = INGEST_MS) =>
  row(file).locator('.badge', { hasText: new RegExp(`^${status}$`) }).first().waitFor({ timeout }).catch((error: unknown) => {
    throw new Error(`${file} never showed ${status}: ${String(error)}\n${functionLog().slice(-2000)}`);
  });

async function signIn(token: string) {
  await page.getByLabel('API token').fill(token);
  await page.getByRole('button', { name: 'Sign in' }).click();
}

describe('the operator console in a real browser', () => {
  it('serves the page and its hashed assets without a token, under a strict Content-Security-Policy', async () => {
    const response = await fetch(console_());
    assert.equal(response.status, 200);
    assert.match(response.headers.get('content-type') ?? '', /^text\/html/);
    const csp = response.headers.get('content-security-policy') ?? '';
    for (const directive of ["default-src 'self'", "script-src 'self'", "connect-src 'self'", "frame-ancestors 'none'", "object-src 'none'"]) assert.ok(csp.includes(directive), `${directive} in ${csp}`);
    assert.doesNotMatch(csp, /unsafe-inline|unsafe-eval|\*/);
    assert.equal(response.headers.get('x-content-type-options'), 'nosniff');
    assert.equal(response.headers.get('cache-control'), 'no-cache');
    const html = await response.text();
    const assets = [...html.matchAll(/(?:src|href)="(\/console\/assets\/[^"]+)"/g)].map((match) => match[1]!);
    assert.ok(assets.some((asset) => asset.endsWith('.js')) && assets.some((asset) => asset.endsWith('.css')), html);
    for (const asset of assets) {
      const served = await fetch(`${apiUrl()}${asset}`);
      assert.equal(served.status, 200, asset);
      assert.match(served.headers.get('content-type') ?? '', asset.endsWith('.js') ? /^text\/javascript/ : asset.endsWith('.css') ? /^text\/css/ : /^image\/svg\+xml/);
      assert.equal(served.headers.get('cache-control'), 'public, max-age=31536000, immutable');
      assert.equal(served.headers.get('x-content-type-options'), 'nosniff');
    }
    assert.equal((await fetch(`${apiUrl()}/console/assets/missing-00000000.js`)).status, 404);
    assert.deepEqual((await api('GET', '/openapi.json', { token: null })).json.paths['/console'].get.security, []);
  });

  it('says so when the token is wrong, and keeps nothing', async () => {
    session.phase('wrong token');
    await page.goto(console_());
    await signIn('not-the-token-of-this-stack');
    await page.getByRole('alert').filter({ hasText: 'refused this token' }).waitFor({ timeout: UI_MS });
    assert.equal(await page.evaluate(() => sessionStorage.length), 0);
  });

  it('signs in with the token, which it keeps in sessionStorage only', async () => {
    session.phase('sign in');
    await signIn(apiToken());
    await page.getByRole('heading', { name: 'Servers' }).waitFor({ timeout: UI_MS });
    assert.deepEqual(await page.evaluate("[sessionStorage.getItem('sluice.apiToken'), localStorage.length, document.cookie]"), [apiToken(), 0, '']);
  });

  it("shows the API's field errors beside the fields of a bad registration, and registers nothing", async () => {
    session.phase('bad form');
    await page.getByRole('link', { name: 'Register server' }).click();
    await page.getByLabel('Name').fill('not a valid name!');
    await page.getByLabel('Host').fill('127.0.0.1');
    await page.getByLabel('Port').fill('70000');
    await page.getByLabel('User').fill(sshd.username);
    await page.getByRole('button', { name: 'Register server' }).click();
    const errorOf = (field: string) => page.locator('.field', { has: page.locator(`#field-${field}`) }).locator('.field-error');
    await errorOf('name').waitFor({ timeout: UI_MS });
    assert.match(await errorOf('name').innerText(), /may only contain/);
    assert.match(await errorOf('port').innerText(), /65535/);
    assert.match(await errorOf('password').innerText(), /password or privateKey/);
    assert.equal(await page.locator('#field-host').getAttribute('aria-invalid'), null, 'a valid field is not marked');
    assert.equal(await serverByName('not a valid name!'), undefined);
    await screenshot(page, 'form-errors');
  });

  it('registers a server against the test sshd and shows its files announced, object key and version included', async () => {
    session.phase('register');
    await page.getByLabel('Name').fill(name);
    await page.getByLabel('Port').fill(String(sshd.port));
    await page.getByLabel('Password').fill(sshd.password);
    await page.getByLabel('Remote directory').fill(`${sshd.root}/${dir}`);
    await page.getByLabel('Stable after (s)').fill('0');
    await page.getByRole('button', { name: 'Register server' }).click();
    await page.getByRole('heading', { name }).waitFor({ timeout: UI_MS });
    const server = await serverByName(name);
    assert.ok(server, 'registered');
    created.push(server.id);
    serverId = server.id;

    await page.getByRole('link', { name: 'Files', exact: true }).first().click();
    for (let index = 1; index <= 6; index++) await waitForStatus(`orders-${index}.csv`, 'notified');
    const first = await row('orders-1.csv').innerText();
    assert.match(first, new RegExp(`${name}/orders-1\\.csv`));
    assert.match(first, /version \S+/);
    assert.match(first, /KiB/);
    await eventually('six announcements', () => (announced.filter((path) => path.includes(`/${dir}/orders-`)).length === 6 ? true : undefined), UI_MS);
  });

  it('retries a quarantined file from the page once it is readable again, and it is announced', async () => {
    session.phase('retry');
    await waitForStatus('locked.csv', 'quarantined');
    assert.match(await row('locked.csv').innerText(), /permission_denied/);
    chmodSync(`${sshd.root}/${dir}/locked.csv`, 0o644);
    await row('locked.csv').getByRole('button', { name: 'Retry' }).click();
    await page.getByRole('status').filter({ hasText: 'sent back to pending' }).waitFor({ timeout: UI_MS });
    await waitForStatus('locked.csv', 'notified');
    const server = await serverByName(name);
    const files = (await api('GET', `/files?serverId=${server!.id}&limit=100`)).json.items as { relativePath: string; status: string }[];
    assert.deepEqual(files.filter((file) => file.status !== 'notified'), []);
    await eventually('its announcement', () => (announced.filter((path) => path.endsWith(`/${dir}/locked.csv`)).length === 1 ? true : undefined), UI_MS);
  });

  it('tests the connection and pins the host key the server presents', async () => {
    session.phase('test and pin');
    await page.getByRole('link', { name }).first().click();
    await page.locator('.badge', { hasText: 'first-seen' }).first().waitFor({ timeout: UI_MS });
    await page.getByRole('button', { name: 'Test connection' }).click();
    await page.locator('.test-result[data-ok="true"]').waitFor({ timeout: 30_000 });
    assert.match(await page.locator('.test-result').innerText(), new RegExp(sshd.hostKey.replace(/[+/]/g, '\\$&')));
    await page.getByRole('button', { name: 'Pin this host key' }).click();
    await eventually('the key pinned', async () => ((await serverByName(name))?.hostKey === sshd.hostKey ? true : undefined), UI_MS);
    await page.locator('.badge', { hasText: 'pinned' }).first().waitFor({ timeout: UI_MS });
  });

  it('edits the server, sending only what changed (the pinned key and the password stay)', async () => {
    session.phase('edit');
    await page.getByRole('link', { name: 'Edit' }).click();
    await page.getByLabel('Poll interval (s)').fill('10');
    await page.getByRole('button', { name: 'Save changes' }).click();
    await page.getByRole('status').filter({ hasText: `${name} saved.` }).waitFor({ timeout: UI_MS });
    await page.getByRole('heading', { name, exact: true }).waitFor({ timeout: UI_MS });
    const server = (await api('GET', `/servers/${serverId}`)).json;
    assert.deepEqual([server.pollIntervalSeconds, server.hostKey, server.lastError], [10, sshd.hostKey, null]);
  });

  it("deactivates and activates the server, and retries its failed files from its page", async () => {
    session.phase('activate');
    await page.getByRole('button', { name: 'Deactivate', exact: true }).click();
    await eventually('deactivated', async () => ((await serverByName(name))?.active === false ? true : undefined), UI_MS);
    await page.getByRole('button', { name: 'Activate', exact: true }).click();
    await eventually('activated', async () => ((await serverByName(name))?.active === true ? true : undefined), UI_MS);
    await page.getByRole('button', { name: 'Retry failed files' }).click();
    await page.getByRole('status').filter({ hasText: /0 failed, quarantined or vanished versions/ }).waitFor({ timeout: UI_MS });
    await screenshot(page, 'server');
  });

  it('draws the ingest per hour, failures by code and queue depths', async () => {
    session.phase('charts');
    await page.getByRole('link', { name: 'Charts' }).first().click();
    await page.getByRole('heading', { name: 'Files ingested per hour' }).waitFor({ timeout: UI_MS });
    await page.locator('.chart canvas').nth(2).waitFor({ timeout: UI_MS });
    await page.getByText('permission_denied').first().waitFor({ timeout: UI_MS });
    await page.getByText('transfer waiting').waitFor({ timeout: UI_MS });
    const notified = Number((await page.locator('.tile', { hasText: 'notified' }).locator('.tile-value').innerText()).replace(/,/g, ''));
    assert.ok(notified >= 7, `${notified} notified`);
    if (process.env.SLUICE_SCREENSHOTS === '1') {
      // A picture with a line in the queue-depth history: three refreshes' samples.
      // (Read from outside the page: a predicate evaluated in it would be an eval its CSP refuses.)
      const samples = async () => Number(/over the last (\d+) samples/.exec((await page.locator('.chart[aria-label^="Queue depths"]').getAttribute('aria-label')) ?? '')?.[1] ?? 0);
      await eventually('three queue samples', async () => ((await samples()) >= 3 ? true : undefined), 30_000);
      await page.getByRole('button', { name: 'Dismiss' }).click({ timeout: 1000 }).catch(() => undefined);
    }
    await screenshot(page, 'charts');
  });

  it('says when the API is unreachable, keeps the last data, and recovers', async () => {
    session.phase('unreachable');
    await page.getByRole('link', { name: 'Servers' }).click();
    await row(name).waitFor({ timeout: UI_MS });
    await page.locator('.badge', { hasText: /^failing/ }).waitFor({ timeout: INGEST_MS });
    await screenshot(page, 'servers');
    const cutOff = (url: URL) => !url.pathname.startsWith('/console');
    await page.route(cutOff, (route) => route.abort('connectionrefused'));
    await page.getByRole('alert').filter({ hasText: 'The API is unreachable' }).waitFor({ timeout: UI_MS });
    assert.ok(await row(name).isVisible(), 'the last data stays');
    await page.unroute(cutOff);
    await page.getByRole('alert').filter({ hasText: 'The API is unreachable' }).waitFor({ state: 'detached', timeout: UI_MS });
  });

  it('fits a phone: no sideways scrolling, the servers and files as cards', async () => {
    session.phase('phone');
    await page.goto(`${console_()}#/files?server=all`);
    await waitForStatus('report-3.json', 'notified');
    await row('orders-1.csv').waitFor({ timeout: UI_MS });
    await screenshot(page, 'files');
    await page.goto(`${console_()}#/servers`);
    await page.setViewportSize(PHONE);
    await row(name).waitFor({ timeout: UI_MS });
    const overflow = () => page.evaluate<number>('document.documentElement.scrollWidth - window.innerWidth');
    assert.ok((await overflow()) <= 0, `servers: ${await overflow()} px too wide`);
    await screenshot(page, 'phone');
    await page.goto(`${console_()}#/files?server=all`);
    await row('orders-1.csv').waitFor({ timeout: UI_MS });
    assert.ok((await overflow()) <= 0, `files: ${await overflow()} px too wide`);
    await page.setViewportSize(LAPTOP);
  });

  it('sends the operator back to the sign-in when the token stops being accepted', async () => {
    session.phase('token refused');
    await page.evaluate(() => sessionStorage.setItem('sluice.apiToken', 'a-token-rotated-away-meanwhile'));
    await page.getByRole('alert').filter({ hasText: 'refused this token' }).waitFor({ timeout: UI_MS });
    assert.equal(await page.evaluate(() => sessionStorage.getItem('sluice.apiToken')), null);
    await signIn(apiToken());
  });

  it('deletes the server only after a confirmation', async () => {
    session.phase('delete');
    await page.goto(`${console_()}#/servers/${serverId}`);
    await page.getByRole('heading', { name }).waitFor({ timeout: UI_MS });
    await page.getByRole('button', { name: 'Delete' }).click();
    await page.getByRole('dialog').getByRole('button', { name: 'Cancel' }).click();
    assert.ok(await serverByName(name), 'cancel deletes nothing');
    await page.getByRole('button', { name: 'Delete' }).click();
    await page.getByRole('dialog').getByRole('button', { name: 'Delete server' }).click();
    await page.getByRole('heading', { name: 'Servers' }).waitFor({ timeout: UI_MS });
    assert.equal((await api('GET', `/servers/${serverId}`)).status, 404);
  });

  it('showed no console error, CSP violation or request off this machine but those the steps above caused on purpose', () => {
    const expected = (problem: { phase: string; text: string }) =>
      (['wrong token', 'token refused'].includes(problem.phase) && /status of 401/.test(problem.text)) ||
      (problem.phase === 'bad form' && /status of 400/.test(problem.text)) ||
      // A refresh of the server's page that was on its way when the delete went through.
      (problem.phase === 'delete' && /status of 404/.test(problem.text)) ||
      (problem.phase === 'unreachable' && /ERR_CONNECTION_REFUSED|ERR_FAILED/.test(problem.text));
    assert.deepEqual(session.problems.filter((problem) => !expected(problem)), []);
  });
});
