import {
  CreateSecretCommand,
  DeleteSecretCommand,
  GetSecretValueCommand,
  InvalidRequestException,
  PutSecretValueCommand,
  ResourceNotFoundException,
  type SecretsManagerClient,
} from '@aws-sdk/client-secrets-manager';
import { parseCredentials, serializeCredentials, type ServerCredentials } from '../domain/credentials';
import type { SecretStore } from '../ports';

/** How Secrets Manager words an InvalidRequestException about a secret scheduled for deletion. */
const MARKED_FOR_DELETION = /marked for deletion|scheduled for deletion/i;

/** One secret per server, holding a JSON document; its type says which authentication it carries. */
export class SecretsManagerStore implements SecretStore {
  constructor(
    private readonly options: {
      client: SecretsManagerClient;
      /** Days a deleted secret can still be restored (RestoreSecret); Secrets Manager allows 7–30. 7 unless told. */
      recoveryWindowDays?: number;
    },
  ) {}

  async create(name: string, credentials: ServerCredentials, description: string): Promise<string> {
    const { ARN } = await this.options.client.send(
      new CreateSecretCommand({
        Name: name,
        Description: description,
        SecretString: serializeCredentials(credentials),
        Tags: [{ Key: 'app', Value: 'sluice' }],
      }),
    );
    if (ARN === undefined) throw new Error('Secrets Manager returned no ARN for a new secret');
    return ARN;
  }

  async replace(arn: string, credentials: ServerCredentials): Promise<'replaced' | 'gone'> {
    try {
      await this.options.client.send(new PutSecretValueCommand({ SecretId: arn, SecretString: serializeCredentials(credentials) }));
      return 'replaced';
    } catch (error) {
      if (error instanceof ResourceNotFoundException || (error instanceof InvalidRequestException && MARKED_FOR_DELETION.test(error.message))) return 'gone';
      throw error;
    }
  }

  /** Throws a SecretInvalidError (naming the secret, quoting none of it) when the value is not sluice credentials. */
  async read(arn: string): Promise<ServerCredentials> {
    const { SecretString } = await this.options.client.send(new GetSecretValueCommand({ SecretId: arn }));
    return parseCredentials(arn, SecretString);
  }

  /**
   * Schedules the deletion: until the recovery window ends the secret can be restored, and reading it
   * fails (InvalidRequestException). `force` deletes at once, for a secret just created and never used.
   */
  async delete(arn: string, options: { force?: boolean } = {}): Promise<void> {
    const days = this.options.recoveryWindowDays ?? 7;
    try {
      await this.options.client.send(
        new DeleteSecretCommand(options.force ? { SecretId: arn, ForceDeleteWithoutRecovery: true } : { SecretId: arn, RecoveryWindowInDays: days }),
      );
    } catch (error) {
      if (error instanceof ResourceNotFoundException) return;
      // Scheduling a secret already scheduled for deletion is refused this way: it is as asked.
      if (!options.force && error instanceof InvalidRequestException && MARKED_FOR_DELETION.test(error.message)) return;
      throw error;
    }
  }
}
