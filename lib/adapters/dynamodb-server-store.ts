import { TransactionCanceledException } from '@aws-sdk/client-dynamodb';
import { DynamoDBDocumentClient, GetCommand, QueryCommand, TransactWriteCommand } from '@aws-sdk/lib-dynamodb';
import { z } from 'zod';
import type { ServerRecord } from '../domain/server';
import type { Page, PutResult, ServerStore, UpdateResult } from '../ports';
import { decodeCursor, encodeCursor } from './dynamodb-cursor';

/**
 * Servers table layout (one table, two item kinds):
 * - `server#<id>`: the record; `entity = "server"` and `listKey = <createdAt>#<id>` feed the sparse
 *   `byEntity` index that lists servers in creation order with exact page sizes.
 * - `name#<name>`: the claim that keeps names unique; written in the same transaction as the record.
 * - `prefix#<keyPrefix>`: the claim on a key prefix, and `under#<ancestor>` a count of the prefixes
 *   below each ancestor (`a` and `a/b` for `a/b/c`), so no server's prefix equals, contains or lies
 *   inside another's: one partner's files can never land among another's keys. (Servers from
 *   before the claims hold none until their prefix is next changed.)
 * - `count#servers`: how many servers there are, moved in the same transactions, so a cap
 *   (MAX_SERVERS) holds under concurrent creates. (A table from before the counter counts from its
 *   first create after the upgrade.)
 */
export const SERVERS_BY_ENTITY_INDEX = 'byEntity';

const serverKey = (id: string) => `server#${id}`;
const nameKey = (name: string) => `name#${name}`;
const COUNTER_KEY = 'count#servers';
const prefixKey = (prefix: string) => `prefix#${prefix}`;
const underKey = (prefix: string) => `under#${prefix}`;

/** `a/b/c` -> `a`, `a/b`. */
function ancestors(prefix: string): string[] {
  const segments = prefix.split('/');
  return segments.slice(0, -1).map((_, index) => segments.slice(0, index + 1).join('/'));
}

type TransactItem = NonNullable<ConstructorParameters<typeof TransactWriteCommand>[0]['TransactItems']>[number];

/**
 * The writes that move a server's key prefix claim from `from` to `to` (either may be absent), each
 * labelled with what its failed condition means. The counts under a shared ancestor are netted:
 * one transaction may not touch an item twice.
 */
function prefixClaimWrites(table: string, serverId: string, from: string | undefined, to: string | undefined): { item: TransactItem; failure?: 'prefix-taken' }[] {
  if (from === to) return [];
  const writes: { item: TransactItem; failure?: 'prefix-taken' }[] = [];
  const deltas = new Map<string, number>();
  for (const ancestor of from === undefined ? [] : ancestors(from)) deltas.set(ancestor, (deltas.get(ancestor) ?? 0) - 1);
  for (const ancestor of to === undefined ? [] : ancestors(to)) deltas.set(ancestor, (deltas.get(ancestor) ?? 0) + 1);
  if (from !== undefined) {
    writes.push({
      item: {
        Delete: { TableName: table, Key: { pk: prefixKey(from) }, ConditionExpression: 'attribute_not_exists(pk) OR serverId = :id', ExpressionAttributeValues: { ':id': serverId } },
      },
    });
  }
  if (to !== undefined) {
    writes.push({ item: { Put: { TableName: table, Item: { pk: prefixKey(to), serverId }, ConditionExpression: 'attribute_not_exists(pk)' } }, failure: 'prefix-taken' });
    // Nothing registered below it but this server's own old prefix (when it moves up: `a/b` -> `a`),
    // whose count there it takes back in the same write.
    const own = -(deltas.get(to) ?? 0);
    deltas.delete(to);
    writes.push({
      item:
        own > 0
          ? {
              Update: {
                TableName: table,
                Key: { pk: underKey(to) },
                UpdateExpression: 'ADD servers :delta',
                ConditionExpression: 'attribute_not_exists(pk) OR servers <= :own',
                ExpressionAttributeValues: { ':delta': -own, ':own': own },
              },
            }
          : { ConditionCheck: { TableName: table, Key: { pk: underKey(to) }, ConditionExpression: 'attribute_not_exists(pk) OR servers <= :zero', ExpressionAttributeValues: { ':zero': 0 } } },
      failure: 'prefix-taken',
    });
    // Nothing registered above it.
    for (const ancestor of ancestors(to)) {
      if (ancestor === from) continue; // released in this same write
      writes.push({ item: { ConditionCheck: { TableName: table, Key: { pk: prefixKey(ancestor) }, ConditionExpression: 'attribute_not_exists(pk)' } }, failure: 'prefix-taken' });
    }
  }
  for (const [ancestor, delta] of deltas) {
    if (delta !== 0) writes.push({ item: { Update: { TableName: table, Key: { pk: underKey(ancestor) }, UpdateExpression: 'ADD servers :delta', ExpressionAttributeValues: { ':delta': delta } } } });
  }
  return writes;
}

/** What the first failed condition of a cancelled transaction means, by the labels of its writes. */
function failureOf<L extends string>(error: unknown, labels: (L | undefined)[]): L | 'other' | undefined {
  const codes = cancellationCodes(error);
  if (codes === undefined) return undefined;
  const index = codes.findIndex((code) => code === 'ConditionalCheckFailed');
  return index === -1 ? 'other' : (labels[index] ?? 'other');
}

const ServerItem = z.object({
  id: z.string(),
  name: z.string(),
  host: z.string(),
  port: z.number(),
  username: z.string(),
  authMethod: z.enum(['password', 'privateKey']),
  secretArn: z.string(),
  remoteDir: z.string(),
  pattern: z.string(),
  recursive: z.boolean(),
  pollIntervalSeconds: z.number(),
  hostKey: z.string().nullable(),
  active: z.boolean(),
  keyPrefix: z.string(),
  maxConnections: z.number().default(2),
  stableAfterSeconds: z.number().default(5),
  afterIngest: z.string().default('keep'),
  createdAt: z.string(),
  updatedAt: z.string(),
  version: z.number(),
});

const Cursor = z.strictObject({ pk: z.string(), entity: z.literal('server'), listKey: z.string() });

function toItem(server: ServerRecord) {
  return { pk: serverKey(server.id), entity: 'server', listKey: `${server.createdAt}#${server.id}`, ...server };
}

function fromItem(item: Record<string, unknown>): ServerRecord {
  return ServerItem.parse(item);
}

function cancellationCodes(error: unknown): (string | undefined)[] | undefined {
  if (!(error instanceof TransactionCanceledException)) return undefined;
  return (error.CancellationReasons ?? []).map((reason) => reason.Code);
}

export class DynamoServerStore implements ServerStore {
  private readonly documents: DynamoDBDocumentClient;
  private readonly table: string;

  constructor(options: { documents: DynamoDBDocumentClient; table: string }) {
    this.documents = options.documents;
    this.table = options.table;
  }

  async create(server: ServerRecord, options: { maxServers?: number } = {}): Promise<PutResult> {
    const writes: { item: TransactItem; failure?: PutResult }[] = [
      { item: { Put: { TableName: this.table, Item: toItem(server), ConditionExpression: 'attribute_not_exists(pk)' } } },
      { item: { Put: { TableName: this.table, Item: { pk: nameKey(server.name), serverId: server.id }, ConditionExpression: 'attribute_not_exists(pk)' } }, failure: 'name-taken' },
      {
        item: {
          Update: {
            TableName: this.table,
            Key: { pk: COUNTER_KEY },
            UpdateExpression: 'SET servers = if_not_exists(servers, :zero) + :one',
            ...(options.maxServers !== undefined ? { ConditionExpression: 'attribute_not_exists(servers) OR servers < :max' } : {}),
            ExpressionAttributeValues: { ':zero': 0, ':one': 1, ...(options.maxServers !== undefined ? { ':max': options.maxServers } : {}) },
          },
        },
        failure: 'limit-reached',
      },
      ...prefixClaimWrites(this.table, server.id, undefined, server.keyPrefix),
    ];
    try {
      await this.documents.send(new TransactWriteCommand({ TransactItems: writes.map((write) => write.item) }));
      return 'created';
    } catch (error) {
      const failure = failureOf(error, writes.map((write) => write.failure));
      if (failure !== undefined && failure !== 'other') return failure;
      throw error;
    }
  }

  async get(id: string): Promise<ServerRecord | undefined> {
    const { Item } = await this.documents.send(
      new GetCommand({ TableName: this.table, Key: { pk: serverKey(id) }, ConsistentRead: true }),
    );
    return Item ? fromItem(Item) : undefined;
  }

  async list(limit: number, nextToken?: string): Promise<Page<ServerRecord>> {
    const { Items = [], LastEvaluatedKey } = await this.documents.send(
      new QueryCommand({
        TableName: this.table,
        IndexName: SERVERS_BY_ENTITY_INDEX,
        KeyConditionExpression: 'entity = :server',
        ExpressionAttributeValues: { ':server': 'server' },
        Limit: limit,
        ExclusiveStartKey: nextToken === undefined ? undefined : decodeCursor(nextToken, Cursor),
      }),
    );
    return {
      items: Items.map(fromItem),
      ...(LastEvaluatedKey ? { nextToken: encodeCursor(LastEvaluatedKey) } : {}),
    };
  }

  async update(server: ServerRecord, expected: { version: number; name: string; keyPrefix: string }): Promise<UpdateResult> {
    const renamed = server.name !== expected.name;
    const writes: { item: TransactItem; failure?: 'stale-or-missing' | 'name-taken' | 'prefix-taken' }[] = [
      {
        item: {
          Put: {
            TableName: this.table,
            Item: toItem(server),
            ConditionExpression: 'attribute_exists(pk) AND version = :expected',
            ExpressionAttributeValues: { ':expected': expected.version },
          },
        },
        failure: 'stale-or-missing',
      },
      ...(renamed
        ? [
            { item: { Put: { TableName: this.table, Item: { pk: nameKey(server.name), serverId: server.id }, ConditionExpression: 'attribute_not_exists(pk)' } }, failure: 'name-taken' as const },
            {
              item: {
                Delete: { TableName: this.table, Key: { pk: nameKey(expected.name) }, ConditionExpression: 'serverId = :id', ExpressionAttributeValues: { ':id': server.id } },
              },
            },
          ]
        : []),
      ...prefixClaimWrites(this.table, server.id, expected.keyPrefix, server.keyPrefix),
    ];
    try {
      await this.documents.send(new TransactWriteCommand({ TransactItems: writes.map((write) => write.item) }));
      return 'updated';
    } catch (error) {
      const failure = failureOf(error, writes.map((write) => write.failure));
      if (failure === undefined) throw error;
      if (failure === 'name-taken' || failure === 'prefix-taken') return failure;
      if (failure === 'stale-or-missing') return (await this.get(server.id)) ? 'stale' : 'missing';
      throw error;
    }
  }

  async delete(server: ServerRecord): Promise<boolean> {
    try {
      await this.documents.send(
        new TransactWriteCommand({
          TransactItems: [
            { Delete: { TableName: this.table, Key: { pk: serverKey(server.id) }, ConditionExpression: 'attribute_exists(pk)' } },
            {
              Delete: {
                TableName: this.table,
                Key: { pk: nameKey(server.name) },
                ConditionExpression: 'attribute_not_exists(pk) OR serverId = :id',
                ExpressionAttributeValues: { ':id': server.id },
              },
            },
            {
              Update: {
                TableName: this.table,
                Key: { pk: COUNTER_KEY },
                // Unconditional: a table from before the counter must still let its servers go.
                UpdateExpression: 'SET servers = if_not_exists(servers, :one) - :one',
                ExpressionAttributeValues: { ':one': 1 },
              },
            },
            ...prefixClaimWrites(this.table, server.id, server.keyPrefix, undefined).map((write) => write.item),
          ],
        }),
      );
      return true;
    } catch (error) {
      if (cancellationCodes(error)?.[0] === 'ConditionalCheckFailed') return false;
      throw error;
    }
  }
}
