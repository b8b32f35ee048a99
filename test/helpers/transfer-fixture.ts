import { statSync, mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { GetItemCommand } from '@aws-sdk/client-dynamodb';
import { GetObjectCommand } from '@aws-sdk/client-s3';
import { DeleteMessageBatchCommand, ReceiveMessageCommand } from '@aws-sdk/client-sqs';
import { unmarshall } from '@aws-sdk/util-dynamodb';
import type { Container } from '../../lib/container';
import { fileVersionId } from '../../lib/domain/file-identity';
import { CreateServerInput } from '../../lib/domain/server';
import type { PollTick, TransferJob } from '../../lib/ports';
import { relativeTo } from '../../lib/domain/file-identity';
import { createServer } from '../../lib/use-cases/servers';
import type { TransferDeps } from '../../lib/use-cases/transfer';
import { RecordingQueue } from './fakes';
import { isolatedContainer } from '../../scripts/fixtures/resources';
import { startSshd, writeRemoteFile, type Sshd } from '../../scripts/fixtures/sshd';
import { startTcpProxy, type TcpProxy } from '../../scripts/fixtures/tcp-proxy';

export const MiB = 1024 * 1024;
/** The part size transfer tests use: S3's minimum, so a few MiB make a multipart upload. */
export const PART = 5 * MiB;

/**
 * What the transfer tests share: a loopback sshd behind a fault proxy, an isolated container on the
 * test stack, and helpers that register servers, detect files as the poller would and read back
 * what the transfer left in the ledger, the bucket and the queues.
 */
export class TransferFixture {
  private serverCount = 0;

  private constructor(
    readonly sshd: Sshd,
    readonly proxy: TcpProxy,
    readonly container: Container,
    readonly prefix: string,
    readonly queueUrls: Record<string, string>,
    readonly deps: TransferDeps,
  ) {}

  static async start(): Promise<TransferFixture> {
    const sshd = await startSshd();
    const proxy = await startTcpProxy(sshd.port);
    const { container, prefix, queueUrls } = await isolatedContainer();
    // A checkpoint per part: the resume tests need to know exactly which parts are recorded.
    const deps: TransferDeps = { ...container.transferDeps, minPartBytes: PART, maxPartBytes: PART, partConcurrency: 2, checkpointIntervalMs: 0, random: () => 0.5 };
    return new TransferFixture(sshd, proxy, container, prefix, queueUrls, deps);
  }

  async stop(): Promise<void> {
    await this.proxy.close();
    await this.sshd.dispose();
  }

  /** How many servers were registered so far (the last one's directory is `/transfer-<count>`). */
  get counter(): number {
    return this.serverCount;
  }

  queueUrl(suffix: 'transfer' | 'transfer-dlq' | 'notify'): string {
    return this.queueUrls[`${this.prefix}-${suffix}`]!;
  }

  /** A registered server (through the fault proxy) and a directory of its own. */
  async serverFor(fields: Record<string, unknown> = {}) {
    const dir = `/transfer-${++this.serverCount}`;
    mkdirSync(join(this.sshd.root, dir), { recursive: true, mode: 0o755 });
    const server = await createServer(
      CreateServerInput.parse({
        name: `${this.prefix}-xfer-${this.serverCount}`,
        host: '127.0.0.1',
        port: this.proxy.port,
        username: this.sshd.username,
        password: this.sshd.password,
        remoteDir: `${this.sshd.root}${dir}`,
        hostKey: this.sshd.hostKey,
        ...fields,
      }),
      { ...this.container.serverDeps, ticks: new RecordingQueue<PollTick>() },
    );
    return { server, dir };
  }

  /** Puts a file on the server (unless `content` is omitted: it is there) and its version in the ledger, as the poller would. */
  async detected(server: { id: string; name: string; remoteDir: string }, dir: string, name: string, content?: Buffer, relativePath?: string): Promise<TransferJob> {
    const path = content ? writeRemoteFile(this.sshd, `${dir}/${name}`, content) : join(this.sshd.root, dir, name);
    const stats = statSync(path);
    const file = { path, size: stats.size, mtime: Math.floor(stats.mtimeMs / 1000) };
    const fileId = fileVersionId(server.id, file);
    await this.container.pollDeps.ledger.createIfAbsent({
      fileId,
      serverId: server.id,
      serverName: server.name,
      remotePath: path,
      relativePath: relativePath ?? relativeTo(server.remoteDir, path),
      size: file.size,
      mtime: file.mtime,
      discoveredAt: new Date().toISOString(),
    });
    return { fileId, serverId: server.id, remotePath: path, size: file.size, mtime: file.mtime };
  }

  async ledgerEntry(fileId: string) {
    const { Item } = await this.container.clients.dynamodb.send(
      new GetItemCommand({ TableName: this.container.config.FILES_TABLE, Key: { fileId: { S: fileId } }, ConsistentRead: true }),
    );
    return Item ? unmarshall(Item) : undefined;
  }

  /** An SFTP session to a registered server, as a transfer opens it. */
  async openSession(serverId: string) {
    const record = (await this.container.serverDeps.servers.get(serverId))!;
    const credentials = await this.container.serverDeps.secrets.read(record.secretArn);
    return (await this.container.transferDeps.sftp.connect(record, credentials, this.sshd.hostKey)).session;
  }

  async objectBytes(key: string, versionId?: string): Promise<Buffer> {
    const { Body } = await this.container.clients.s3.send(new GetObjectCommand({ Bucket: this.container.config.S3_BUCKET, Key: key, VersionId: versionId }));
    return Buffer.from(await Body!.transformToByteArray());
  }

  /** The file ids of the jobs waiting on one of this container's queues (taken off it). */
  async drain(suffix: 'transfer' | 'transfer-dlq' | 'notify'): Promise<string[]> {
    const ids: string[] = [];
    while (true) {
      const { Messages = [] } = await this.container.clients.sqs.send(
        new ReceiveMessageCommand({ QueueUrl: this.queueUrl(suffix), MaxNumberOfMessages: 10, WaitTimeSeconds: 0, VisibilityTimeout: 30 }),
      );
      if (Messages.length === 0) return ids;
      ids.push(...Messages.map((message) => (JSON.parse(message.Body!) as { fileId: string }).fileId));
      // Deleted, not only hidden: a message hidden for 30 s came back into a later test's drain.
      await this.container.clients.sqs.send(
        new DeleteMessageBatchCommand({ QueueUrl: this.queueUrl(suffix), Entries: Messages.map((message, index) => ({ Id: String(index), ReceiptHandle: message.ReceiptHandle! })) }),
      );
    }
  }
}
