import { execFileSync, spawnSync } from 'node:child_process';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { CreateServerInput } from '../lib/domain/server';
import type { PollTick } from '../lib/ports';
import { pollServer } from '../lib/use-cases/poll';
import { createServer } from '../lib/use-cases/servers';
import { RecordingQueue } from '../scripts/fixtures/recording-queue';
import { countRequests, isolatedContainer, total } from '../scripts/fixtures/resources';
import type { Sshd } from '../scripts/fixtures/sshd';
import { median, timedOpenSshSftp, type BenchResult } from './stats';

/**
 * Poll of an unchanged 10,000-file directory (connect, authenticate, list, compare with the
 * snapshot, record the outcome) against OpenSSH `sftp` running `ls -l` on the same directory over
 * the same loopback sshd: wall time as a ratio, medians of `runs` runs.
 */
export async function benchUnchangedPoll(sshd: Sshd, keyFile: string, files = 10_000, runs = 7): Promise<BenchResult> {
  const dir = join(sshd.root, 'bench-poll');
  mkdirSync(dir, { recursive: true, mode: 0o755 });
  for (let index = 0; index < files; index++) writeFileSync(join(dir, `file-${String(index).padStart(5, '0')}.dat`), String(index));

  const { container } = await isolatedContainer();
  const server = await createServer(
    CreateServerInput.parse({
      name: `bench-poll-${process.pid}`,
      host: '127.0.0.1',
      port: sshd.port,
      username: sshd.username,
      privateKey: sshd.privateKey,
      remoteDir: dir,
      stableAfterSeconds: 0,
    }),
    { ...container.serverDeps, ticks: new RecordingQueue<PollTick>() },
  );
  let clockOffset = 0;
  const deps = { ...container.pollDeps, clock: { now: () => new Date(Date.now() + clockOffset) } };
  const poll = () => {
    clockOffset += 10_000;
    return pollServer({ serverId: server.id, dueAt: deps.clock.now().toISOString() }, deps);
  };
  await poll();
  await poll(); // takes all files

  const dynamo = countRequests(container.clients.dynamodb);
  const sqs = countRequests(container.clients.sqs);
  const pollTimes: number[] = [];
  for (let run = 0; run < runs; run++) {
    const started = process.hrtime.bigint();
    const result = await poll();
    pollTimes.push(Number(process.hrtime.bigint() - started) / 1e6);
    if (result.status !== 'polled' || result.enqueued !== 0 || result.listed !== files) throw new Error(`unexpected poll result ${JSON.stringify(result)}`);
  }
  const dynamoPerPoll = total(dynamo) / runs;
  const sqsPerPoll = total(sqs) / runs;

  const sftpTimes: number[] = [];
  for (let run = 0; run < runs; run++) {
    const { milliseconds, stdout } = await timedOpenSshSftp(sshd, keyFile, `ls -l ${dir}`);
    sftpTimes.push(milliseconds);
    const lines = stdout.split('\n').filter((line) => line.includes('file-')).length;
    if (lines !== files) throw new Error(`sftp listed ${lines} files`);
  }
  const pollMedian = median(pollTimes);
  const sftpMedian = median(sftpTimes);
  const sftpVersion = execFileSync('ssh', ['-V'], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] }).trim() || spawnSync('ssh', ['-V'], { encoding: 'utf8' }).stderr.trim();
  return {
    title: `Poll of an unchanged ${files.toLocaleString('en')}-file directory`,
    markdown: [
      `| measure | sluice poll | OpenSSH \`sftp\` \`ls -l\` | ratio (sluice / sftp) |`,
      '|---|---|---|---|',
      `| wall time, median of ${runs} (ms) | ${pollMedian.toFixed(0)} | ${sftpMedian.toFixed(0)} | ${(pollMedian / sftpMedian).toFixed(2)} |`,
      `| DynamoDB requests per poll | ${dynamoPerPoll} | — | — |`,
      `| SQS requests per poll | ${sqsPerPoll} | — | — |`,
      '',
      `All runs (ms): sluice ${pollTimes.map((time) => time.toFixed(0)).join(', ')}; sftp ${sftpTimes.map((time) => time.toFixed(0)).join(', ')}.`,
      `Both connect, authenticate with the same ed25519 key and list the same directory over loopback; sluice also`,
      `takes the poll lease and a connection slot, reads the snapshot and records the outcome (${[...dynamo.keys()].join(', ')}). Reference: ${sftpVersion || 'OpenSSH sftp'}.`,
    ].join('\n'),
  };
}
