import { execFileSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { CreateServerInput } from '../lib/domain/server';
import type { PollTick } from '../lib/ports';
import { createServer } from '../lib/use-cases/servers';
import { startLocalStack } from '../scripts/local/stack';
import { RecordingQueue } from '../test/helpers/fakes';
import { isolatedContainer } from '../test/helpers/resources';
import { startSshd } from '../test/helpers/sshd';
import { bundleWorker, makeFile, MiB, workerRunner } from './worker';

/**
 * `tsx bench/profile-upload.ts [NAME=value,... per variant]`: one 1 GiB transfer per variant of the
 * transfer settings, over loopback SFTP and from local disk, to find where the upload's time goes.
 * A tool for changing the code; `npm run bench` is the measurement of record.
 */
const projectRoot = resolve(import.meta.dirname, '..');
const variants = process.argv.slice(2).map((arg) => Object.fromEntries(arg.split(',').filter(Boolean).map((pair) => [pair.slice(0, pair.indexOf('=')), pair.slice(pair.indexOf('=') + 1)] as [string, string])));
const dataDir = mkdtempSync(join(tmpdir(), 'sluice-profile-'));
const stack = await startLocalStack({
  projectRoot,
  dataDir: join(dataDir, 'stack'),
  env: { SLUICE_LOCAL_S3: 'minio', SLUICE_LOCAL_S3_PORT: '9310', PORT: '3310', SLUICE_LAMBDA_PORT: '3312', SLUICE_LOCAL_AWS_PORT: '4876', SLUICE_LOCAL_DYNAMODB_PORT: '8310', SLUICE_LOCAL_SECRETS_PORT: '4894', SLUICE_API_TOKEN: '' },
});
Object.assign(process.env, stack.env, { SLUICE_TEST_DATA_DIR: dataDir });
const sshd = await startSshd();
try {
  const dir = join(sshd.root, 'profile');
  mkdirSync(dir, { recursive: true, mode: 0o755 });
  const { container, prefix } = await isolatedContainer();
  const server = await createServer(
    CreateServerInput.parse({ name: `${prefix}-p`, host: '127.0.0.1', port: sshd.port, username: sshd.username, privateKey: sshd.privateKey, remoteDir: dir, hostKey: sshd.hostKey }),
    { ...container.serverDeps, ticks: new RecordingQueue<PollTick>() },
  );
  const workDir = mkdtempSync(join(tmpdir(), 'sluice-profile-worker-'));
  const worker = await bundleWorker(join(projectRoot, 'test/helpers/transfer-worker.ts'), join(workDir, 'w.cjs'));
  const runner = await workerRunner(projectRoot, workDir, container);
  const path = join(dir, 'one.bin');
  makeFile(path, 1024 * MiB);
  for (const variant of variants.length ? variants : [{}]) {
    for (const source of (process.env.SOURCES ?? 'local,sftp').split(',')) {
      const before = cpuByCommand();
      const result = await runner.run(worker, { JOB: JSON.stringify(await runner.jobFor(path, server, dir)) }, { ...variant, ...(source === 'local' ? { LOCAL_SOURCE: '1' } : {}) });
      const after = cpuByCommand();
      const others = Object.fromEntries([...after].map(([name, time]) => [name, Math.round(((time - (before.get(name) ?? 0)) / result.seconds) * 100)]).filter(([, share]) => Number(share) >= 3));
      console.log(JSON.stringify({ variant, source, mbps: Math.round(1024 / result.seconds), peakMiB: Math.round(result.peakMiB), cpuPercent: { worker: Math.round((result.cpuSeconds / result.seconds) * 100), ...others } }));
    }
  }
  writeFileSync(join(workDir, 'done'), '');
} finally {
  await sshd.dispose();
  await stack.stop();
}
process.exit(0);

/** Cumulative CPU seconds of every running process, summed by command name. */
function cpuByCommand(): Map<string, number> {
  const totals = new Map<string, number>();
  for (const line of execFileSync('ps', ['-eo', 'comm=,times='], { encoding: 'utf8' }).trim().split('\n')) {
    const [name, time] = line.trim().split(/\s+/) as [string, string];
    totals.set(name, (totals.get(name) ?? 0) + Number(time));
  }
  return totals;
}
