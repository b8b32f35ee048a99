import { BatchWriteItemCommand, ScanCommand, type AttributeValue, type DynamoDBClient, type WriteRequest } from '@aws-sdk/client-dynamodb';

type Item = Record<string, AttributeValue>;

/**
 * A copy of some of a table's items, as DynamoDB Local (which has no point-in-time recovery) can
 * take one: a scan. Restoring it makes those items what they were, as a restore to a new table
 * swapped in for the old one would (docs/BACKUP-RESTORE.md): items written since are deleted,
 * changed ones written back. `belongs` scopes both to what one test owns, so test files sharing
 * the stack do not see each other's rows go back in time.
 */
export interface TableBackup {
  table: string;
  key: string;
  items: Item[];
  belongs: (item: Item) => boolean;
}

async function scan(client: DynamoDBClient, table: string, belongs: (item: Item) => boolean): Promise<Item[]> {
  const items: Item[] = [];
  let start: Item | undefined;
  do {
    const page = await client.send(new ScanCommand({ TableName: table, ConsistentRead: true, ExclusiveStartKey: start }));
    items.push(...(page.Items ?? []).filter(belongs));
    start = page.LastEvaluatedKey;
  } while (start);
  return items;
}

export async function backupItems(client: DynamoDBClient, table: string, key: string, belongs: (item: Item) => boolean): Promise<TableBackup> {
  return { table, key, items: await scan(client, table, belongs), belongs };
}

/** Writes the backup's items back and deletes the items of its scope that it does not hold. */
export async function restoreItems(client: DynamoDBClient, backup: TableBackup): Promise<{ deleted: number; written: number }> {
  const keyOf = (item: Item) => item[backup.key]!.S!;
  const kept = new Set(backup.items.map(keyOf));
  const extra = (await scan(client, backup.table, backup.belongs)).filter((item) => !kept.has(keyOf(item)));
  const requests: WriteRequest[] = [
    ...extra.map((item): WriteRequest => ({ DeleteRequest: { Key: { [backup.key]: item[backup.key]! } } })),
    ...backup.items.map((item): WriteRequest => ({ PutRequest: { Item: item } })),
  ];
  for (let start = 0; start < requests.length; start += 25) {
    let pending: WriteRequest[] = requests.slice(start, start + 25);
    while (pending.length > 0) {
      const { UnprocessedItems } = await client.send(new BatchWriteItemCommand({ RequestItems: { [backup.table]: pending } }));
      pending = UnprocessedItems?.[backup.table] ?? [];
    }
  }
  return { deleted: extra.length, written: backup.items.length };
}
