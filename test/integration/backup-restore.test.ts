import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { after, before, describe, it } from 'node:test';
import { ConditionalCheckFailedException, GetItemCommand, UpdateItemCommand, type AttributeValue } from '@aws-sdk/client-dynamodb';
import { DeleteSecretCommand } from '@aws-sdk/client-secrets-manager';
import {
  DeleteObjectCommand,
  GetBucketVersioningCommand,
  GetObjectCommand,
  HeadObjectCommand,
  ListObjectVersionsCommand,
  PutObjectCommand,
  S3Client,
  S3ServiceException,
} from '@aws-sdk/client-s3';
import type { ChannelModel } from 'amqplib';
import type { FileIngestedMessage } from '../../lib/ports';
import { api, dynamoClient, polledAgain, registerSshdServer, secretsClient, stage, waitForStack } from '../helpers/api';
import { backupItems, restoreItems, type TableBackup } from '../helpers/ledger-backup';
import { bindIngestedQueue } from '../helpers/rabbitmq';
import { startSshd, writeRemoteFile, type Sshd } from '../../scripts/fixtures/sshd';

/**
 * What a restore of the ledger does to ingestion and announcements (docs/BACKUP-RESTORE.md),
 * through the running stack: a real sshd, the stack's broker (every delivery recorded by AMQP
 * messageId), and its store (object versions on MinIO). DynamoDB Local has no point-in-time
 * recovery, so a backup is a scan of one server's items and a restore makes them what they were
 * (items written since deleted), as swapping in a table restored to that point would; scoped to the
 * test's own server because test files share the stack.
 */
const skipVersions = process.env.SLUICE_TEST_S3 === 'minio' ? false : 'needs a store that keeps object versions: run with SLUICE_TEST_S3=minio (npm run minio:install)';
const filesTable = `sluice-${stage()}-files`;
const serversTable = `sluice-${stage()}-servers`;
const bucket = process.env.S3_BUCKET ?? 'sluice-ingest';

let sshd: Sshd;
let broker: ChannelModel;
const dynamodb = dynamoClient();
const s3 = new S3Client({ region: 'us-east-1', forcePathStyle: true });
const secrets = secretsClient();
const servers: string[] = [];

interface Delivery {
  messageId: string;
  body: FileIngestedMessage;
}
/** Every file.ingested delivery on the stack's exchange, by fileId, in order. */
const deliveries = new Map<string, Delivery[]>();
const deliveriesOf = (fileId: string) => deliveries.get(fileId) ?? [];

before(async () => {
  sshd = await startSshd();
  broker = await bindIngestedQueue((message) => {
    const body = JSON.parse(message.content.toString()) as FileIngestedMessage;
    deliveries.set(body.fileId, [...deliveriesOf(body.fileId), { messageId: String(message.properties.messageId), body }]);
  });
});
after(async () => {
  for (const id of servers) await api('DELETE', `/servers/${id}`);
  await broker?.close();
  await sshd?.dispose();
  s3.destroy();
  dynamodb.destroy();
  secrets.destroy();
});

const waitFor = waitForStack;

async function register(dir: string): Promise<string> {
  const id = await registerSshdServer(sshd, dir, 'restore');
  servers.push(id);
  return id;
}

interface FileView {
  fileId: string;
  relativePath: string;
  status: string;
  versionId: string | null;
  sha256: string | null;
}

async function filesOf(serverId: string): Promise<FileView[]> {
  const page = await api('GET', `/files?serverId=${serverId}&limit=100`);
  assert.equal(page.status, 200, page.text);
  return page.json.items;
}

/** Waits until the version of `name` is notified and its announcement has arrived. */
const announced = (serverId: string, name: string, times = 1) =>
  waitFor(`${name} announced${times > 1 ? ` ${times} times` : ''}`, async () => {
    const file = (await filesOf(serverId)).find((candidate) => candidate.relativePath === name);
    return file?.status === 'notified' && deliveriesOf(file.fileId).length >= times ? file : undefined;
  });


/** A server's items in the servers table: record, claims, poll state, snapshot chunks, connection slots. */
const serverItems = (serverId: string) => (item: Record<string, AttributeValue>) => item.serverId?.S === serverId || (item.pk?.S ?? '').includes(serverId);
/** A server's items in the files table: its versions and its stats counters. */
const fileItems = (serverId: string) => (item: Record<string, AttributeValue>) => item.serverId?.S === serverId || (item.fileId?.S ?? '').startsWith(`stats#${serverId}`);

/**
 * Backs up the server's items at a moment no poll holds its lease: a restored poll state carrying a
 * live poller's lease would let that poller write its newer snapshot over the restored one (the
 * runbook pauses the pipeline for the same reason).
 */
async function backupLedger(serverId: string, tables: 'both' | 'files' | 'servers'): Promise<TableBackup[]> {
  return waitFor('a moment no poll holds the server', async () => {
    const state = await backupItems(dynamodb, serversTable, 'pk', serverItems(serverId));
    const poll = state.items.find((item) => item.pk?.S === `poll#${serverId}`);
    if (!poll || poll.leaseOwner) return undefined;
    const files = await backupItems(dynamodb, filesTable, 'fileId', fileItems(serverId));
    return { both: [state, files], files: [files], servers: [state] }[tables];
  });
}

async function restoreLedger(backups: TableBackup[]): Promise<void> {
  for (const backup of backups) await restoreItems(dynamodb, backup);
}

/** docs/BACKUP-RESTORE.md, "Reset the poll snapshots": the same update, made when no poll holds the lease. */
async function resetSnapshot(serverId: string): Promise<void> {
  await waitFor('the poll snapshot forgotten', async () => {
    try {
      await dynamodb.send(
        new UpdateItemCommand({
          TableName: serversTable,
          Key: { pk: { S: `poll#${serverId}` } },
          UpdateExpression: 'REMOVE snapshotRef',
          ConditionExpression: 'attribute_exists(pk) AND attribute_not_exists(leaseOwner)',
        }),
      );
      return true;
    } catch (error) {
      if (error instanceof ConditionalCheckFailedException) return undefined;
      throw error;
    }
  });
}

const sha256 = (data: Uint8Array) => createHash('sha256').update(data).digest('hex');

async function objectBytes(key: string, versionId?: string): Promise<Buffer> {
  const { Body } = await s3.send(new GetObjectCommand({ Bucket: bucket, Key: key, ...(versionId ? { VersionId: versionId } : {}) }));
  return Buffer.from(await Body!.transformToByteArray());
}

async function versionsOf(key: string): Promise<string[]> {
  const { Versions = [] } = await s3.send(new ListObjectVersionsCommand({ Bucket: bucket, Prefix: key }));
  return Versions.filter((version) => version.Key === key).map((version) => version.VersionId!);
}

/** The announcement's fields a re-ingestion of the same version keeps (all but versionId and ingestedAt). */
const sameVersion = ({ versionId: _versionId, ingestedAt: _ingestedAt, ...rest }: FileIngestedMessage) => rest;

describe('backup and restore through the running stack', () => {
  it('after the ledger is restored to an earlier point, a file ingested since is found again, stored again with its bytes and announced with its messageId; earlier files are not announced again; renotify since replays them all', async () => {
    const since = new Date().toISOString();
    writeRemoteFile(sshd, 'restore-both/a.csv', 'a,1\n');
    writeRemoteFile(sshd, 'restore-both/b.csv', 'b,2\n');
    const serverId = await register('restore-both');
    const a = await announced(serverId, 'a.csv');
    const b = await announced(serverId, 'b.csv');
    const backup = await backupLedger(serverId, 'both');

    const content = Buffer.from('c,3,ingested after the backup\n');
    writeRemoteFile(sshd, 'restore-both/c.csv', content);
    const c = await announced(serverId, 'c.csv');
    const [first] = deliveriesOf(c.fileId);
    assert.equal(first!.messageId, c.fileId);
    const key = first!.body.key;

    await restoreLedger(backup);
    assert.equal((await api('GET', `/files/${c.fileId}`)).status, 404, 'the restored ledger does not know c.csv');

    // The restored snapshot has not seen c.csv: the poller takes it again, the transfer stores it again.
    const again = await announced(serverId, 'c.csv', 2);
    const [, second] = deliveriesOf(c.fileId);
    assert.equal(again.fileId, c.fileId, 'the same version id: (server, path, size, mtime)');
    assert.equal(second!.messageId, first!.messageId, 'announced again with the same messageId');
    assert.deepEqual(sameVersion(second!.body), sameVersion(first!.body), 'same sha256, size, key and etag');
    assert.notEqual(second!.body.ingestedAt, first!.body.ingestedAt, 'ingested again');
    if (!skipVersions) {
      assert.ok(first!.body.versionId && second!.body.versionId && second!.body.versionId !== first!.body.versionId, 'a second object version');
      assert.deepEqual((await versionsOf(key)).sort(), [first!.body.versionId, second!.body.versionId].sort(), 'two versions of the key, no more');
      for (const delivery of [first!, second!]) assert.ok((await objectBytes(key, delivery.body.versionId)).equals(content), `version ${delivery.body.versionId} holds the file's bytes`);
      assert.equal(again.versionId, second!.body.versionId, 'the ledger records the new version');
    }
    assert.ok((await objectBytes(key)).equals(content));
    assert.equal(sha256(content), second!.body.sha256);

    await polledAgain(serverId, 2);
    assert.deepEqual([a, b, c].map((file) => deliveriesOf(file.fileId).length), [1, 1, 2], 'a.csv and b.csv were not announced again');

    const replay = await api('POST', `/servers/${serverId}/renotify?since=${encodeURIComponent(since)}`);
    assert.equal(replay.status, 202, replay.text);
    assert.deepEqual(replay.json, { queued: 3, complete: true });
    await waitFor('the replayed announcements', () => ([a, b].every((file) => deliveriesOf(file.fileId).length === 2) && deliveriesOf(c.fileId).length === 3 ? true : undefined));
    for (const file of [a, b]) {
      const [original, replayed] = deliveriesOf(file.fileId);
      assert.equal(replayed!.messageId, original!.messageId);
      assert.deepEqual(replayed!.body, original!.body, `${file.relativePath}: the restored ledger's message is the original`);
    }
    const replayed = deliveriesOf(c.fileId)[2]!;
    assert.equal(replayed.messageId, c.fileId);
    assert.deepEqual(replayed.body, second!.body, 'c.csv: the message of its second ingestion');
  });

  it('after the files table alone is restored, the poll snapshot keeps a file ingested since out of sight until it is reset; then it is found again and announced with its messageId, the others are not', async () => {
    writeRemoteFile(sshd, 'restore-files/d.csv', 'd,4\n');
    writeRemoteFile(sshd, 'restore-files/e.csv', 'e,5\n');
    const serverId = await register('restore-files');
    const d = await announced(serverId, 'd.csv');
    const e = await announced(serverId, 'e.csv');
    const backup = await backupLedger(serverId, 'files');

    writeRemoteFile(sshd, 'restore-files/f.csv', 'f,6,ingested after the backup\n');
    const f = await announced(serverId, 'f.csv');
    await restoreLedger(backup);

    await polledAgain(serverId, 2);
    assert.equal((await api('GET', `/files/${f.fileId}`)).status, 404, 'polls that still hold the snapshot do not look at f.csv');
    assert.equal(deliveriesOf(f.fileId).length, 1);

    await resetSnapshot(serverId);
    await announced(serverId, 'f.csv', 2);
    const [first, second] = deliveriesOf(f.fileId);
    assert.equal(second!.messageId, first!.messageId);
    assert.deepEqual(sameVersion(second!.body), sameVersion(first!.body));
    await polledAgain(serverId, 2);
    assert.deepEqual([d, e, f].map((file) => deliveriesOf(file.fileId).length), [1, 1, 2], 'd.csv and e.csv are in the ledger: not announced again');
  });

  it('after the servers table is restored to before a move, new credentials are stored and used though its secret is scheduled for deletion; so are new credentials for a secret deleted outright', async () => {
    writeRemoteFile(sshd, 'restore-servers/h.csv', 'h,8\n');
    const serverId = await register('restore-servers');
    await announced(serverId, 'h.csv');
    const backup = await backupLedger(serverId, 'servers');
    // A move writes the new destination's credentials to a secret of their own and schedules the old one's deletion.
    const moved = await api('PATCH', `/servers/${serverId}`, { body: { host: 'localhost', password: sshd.password } });
    assert.equal(moved.status, 200, moved.text);

    await restoreLedger(backup);
    const restored = await waitFor('a poll failing on the restored record\'s secret', async () => {
      const view = (await api('GET', `/servers/${serverId}`)).json;
      return view.lastError ? view : undefined;
    });
    assert.equal(restored.host, '127.0.0.1', 'the record as it was before the move');
    const fixed = await api('PATCH', `/servers/${serverId}`, { body: { password: sshd.password } });
    assert.equal(fixed.status, 200, fixed.text);
    writeRemoteFile(sshd, 'restore-servers/i.csv', 'i,9\n');
    await announced(serverId, 'i.csv');

    const { Item } = await dynamodb.send(new GetItemCommand({ TableName: serversTable, Key: { pk: { S: `server#${serverId}` } }, ConsistentRead: true }));
    await secrets.send(new DeleteSecretCommand({ SecretId: Item!.secretArn!.S!, ForceDeleteWithoutRecovery: true }));
    const recreated = await api('PATCH', `/servers/${serverId}`, { body: { password: sshd.password } });
    assert.equal(recreated.status, 200, recreated.text);
    writeRemoteFile(sshd, 'restore-servers/j.csv', 'j,10\n');
    await announced(serverId, 'j.csv');
    assert.equal((await api('GET', `/servers/${serverId}`)).json.lastError, null);
  });

  it('an announced object overwritten or deleted in the bucket is recovered through versioning: the announced version becomes current again', { skip: skipVersions }, async () => {
    const { Status } = await s3.send(new GetBucketVersioningCommand({ Bucket: bucket }));
    assert.equal(Status, 'Enabled', 'the test bucket is versioned, as the deployed one');
    const content = Buffer.from('g,7,the announced bytes\n');
    writeRemoteFile(sshd, 'versions/g.csv', content);
    const serverId = await register('versions');
    const g = await announced(serverId, 'g.csv');
    const { key, versionId, sha256: digest } = deliveriesOf(g.fileId)[0]!.body;
    assert.ok(versionId);
    const current = async () => (await s3.send(new HeadObjectCommand({ Bucket: bucket, Key: key }))).VersionId;

    const { VersionId: overwrite } = await s3.send(new PutObjectCommand({ Bucket: bucket, Key: key, Body: 'not the file' }));
    assert.notEqual(sha256(await objectBytes(key)), digest, 'the key now reads other bytes');
    assert.equal(sha256(await objectBytes(key, versionId)), digest, 'the announced version still holds the file');
    await s3.send(new DeleteObjectCommand({ Bucket: bucket, Key: key, VersionId: overwrite }));
    assert.equal(await current(), versionId, 'deleting the overwriting version makes the announced one current again');

    const { DeleteMarker, VersionId: marker } = await s3.send(new DeleteObjectCommand({ Bucket: bucket, Key: key }));
    assert.equal(DeleteMarker, true);
    await assert.rejects(objectBytes(key), (error: unknown) => error instanceof S3ServiceException && error.$metadata.httpStatusCode === 404);
    assert.equal(sha256(await objectBytes(key, versionId)), digest, 'a delete only hides it behind a delete marker');
    await s3.send(new DeleteObjectCommand({ Bucket: bucket, Key: key, VersionId: marker }));
    assert.equal(await current(), versionId, 'deleting the marker brings it back');
    assert.equal(sha256(await objectBytes(key)), digest);
    assert.deepEqual(await versionsOf(key), [versionId], 'nothing else left behind');
  });
});
