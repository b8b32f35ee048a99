import { TransactionCanceledException, type DynamoDBClient } from '@aws-sdk/client-dynamodb';
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
 * - `count#servers`: how many servers there are, moved in the same transactions, so a cap
 *   (MAX_SERVERS) holds under concurrent creates. (A table from before the counter counts from its
 *   first create after the upgrade.)
 */
export const SERVERS_BY_ENTITY_INDEX = 'byEntity';

const serverKey = (id: string) => `server#${id}`;
const nameKey = (name: string) => `name#${name}`;
const COUNTER_KEY = 'count#servers';

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

  constructor(options: { client: DynamoDBClient; table: string }) {
    this.documents = DynamoDBDocumentClient.from(options.client, {
      marshallOptions: { removeUndefinedValues: true },
    });
    this.table = options.table;
  }

  async create(server: ServerRecord, options: { maxServers?: number } = {}): Promise<PutResult> {
    const counter = {
      Update: {
        TableName: this.table,
        Key: { pk: COUNTER_KEY },
        UpdateExpression: 'SET servers = if_not_exists(servers, :zero) + :one',
        ...(options.maxServers !== undefined ? { ConditionExpression: 'attribute_not_exists(servers) OR servers < :max' } : {}),
        ExpressionAttributeValues: { ':zero': 0, ':one': 1, ...(options.maxServers !== undefined ? { ':max': options.maxServers } : {}) },
      },
    };
    try {
      await this.documents.send(
        new TransactWriteCommand({
          TransactItems: [
            { Put: { TableName: this.table, Item: toItem(server), ConditionExpression: 'attribute_not_exists(pk)' } },
            {
              Put: {
                TableName: this.table,
                Item: { pk: nameKey(server.name), serverId: server.id },
                ConditionExpression: 'attribute_not_exists(pk)',
              },
            },
            counter,
          ],
        }),
      );
      return 'created';
    } catch (error) {
      const codes = cancellationCodes(error);
      if (codes?.[1] === 'ConditionalCheckFailed') return 'name-taken';
      if (codes?.[2] === 'ConditionalCheckFailed') return 'limit-reached';
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

  async update(server: ServerRecord, expectedVersion: number, previousName: string): Promise<UpdateResult> {
    const renamed = server.name !== previousName;
    try {
      await this.documents.send(
        new TransactWriteCommand({
          TransactItems: [
            {
              Put: {
                TableName: this.table,
                Item: toItem(server),
                ConditionExpression: 'attribute_exists(pk) AND version = :expected',
                ExpressionAttributeValues: { ':expected': expectedVersion },
              },
            },
            ...(renamed
              ? [
                  {
                    Put: {
                      TableName: this.table,
                      Item: { pk: nameKey(server.name), serverId: server.id },
                      ConditionExpression: 'attribute_not_exists(pk)',
                    },
                  },
                  {
                    Delete: {
                      TableName: this.table,
                      Key: { pk: nameKey(previousName) },
                      ConditionExpression: 'serverId = :id',
                      ExpressionAttributeValues: { ':id': server.id },
                    },
                  },
                ]
              : []),
          ],
        }),
      );
      return 'updated';
    } catch (error) {
      const codes = cancellationCodes(error);
      if (codes === undefined) throw error;
      if (codes[1] === 'ConditionalCheckFailed') return 'name-taken';
      if (codes[0] === 'ConditionalCheckFailed') return (await this.get(server.id)) ? 'stale' : 'missing';
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
