import {
  CreateSecretCommand,
  DeleteSecretCommand,
  GetSecretValueCommand,
  PutSecretValueCommand,
  ResourceNotFoundException,
  type SecretsManagerClient,
} from '@aws-sdk/client-secrets-manager';
import { z } from 'zod';
import type { ServerCredentials } from '../domain/credentials';
import type { SecretStore } from '../ports';

const StoredCredentials = z.discriminatedUnion('type', [
  z.object({ type: z.literal('password'), password: z.string() }),
  z.object({ type: z.literal('privateKey'), privateKey: z.string(), passphrase: z.string().optional() }),
]);

/** One secret per server, holding a JSON document; its type says which authentication it carries. */
export class SecretsManagerStore implements SecretStore {
  constructor(private readonly options: { client: SecretsManagerClient }) {}

  async create(name: string, credentials: ServerCredentials, description: string): Promise<string> {
    const { ARN } = await this.options.client.send(
      new CreateSecretCommand({
        Name: name,
        Description: description,
        SecretString: JSON.stringify(credentials),
        Tags: [{ Key: 'app', Value: 'sluice' }],
      }),
    );
    if (ARN === undefined) throw new Error('Secrets Manager returned no ARN for a new secret');
    return ARN;
  }

  async replace(arn: string, credentials: ServerCredentials): Promise<void> {
    await this.options.client.send(new PutSecretValueCommand({ SecretId: arn, SecretString: JSON.stringify(credentials) }));
  }

  async read(arn: string): Promise<ServerCredentials> {
    const { SecretString } = await this.options.client.send(new GetSecretValueCommand({ SecretId: arn }));
    // The parse error would quote the offending value; replace it with one that cannot leak.
    const parsed = StoredCredentials.safeParse(JSON.parse(SecretString ?? 'null'));
    if (!parsed.success) throw new Error(`secret ${arn} does not hold sluice SFTP credentials`);
    return parsed.data;
  }

  async delete(arn: string): Promise<void> {
    try {
      await this.options.client.send(new DeleteSecretCommand({ SecretId: arn, ForceDeleteWithoutRecovery: true }));
    } catch (error) {
      if (!(error instanceof ResourceNotFoundException)) throw error;
    }
  }
}
