import { randomBytes, randomUUID } from 'node:crypto';
import { mkdirSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import { dirname } from 'node:path';

/**
 * A local stand-in for the few AWS Secrets Manager operations sluice uses (CreateSecret,
 * GetSecretValue, PutSecretValue, DescribeSecret, DeleteSecret, RestoreSecret), speaking the AWS
 * JSON 1.1 protocol so the real SDK client talks to it unchanged. No emulator for Secrets Manager
 * installs from npm. Development only: it lives under scripts/ and is never bundled into a function.
 * State is kept in one file with mode 0600; request signatures are not checked.
 *
 * Deletion behaves as AWS's: DeleteSecret schedules it after a recovery window (RecoveryWindowInDays,
 * 7–30, default 30) unless ForceDeleteWithoutRecovery; until the window ends the secret is described
 * with its DeletedDate, RestoreSecret brings it back, and every other operation on it (reading it,
 * writing it, deleting it again, creating a secret of its name) is an InvalidRequestException.
 */
interface StoredSecret {
  arn: string;
  name: string;
  description?: string;
  value: string;
  versionId: string;
  createdAt: number;
  updatedAt: number;
  /** While scheduled for deletion: when DeleteSecret was called, and when the secret goes for good (epoch seconds). */
  deletedAt?: number;
  deletionDate?: number;
}

const MARKED_FOR_DELETION = "You can't perform this operation on the secret because it was marked for deletion.";
const DAY_SECONDS = 86_400;

class AwsError extends Error {
  constructor(
    readonly type: string,
    message: string,
    readonly status = 400,
  ) {
    super(message);
  }
}

export interface SecretsManagerStandIn {
  port: number;
  url: string;
  stop(): Promise<void>;
}

export async function startSecretsManager(options: {
  port: number;
  host?: string;
  /** JSON file that keeps secrets across restarts; omit to keep them in memory. */
  stateFile?: string;
  region?: string;
  accountId?: string;
}): Promise<SecretsManagerStandIn> {
  const region = options.region ?? 'us-east-1';
  const accountId = options.accountId ?? '000000000000';
  const secrets = new Map<string, StoredSecret>(load(options.stateFile).map((secret) => [secret.arn, secret]));

  const persist = () => {
    if (!options.stateFile) return;
    mkdirSync(dirname(options.stateFile), { recursive: true, mode: 0o700 });
    const temporary = `${options.stateFile}.tmp`;
    writeFileSync(temporary, JSON.stringify([...secrets.values()]), { mode: 0o600 });
    renameSync(temporary, options.stateFile);
  };

  /** Secrets whose recovery window has ended are gone, as AWS deletes them then. */
  const purgeExpired = () => {
    const now = Date.now() / 1000;
    const expired = [...secrets.values()].filter((secret) => secret.deletionDate !== undefined && secret.deletionDate <= now);
    for (const secret of expired) secrets.delete(secret.arn);
    if (expired.length > 0) persist();
  };

  const find = (secretId: unknown): StoredSecret => {
    if (typeof secretId !== 'string' || secretId === '') throw new AwsError('InvalidParameterException', 'SecretId is required');
    purgeExpired();
    const secret = secrets.get(secretId) ?? [...secrets.values()].find((candidate) => candidate.name === secretId);
    if (!secret) throw new AwsError('ResourceNotFoundException', "Secrets Manager can't find the specified secret.");
    return secret;
  };

  /** A secret that can be read or changed: not scheduled for deletion. */
  const findLive = (secretId: unknown): StoredSecret => {
    const secret = find(secretId);
    if (secret.deletedAt !== undefined) throw new AwsError('InvalidRequestException', MARKED_FOR_DELETION);
    return secret;
  };

  const operations: Record<string, (input: Record<string, unknown>) => unknown> = {
    CreateSecret(input) {
      const name = input.Name;
      if (typeof name !== 'string' || !/^[A-Za-z0-9/_+=.@-]{1,512}$/.test(name)) {
        throw new AwsError('InvalidParameterException', 'Name is missing or invalid');
      }
      if (typeof input.SecretString !== 'string') throw new AwsError('InvalidParameterException', 'SecretString is required');
      purgeExpired();
      const existing = [...secrets.values()].find((secret) => secret.name === name);
      if (existing?.deletedAt !== undefined) {
        throw new AwsError('InvalidRequestException', "You can't create this secret because a secret with this name is already scheduled for deletion.");
      }
      if (existing) throw new AwsError('ResourceExistsException', `The operation failed because the secret ${name} already exists.`);
      const now = Date.now() / 1000;
      const secret: StoredSecret = {
        arn: `arn:aws:secretsmanager:${region}:${accountId}:secret:${name}-${randomBytes(3).toString('hex')}`,
        name,
        ...(typeof input.Description === 'string' ? { description: input.Description } : {}),
        value: input.SecretString,
        versionId: randomUUID(),
        createdAt: now,
        updatedAt: now,
      };
      secrets.set(secret.arn, secret);
      persist();
      return { ARN: secret.arn, Name: secret.name, VersionId: secret.versionId };
    },
    GetSecretValue(input) {
      const secret = findLive(input.SecretId);
      return {
        ARN: secret.arn,
        Name: secret.name,
        SecretString: secret.value,
        VersionId: secret.versionId,
        VersionStages: ['AWSCURRENT'],
        CreatedDate: secret.updatedAt,
      };
    },
    PutSecretValue(input) {
      const secret = findLive(input.SecretId);
      if (typeof input.SecretString !== 'string') throw new AwsError('InvalidParameterException', 'SecretString is required');
      secret.value = input.SecretString;
      secret.versionId = randomUUID();
      secret.updatedAt = Date.now() / 1000;
      persist();
      return { ARN: secret.arn, Name: secret.name, VersionId: secret.versionId, VersionStages: ['AWSCURRENT'] };
    },
    DescribeSecret(input) {
      const secret = find(input.SecretId);
      return {
        ARN: secret.arn,
        Name: secret.name,
        Description: secret.description,
        CreatedDate: secret.createdAt,
        LastChangedDate: secret.updatedAt,
        VersionIdsToStages: { [secret.versionId]: ['AWSCURRENT'] },
        ...(secret.deletedAt !== undefined ? { DeletedDate: secret.deletedAt } : {}),
      };
    },
    DeleteSecret(input) {
      const force = input.ForceDeleteWithoutRecovery === true;
      const window = input.RecoveryWindowInDays;
      if (force && window !== undefined) {
        throw new AwsError('InvalidParameterException', "You can't use ForceDeleteWithoutRecovery in conjunction with RecoveryWindowInDays.");
      }
      if (window !== undefined && (typeof window !== 'number' || !Number.isInteger(window) || window < 7 || window > 30)) {
        throw new AwsError('InvalidParameterException', 'RecoveryWindowInDays must be an integer from 7 to 30.');
      }
      const secret = find(input.SecretId);
      const now = Date.now() / 1000;
      if (force) {
        // As AWS: a secret already scheduled for deletion can still be deleted at once.
        secrets.delete(secret.arn);
        persist();
        return { ARN: secret.arn, Name: secret.name, DeletionDate: now };
      }
      if (secret.deletedAt !== undefined) throw new AwsError('InvalidRequestException', MARKED_FOR_DELETION);
      secret.deletedAt = now;
      secret.deletionDate = now + (window ?? 30) * DAY_SECONDS;
      persist();
      return { ARN: secret.arn, Name: secret.name, DeletionDate: secret.deletionDate };
    },
    RestoreSecret(input) {
      const secret = find(input.SecretId);
      delete secret.deletedAt;
      delete secret.deletionDate;
      persist();
      return { ARN: secret.arn, Name: secret.name };
    },
  };

  const server: Server = createServer((request, response) => {
    const chunks: Buffer[] = [];
    request.on('data', (chunk: Buffer) => chunks.push(chunk));
    request.on('end', () => {
      const reply = (status: number, body: unknown, errorType?: string) => {
        response.writeHead(status, {
          'content-type': 'application/x-amz-json-1.1',
          'x-amzn-requestid': randomUUID(),
          ...(errorType ? { 'x-amzn-errortype': errorType } : {}),
        });
        response.end(JSON.stringify(body));
      };
      try {
        const target = String(request.headers['x-amz-target'] ?? '');
        const operation = operations[target.replace(/^secretsmanager\./, '')];
        if (request.method !== 'POST' || !target.startsWith('secretsmanager.') || !operation) {
          throw new AwsError('UnknownOperationException', `unsupported operation ${target || '(none)'}`);
        }
        const text = Buffer.concat(chunks).toString('utf8');
        reply(200, operation(text ? (JSON.parse(text) as Record<string, unknown>) : {}));
      } catch (error) {
        const awsError = error instanceof AwsError ? error : new AwsError('InternalServiceError', 'internal error', 500);
        reply(awsError.status, { __type: awsError.type, message: awsError.message }, awsError.type);
      }
    });
  });

  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(options.port, options.host ?? '127.0.0.1', () => resolve());
  });
  const address = server.address();
  const port = typeof address === 'object' && address ? address.port : options.port;
  return {
    port,
    url: `http://127.0.0.1:${port}`,
    stop: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
}

function load(stateFile: string | undefined): StoredSecret[] {
  if (!stateFile) return [];
  try {
    return JSON.parse(readFileSync(stateFile, 'utf8')) as StoredSecret[];
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return [];
    throw error;
  }
}
