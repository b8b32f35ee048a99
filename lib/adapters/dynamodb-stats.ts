import { BatchGetCommand, DynamoDBDocumentClient, GetCommand, UpdateCommand } from '@aws-sdk/lib-dynamodb';
import { FILE_STATUSES } from '../domain/file-version';
import { snapshotOf, StatsDeltas, windowHours, type Counters, type StatsScope, type StatsSnapshot } from '../domain/stats';
import type { FileStatus, Logger, StatsReader, StatsReconciler, StatsRecorder } from '../ports';
import { conditionally } from './dynamodb-conditions';
import { queryPages } from './dynamodb-pages';

/** Hourly items outlive the 24 h window by a day, then DynamoDB's TTL removes them. */
const HOUR_ITEM_TTL_SECONDS = 48 * 3600;

/**
 * Stats items in the files table, keyed `stats#all`, `stats#<serverId>`, `stats#all#<hour>` and
 * `stats#<serverId>#<hour>` (hour `yyyy-mm-ddThh`, UTC). They carry neither `serverId` nor `status`,
 * so no index of the table sees them. Each flush is one `ADD` UpdateItem per touched item: commutative,
 * so concurrent functions never lose each other's deltas.
 */
export function statsKey(scope: StatsScope): string {
  return `stats#${scope.serverId ?? 'all'}${scope.hour ? `#${scope.hour}` : ''}`;
}

export class DynamoStats implements StatsRecorder, StatsReader {
  private readonly documents: DynamoDBDocumentClient;
  private readonly deltas = new StatsDeltas();

  constructor(private readonly options: { documents: DynamoDBDocumentClient; table: string; logger?: Logger }) {
    this.documents = options.documents;
  }

  transition(serverId: string, from: FileStatus | undefined, to: FileStatus): void {
    this.deltas.transition(serverId, from, to);
  }

  ingested(serverId: string, bytes: number, at: Date): void {
    this.deltas.ingested(serverId, bytes, at);
  }

  failure(serverId: string, code: string, at: Date): void {
    this.deltas.failure(serverId, code, at);
  }

  notified(serverId: string, detectToNotifySeconds: number): void {
    this.deltas.notified(serverId, detectToNotifySeconds);
  }

  /** Never throws: stats must not fail the work they count. What was not written waits for the next flush. */
  async flush(): Promise<void> {
    const items = this.deltas.drain();
    const failed: typeof items = [];
    await Promise.all(
      items.map(async (item) => {
        try {
          await writeCounters(this.documents, this.options.table, item.scope, item.counters);
        } catch (error) {
          failed.push(item);
          this.options.logger?.warn('stats_flush_failed', { item: statsKey(item.scope), error: String(error) });
        }
      }),
    );
    this.deltas.restore(failed);
  }

  /** Two requests whatever the history: one GetItem and one BatchGetItem of the window's 24 hourly items. */
  async read(serverId: string | undefined, now: Date): Promise<StatsSnapshot> {
    const hours = windowHours(now);
    const [total, hourly] = await Promise.all([
      this.documents.send(new GetCommand({ TableName: this.options.table, Key: { fileId: statsKey({ serverId }) } })).then(({ Item }) => Item),
      batchGet(this.documents, this.options.table, hours.map((hour) => statsKey({ serverId, hour }))),
    ]);
    // BatchGetItem answers in no particular order: each hourly item is matched to its hour by key.
    const byKey = new Map(hourly.map((item) => [item.fileId, numbersOf(item)]));
    return snapshotOf(serverId, numbersOf(total), hours.map((hour) => ({ hour, counters: byKey.get(statsKey({ serverId, hour })) })));
  }
}

/** One `ADD` UpdateItem of an item's deltas (hourly items also get their expiry). */
async function writeCounters(documents: DynamoDBDocumentClient, table: string, scope: StatsScope, counters: Counters): Promise<void> {
  const names: Record<string, string> = {};
  const values: Record<string, number> = {};
  const adds = Object.entries(counters)
    .filter(([, value]) => value !== 0)
    .map(([name, value], index) => {
      names[`#a${index}`] = name;
      values[`:a${index}`] = value;
      return `#a${index} :a${index}`;
    });
  if (adds.length === 0) return;
  const hourly = scope.hour !== undefined;
  if (hourly) values[':expires'] = Math.floor(Date.parse(`${scope.hour}:00:00Z`) / 1000) + HOUR_ITEM_TTL_SECONDS;
  await documents.send(
    new UpdateCommand({
      TableName: table,
      Key: { fileId: statsKey(scope) },
      UpdateExpression: `ADD ${adds.join(', ')}${hourly ? ' SET expiresAt = :expires' : ''}`,
      ExpressionAttributeNames: names,
      ExpressionAttributeValues: values,
    }),
  );
}

async function batchGet(documents: DynamoDBDocumentClient, table: string, keys: string[]): Promise<Record<string, unknown>[]> {
  const found: Record<string, unknown>[] = [];
  let request: Record<string, { Keys: Record<string, unknown>[] }> | undefined = { [table]: { Keys: keys.map((fileId) => ({ fileId })) } };
  while (request && Object.keys(request).length > 0) {
    const response = await documents.send(new BatchGetCommand({ RequestItems: request }));
    found.push(...(response.Responses?.[table] ?? []));
    request = response.UnprocessedKeys as typeof request;
  }
  return found;
}

function numbersOf(item: Record<string, unknown> | undefined): Counters | undefined {
  if (!item) return undefined;
  return Object.fromEntries(Object.entries(item).filter((entry): entry is [string, number] => typeof entry[1] === 'number'));
}

/** The reconcile's claim: one item, its time moved forward conditionally. */
const RECONCILE_KEY = 'stats#reconcile';

export class DynamoStatsReconciler implements StatsReconciler {
  private readonly documents: DynamoDBDocumentClient;

  constructor(private readonly options: { documents: DynamoDBDocumentClient; table: string }) {
    this.documents = options.documents;
  }

  claimReconcile(now: Date, intervalSeconds: number): Promise<boolean> {
    return conditionally(
      this.documents.send(
        new UpdateCommand({
          TableName: this.options.table,
          Key: { fileId: RECONCILE_KEY },
          UpdateExpression: 'SET reconciledAt = :now',
          ConditionExpression: 'attribute_not_exists(reconciledAt) OR reconciledAt <= :due',
          ExpressionAttributeValues: { ':now': now.getTime(), ':due': now.getTime() - intervalSeconds * 1000 },
        }),
      ),
    );
  }

  async storedCounts(serverIds: string[]): Promise<Map<string, Record<FileStatus, number>>> {
    const stored = new Map<string, Record<FileStatus, number>>();
    for (let start = 0; start < serverIds.length; start += 100) {
      const chunk = serverIds.slice(start, start + 100);
      const items = new Map((await batchGet(this.documents, this.options.table, chunk.map((serverId) => statsKey({ serverId })))).map((item) => [String(item.fileId), item]));
      for (const serverId of chunk) {
        const item = items.get(statsKey({ serverId }));
        stored.set(serverId, Object.fromEntries(FILE_STATUSES.map((status) => [status, Number(item?.[`s_${status}`] ?? 0)])) as Record<FileStatus, number>);
      }
    }
    return stored;
  }

  /** Reads the server's whole history (byServer projects every attribute; only `status` is returned). */
  async countVersions(serverId: string, deadline: Date): Promise<Record<FileStatus, number> | undefined> {
    const counts = Object.fromEntries(FILE_STATUSES.map((status) => [status, 0])) as Record<FileStatus, number>;
    if (Date.now() > deadline.getTime()) return undefined;
    const pages = queryPages(this.documents, {
      TableName: this.options.table,
      IndexName: 'byServer',
      KeyConditionExpression: 'serverId = :serverId',
      ProjectionExpression: '#status',
      ExpressionAttributeNames: { '#status': 'status' },
      ExpressionAttributeValues: { ':serverId': serverId },
    });
    for await (const items of pages) {
      for (const item of items) {
        const status = item.status as FileStatus;
        if (status in counts) counts[status]++;
      }
      if (Date.now() > deadline.getTime()) return undefined;
    }
    return counts;
  }

  async correct(serverId: string, delta: Partial<Record<FileStatus, number>>): Promise<void> {
    const deltas = new StatsDeltas();
    for (const [status, value] of Object.entries(delta)) deltas.adjust(serverId, status as FileStatus, value);
    for (const { scope, counters } of deltas.drain()) await writeCounters(this.documents, this.options.table, scope, counters);
  }
}
