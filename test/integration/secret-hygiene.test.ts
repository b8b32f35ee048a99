import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { after, before, describe, it } from 'node:test';
import {
  CreateSecretCommand,
  DeleteSecretCommand,
  DescribeSecretCommand,
  GetSecretValueCommand,
  InvalidParameterException,
  InvalidRequestException,
  PutSecretValueCommand,
  ResourceNotFoundException,
  RestoreSecretCommand,
  type SecretsManagerClient,
} from '@aws-sdk/client-secrets-manager';
import { SecretsManagerStore } from '../../lib/adapters/secrets-manager-store';
import { buildContainer, type Container } from '../../lib/container';
import { createLogger } from '../../lib/logger';
import { notifyFile } from '../../lib/use-cases/notify';
import { transferFile } from '../../lib/use-cases/transfer';
import { api, functionLog, secretsClient, stage, uniqueName } from '../helpers/api';
import { eventually } from '../helpers/eventually';
import { isolatedContainer } from '../../scripts/fixtures/resources';
import { TransferFixture } from '../helpers/transfer-fixture';

/**
 * A value no message, response or log line may ever show. Secret values below start with it, so the
 * first characters JSON.parse quotes in its SyntaxError (`"hunter2-ca"... is not valid JSON`) are
 * caught as well as the whole value: `shows` looks for that prefix.
 */
const canary = () => `hunter2-canary-${randomBytes(6).toString('hex')}`;
const shows = (text: string | undefined) => (text ?? '').includes('hunter2-ca');

/** Log lines as the functions write them (the real logger), collected. */
function capturingLogger() {
  const lines: string[] = [];
  return { lines, logger: createLogger({ level: 'debug', write: (line) => lines.push(line) }) };
}

const secrets = secretsClient();
after(() => secrets.destroy());

describe('a corrupt server secret never leaks through errors', () => {
  const secretName = (id: string) => `sluice/${stage()}/servers/${id}`;

  it('poll: lastError is secret_invalid naming the secret, and no API response or function log shows any of the value', async () => {
    // Registered inactive (no poll races the corruption), then activated: that asks for a poll at once.
    const created = await api('POST', '/servers', {
      body: { name: uniqueName('corrupt'), host: '127.0.0.1', port: 9, username: 'ingest', password: 'a-good-password', active: false },
    });
    assert.equal(created.status, 201, created.text);
    const { id } = created.json;
    const notJson = canary();
    await secrets.send(new PutSecretValueCommand({ SecretId: secretName(id), SecretString: `${notJson} {not json` }));
    assert.equal((await api('PATCH', `/servers/${id}`, { body: { active: true } })).status, 200);

    const failed = await eventually(
      'the poll to record secret_invalid',
      async () => {
        const view = await api('GET', `/servers/${id}`);
        return view.json.lastError?.code === 'secret_invalid' ? view : undefined;
      },
      60_000,
      { context: () => functionLog().split('\n').filter((line) => line.includes(id)).slice(-5).join('\n') },
    );
    assert.match(failed.json.lastError.message, /^the stored secret is not valid credentials JSON \(it does not parse as JSON\)$/);
    assert.ok(failed.json.consecutiveFailures >= 1);

    // JSON of the wrong shape: the message names the field, not what is in it.
    const wrongShape = canary();
    await secrets.send(new PutSecretValueCommand({ SecretId: secretName(id), SecretString: JSON.stringify({ type: 'password', pasword: wrongShape }) }));
    const reshaped = await eventually(
      'the next poll to report the wrong shape',
      async () => {
        const view = await api('GET', `/servers/${id}`);
        return /wrong or missing: password/.test(view.json.lastError?.message ?? '') ? view : undefined;
      },
      60_000,
    );
    assert.equal(reshaped.json.lastError.code, 'secret_invalid');

    const listed = await api('GET', '/servers?limit=100');
    const responses = [failed.text, reshaped.text, listed.text].join('\n');
    const log = functionLog();
    assert.ok(log.split('\n').some((line) => line.includes('"event":"poll_failed"') && line.includes(id) && line.includes('"code":"secret_invalid"')), 'the failure is logged');
    assert.ok(!shows(responses), 'no API response shows the value');
    assert.ok(!shows(log), 'no function log line shows the value');
    assert.equal((await api('DELETE', `/servers/${id}`)).status, 204);
  });

  describe('transfer', () => {
    let fixture: TransferFixture;
    before(async () => {
      fixture = await TransferFixture.start();
    });
    after(() => fixture?.stop());

    it('a file whose server secret is corrupt is quarantined as secret_invalid; its lastError and the logs show nothing of the value', async () => {
      const { server, dir } = await fixture.serverFor();
      const job = await fixture.detected(server, dir, 'report.csv', Buffer.from('a,b\n'));
      const record = (await fixture.container.serverDeps.servers.get(server.id))!;
      const value = canary();
      await fixture.container.clients.secrets.send(new PutSecretValueCommand({ SecretId: record.secretArn, SecretString: `${value} is not JSON` }));
      const { lines, logger } = capturingLogger();

      const outcome = await transferFile(job, { ...fixture.deps, logger });

      assert.deepEqual(outcome, { status: 'quarantined', reason: 'secret_invalid' });
      const entry = await fixture.ledgerEntry(job.fileId);
      assert.equal(entry?.status, 'quarantined');
      assert.equal(entry?.lastError.code, 'secret_invalid');
      assert.equal(entry?.lastError.message, 'the stored secret is not valid credentials JSON (it does not parse as JSON)');
      const view = await fixture.container.files.get(job.fileId); // what GET /files/{id} returns
      assert.equal(view?.lastError?.code, 'secret_invalid');
      assert.ok(lines.some((line) => line.includes('"code":"secret_invalid"')), lines.join('\n'));
      assert.ok(!shows(JSON.stringify(entry)) && !shows(JSON.stringify(view)), 'not in the ledger or the files API');
      assert.ok(!shows(lines.join('\n')), lines.join('\n'));
    });
  });
});

describe('the broker secret never reaches a file or a log', () => {
  let container: Container;
  let broker: Container;
  let secretId: string;
  let counter = 0;

  before(async () => {
    ({ container } = await isolatedContainer());
    secretId = uniqueName('amqp-url');
    await secrets.send(new CreateSecretCommand({ Name: secretId, SecretString: 'placeholder' }));
    // The same tables, the broker URL from a secret as on AWS (AMQP_URL unset).
    broker = buildContainer({ ...container.config, AMQP_URL: undefined, AMQP_URL_SECRET_ID: secretId });
  });
  after(() => broker?.notifyDeps.publisher.close());

  /** A version the transfer has uploaded (ledger only: the notifier never reads the object). */
  async function uploadedFile() {
    const fileId = randomBytes(16).toString('hex');
    const name = `announced-${++counter}.csv`;
    await container.pollDeps.ledger.createIfAbsent({
      fileId,
      serverId: 'secret-hygiene',
      serverName: 'secret-hygiene',
      remotePath: `/in/${name}`,
      relativePath: name,
      size: 10,
      mtime: 1_700_000_000,
      discoveredAt: new Date().toISOString(),
    });
    const ledger = container.transferDeps.ledger;
    assert.equal(typeof (await ledger.claim(fileId, 'test', new Date(Date.now() + 60_000))), 'object');
    await ledger.markUploaded(fileId, 'test', { key: `x/${name}`, bucket: 'sluice-ingest', sha256: 'ab'.repeat(32), etag: '"e"' });
    return fileId;
  }

  it('a broker secret that is no URL: retried as secret_invalid, the file and the log naming the secret only', async () => {
    const value = canary();
    await secrets.send(new PutSecretValueCommand({ SecretId: secretId, SecretString: `${value}@not-a-url` }));
    const fileId = await uploadedFile();
    const { lines, logger } = capturingLogger();

    const outcome = await notifyFile({ fileId }, { ...broker.notifyDeps, logger, random: () => 0.5 });

    assert.equal(outcome.status, 'retry');
    assert.equal(outcome.status === 'retry' && outcome.code, 'secret_invalid');
    const view = await container.files.get(fileId);
    assert.deepEqual(view?.lastError && { code: view.lastError.code, message: view.lastError.message }, {
      code: 'secret_invalid',
      message: `secret ${secretId} is not a broker URL (amqp:// or amqps:// with a host)`,
    });
    assert.equal(view?.status, 'uploaded', 'kept for the next try');
    assert.ok(!shows(JSON.stringify(view)) && !shows(lines.join('\n')), lines.join('\n'));
  });

  it('a broker that is down: the file says "the broker", never its host, user or password', async () => {
    const password = canary();
    await secrets.send(new PutSecretValueCommand({ SecretId: secretId, SecretString: `amqp://sluice-hygiene-user:${password}@localhost:9/` }));
    const fileId = await uploadedFile();
    const { lines, logger } = capturingLogger();

    const outcome = await notifyFile({ fileId }, { ...broker.notifyDeps, logger, random: () => 0.5 });

    assert.equal(outcome.status === 'retry' && outcome.code, 'broker_unavailable');
    const view = await container.files.get(fileId);
    const recorded = view?.lastError?.message ?? '';
    assert.match(recorded, /^publish to exchange "sluice" on the broker: broker unavailable while connecting/);
    for (const revealing of ['hunter2-ca', 'sluice-hygiene-user', 'localhost', '127.0.0.1', '::1', ':9']) {
      assert.ok(!recorded.includes(revealing), `lastError shows ${revealing}: ${recorded}`);
    }
    assert.ok(!shows(lines.join('\n')), lines.join('\n'));
  });
});

describe('deleting a secret schedules it, as Secrets Manager does', () => {
  let client: SecretsManagerClient;
  const deletes: Record<string, unknown>[] = [];
  before(() => {
    client = secretsClient();
    // Records what the store asks for (the window), on the real client against the stand-in.
    client.middlewareStack.add(
      (next, context) => async (args) => {
        if (context.commandName === 'DeleteSecretCommand') deletes.push({ ...(args.input as Record<string, unknown>) });
        return next(args);
      },
      { step: 'initialize', name: 'record-deletes' },
    );
  });
  after(() => client.destroy());

  it('keeps the secret for the recovery window: unreadable, described with DeletedDate, restorable; twice is no error', async () => {
    const store = new SecretsManagerStore({ client, recoveryWindowDays: 12 });
    const arn = await store.create(uniqueName('scheduled'), { type: 'password', password: 'pw' }, 'test');

    await store.delete(arn);
    await store.delete(arn);

    assert.deepEqual(deletes.slice(-2), [
      { SecretId: arn, RecoveryWindowInDays: 12 },
      { SecretId: arn, RecoveryWindowInDays: 12 },
    ]);
    await assert.rejects(store.read(arn), InvalidRequestException);
    await assert.rejects(client.send(new PutSecretValueCommand({ SecretId: arn, SecretString: 'x' })), InvalidRequestException);
    const described = await client.send(new DescribeSecretCommand({ SecretId: arn }));
    assert.ok(described.DeletedDate instanceof Date && Math.abs(described.DeletedDate.getTime() - Date.now()) < 60_000);
    await client.send(new RestoreSecretCommand({ SecretId: arn }));
    assert.deepEqual(await store.read(arn), { type: 'password', password: 'pw' });
  });

  it('refuses a new secret of a name scheduled for deletion; a forced delete frees the name at once', async () => {
    const store = new SecretsManagerStore({ client });
    const name = uniqueName('reused');
    const arn = await store.create(name, { type: 'password', password: 'pw' }, 'test');
    await store.delete(arn);
    assert.deepEqual(deletes.at(-1), { SecretId: arn, RecoveryWindowInDays: 7 }, 'seven days unless told');
    await assert.rejects(store.create(name, { type: 'password', password: 'pw2' }, 'test'), InvalidRequestException);

    await store.delete(arn, { force: true });
    assert.deepEqual(deletes.at(-1), { SecretId: arn, ForceDeleteWithoutRecovery: true });
    await assert.rejects(client.send(new DescribeSecretCommand({ SecretId: arn })), ResourceNotFoundException);
    await store.delete(arn, { force: true }); // missing: not an error
    const again = await store.create(name, { type: 'password', password: 'pw2' }, 'test');
    assert.deepEqual(await store.read(again), { type: 'password', password: 'pw2' });
  });

  it('the stand-in holds the recovery window to 7-30 days and refuses it together with a forced delete, as AWS does', async () => {
    const { ARN } = await client.send(new CreateSecretCommand({ Name: uniqueName('window'), SecretString: 'v' }));
    for (const input of [{ RecoveryWindowInDays: 6 }, { RecoveryWindowInDays: 31 }, { RecoveryWindowInDays: 7, ForceDeleteWithoutRecovery: true }]) {
      await assert.rejects(client.send(new DeleteSecretCommand({ SecretId: ARN, ...input })), InvalidParameterException, JSON.stringify(input));
    }
    const { DeletionDate } = await client.send(new DeleteSecretCommand({ SecretId: ARN, RecoveryWindowInDays: 30 }));
    assert.ok(DeletionDate && Math.abs(DeletionDate.getTime() - (Date.now() + 30 * 86_400_000)) < 60_000, 'the window ends 30 days on');
    await assert.rejects(client.send(new GetSecretValueCommand({ SecretId: ARN })), InvalidRequestException);
  });
});
