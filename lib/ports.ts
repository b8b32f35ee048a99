import type { ServerRecord } from './domain/server';
import type { ServerCredentials } from './domain/credentials';

/** Result of a conditional write that can lose a race: a lost race is a value, not an exception. */
export type PutResult = 'created' | 'name-taken';
export type UpdateResult = 'updated' | 'name-taken' | 'stale' | 'missing';

export interface Page<T> {
  items: T[];
  /** Opaque cursor for the next page; undefined on the last page. */
  nextToken?: string;
}

/** Persistence of server registrations. Names are unique across all servers. */
export interface ServerStore {
  /** Creates the server and claims its name atomically. */
  create(server: ServerRecord): Promise<PutResult>;
  get(id: string): Promise<ServerRecord | undefined>;
  /** Servers in creation order. Throws InvalidCursorError for a cursor it did not issue. */
  list(limit: number, nextToken?: string): Promise<Page<ServerRecord>>;
  /** Replaces the server if its stored `version` is still `expectedVersion`; moves the name claim on rename. */
  update(server: ServerRecord, expectedVersion: number, previousName: string): Promise<UpdateResult>;
  /** Deletes the server and releases its name; false if it did not exist. */
  delete(server: ServerRecord): Promise<boolean>;
}

/** Credential storage (AWS Secrets Manager). Values never leave this port except to open a connection. */
export interface SecretStore {
  /** Creates a secret and returns its ARN. */
  create(name: string, credentials: ServerCredentials, description: string): Promise<string>;
  /** Stores a new version that replaces the current value. */
  replace(arn: string, credentials: ServerCredentials): Promise<void>;
  read(arn: string): Promise<ServerCredentials>;
  /** Deletes at once, without a recovery window; missing secrets are not an error. */
  delete(arn: string): Promise<void>;
}

export interface Clock {
  now(): Date;
}

export interface IdGenerator {
  newId(): string;
}

export interface Logger {
  debug(event: string, fields?: Record<string, unknown>): void;
  info(event: string, fields?: Record<string, unknown>): void;
  warn(event: string, fields?: Record<string, unknown>): void;
  error(event: string, fields?: Record<string, unknown>): void;
}
