import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { FileStatus, MultipartUploadInfo, NotifyJob, StaleFile, StaleFiles, TransferJob } from '../../lib/ports';
import { sweep, type SweepDeps } from '../../lib/use-cases/sweep';
import { RecordingLogger, RecordingQueue } from '../helpers/fakes';

const now = new Date('2026-11-26T12:00:00Z');
const ago = (seconds: number) => new Date(now.getTime() - seconds * 1000).toISOString();
const file = (fileId: string, statusSince: string, extra: Partial<StaleFile> = {}): StaleFile => ({ fileId, serverId: 's1', remotePath: `/in/${fileId}`, size: 10, mtime: 1, statusSince, ...extra });

class FakeStaleFiles implements StaleFiles {
  constructor(private readonly byStatus: Partial<Record<FileStatus, StaleFile[]>>) {}
  async list(status: FileStatus, since: Date, limit: number) {
    return (this.byStatus[status] ?? []).filter((entry) => entry.statusSince < since.toISOString()).slice(0, limit);
  }
  async uploadsInUse() {
    const inTransfer = (['pending', 'transferring', 'failed'] as const).flatMap((status) => this.byStatus[status] ?? []);
    return new Set(inTransfer.flatMap((entry) => (entry.uploadId ? [entry.uploadId] : [])));
  }
}

function deps(stale: StaleFiles, uploads: MultipartUploadInfo[] | 'unsupported' = []) {
  const aborted: string[] = [];
  const sweepDeps: SweepDeps = {
    stale,
    notifications: new RecordingQueue<NotifyJob>(),
    transfers: new RecordingQueue<TransferJob>(),
    store: {
      listMultipartUploads: async () => uploads,
      abortMultipartUpload: async (_key, uploadId) => void aborted.push(uploadId),
    },
    logger: new RecordingLogger(),
    notifyAfterSeconds: 120,
    transferStuckAfterSeconds: 1800,
    orphanUploadAfterSeconds: 24 * 3600,
    limit: 100,
  };
  return { sweepDeps, aborted, notifications: sweepDeps.notifications as RecordingQueue<NotifyJob>, transfers: sweepDeps.transfers as RecordingQueue<TransferJob> };
}

describe('sweep', () => {
  it('re-enqueues the notification of versions uploaded but unannounced for a while, except parked ones', async () => {
    const { sweepDeps, notifications } = deps(
      new FakeStaleFiles({ uploaded: [file('old', ago(600)), file('fresh', ago(10)), file('parked', ago(600), { notifyParked: true })] }),
    );
    const report = await sweep(sweepDeps, now);
    assert.deepEqual(notifications.messages.map(({ message }) => message.fileId), ['old']);
    assert.equal(report.renotified, 1);
  });

  it('re-enqueues transfers whose job was lost, leaving recent ones to their worker', async () => {
    const { sweepDeps, transfers } = deps(
      new FakeStaleFiles({
        pending: [file('never-enqueued', ago(4000)), file('just-found', ago(5))],
        transferring: [file('stuck', ago(7200)), file('busy', ago(60))],
        failed: [file('lost', ago(4000))],
      }),
    );
    await sweep(sweepDeps, now);
    assert.deepEqual(transfers.messages.map(({ message }) => message.fileId).sort(), ['lost', 'never-enqueued', 'stuck']);
    assert.deepEqual(transfers.messages.find(({ message }) => message.fileId === 'stuck')?.message, { fileId: 'stuck', serverId: 's1', remotePath: '/in/stuck', size: 10, mtime: 1 });
  });

  it('aborts old multipart uploads no live transfer owns, and only those', async () => {
    const day = 24 * 3600;
    // More versions in transfer than one sweep re-enqueues: the owner of an upload may be beyond that limit.
    const busy = Array.from({ length: 150 }, (_, index) => file(`busy-${index}`, ago(60)));
    const { sweepDeps, aborted } = deps(
      new FakeStaleFiles({ transferring: [...busy, file('live', ago(60), { uploadId: 'owned' })], pending: [file('released', ago(10), { uploadId: 'owned-pending' })] }),
      [
        { key: 'a', uploadId: 'orphan', initiated: new Date(ago(2 * day)) },
        { key: 'b', uploadId: 'owned', initiated: new Date(ago(3 * day)) },
        { key: 'c', uploadId: 'young', initiated: new Date(ago(3600)) },
        { key: 'd', uploadId: 'owned-pending', initiated: new Date(ago(2 * day)) },
      ],
    );
    const report = await sweep(sweepDeps, now);
    assert.deepEqual(aborted, ['orphan']);
    assert.equal(report.abortedUploads, 1);
  });

  it('says so when the store cannot list multipart uploads (fauxqs), and still does the rest', async () => {
    const { sweepDeps, notifications } = deps(new FakeStaleFiles({ uploaded: [file('old', ago(600))] }), 'unsupported');
    const report = await sweep(sweepDeps, now);
    assert.equal(report.abortedUploads, 'unsupported');
    assert.equal(notifications.messages.length, 1);
  });
});
