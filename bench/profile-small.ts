import { mkdirSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { CreateServerInput } from '../lib/domain/server';
import type { PollTick, TransferJob } from '../lib/ports';
import { createServer } from '../lib/use-cases/servers';
import { startLocalStack } from '../scripts/local/stack';
import { RecordingQueue } from '../test/helpers/fakes';
import { isolatedContainer } from '../test/helpers/resources';
import { startSshd } from '../test/helpers/sshd';
import { bundleWorker, workerRunner } from './worker';

/**
 * `tsx bench/profile-small.ts [LANES] [NODE_OPTIONS]`: 300 files of 4 KiB through the bundled
 * transfer worker (LANES concurrent, batches of ten sharing a connection), to see where a small
 * file's time goes. A tool for changing the code; `npm run bench` is the measurement of record.
 */
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
  const dir = join(sshd.root, 'small');
  mkdirSync(dir, { recursive: true, mode: 0o755 });
  const { container, prefix } = await isolatedContainer();
  const server = await createServer(
    CreateServerInput.parse({ name: `${prefix}-s`, host: '127.0.0.1', port: sshd.port, username: sshd.username, privateKey: sshd.privateKey, remoteDir: dir, hostKey: sshd.hostKey, maxConnections: 10 }),
    { ...container.serverDeps, ticks: new RecordingQueue<PollTick>() },
  );
  const workDir = mkdtempSync(join(tmpdir(), 'sluice-profile-worker-'));
  const worker = await bundleWorker(join(projectRoot, 'test/helpers/transfer-worker.ts'), join(workDir, 'w.cjs'));
  const runner = await workerRunner(projectRoot, workDir, container);
  const jobs: TransferJob[] = [];
  for (let index = 0; index < 300; index++) {
    const path = join(dir, `f${index}.dat`);
    writeFileSync(path, Buffer.alloc(4096, index));
    jobs.push(await runner.jobFor(path, server, dir));
  }
  writeFileSync(join(workDir, 'jobs.json'), JSON.stringify(jobs));
  const lanes = process.argv[2] ?? '1';
  const result = await runner.run(worker, { JOBS_FILE: join(workDir, 'jobs.json'), LANES: lanes }, { REPORT_REQUESTS: '1', BATCH_SIZE: process.env.BATCH_SIZE ?? '10', ...(process.argv[3] ? { NODE_OPTIONS: process.argv[3] } : {}) });
  console.log(JSON.stringify({ lanes, batchSize: process.env.BATCH_SIZE ?? '10', filesPerSecond: Math.round(300 / result.seconds), msPerFile: Math.round((result.seconds * 1000) / 300), cpuSeconds: result.cpuSeconds }));
  // Per file: how many requests of each kind, and how long each waited on average.
  for (const [command, stat] of Object.entries(result.requests ?? {}).sort((a, b) => b[1].ms - a[1].ms)) {
    console.log(`${command.padEnd(48)} ${(stat.count / 300).toFixed(2)} per file, ${(stat.ms / stat.count).toFixed(1)} ms each`);
  }
} finally {
  await sshd.dispose();
  await stack.stop();
}
process.exit(0);
