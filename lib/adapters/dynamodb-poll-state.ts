import { ConditionalCheckFailedException } from '@aws-sdk/client-dynamodb';
import { BatchGetCommand, BatchWriteCommand, DeleteCommand, DynamoDBDocumentClient, GetCommand, PutCommand, UpdateCommand } from '@aws-sdk/lib-dynamodb';
import { z } from 'zod';
import { decodeSnapshot, emptySnapshot, encodeSnapshot, type Snapshot } from '../domain/snapshot';
import type { PollOutcome, PollState, PollStateStore } from '../ports';
import { conditionally } from './dynamodb-conditions';

/**
 * Poll state lives in the servers table beside the registration, as separate items, so PATCH never
 * overwrites it:
 * - `poll#<serverId>`: status shown by the API, the poll lease (`leaseOwner`, `leaseUntil` epoch ms),
 *   and `snapshotRef` = `<version>:<chunks>`;
 * - `snap#<serverId>#<version>#<n>`: the encoded snapshot in chunks of at most 350 KB (DynamoDB
 *   items hold 400 KB). A new snapshot is written under a new version before the state points at
 *   it, so a crash mid-write leaves the previous snapshot intact.
 * - `conn#<serverId>#<slot>`: connection slots (see DynamoConnectionSlots).
 */
const CHUNK_BYTES = 350_000;
const pollKey = (serverId: string) => `poll#${serverId}`;
const chunkKey = (serverId: string, version: string, index: number) => `snap#${serverId}#${version}#${index}`;

const StateItem = z.object({
  serverId: z.string(),
  lastPollAt: z.string().optional(),
  lastSuccessAt: z.string().optional(),
  lastError: z.object({ code: z.string(), message: z.string(), at: z.string() }).nullable().optional(),
  consecutiveFailures: z.number().default(0),
  nextPollAt: z.string().optional(),
  observedHostKey: z.string().optional(),
  snapshotRef: z.string().optional(),
  filesSeen: z.number().optional(),
  leaseUntil: z.number().optional(),
});

function toState(item: Record<string, unknown>): PollState {
  const { leaseUntil: _leaseUntil, ...state } = StateItem.parse(item);
  return state;
}

export type LeaseResult = PollState | 'busy' | 'not-due';

export class DynamoPollStateStore implements PollStateStore {
  private readonly documents: DynamoDBDocumentClient;
  private readonly table: string;

  constructor(options: { documents: DynamoDBDocumentClient; table: string }) {
    this.documents = options.documents;
    this.table = options.table;
  }

  /** Also refuses (as 'not-due') a server whose nextPollAt is after `dueBy`: backoff is enforced here. */
  async acquireLease(serverId: string, owner: string, leaseUntil: Date, dueBy?: Date): Promise<LeaseResult> {
    const now = Date.now();
    try {
      const { Attributes } = await this.documents.send(
        new UpdateCommand({
          TableName: this.table,
          Key: { pk: pollKey(serverId) },
          UpdateExpression:
            'SET leaseOwner = :owner, leaseUntil = :until, serverId = :serverId, consecutiveFailures = if_not_exists(consecutiveFailures, :zero)',
          ConditionExpression:
            '(attribute_not_exists(leaseUntil) OR leaseUntil < :now) AND (attribute_not_exists(nextPollAt) OR nextPollAt <= :dueBy)',
          ExpressionAttributeValues: {
            ':owner': owner,
            ':until': leaseUntil.getTime(),
            ':serverId': serverId,
            ':zero': 0,
            ':now': now,
            ':dueBy': (dueBy ?? new Date('9999-12-31T00:00:00Z')).toISOString(),
          },
          ReturnValues: 'ALL_NEW',
          ReturnValuesOnConditionCheckFailure: 'ALL_OLD',
        }),
      );
      return toState(Attributes!);
    } catch (error) {
      if (!(error instanceof ConditionalCheckFailedException)) throw error;
      const leaseUntilOld = Number((error.Item as Record<string, { N?: string }> | undefined)?.leaseUntil?.N ?? 0);
      return leaseUntilOld >= now ? 'busy' : 'not-due';
    }
  }

  async releaseLease(serverId: string, owner: string): Promise<void> {
    await conditionally(
      this.documents.send(
        new UpdateCommand({
          TableName: this.table,
          Key: { pk: pollKey(serverId) },
          UpdateExpression: 'REMOVE leaseOwner, leaseUntil',
          ConditionExpression: 'leaseOwner = :owner',
          ExpressionAttributeValues: { ':owner': owner },
        }),
      ),
    );
  }

  async loadSnapshot(state: PollState): Promise<Snapshot> {
    if (!state.snapshotRef) return emptySnapshot();
    const [version, chunkText] = state.snapshotRef.split(':');
    const keys = Array.from({ length: Number(chunkText) }, (_, index) => ({ pk: chunkKey(state.serverId, version!, index) }));
    const chunks = new Map<string, Uint8Array>();
    if (keys.length === 1) {
      const { Item } = await this.documents.send(new GetCommand({ TableName: this.table, Key: keys[0]!, ConsistentRead: true }));
      if (Item) chunks.set(String(Item.pk), Item.data as Uint8Array);
    } else {
      for (let start = 0; start < keys.length; start += 100) {
        let request: Record<string, { Keys: Record<string, unknown>[]; ConsistentRead: boolean }> | undefined = {
          [this.table]: { Keys: keys.slice(start, start + 100), ConsistentRead: true },
        };
        while (request && Object.keys(request).length > 0) {
          const response = await this.documents.send(new BatchGetCommand({ RequestItems: request }));
          for (const item of response.Responses?.[this.table] ?? []) chunks.set(String(item.pk), item.data as Uint8Array);
          request = response.UnprocessedKeys as typeof request;
        }
      }
    }
    const parts = keys.map((key) => chunks.get(key.pk));
    if (parts.some((part) => part === undefined)) return emptySnapshot(); // lost chunks: start afresh (ledger still dedups)
    return decodeSnapshot(Buffer.concat(parts as Uint8Array[]));
  }

  async finish(serverId: string, owner: string, outcome: PollOutcome, snapshot?: Snapshot): Promise<void> {
    let snapshotRef: string | undefined;
    if (snapshot) snapshotRef = await this.writeSnapshot(serverId, snapshot);
    let previousRef: string | undefined;
    try {
      const { Attributes } = await this.documents.send(
        new UpdateCommand({
          TableName: this.table,
          Key: { pk: pollKey(serverId) },
          UpdateExpression: [
            'SET lastPollAt = :lastPollAt, lastError = :lastError, consecutiveFailures = :failures, nextPollAt = :nextPollAt',
            outcome.filesSeen === undefined ? '' : ', filesSeen = :filesSeen',
            outcome.lastError === null ? ', lastSuccessAt = :lastPollAt' : '',
            snapshotRef ? ', snapshotRef = :snapshotRef' : '',
            ' REMOVE leaseOwner, leaseUntil',
          ].join(''),
          ConditionExpression: 'leaseOwner = :owner',
          ExpressionAttributeValues: {
            ':lastPollAt': outcome.lastPollAt,
            ':lastError': outcome.lastError,
            ':failures': outcome.consecutiveFailures,
            ':nextPollAt': outcome.nextPollAt,
            ':owner': owner,
            ...(outcome.filesSeen === undefined ? {} : { ':filesSeen': outcome.filesSeen }),
            ...(snapshotRef ? { ':snapshotRef': snapshotRef } : {}),
          },
          ReturnValues: snapshotRef ? 'UPDATED_OLD' : 'NONE',
        }),
      );
      previousRef = Attributes?.snapshotRef as string | undefined;
    } catch (error) {
      // Lease lost (this poll overran it): the new snapshot is discarded, the other poller's stands.
      if (snapshotRef) await this.deleteSnapshot(serverId, snapshotRef);
      if (error instanceof ConditionalCheckFailedException) return;
      throw error;
    }
    // The new snapshot is committed; an old one left behind is unreferenced, never read again, and
    // costs only its storage.
    if (previousRef && previousRef !== snapshotRef) await this.deleteSnapshot(serverId, previousRef).catch(() => {});
  }

  recordHostKey(serverId: string, fingerprint: string): Promise<boolean> {
    return conditionally(
      this.documents.send(
        new UpdateCommand({
          TableName: this.table,
          Key: { pk: pollKey(serverId) },
          UpdateExpression: 'SET observedHostKey = :key',
          ConditionExpression: 'attribute_not_exists(observedHostKey)',
          ExpressionAttributeValues: { ':key': fingerprint },
        }),
      ),
    );
  }

  async forgetHostKey(serverId: string): Promise<void> {
    // Conditional: an update of a missing item would create a bare one (a server never polled).
    await conditionally(
      this.documents.send(
        new UpdateCommand({ TableName: this.table, Key: { pk: pollKey(serverId) }, UpdateExpression: 'REMOVE observedHostKey', ConditionExpression: 'attribute_exists(pk)' }),
      ),
    );
  }

  async get(serverId: string): Promise<PollState | undefined> {
    const { Item } = await this.documents.send(new GetCommand({ TableName: this.table, Key: { pk: pollKey(serverId) } }));
    return Item ? toState(Item) : undefined;
  }

  async getMany(serverIds: string[]): Promise<Map<string, PollState>> {
    const states = new Map<string, PollState>();
    for (let start = 0; start < serverIds.length; start += 100) {
      let request: Record<string, { Keys: Record<string, unknown>[] }> | undefined = {
        [this.table]: { Keys: serverIds.slice(start, start + 100).map((id) => ({ pk: pollKey(id) })) },
      };
      while (request && Object.keys(request).length > 0) {
        const response = await this.documents.send(new BatchGetCommand({ RequestItems: request }));
        for (const item of response.Responses?.[this.table] ?? []) {
          const state = toState(item);
          states.set(state.serverId, state);
        }
        request = response.UnprocessedKeys as typeof request;
      }
    }
    return states;
  }

  /** Removes everything polling kept for a deleted server. */
  async forget(serverId: string): Promise<void> {
    const state = await this.get(serverId);
    if (state?.snapshotRef) await this.deleteSnapshot(serverId, state.snapshotRef);
    await this.documents.send(new DeleteCommand({ TableName: this.table, Key: { pk: pollKey(serverId) } }));
  }

  private async writeSnapshot(serverId: string, snapshot: Snapshot): Promise<string> {
    const encoded = encodeSnapshot(snapshot);
    const version = `${Date.now().toString(36)}${Math.random().toString(36).slice(2, 6)}`;
    const count = Math.max(1, Math.ceil(encoded.length / CHUNK_BYTES));
    for (let index = 0; index < count; index++) {
      await this.documents.send(
        new PutCommand({
          TableName: this.table,
          Item: { pk: chunkKey(serverId, version, index), data: encoded.subarray(index * CHUNK_BYTES, (index + 1) * CHUNK_BYTES) },
        }),
      );
    }
    return `${version}:${count}`;
  }

  private async deleteSnapshot(serverId: string, ref: string): Promise<void> {
    const [version, chunkText] = ref.split(':');
    const keys = Array.from({ length: Number(chunkText) }, (_, index) => ({ pk: chunkKey(serverId, version!, index) }));
    for (let start = 0; start < keys.length; start += 25) {
      await this.documents.send(
        new BatchWriteCommand({
          RequestItems: { [this.table]: keys.slice(start, start + 25).map((Key) => ({ DeleteRequest: { Key } })) },
        }),
      );
    }
  }
}
