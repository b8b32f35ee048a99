import assert from 'node:assert/strict';
import { after, describe, it } from 'node:test';
import { CreateSecretCommand, PutSecretValueCommand } from '@aws-sdk/client-secrets-manager';
import { secretString } from '../../lib/adapters/secret-string';
import { secretsClient, uniqueName } from '../helpers/api';

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
    await new Promise((resolve) => setTimeout(resolve, 350));
    assert.equal(await value(), 'second-value', 'the rotated value after it');
  });

  it('names an empty secret without showing anything of it, and a missing one as the service does', async () => {
    const secretId = uniqueName('secret-empty');
    await client.send(new CreateSecretCommand({ Name: secretId, SecretString: '   ' }));
    await assert.rejects(secretString({ kind: 'secret', secretId, client })(), new RegExp(`^Error: secret ${secretId} is empty$`));
    await assert.rejects(secretString({ kind: 'secret', secretId: `${secretId}-missing`, client })(), { name: 'ResourceNotFoundException' });
  });

  it('returns a fixed value as given (local runs)', async () => {
    assert.equal(await secretString({ kind: 'static', value: 'local-token-0000' })(), 'local-token-0000');
  });
});
