import { mkdirSync, mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import type { Container } from '../lib/container';
import { CreateServerInput, type ServerView } from '../lib/domain/server';
import type { PollTick } from '../lib/ports';
import { createServer } from '../lib/use-cases/servers';
import { startLocalStack } from '../scripts/local/stack';
import { RecordingQueue } from '../scripts/fixtures/recording-queue';
import { isolatedContainer } from '../scripts/fixtures/resources';
import { startSshd } from '../scripts/fixtures/sshd';
import { bundleWorker, workerRunner } from './worker';

export interface ProfileSetup {
  dir: string;
  server: ServerView;
  container: Container;
  worker: string;
  runner: Awaited<ReturnType<typeof workerRunner>>;
}

/**
 * What the profiling tools (bench/profile-*.ts) share: a private stack on MinIO, sshd on loopback,
 * one registered server over `dir`, and the bundled transfer worker; everything stopped afterwards.
 */
export async function withProfileStack(name: string, maxConnections: number, run: (setup: ProfileSetup) => Promise<void>): Promise<void> {
  const projectRoot = resolve(import.meta.dirname, '..');
  const dataDir = mkdtempSync(join(tmpdir(), 'sluice-profile-'));
  const stack = await startLocalStack({
    projectRoot,
    dataDir: join(dataDir, 'stack'),
    env: { SLUICE_LOCAL_S3: 'minio', SLUICE_LOCAL_S3_PORT: '9310', PORT: '3310', SLUICE_LAMBDA_PORT: '3312', SLUICE_LOCAL_AWS_PORT: '4876', SLUICE_LOCAL_DYNAMODB_PORT: '8310', SLUICE_LOCAL_SECRETS_PORT: '4894', SLUICE_API_TOKEN: '' },
  });
  Object.assign(process.env, stack.env, { SLUICE_TEST_DATA_DIR: dataDir });
  const sshd = await startSshd();
  try {
    const dir = join(sshd.root, name);
    mkdirSync(dir, { recursive: true, mode: 0o755 });
    const { container, prefix } = await isolatedContainer();
    const server = await createServer(
      CreateServerInput.parse({ name: `${prefix}-${name}`, host: '127.0.0.1', port: sshd.port, username: sshd.username, privateKey: sshd.privateKey, remoteDir: dir, hostKey: sshd.hostKey, maxConnections }),
      { ...container.serverDeps, ticks: new RecordingQueue<PollTick>() },
    );
    const workDir = mkdtempSync(join(tmpdir(), 'sluice-profile-worker-'));
    const worker = await bundleWorker(join(projectRoot, 'scripts/fixtures/transfer-worker.ts'), join(workDir, 'w.cjs'));
    await run({ dir, server, container, worker, runner: await workerRunner(projectRoot, workDir, container) });
  } finally {
    await sshd.dispose();
    await stack.stop();
  }
}
