import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { CreateServerInput } from '../../lib/domain/server';
import { ConflictError } from '../../lib/errors';
import type { PollTick } from '../../lib/ports';
import { createServer, deleteServer } from '../../lib/use-cases/servers';
import { api, uniqueName } from '../helpers/api';
import { RecordingQueue } from '../helpers/fakes';
import { isolatedContainer } from '../../scripts/fixtures/resources';

/** A registration that never polls (inactive), with the given key prefix; the response. */
const register = (keyPrefix: string) =>
  api('POST', '/servers', { body: { name: uniqueName('prefix'), host: '127.0.0.1', port: 9, username: 'u', password: 'p', active: false, keyPrefix } });

const conflictOn = (response: Awaited<ReturnType<typeof api>>, field: string) => {
  assert.equal(response.status, 409, response.text);
  assert.match(response.headers.get('content-type') ?? '', /application\/problem\+json/);
  assert.match(response.text, new RegExp(field));
};

describe('key prefixes are one server\'s each', () => {
  it('refuses a prefix equal to, inside or around another server\'s, on POST and PATCH; deleting frees it', async () => {
    const root = uniqueName('tenants');
    const created: string[] = [];
    try {
      const acme = await register(`${root}/acme`);
      assert.equal(acme.status, 201, acme.text);
      created.push(acme.json.id);
      for (const keyPrefix of [`${root}/acme`, `${root}/acme/inbox`, root]) conflictOn(await register(keyPrefix), 'keyPrefix');
      const sibling = await register(`${root}/acme-2`);
      assert.equal(sibling.status, 201, 'a sibling whose name merely starts the same is its own');
      created.push(sibling.json.id);

      conflictOn(await api('PATCH', `/servers/${sibling.json.id}`, { body: { keyPrefix: `${root}/acme/x` } }), 'keyPrefix');
      // Moving a prefix up over its own old place is allowed, and then holds the new place.
      const deep = await register(`${root}/deep/a/b`);
      created.push(deep.json.id);
      const up = await api('PATCH', `/servers/${deep.json.id}`, { body: { keyPrefix: `${root}/deep/a` } });
      assert.equal(up.status, 200, up.text);
      conflictOn(await register(`${root}/deep/a/c`), 'keyPrefix');
      const down = await api('PATCH', `/servers/${deep.json.id}`, { body: { keyPrefix: `${root}/deep/a/b/c` } });
      assert.equal(down.status, 200, down.text);
      const beside = await register(`${root}/deep/a/d`);
      assert.equal(beside.status, 201, 'the old place is free again');
      created.push(beside.json.id);

      assert.equal((await api('DELETE', `/servers/${acme.json.id}`)).status, 204);
      created.shift();
      const reused = await register(`${root}/acme/inbox`);
      assert.equal(reused.status, 201, reused.text);
      created.push(reused.json.id);
    } finally {
      for (const id of created) await api('DELETE', `/servers/${id}`);
    }
  });
});

describe('MAX_SERVERS against the servers table', () => {
  it('holds the cap in the same transaction as the record, and frees a place on delete', async () => {
    const { container } = await isolatedContainer();
    const deps = { ...container.serverDeps, maxServers: 2, ticks: new RecordingQueue<PollTick>() };
    const input = (name: string) => CreateServerInput.parse({ name, host: '127.0.0.1', port: 9, username: 'u', password: 'p', active: false });
    const first = await createServer(input('cap-1'), deps);
    await createServer(input('cap-2'), deps);
    await assert.rejects(createServer(input('cap-3'), deps), (error: unknown) => error instanceof ConflictError && /MAX_SERVERS/.test(error.message));
    await deleteServer(first.id, deps);
    await createServer(input('cap-3'), deps);
  });
});
