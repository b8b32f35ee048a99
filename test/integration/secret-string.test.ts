import assert from 'node:assert/strict';
import { after, describe, it } from 'node:test';
import { CreateSecretCommand, PutSecretValueCommand } from '@aws-sdk/client-secrets-manager';
import { brokerUrlProblem } from '../../lib/adapters/amqp-publisher';
import { secretString } from '../../lib/adapters/secret-string';
import { SecretInvalidError } from '../../lib/errors';
import { secretsClient, uniqueName } from '../helpers/api';
import { eventually } from '../helpers/eventually';

const client = secretsClient();
after(() => client.destroy());

describe('secret strings (API token, broker URL) from Secrets Manager', () => {
  it('reads the secret once per time-to-live and picks up a rotation after it', async () => {
    const secretId = uniqueName('secret-string');
    await client.send(new CreateSecretCommand({ Name: secretId, SecretString: ' first-value \n' }));
    const value = secretString({ kind: 'secret', secretId, client, ttlMs: 300 });
    assert.equal(await value(), 'first-value', 'surrounding whitespace trimmed');
    await client.send(new PutSecretValueCommand({ SecretId: secretId, SecretString: 'second-value' }));
    assert.equal(await value(), 'first-value', 'cached within the time-to-live');
    // Past the time-to-live the next read goes to the secret again.
    await eventually('the rotated value after the time-to-live', async () => ((await value()) === 'second-value' ? true : undefined), 5_000, { everyMs: 50 });
  });

  it('names an empty secret without showing anything of it, and a missing one as the service does', async () => {
    const secretId = uniqueName('secret-empty');
    await client.send(new CreateSecretCommand({ Name: secretId, SecretString: '   ' }));
    await assert.rejects(secretString({ kind: 'secret', secretId, client })(), new RegExp(`^SecretInvalidError: secret ${secretId} is empty$`));
    await assert.rejects(secretString({ kind: 'secret', secretId: `${secretId}-missing`, client })(), { name: 'ResourceNotFoundException' });
  });

  it('refuses a value its check refuses as secret_invalid, quoting none of it, and reads the corrected secret on the next call', async () => {
    const secretId = uniqueName('secret-broker-url');
    const canary = `hunter2-canary-${process.pid}`;
    await client.send(new CreateSecretCommand({ Name: secretId, SecretString: `${canary} is no URL` }));
    const value = secretString({ kind: 'secret', secretId, client, ttlMs: Number.POSITIVE_INFINITY }, brokerUrlProblem);
    const error = await value().then(
      () => assert.fail('an invalid broker URL was accepted'),
      (failure: unknown) => failure,
    );
    assert.ok(error instanceof SecretInvalidError);
    assert.equal(error.code, 'secret_invalid');
    assert.equal(error.message, `secret ${secretId} is not a broker URL (amqp:// or amqps:// with a host)`);
    assert.ok(!`${String(error)}\n${error.stack}`.includes(canary));
    await client.send(new PutSecretValueCommand({ SecretId: secretId, SecretString: 'amqp://user:pw@broker.example:5672/' }));
    assert.equal(await value(), 'amqp://user:pw@broker.example:5672/', 'the refusal was not cached');
  });

  it('returns a fixed value as given (local runs)', async () => {
    assert.equal(await secretString({ kind: 'static', value: 'local-token-0000' })(), 'local-token-0000');
  });
});
