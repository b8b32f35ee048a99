import { randomBytes } from 'node:crypto';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Container } from '../lib/container';
import type { ServerView } from '../lib/domain/server';
import type { TransferJob } from '../lib/ports';
import type { Sshd } from '../scripts/fixtures/sshd';
import { median, rcloneEnvironment, runCommand, type BenchResult } from './stats';
import { seconds, type workerRunner } from './worker';

interface SmallFilesInput {
  dir: string;
  workDir: string;
  container: Container;
  server: ServerView;
  runner: Awaited<ReturnType<typeof workerRunner>>;
  worker: string;
  sshd: Sshd;
  keyFile: string;
  s3Endpoint: string;
  bucket: string;
  runs: number;
}

const list = (values: number[]) => (values.length ? values.map((value) => value.toFixed(0)).join(', ') : 'none completed');
const rate = (values: number[]) => (values.length ? median(values).toFixed(0) : 'failed');
const ratio = (a: number[], b: number[]) => (a.length && b.length ? (median(a) / median(b)).toFixed(2) : 'n/a');

/** 2,000 files of 4 KiB: ten concurrent transfer workers in one process against `rclone copy`. */
export async function benchSmallFiles(input: SmallFilesInput, count = 2000): Promise<BenchResult> {
  const { dir, runner } = input;
  const smallDir = join(dir, 'small');
  mkdirSync(smallDir, { recursive: true, mode: 0o755 });
  for (let index = 0; index < count; index++) writeFileSync(join(smallDir, `f${index}.dat`), randomBytes(4096));
  const ours: number[] = [];
  let failure: string | undefined;
  try {
    for (let run = 0; run < input.runs; run++) {
      const jobs: TransferJob[] = [];
      for (let index = 0; index < count; index += 50) {
        jobs.push(...(await Promise.all(Array.from({ length: Math.min(50, count - index) }, (_, offset) => runner.jobFor(join(smallDir, `f${index + offset}.dat`), input.server, dir)))));
      }
      // A file, not the environment: 2,000 jobs exceed the kernel's limit on one variable (128 KiB).
      const jobsFile = join(input.workDir, 'jobs.json');
      writeFileSync(jobsFile, JSON.stringify(jobs));
      const result = await runner.run(input.worker, { JOBS_FILE: jobsFile, LANES: '10' }, { BATCH_SIZE: String(runner.batchSize) });
      ours.push(count / result.seconds);
    }
  } catch (error) {
    failure = error instanceof Error ? error.message.slice(0, 300) : String(error);
  }
  const env = rcloneEnvironment(input.sshd, input.keyFile, input.s3Endpoint);
  const rclone = async (flags: string[]) => {
    const rates: number[] = [];
    for (let run = 0; run < input.runs; run++) {
      const started = process.hrtime.bigint();
      const result = await runCommand('rclone', ['copy', '--retries', '1', `src:${smallDir}`, `dst:${input.bucket}/rclone-small`, ...flags], { env });
      if (result.status === 0) rates.push(count / seconds(started));
      await runCommand('rclone', ['purge', `dst:${input.bucket}/rclone-small`], { env });
    }
    return rates;
  };
  const defaults = await rclone([]);
  const tuned = await rclone(['--transfers', '10', '--checkers', '16']);
  return {
    title: '2,000 files of 4 KiB, SFTP -> MinIO',
    markdown: [
      `| measure (median of ${input.runs}) | sluice | reference | ratio (sluice / reference) |`,
      '|---|---|---|---|',
      `| files/s | ${rate(ours)} | \`rclone copy\`, defaults: ${rate(defaults)} | ${ratio(ours, defaults)} |`,
      `| files/s | ${rate(ours)} | \`rclone copy --transfers 10 --checkers 16\`: ${rate(tuned)} | ${ratio(ours, tuned)} |`,
      '',
      `Runs (files/s): sluice ${list(ours)}; rclone defaults ${list(defaults)}; rclone tuned ${list(tuned)}.`,
      ...(failure ? [`sluice's run failed: ${failure}`] : []),
      'sluice: ten concurrent workers in one process (the default transfer concurrency; the server allows 10 connections), each taking batches',
      `of ${runner.batchSize} files that share one SFTP connection, as the transfer function does; every file is claimed, uploaded with its SHA-256, and recorded`,
      'in the ledger (DynamoDB Local). The bucket is versioned.',
    ].join('\n'),
  };
}
