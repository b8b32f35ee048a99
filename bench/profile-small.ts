import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { TransferJob } from '../lib/ports';
import { withProfileStack } from './profile-stack';

/**
 * `tsx bench/profile-small.ts [LANES] [NODE_OPTIONS]`: 300 files of 4 KiB through the bundled
 * transfer worker (LANES concurrent, batches of BATCH_SIZE sharing a connection), with the AWS and
 * SFTP requests per file and their waits, to see where a small file's time goes. A tool for
 * changing the code; `npm run bench` is the measurement of record.
 */
await withProfileStack('small', 10, async ({ dir, server, worker, runner }) => {
  const jobs: TransferJob[] = [];
  for (let index = 0; index < 300; index++) {
    const path = join(dir, `f${index}.dat`);
    writeFileSync(path, Buffer.alloc(4096, index));
    jobs.push(await runner.jobFor(path, server, dir));
  }
  const jobsFile = join(dir, '..', 'jobs.json');
  writeFileSync(jobsFile, JSON.stringify(jobs));
  const lanes = process.argv[2] ?? '1';
  const batchSize = process.env.BATCH_SIZE ?? '10';
  const result = await runner.run(worker, { JOBS_FILE: jobsFile, LANES: lanes }, { REPORT_REQUESTS: '1', BATCH_SIZE: batchSize, ...(process.argv[3] ? { NODE_OPTIONS: process.argv[3] } : {}) });
  console.log(JSON.stringify({ lanes, batchSize, filesPerSecond: Math.round(300 / result.seconds), msPerFile: Math.round((result.seconds * 1000) / 300), cpuSeconds: result.cpuSeconds }));
  // Per file: how many requests of each kind, and how long each waited on average.
  for (const [command, stat] of Object.entries(result.requests ?? {}).sort((a, b) => b[1].ms - a[1].ms)) {
    console.log(`${command.padEnd(48)} ${(stat.count / 300).toFixed(2)} per file, ${(stat.ms / stat.count).toFixed(1)} ms each`);
  }
});
process.exit(0);
