import { execFileSync, spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { closeSync, mkdirSync, openSync, statSync, writeSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { DeleteObjectCommand } from '@aws-sdk/client-s3';
import { fileVersionId } from '../lib/domain/file-identity';
import { CreateServerInput } from '../lib/domain/server';
import type { PollTick, TransferJob } from '../lib/ports';
import { createServer } from '../lib/use-cases/servers';
import { RecordingQueue } from '../test/helpers/fakes';
import { isolatedContainer } from '../test/helpers/resources';
import type { Sshd } from '../test/helpers/sshd';
import { median, runCommand, timedOpenSshSftp, type BenchResult } from './stats';

const MiB = 1024 * 1024;
const projectRoot = resolve(import.meta.dirname, '..');

function makeFile(path: string, bytes: number): void {
  const fd = openSync(path, 'w', 0o644);
  const block = randomBytes(8 * MiB);
  for (let written = 0; written < bytes; written += block.length) writeSync(fd, block, 0, Math.min(block.length, bytes - written));
  closeSync(fd);
}

const seconds = (started: bigint) => Number(process.hrtime.bigint() - started) / 1e9;

/**
 * SFTP -> S3 emulator transfer of one large file: sluice against `rclone copyto` (defaults, and
 * tuned), and sluice's SFTP reader against OpenSSH `sftp get` to /dev/null; peak RSS of a transfer
 * process for several file sizes. Medians of `runs`.
 */
export async function benchTransfer(sshd: Sshd, keyFile: string, s3Endpoint: string, runs = 3): Promise<BenchResult> {
  const dir = join(sshd.root, 'bench-transfer');
  mkdirSync(dir, { recursive: true, mode: 0o755 });
  const { container, prefix } = await isolatedContainer();
  const server = await createServer(
    CreateServerInput.parse({ name: `${prefix}-bench`, host: '127.0.0.1', port: sshd.port, username: sshd.username, privateKey: sshd.privateKey, remoteDir: dir, hostKey: sshd.hostKey }),
    { ...container.serverDeps, ticks: new RecordingQueue<PollTick>() },
  );
  const bucket = container.config.S3_BUCKET;

  const jobFor = async (path: string): Promise<TransferJob> => {
    const stats = statSync(path);
    const file = { path, size: stats.size, mtime: Math.floor(stats.mtimeMs / 1000) };
    const fileId = fileVersionId(server.id, { ...file, mtime: file.mtime + Math.floor(Math.random() * 1e6) });
    await container.pollDeps.ledger.createIfAbsent({
      fileId, serverId: server.id, serverName: server.name, remotePath: path, relativePath: path.slice(dir.length + 1), size: file.size, mtime: file.mtime, discoveredAt: new Date().toISOString(),
    });
    return { fileId, serverId: server.id, remotePath: path, size: file.size, mtime: file.mtime };
  };
  const removeObject = (key: string) => container.clients.s3.send(new DeleteObjectCommand({ Bucket: bucket, Key: key }));

  const size = 1024 * MiB;
  const big = join(dir, 'one-gib.bin');
  makeFile(big, size);

  /**
   * One transfer in its own process, as on Lambda: the emulator shares this process's event loop,
   * so an in-process transfer would compete with it for one thread. Returns wall time and peak RSS.
   */
  const transferInChild = (job: TransferJob) =>
    new Promise<{ seconds: number; peakMiB: number }>((resolvePeak, reject) => {
      const started = process.hrtime.bigint();
      const child = spawn(process.execPath, ['--import', 'tsx', join(projectRoot, 'test/helpers/transfer-worker.ts')], {
        env: { ...process.env, ...Object.fromEntries(Object.entries(container.config).map(([name, value]) => [name, String(value)])), JOB: JSON.stringify(job), REPORT_RSS: '1' },
        stdio: ['ignore', 'pipe', 'inherit'],
      });
      let output = '';
      child.stdout!.on('data', (chunk: Buffer) => (output += chunk.toString()));
      child.on('exit', (code) => {
        const report = /"maxRssKiB":(\d+)/.exec(output);
        if (code !== 0 || !report) reject(new Error(`transfer worker failed: ${output}`));
        else resolvePeak({ seconds: seconds(started), peakMiB: Number(report[1]) / 1024 });
      });
    });

  const ours: number[] = [];
  let peakOneGiB = 0;
  for (let run = 0; run < runs; run++) {
    const job = await jobFor(big);
    const result = await transferInChild(job);
    ours.push(size / MiB / result.seconds);
    peakOneGiB = Math.max(peakOneGiB, result.peakMiB);
    await removeObject(`${server.keyPrefix}/one-gib.bin`);
  }

  // rclone's S3 client cannot combine AWS_CA_BUNDLE with its own transport; loopback HTTP needs none.
  const { AWS_CA_BUNDLE: _caBundle, ...inherited } = process.env;
  const rcloneEnv = {
    ...inherited,
    RCLONE_CONFIG_SRC_TYPE: 'sftp',
    RCLONE_CONFIG_SRC_HOST: '127.0.0.1',
    RCLONE_CONFIG_SRC_PORT: String(sshd.port),
    RCLONE_CONFIG_SRC_USER: sshd.username,
    RCLONE_CONFIG_SRC_KEY_FILE: keyFile,
    // The server is SFTP-only (as most ingestion servers are): rclone must not try remote shell commands.
    RCLONE_CONFIG_SRC_SHELL_TYPE: 'none',
    RCLONE_CONFIG_SRC_DISABLE_HASHCHECK: 'true',
    RCLONE_CONFIG_DST_TYPE: 's3',
    RCLONE_CONFIG_DST_PROVIDER: 'Other',
    RCLONE_CONFIG_DST_ENDPOINT: s3Endpoint,
    RCLONE_CONFIG_DST_ACCESS_KEY_ID: process.env.AWS_ACCESS_KEY_ID ?? 'x',
    RCLONE_CONFIG_DST_SECRET_ACCESS_KEY: process.env.AWS_SECRET_ACCESS_KEY ?? 'x',
    RCLONE_CONFIG_DST_REGION: 'us-east-1',
    RCLONE_CONFIG_DST_FORCE_PATH_STYLE: 'true',
  };
  const rcloneErrors = new Set<string>();
  /** MB/s per run; a run rclone cannot finish is reported with its error instead of a figure. */
  const rclone = async (extra: string[]) => {
    const times: number[] = [];
    for (let run = 0; run < runs; run++) {
      const started = process.hrtime.bigint();
      const result = await runCommand('rclone', ['copyto', '--retries', '1', `src:${big}`, `dst:${bucket}/rclone/one-gib.bin`, ...extra], { env: rcloneEnv, timeoutMs: 300_000 });
      if (result.status !== 0) {
        rcloneErrors.add(/ERROR : [^:]+: (.*)/.exec(result.stderr)?.[1]?.slice(0, 200) ?? `exit ${result.status}`);
        continue;
      }
      times.push(size / MiB / seconds(started));
      await runCommand('rclone', ['deletefile', `dst:${bucket}/rclone/one-gib.bin`], { env: rcloneEnv });
    }
    return times;
  };
  const rcloneDefault = await rclone([]);
  const tunedFlags = ['--s3-chunk-size', '10M', '--s3-upload-concurrency', '8', '--sftp-chunk-size', '255k'];
  const rcloneTuned = await rclone(tunedFlags);

  // SFTP read alone: sluice's pipelined reader vs OpenSSH sftp, both to nowhere.
  const readerRates: number[] = [];
  const record = (await container.serverDeps.servers.get(server.id))!;
  const credentials = await container.serverDeps.secrets.read(record.secretArn);
  for (let run = 0; run < runs; run++) {
    const { session } = await container.pollDeps.sftp.connect(record, credentials, sshd.hostKey);
    const started = process.hrtime.bigint();
    let bytes = 0;
    for await (const chunk of session.read(big, 0, size)) bytes += chunk.length;
    readerRates.push(bytes / MiB / seconds(started));
    await session.close();
  }
  const sftpRates: number[] = [];
  for (let run = 0; run < runs; run++) {
    const { milliseconds } = await timedOpenSshSftp(sshd, keyFile, `get ${big} /dev/null`);
    sftpRates.push(size / MiB / (milliseconds / 1000));
  }

  // Peak RSS of a whole transfer process (Node runtime included), per file size.
  const rss: { size: number; peakMiB: number }[] = [];
  for (const mib of [256]) {
    const path = join(dir, `rss-${mib}.bin`);
    makeFile(path, mib * MiB);
    const { peakMiB } = await transferInChild(await jobFor(path));
    rss.push({ size: mib, peakMiB });
    await removeObject(`${server.keyPrefix}/rss-${mib}.bin`);
  }
  rss.push({ size: 1024, peakMiB: peakOneGiB });

  const ratio = (a: number[], b: number[]) => (b.length ? (median(a) / median(b)).toFixed(2) : 'n/a');
  const list = (values: number[]) => (values.length ? values.map((value) => value.toFixed(0)).join(', ') : 'none completed');
  const rate = (values: number[]) => (values.length ? median(values).toFixed(0) : 'failed');
  const rcloneVersion = execFileSync('rclone', ['version'], { encoding: 'utf8' }).split('\n')[0];
  return {
    title: 'Transfer of a 1 GiB file, SFTP -> S3 emulator (fauxqs), loopback',
    markdown: [
      '| measure | sluice | reference | ratio (sluice / reference) |',
      '|---|---|---|---|',
      `| SFTP -> S3, MB/s (whole process, start-up included), median of ${runs} | ${median(ours).toFixed(0)} | rclone copyto, defaults: ${rate(rcloneDefault)} | ${ratio(ours, rcloneDefault)} |`,
      `| SFTP -> S3, MB/s (whole process, start-up included), median of ${runs} | ${median(ours).toFixed(0)} | rclone copyto, tuned: ${rate(rcloneTuned)} | ${ratio(ours, rcloneTuned)} |`,
      `| SFTP read to nowhere, MB/s | ${median(readerRates).toFixed(0)} | OpenSSH \`sftp\` get to /dev/null: ${median(sftpRates).toFixed(0)} | ${ratio(readerRates, sftpRates)} |`,
      '',
      `Runs (MB/s): sluice ${list(ours)}; rclone defaults ${list(rcloneDefault)}; rclone tuned (${tunedFlags.join(' ')}) ${list(rcloneTuned)};`,
      `sluice reader ${list(readerRates)}; sftp get ${list(sftpRates)}. sluice settings: part ${container.config.S3_PART_SIZE_MIB} MiB (max ${container.config.S3_MAX_PART_SIZE_MIB}), ${container.config.TRANSFER_PART_CONCURRENCY} parts in flight,`,
      'whole-file SHA-256 and per-part SHA-256 computed; each run also checkpoints every part in DynamoDB Local.',
      ...(rcloneErrors.size ? [`rclone runs that failed against the emulator: ${[...rcloneErrors].join('; ')}.`] : []),
      `Reference: ${rcloneVersion}. The emulator's own upload ceiling on this machine is about 100 MB/s, so both S3 rows measure it as much as the tools.`,
      '',
      '| file size | peak RSS of the transfer process (MiB) |',
      '|---|---|',
      ...rss.map((entry) => `| ${entry.size} MiB | ${entry.peakMiB.toFixed(0)} |`),
      '',
      'Peak RSS includes the Node runtime, the AWS SDK and tsx (about 100 MiB before any transfer). 4 GiB was not measured:',
      'fauxqs cannot store objects of 2 GiB or more.',
    ].join('\n'),
  };
}
