import type { ServerCredentials } from '../domain/credentials';
import type { ServerRecord } from '../domain/server';

// Server registrations, their secrets, and the readiness of what the API needs.

/** Result of a conditional write that can lose a race: a lost race is a value, not an exception. */
export type PutResult = 'created' | 'name-taken' | 'prefix-taken' | 'limit-reached';

export type UpdateResult = 'updated' | 'name-taken' | 'prefix-taken' | 'stale' | 'missing';

export interface Page<T> {
  items: T[];
  /** Opaque cursor for the next page; undefined on the last page. */
  nextToken?: string;
}

/** Persistence of server registrations. Names are unique across all servers. */
export interface ServerStore {
  /**
   * Creates the server and claims its name and key prefix atomically: 'name-taken', 'prefix-taken'
   * (the prefix equals, contains or lies inside another server's), 'limit-reached' (`maxServers`).
   */
  create(server: ServerRecord, options?: { maxServers?: number }): Promise<PutResult>;
  get(id: string): Promise<ServerRecord | undefined>;
  /** Servers in creation order. Throws InvalidCursorError for a cursor it did not issue. */
  list(limit: number, nextToken?: string): Promise<Page<ServerRecord>>;
  /**
   * Replaces the server if its stored version is still `expected.version`; moves the name claim on
   * a rename and the key prefix claim on a new keyPrefix (`expected` holds the stored name and prefix).
   */
  update(server: ServerRecord, expected: { version: number; name: string; keyPrefix: string }): Promise<UpdateResult>;
  /** Deletes the server and releases its name; false if it did not exist. */
  delete(server: ServerRecord): Promise<boolean>;
}

/** Credential storage (AWS Secrets Manager). Values never leave this port except to open a connection. */
export interface SecretStore {
  /** Creates a secret and returns its ARN. */
  create(name: string, credentials: ServerCredentials, description: string): Promise<string>;
  /**
   * Stores a new version that replaces the current value; 'gone' (nothing written) when the secret
   * was deleted or is scheduled for deletion.
   */
  replace(arn: string, credentials: ServerCredentials): Promise<'replaced' | 'gone'>;
  /** A value that is not sluice credentials is a SecretInvalidError (naming the secret, quoting none of it). */
  read(arn: string): Promise<ServerCredentials>;
  /**
   * Schedules the deletion after a recovery window (the secret can be restored until then, and reads
   * of it fail meanwhile); `force` deletes at once, for rolling back a secret just created and never
   * used (its name is then free again at once). Missing or already scheduled secrets are not an error.
   */
  delete(arn: string, options?: { force?: boolean }): Promise<void>;
}

/** Whether what the API needs answers (the health route). */
export interface ReadinessProbe {
  /** Resolves when ready; rejects with the reason otherwise. */
  check(): Promise<void>;
}
