import assert from 'node:assert/strict';
import { after, describe, it } from 'node:test';
import { GetItemCommand } from '@aws-sdk/client-dynamodb';
import { DescribeSecretCommand, GetSecretValueCommand, InvalidRequestException, RestoreSecretCommand } from '@aws-sdk/client-secrets-manager';
import ssh2 from 'ssh2';

const { utils } = ssh2;
import { api, dynamoClient, functionLog, secretsClient, stage, uniqueName } from '../helpers/api';

const PASSWORD = `pw-${Math.random().toString(36).slice(2)}-never-shown`;
const secrets = secretsClient();
const dynamo = dynamoClient();
after(() => {
  secrets.destroy();
  dynamo.destroy();
});

// Inactive and pointing at a closed loopback port: registration tests must not be raced by polls
// (registering an active server asks for a poll at once) and must not reach beyond 127.0.0.1.
const validServer = (fields: Record<string, unknown> = {}) => ({
  name: uniqueName(),
  host: '127.0.0.1',
  port: 9,
  username: 'ingest',
  password: PASSWORD,
  active: false,
  ...fields,
});

async function create(fields: Record<string, unknown> = {}) {
  const response = await api('POST', '/servers', { body: validServer(fields) });
  assert.equal(response.status, 201, response.text);
  return response.json;
}

const secretName = (id: string) => `sluice/${stage()}/servers/${id}`;
async function storedSecret(id: string) {
  const { SecretString } = await secrets.send(new GetSecretValueCommand({ SecretId: secretName(id) }));
  return JSON.parse(SecretString!);
}

describe('server management API: CRUD round trip', () => {
  it('creates, reads, lists, changes and deletes a server', async () => {
    const created = await create({ port: 2222, remoteDir: '/outbox/', pattern: '*.csv', recursive: true, pollIntervalSeconds: 30 });
    assert.match(created.id, /^[0-9a-f-]{36}$/);
    assert.equal(created.port, 2222);
    assert.equal(created.remoteDir, '/outbox');
    assert.equal(created.keyPrefix, created.name);
    assert.equal(created.authMethod, 'password');
    assert.ok(Date.parse(created.createdAt) > 0 && created.createdAt === created.updatedAt);

    const read = await api('GET', `/servers/${created.id}`);
    assert.equal(read.status, 200);
    assert.deepEqual(read.json, created);

    const patched = await api('PATCH', `/servers/${created.id}`, { body: { maxConnections: 4, pattern: '*.json', hostKey: `SHA256:${'A'.repeat(43)}` } });
    assert.equal(patched.status, 200, patched.text);
    assert.equal(patched.json.maxConnections, 4);
    assert.equal(patched.json.pattern, '*.json');
    assert.equal(patched.json.hostKey, `SHA256:${'A'.repeat(43)}`);
    assert.equal(patched.json.port, 2222, 'untouched fields keep their values');
    assert.ok(patched.json.updatedAt > created.updatedAt);
    assert.deepEqual((await api('GET', `/servers/${created.id}`)).json, patched.json);

    const cleared = await api('PATCH', `/servers/${created.id}`, { body: { hostKey: null } });
    assert.equal(cleared.json.hostKey, null);

    const deleted = await api('DELETE', `/servers/${created.id}`);
    assert.equal(deleted.status, 204);
    assert.equal(deleted.text, '');
    assert.equal((await api('GET', `/servers/${created.id}`)).status, 404);
    assert.equal((await api('DELETE', `/servers/${created.id}`)).status, 404);
  });

  it('applies the documented defaults', async () => {
    const created = await create({ port: undefined, active: undefined });
    assert.deepEqual(
      {
        port: created.port,
        remoteDir: created.remoteDir,
        pattern: created.pattern,
        recursive: created.recursive,
        pollIntervalSeconds: created.pollIntervalSeconds,
        active: created.active,
        hostKey: created.hostKey,
      },
      { port: 22, remoteDir: '/', pattern: '*', recursive: false, pollIntervalSeconds: 5, active: true, hostKey: null },
    );
    assert.equal(created.keyPrefix, created.name);
  });

  it('renames a server, keeping its key prefix, and frees the old name', async () => {
    const created = await create();
    const newName = uniqueName('renamed');
    const renamed = await api('PATCH', `/servers/${created.id}`, { body: { name: newName } });
    assert.equal(renamed.status, 200, renamed.text);
    assert.equal(renamed.json.name, newName);
    assert.equal(renamed.json.keyPrefix, created.keyPrefix);
    const reused = await api('POST', '/servers', { body: validServer({ name: created.name }) });
    assert.equal(reused.status, 201, 'the old name can be registered again');
  });
});

describe('server management API: secrets', () => {
  it('keeps the password in Secrets Manager only: not in DynamoDB, responses or logs', async () => {
    const created = await create();
    assert.deepEqual(await storedSecret(created.id), { type: 'password', password: PASSWORD });

    const { Item } = await dynamo.send(
      new GetItemCommand({ TableName: `sluice-${stage()}-servers`, Key: { pk: { S: `server#${created.id}` } } }),
    );
    assert.ok(Item, 'record exists');
    assert.match(Item.secretArn?.S ?? '', /^arn:aws:secretsmanager:/);
    assert.doesNotMatch(JSON.stringify(Item), new RegExp(PASSWORD));

    const listed = await api('GET', '/servers?limit=100');
    for (const response of [created, (await api('GET', `/servers/${created.id}`)).json, listed.json]) {
      const text = JSON.stringify(response);
      assert.doesNotMatch(text, new RegExp(PASSWORD));
      assert.doesNotMatch(text, /secretArn|"password":|"privateKey":|"passphrase":/);
    }
    assert.doesNotMatch(functionLog(), new RegExp(PASSWORD));
  });

  it('rotates the secret when PATCH brings a new one, and switches to key authentication', async () => {
    const created = await create();
    const rotated = `rotated-${PASSWORD}`;
    assert.equal((await api('PATCH', `/servers/${created.id}`, { body: { password: rotated } })).status, 200);
    assert.deepEqual(await storedSecret(created.id), { type: 'password', password: rotated });

    const { private: privateKey } = utils.generateKeyPairSync('ed25519');
    const switched = await api('PATCH', `/servers/${created.id}`, { body: { privateKey } });
    assert.equal(switched.status, 200, switched.text);
    assert.equal(switched.json.authMethod, 'privateKey');
    assert.deepEqual(await storedSecret(created.id), { type: 'privateKey', privateKey });
    assert.doesNotMatch(switched.text + functionLog(), /PRIVATE KEY|rotated-pw/);
  });

  it('accepts an encrypted key with its passphrase and refuses a wrong passphrase', async () => {
    const passphrase = 'correct horse battery staple';
    const { private: privateKey } = utils.generateKeyPairSync('ed25519', { passphrase, cipher: 'aes256-ctr', rounds: 4 });
    const created = await create({ password: undefined, privateKey, passphrase });
    assert.equal(created.authMethod, 'privateKey');
    assert.deepEqual(await storedSecret(created.id), { type: 'privateKey', privateKey, passphrase });

    const wrong = await api('POST', '/servers', { body: validServer({ password: undefined, privateKey, passphrase: 'wrong passphrase' }) });
    assert.equal(wrong.status, 400);
    assert.deepEqual(wrong.json.errors.map((error: { field: string }) => error.field), ['passphrase']);
    const missing = await api('POST', '/servers', { body: validServer({ password: undefined, privateKey }) });
    assert.equal(missing.status, 400);
    assert.match(JSON.stringify(missing.json.errors), /privateKey/);
    assert.doesNotMatch(wrong.text + missing.text, /PRIVATE KEY|wrong passphrase/);
  });

  it('schedules the secret for deletion with the server: unreadable at once, restorable during the recovery window', async () => {
    const created = await create();
    await storedSecret(created.id);
    const before = Date.now();
    assert.equal((await api('DELETE', `/servers/${created.id}`)).status, 204);
    await assert.rejects(storedSecret(created.id), InvalidRequestException);
    const described = await secrets.send(new DescribeSecretCommand({ SecretId: secretName(created.id) }));
    assert.ok(described.DeletedDate, 'scheduled for deletion, not gone');
    assert.ok(described.DeletedDate.getTime() >= before - 1000);
    // An operator who deleted the wrong server gets its credentials back.
    await secrets.send(new RestoreSecretCommand({ SecretId: secretName(created.id) }));
    assert.deepEqual(await storedSecret(created.id), { type: 'password', password: PASSWORD });
    assert.equal((await secrets.send(new DescribeSecretCommand({ SecretId: secretName(created.id) }))).DeletedDate, undefined);
  });
});

/** PEM-shaped text that is not a key (built, so no key-looking literal sits in the repository). */
const fakePem = (body: string) => ['-----BEGIN', 'OPENSSH', `PRIVATE KEY-----\n${body}\n-----END`, 'OPENSSH', 'PRIVATE KEY-----'].join(' ');

describe('server management API: validation', () => {
  const invalid: [string, Record<string, unknown>][] = [
    ['name', { name: '' }],
    ['name', { name: 'x'.repeat(65) }],
    ['name', { name: 'has space' }],
    ['name', { name: 'slash/name' }],
    ['host', { host: '' }],
    ['host', { host: 'bad host!' }],
    ['host', { host: 'sftp://example.com' }],
    ['port', { port: 0 }],
    ['port', { port: 65536 }],
    ['port', { port: 22.5 }],
    ['port', { port: '22' }],
    ['username', { username: '' }],
    ['username', { username: 'line\nbreak' }],
    ['password', { password: undefined }],
    ['password', { password: '' }],
    ['privateKey', { privateKey: 'not a key' }],
    ['privateKey', { privateKey: fakePem('garbage'), password: undefined }],
    ['passphrase', { passphrase: 'no key given' }],
    ['remoteDir', { remoteDir: 'relative/path' }],
    ['remoteDir', { remoteDir: '/a/../b' }],
    ['pattern', { pattern: '' }],
    ['pattern', { pattern: '[unclosed' }],
    ['pattern', { pattern: '{a,b' }],
    ['recursive', { recursive: 'yes' }],
    ['pollIntervalSeconds', { pollIntervalSeconds: 4 }],
    ['pollIntervalSeconds', { pollIntervalSeconds: 1.5 }],
    ['hostKey', { hostKey: 'ssh-ed25519 AAAA' }],
    ['hostKey', { hostKey: 'SHA256:tooshort' }],
    ['active', { active: 'true' }],
    ['keyPrefix', { keyPrefix: '/abs' }],
    ['keyPrefix', { keyPrefix: 'a/../b' }],
    ['keyPrefix', { keyPrefix: 'a//b' }],
    ['keyPrefix', { keyPrefix: '' }],
    ['unexpected', { unexpected: 1 }],
    ['maxConnections', { maxConnections: 0 }],
    ['stableAfterSeconds', { stableAfterSeconds: -1 }],
    ['afterIngest', { afterIngest: 'archive' }],
    ['afterIngest', { afterIngest: 'move:relative/dir' }],
    ['afterIngest', { afterIngest: 'move:/in/done', remoteDir: '/in', recursive: true }],
  ];
  for (const [field, fields] of invalid) {
    it(`POST refuses ${JSON.stringify(fields)} naming ${field}`, async () => {
      const response = await api('POST', '/servers', { body: validServer(fields) });
      assert.equal(response.status, 400, response.text);
      assert.match(response.headers.get('content-type') ?? '', /^application\/problem\+json/);
      assert.equal(response.json.status, 400);
      assert.ok(
        response.json.errors.some((error: { field: string }) => error.field === field),
        `errors should name ${field}: ${response.text}`,
      );
    });
  }

  it('POST refuses both a password and a private key', async () => {
    const { private: privateKey } = utils.generateKeyPairSync('ed25519');
    const response = await api('POST', '/servers', { body: validServer({ privateKey }) });
    assert.equal(response.status, 400);
    assert.match(JSON.stringify(response.json.errors), /privateKey/);
  });

  it('POST names every invalid field at once', async () => {
    const response = await api('POST', '/servers', { body: { name: 'ok-name', port: -1, pollIntervalSeconds: 1 } });
    assert.equal(response.status, 400);
    const fields = response.json.errors.map((error: { field: string }) => error.field).sort();
    for (const field of ['host', 'username', 'password', 'port', 'pollIntervalSeconds']) assert.ok(fields.includes(field), fields.join());
  });

  it('PATCH validates the fields it is given', async () => {
    const created = await create();
    for (const [field, body] of [
      ['port', { port: 70000 }],
      ['pollIntervalSeconds', { pollIntervalSeconds: 2 }],
      ['passphrase', { passphrase: 'alone' }],
      ['id', { id: 'x' }],
      ['body', {}],
    ] as const) {
      const response = await api('PATCH', `/servers/${created.id}`, { body });
      assert.equal(response.status, 400, `${field}: ${response.text}`);
      assert.ok(response.json.errors.some((error: { field: string }) => error.field === field), response.text);
    }
  });

  it('refuses a body that is not a JSON object', async () => {
    for (const rawBody of ['{"name":', '[]', '"text"', 'null']) {
      const response = await api('POST', '/servers', { rawBody, headers: { 'content-type': 'application/json' } });
      assert.equal(response.status, 400, rawBody);
      assert.match(response.headers.get('content-type') ?? '', /problem\+json/);
    }
  });

  it('answers 415 to a body that is not application/json', async () => {
    for (const headers of [{ 'content-type': 'text/plain' }, { 'content-type': 'application/x-www-form-urlencoded' }]) {
      const response = await api('POST', '/servers', { rawBody: JSON.stringify(validServer()), headers });
      assert.equal(response.status, 415, response.text);
      assert.match(response.headers.get('content-type') ?? '', /problem\+json/);
    }
  });

  it('answers 413 to a body over 64 KiB', async () => {
    const response = await api('POST', '/servers', { body: validServer({ password: 'x'.repeat(70 * 1024) }) });
    assert.equal(response.status, 413);
    assert.match(response.headers.get('content-type') ?? '', /problem\+json/);
  });
});

describe('server management API: errors and authentication', () => {
  it('answers 404 for an unknown id on every verb', async () => {
    for (const [method, body] of [['GET'], ['PATCH', { active: false }], ['DELETE']] as const) {
      const response = await api(method, '/servers/00000000-0000-4000-8000-000000000000', body ? { body } : {});
      assert.equal(response.status, 404, method);
      assert.equal(response.json.status, 404);
      assert.match(response.headers.get('content-type') ?? '', /problem\+json/);
    }
  });

  it('answers 409 to a duplicate name, on create and on rename', async () => {
    const first = await create();
    const duplicate = await api('POST', '/servers', { body: validServer({ name: first.name }) });
    assert.equal(duplicate.status, 409);
    assert.match(duplicate.headers.get('content-type') ?? '', /problem\+json/);
    const second = await create();
    const rename = await api('PATCH', `/servers/${second.id}`, { body: { name: first.name } });
    assert.equal(rename.status, 409);
    assert.equal((await api('GET', `/servers/${second.id}`)).json.name, second.name, 'a refused rename changes nothing');
  });

  it('answers 401 without the right bearer token, on every route', async () => {
    const created = await create();
    const routes: [string, string][] = [
      ['POST', '/servers'],
      ['GET', '/servers'],
      ['GET', `/servers/${created.id}`],
      ['PATCH', `/servers/${created.id}`],
      ['DELETE', `/servers/${created.id}`],
      ['GET', `/files?serverId=${created.id}`],
      ['GET', '/files/0123456789abcdef0123456789abcdef'],
      ['GET', '/stats'],
      ['GET', '/metrics'],
    ];
    for (const [method, path] of routes) {
      for (const headers of [{} as Record<string, string>, { authorization: 'Bearer wrong-token-000000000' }, { authorization: 'Basic Zm9vOmJhcg==' }]) {
        const response = await api(method, path, { token: null, headers, ...(method === 'POST' || method === 'PATCH' ? { body: {} } : {}) });
        assert.equal(response.status, 401, `${method} ${path} ${JSON.stringify(headers)}`);
        assert.match(response.headers.get('content-type') ?? '', /problem\+json/);
        assert.equal(response.headers.get('www-authenticate'), 'Bearer');
      }
    }
    assert.equal((await api('GET', `/servers/${created.id}`)).status, 200, 'nothing was deleted without a token');
  });

  it('answers /health without a token', async () => {
    const response = await api('GET', '/health', { token: null });
    assert.equal(response.status, 200);
    assert.deepEqual(response.json, { status: 'ok' });
  });
});

describe('server management API: pagination', () => {
  it('walks every server exactly once with limit and nextToken', async () => {
    const ids = new Set<string>();
    for (let index = 0; index < 5; index++) ids.add((await create()).id);
    const seen: string[] = [];
    let nextToken: string | null = null;
    let pages = 0;
    do {
      const query: string = nextToken ? `?limit=2&nextToken=${encodeURIComponent(nextToken)}` : '?limit=2';
      const response = await api('GET', `/servers${query}`);
      assert.equal(response.status, 200, response.text);
      assert.ok(response.json.items.length <= 2);
      seen.push(...response.json.items.map((item: { id: string }) => item.id));
      nextToken = response.json.nextToken;
      pages++;
    } while (nextToken && pages < 1000);
    assert.equal(new Set(seen).size, seen.length, 'no server appears twice');
    for (const id of ids) assert.ok(seen.includes(id), `server ${id} listed`);
  });

  it('refuses a bad limit or a forged nextToken, naming the parameter', async () => {
    for (const [query, field] of [
      ['limit=0', 'limit'],
      ['limit=101', 'limit'],
      ['limit=ten', 'limit'],
      ['nextToken=not-a-token', 'nextToken'],
      [`nextToken=${Buffer.from('{"pk":"x"}').toString('base64url')}`, 'nextToken'],
    ]) {
      const response = await api('GET', `/servers?${query}`);
      assert.equal(response.status, 400, query);
      assert.ok(response.json.errors.some((error: { field: string }) => error.field === field), response.text);
    }
  });
});

describe('OpenAPI document', () => {
  it('describes every route with schemas generated from the validators', async () => {
    const response = await api('GET', '/openapi.json', { token: null });
    assert.equal(response.status, 200);
    const document = response.json;
    assert.equal(document.openapi, '3.1.0');
    assert.deepEqual(Object.keys(document.paths).sort(), [
      '/console',
      '/console/{asset}',
      '/files',
      '/files/{id}',
      '/files/{id}/renotify',
      '/files/{id}/retry',
      '/health',
      '/metrics',
      '/openapi.json',
      '/servers',
      '/servers/{id}',
      '/servers/{id}/renotify',
      '/servers/{id}/retry',
      '/servers/{id}/test',
      '/stats',
    ]);
    const create = document.components.schemas.CreateServer;
    assert.equal(create.properties.pollIntervalSeconds.minimum, 5);
    assert.equal(create.properties.port.default, 22);
    assert.ok(create.required.includes('name'));
  });
});
