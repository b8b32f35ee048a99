import { execFileSync, spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { closeSync, mkdirSync, mkdtempSync, openSync, rmSync, statSync, writeFileSync, writeSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { CreateBucketCommand, DeleteObjectCommand, S3Client } from '@aws-sdk/client-s3';
import { build } from 'esbuild';
import { fileVersionId } from '../lib/domain/file-identity';
import { CreateServerInput } from '../lib/domain/server';
import type { PollTick, TransferJob } from '../lib/ports';
import { createServer } from '../lib/use-cases/servers';
import { RecordingQueue } from '../test/helpers/fakes';
import { isolatedContainer } from '../test/helpers/resources';
import { freePort, type Sshd } from '../test/helpers/sshd';
import { startTcpProxy } from '../test/helpers/tcp-proxy';
import { startLocalS3AndSqs } from '../scripts/local/fauxqs';
import { resolveService } from '../scripts/local/provision';
import { renderPng } from './plot';
import { startS3XmlShim } from './s3-xml-shim';
import { median, rcloneEnvironment, runCommand, timedOpenSshSftp, type BenchResult } from './stats';

const MiB = 1024 * 1024;
const projectRoot = resolve(import.meta.dirname, '..');

function makeFile(path: string, bytes: number): void {
  const fd = openSync(path, 'w', 0o644);
  const block = randomBytes(8 * MiB);
  for (let written = 0; written < bytes; written += block.length) writeSync(fd, block, 0, Math.min(block.length, bytes - written));
  closeSync(fd);
}

const seconds = (started: bigint) => Number(process.hrtime.bigint() - started) / 1e9;
const list = (values: number[], digits = 0) => (values.length ? values.map((value) => value.toFixed(digits)).join(', ') : 'none completed');
const ratio = (a: number[], b: number[]) => (a.length && b.length ? (median(a) / median(b)).toFixed(2) : 'n/a');

/**
 * SFTP -> S3 emulator transfers, each tool measured in the same run against the same sshd and
 * emulator: one 1 GiB file over loopback and over a 20 ms round trip, 2,000 small files, the SFTP
 * reader alone against OpenSSH `sftp get`, and the peak RSS of the transfer process by file size.
 * sluice runs as the deployed bundle (esbuild, CommonJS) in a process of its own.
 */
export async function benchTransfer(sshd: Sshd, keyFile: string, s3Port: number, runs = 3): Promise<BenchResult[]> {
  const dir = join(sshd.root, 'bench-transfer');
  mkdirSync(dir, { recursive: true, mode: 0o755 });
  const { container, prefix } = await isolatedContainer();
  const server = await createServer(
    // Ten connections: one per concurrent worker in the 2,000-file run.
    CreateServerInput.parse({ name: `${prefix}-bench`, host: '127.0.0.1', port: sshd.port, username: sshd.username, privateKey: sshd.privateKey, remoteDir: dir, hostKey: sshd.hostKey, maxConnections: 10 }),
    { ...container.serverDeps, ticks: new RecordingQueue<PollTick>() },
  );
  const delay = await startTcpProxy(sshd.port);
  delay.delay(10); // each way: a 20 ms round trip
  const farServer = await createServer(
    CreateServerInput.parse({ name: `${prefix}-far`, host: '127.0.0.1', port: delay.port, username: sshd.username, privateKey: sshd.privateKey, remoteDir: dir, hostKey: sshd.hostKey }),
    { ...container.serverDeps, ticks: new RecordingQueue<PollTick>() },
  );
  const shim = await startS3XmlShim(s3Port);
  const bucket = container.config.S3_BUCKET;
  const workDir = mkdtempSync(join(tmpdir(), 'sluice-bench-worker-'));
  const worker = join(workDir, 'transfer-worker.cjs');
  await build({
    entryPoints: [join(projectRoot, 'test/helpers/transfer-worker.ts')],
    bundle: true,
    platform: 'node',
    format: 'cjs',
    target: 'node22',
    external: ['cpu-features', '*.node'],
    outfile: worker,
    logLevel: 'error',
  });

  const jobFor = async (path: string, target = server): Promise<TransferJob> => {
    const stats = statSync(path);
    const file = { path, size: stats.size, mtime: Math.floor(stats.mtimeMs / 1000) };
    // A fresh version id per run, so each run is a new transfer of the same bytes.
    const fileId = fileVersionId(target.id, { ...file, mtime: file.mtime + Math.floor(Math.random() * 1e9) });
    await container.pollDeps.ledger.createIfAbsent({
      fileId, serverId: target.id, serverName: target.name, remotePath: path, relativePath: path.slice(dir.length + 1), size: file.size, mtime: file.mtime, discoveredAt: new Date().toISOString(),
    });
    return { fileId, serverId: target.id, remotePath: path, size: file.size, mtime: file.mtime };
  };
  const removeObject = (key: string) => container.clients.s3.send(new DeleteObjectCommand({ Bucket: bucket, Key: key }));

  /** The bundled transfer function in its own process (the emulator runs in this one). */
  // As deployed: the transfer function's own environment from serverless.yml (NODE_OPTIONS, malloc tuning).
  const service = await resolveService(projectRoot, 'local', join(workDir, 'cache'));
  const functionEnv = service.functions.transfer?.environment ?? {};
  const nodeOptions = functionEnv.NODE_OPTIONS ?? '';
  const transferInChild = (jobs: { JOB: string } | { JOBS_FILE: string; LANES: string }, env: NodeJS.ProcessEnv = {}) =>
    new Promise<{ seconds: number; peakMiB: number }>((resolvePeak, reject) => {
      const started = process.hrtime.bigint();
      const child = spawn(process.execPath, [worker], {
        env: { ...process.env, ...functionEnv, ...Object.fromEntries(Object.entries(container.config).map(([name, value]) => [name, String(value)])), LOG_LEVEL: 'error', ...jobs, ...env, REPORT_RSS: '1' },
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

  const rcloneEnv = (sftpPort: number) => rcloneEnvironment({ ...sshd, port: sftpPort }, keyFile, shim.endpoint);
  const rcloneErrors = new Set<string>();
  /** Seconds per completed run of an rclone command; a run that fails is reported with its error. */
  const rclone = async (args: string[], sftpPort: number, cleanup: string[]) => {
    const times: number[] = [];
    for (let run = 0; run < runs; run++) {
      const started = process.hrtime.bigint();
      const result = await runCommand('rclone', ['--retries', '1', ...args], { env: rcloneEnv(sftpPort), timeoutMs: 600_000 });
      const elapsed = seconds(started);
      if (result.status !== 0) rcloneErrors.add(/ERROR : [^:]+: (.*)/.exec(result.stderr)?.[1]?.slice(0, 200) ?? `exit ${result.status}`);
      else times.push(elapsed);
      await runCommand('rclone', cleanup, { env: rcloneEnv(sftpPort) });
    }
    return times;
  };
  const tunedFlags = ['--s3-chunk-size', '10M', '--s3-upload-concurrency', '8', '--sftp-chunk-size', '255k', '--sftp-concurrency', '64'];

  const size = 1024 * MiB;
  const big = join(dir, 'one-gib.bin');
  makeFile(big, size);
  const rates = (times: number[], bytes = size) => times.map((time) => bytes / MiB / time);

  /** sluice: MB/s of each run, and the peak RSS seen. */
  const sluice = async (target: typeof server) => {
    const times: number[] = [];
    let peakMiB = 0;
    for (let run = 0; run < runs; run++) {
      const result = await transferInChild({ JOB: JSON.stringify(await jobFor(big, target)) });
      times.push(result.seconds);
      peakMiB = Math.max(peakMiB, result.peakMiB);
      await removeObject(`${target.keyPrefix}/one-gib.bin`);
    }
    return { times, peakMiB };
  };

  const near = await sluice(server);
  const copyBig = (port: number, extra: string[]) => rclone(['copyto', `src:${big}`, `dst:${bucket}/rclone/one-gib.bin`, ...extra], port, ['deletefile', `dst:${bucket}/rclone/one-gib.bin`]);
  const nearRcloneDefault = await copyBig(sshd.port, []);
  const nearRcloneTuned = await copyBig(sshd.port, tunedFlags);
  const far = await sluice(farServer);
  const farRcloneDefault = await copyBig(delay.port, []);
  const farRcloneTuned = await copyBig(delay.port, tunedFlags);

  // SFTP read alone: sluice's pipelined reader vs OpenSSH sftp, both to nowhere.
  const readerRates: number[] = [];
  const record = (await container.serverDeps.servers.get(server.id))!;
  const credentials = await container.serverDeps.secrets.read(record.secretArn);
  for (let run = 0; run < runs; run++) {
    const { session } = await container.pollDeps.sftp.connect(record, credentials, sshd.hostKey);
    const started = process.hrtime.bigint();
    let bytes = 0;
    for await (const chunk of session.read(big, 0, size, { lendChunks: true })) bytes += chunk.length;
    readerRates.push(bytes / MiB / seconds(started));
    await session.close();
  }
  const sftpRates: number[] = [];
  for (let run = 0; run < runs; run++) {
    const { milliseconds } = await timedOpenSshSftp(sshd, keyFile, `get ${big} /dev/null`);
    sftpRates.push(size / MiB / (milliseconds / 1000));
  }

  // Peak RSS and throughput of one transfer process by file size (1 GiB measured above).
  const bySize: { mib: number; rate: number; peakMiB: number }[] = [];
  for (const mib of [16, 256]) {
    const path = join(dir, `rss-${mib}.bin`);
    makeFile(path, mib * MiB);
    const result = await transferInChild({ JOB: JSON.stringify(await jobFor(path)) });
    bySize.push({ mib, rate: mib / result.seconds, peakMiB: result.peakMiB });
    await removeObject(`${server.keyPrefix}/rss-${mib}.bin`);
  }
  bySize.push({ mib: 1024, rate: median(rates(near.times)), peakMiB: near.peakMiB });
  // 4 GiB: fauxqs's file store fails at 2 GiB, so this one goes to a second fauxqs holding objects in
  // memory (about twice the object), started for this run only.
  const memoryS3 = await startLocalS3AndSqs({ port: await freePort() });
  try {
    const endpoint = `http://127.0.0.1:${memoryS3.port}`;
    const client = new S3Client({ region: 'us-east-1', endpoint, forcePathStyle: true });
    await client.send(new CreateBucketCommand({ Bucket: bucket }));
    client.destroy();
    const path = join(dir, 'rss-4096.bin');
    makeFile(path, 4096 * MiB);
    // fauxqs would store a tagging request as the object's body: no digest tag there.
    const result = await transferInChild({ JOB: JSON.stringify(await jobFor(path)) }, { AWS_ENDPOINT_URL_S3: endpoint, S3_OBJECT_TAGS: 'false' });
    bySize.push({ mib: 4096, rate: 4096 / result.seconds, peakMiB: result.peakMiB });
    rmSync(path);
  } catch (error) {
    console.log(`  4 GiB point not measured: ${error instanceof Error ? error.message.slice(0, 300) : String(error)}`);
  } finally {
    await memoryS3.stop();
  }

  // 2,000 small files: ten concurrent workers (the default transfer concurrency), batches of ten.
  const smallDir = join(dir, 'small');
  mkdirSync(smallDir, { recursive: true, mode: 0o755 });
  const smallCount = 2000;
  for (let index = 0; index < smallCount; index++) writeFileSync(join(smallDir, `f${index}.dat`), randomBytes(4096));
  const smallRuns: number[] = [];
  let smallFailure: string | undefined;
  try {
    for (let run = 0; run < runs; run++) {
      const jobs: TransferJob[] = [];
      for (let index = 0; index < smallCount; index += 50) {
        jobs.push(...(await Promise.all(Array.from({ length: Math.min(50, smallCount - index) }, (_, offset) => jobFor(join(smallDir, `f${index + offset}.dat`))))));
      }
      // A file, not the environment: 2,000 jobs exceed the kernel's limit on one variable (128 KiB).
      const jobsFile = join(workDir, 'jobs.json');
      writeFileSync(jobsFile, JSON.stringify(jobs));
      const result = await transferInChild({ JOBS_FILE: jobsFile, LANES: '10' });
      smallRuns.push(smallCount / result.seconds);
    }
  } catch (error) {
    smallFailure = error instanceof Error ? error.message.slice(0, 300) : String(error);
  }
  const copySmall = (extra: string[]) => rclone(['copy', `src:${smallDir}`, `dst:${bucket}/rclone-small`, ...extra], sshd.port, ['purge', `dst:${bucket}/rclone-small`]);
  const smallRcloneDefault = (await copySmall([])).map((time) => smallCount / time);
  const smallRcloneTuned = (await copySmall(['--transfers', '10', '--checkers', '16'])).map((time) => smallCount / time);

  await delay.close();
  await shim.close();

  const png = await renderPng({
    title: 'Transfer SFTP -> S3 emulator: throughput and peak RSS by size',
    xLabel: 'file size (MiB, log scale)',
    leftLabel: 'throughput (MB/s, whole process)',
    rightLabel: 'peak RSS of the transfer process (MiB)',
    xLog: true,
    series: [
      { name: 'throughput', axis: 'left', points: bySize.map((entry) => ({ x: entry.mib, y: entry.rate })) },
      { name: 'peak RSS', axis: 'right', points: bySize.map((entry) => ({ x: entry.mib, y: entry.peakMiB })) },
      { name: '160 MiB target', axis: 'right', reference: true, points: [{ x: 16, y: 160 }, { x: Math.max(...bySize.map((entry) => entry.mib)), y: 160 }] },
    ],
  });
  writeFileSync(join(projectRoot, 'docs/transfer-by-size.png'), png);

  const row = (label: string, ours: number[], theirs: number[], reference: string) =>
    `| ${label} | ${median(ours).toFixed(0)} | ${reference}: ${theirs.length ? median(theirs).toFixed(0) : 'failed'} | ${ratio(ours, theirs)} |`;
  const rcloneVersion = execFileSync('rclone', ['version'], { encoding: 'utf8' }).split('\n')[0];
  const config = container.config;
  return [
    {
      title: 'Transfer of a 1 GiB file, SFTP -> S3 emulator (fauxqs)',
      markdown: [
        `| measure (median of ${runs}) | sluice | reference | ratio (sluice / reference) |`,
        '|---|---|---|---|',
        row('loopback, MB/s', rates(near.times), rates(nearRcloneDefault), '`rclone copyto`, defaults'),
        row('loopback, MB/s', rates(near.times), rates(nearRcloneTuned), '`rclone copyto`, tuned'),
        row('20 ms round trip, MB/s', rates(far.times), rates(farRcloneDefault), '`rclone copyto`, defaults'),
        row('20 ms round trip, MB/s', rates(far.times), rates(farRcloneTuned), '`rclone copyto`, tuned'),
        row('SFTP read to nowhere, MB/s', readerRates, sftpRates, 'OpenSSH `sftp` get to /dev/null'),
        '',
        `Runs (MB/s): sluice loopback ${list(rates(near.times))}, 20 ms ${list(rates(far.times))}; rclone defaults loopback ${list(rates(nearRcloneDefault))}, 20 ms ${list(rates(farRcloneDefault))};`,
        `rclone tuned (${tunedFlags.join(' ')}) loopback ${list(rates(nearRcloneTuned))}, 20 ms ${list(rates(farRcloneTuned))}; sluice reader ${list(readerRates)}; sftp get ${list(sftpRates)}.`,
        `sluice: the bundled transfer function in its own process, start-up included; parts of ${config.S3_PART_SIZE_MIB} MiB (max ${config.S3_MAX_PART_SIZE_MIB}), ${config.TRANSFER_PART_CONCURRENCY} in flight,`,
        'whole-file and per-part SHA-256, a DynamoDB Local checkpoint per part. The 20 ms round trip is a delay proxy (10 ms each way) in front of sshd;',
        `over it sluice reads over up to ${config.SFTP_MAX_READ_CHANNELS} SFTP channels of one connection. ${rcloneVersion} writes through a loopback shim that fixes one XML`,
        "entity fauxqs cannot parse (bench/s3-xml-shim.ts); without it every rclone multipart copy fails. The emulator's own upload ceiling here is about",
        '100 MB/s and it shares the two cores with both tools, so the loopback rows measure it as much as the tools.',
        ...(rcloneErrors.size ? ['', `rclone runs that failed: ${[...rcloneErrors].join('; ')}.`] : []),
        '',
        'Commands (configuration by environment, see `rcloneEnvironment` in bench/stats.ts): `rclone copyto --retries 1 src:<file> dst:sluice-ingest/rclone/one-gib.bin [tuned flags]`;',
        `\`sftp -b - -P <port> -i <key> user@127.0.0.1\` with \`get <file> /dev/null\`; sluice: \`node transfer-worker.cjs\` with the job in \`JOB\` and the transfer function's environment from serverless.yml (\`NODE_OPTIONS=${nodeOptions}\`, glibc malloc settings).`,
      ].join('\n'),
    },
    {
      title: 'Peak memory and throughput by file size',
      markdown: [
        '| file size | throughput (MB/s) | peak RSS of the transfer process (MiB) |',
        '|---|---|---|',
        ...bySize.map((entry) => `| ${entry.mib} MiB | ${entry.rate.toFixed(0)} | ${entry.peakMiB.toFixed(0)} |`),
        '',
        '![throughput and peak RSS by file size](transfer-by-size.png)',
        '',
        `Peak RSS is the process's VmHWM: the Node runtime with the bundle loaded and the clients built is about 90 MiB before any transfer.`,
        `Memory is bounded by design: (part concurrency + 1) x part size of part buffers plus ${8 * 255} KiB of read buffers per SFTP channel, allocated once;`,
        "ssh2's native per-packet garbage is released by a young-generation collection every 4 MiB read and a full one every 256 MiB",
        '(lib/adapters/native-garbage.ts), and glibc malloc is tuned in the function environment (serverless.yml).',
        'S3 target: fauxqs with its file store, except 4 GiB: its file store fails at 2 GiB, so that point goes to a second fauxqs that keeps',
        'objects in memory (without the digest tag, which fauxqs cannot store). Missing sizes could not be measured in this run (see the console output).',
      ].join('\n'),
    },
    {
      title: '2,000 files of 4 KiB, SFTP -> S3 emulator',
      markdown: [
        `| measure (median of ${runs}) | sluice | reference | ratio (sluice / reference) |`,
        '|---|---|---|---|',
        `| files/s | ${smallRuns.length ? median(smallRuns).toFixed(0) : 'failed'} | \`rclone copy\`, defaults: ${smallRcloneDefault.length ? median(smallRcloneDefault).toFixed(0) : 'failed'} | ${ratio(smallRuns, smallRcloneDefault)} |`,
        `| files/s | ${smallRuns.length ? median(smallRuns).toFixed(0) : 'failed'} | \`rclone copy --transfers 10 --checkers 16\`: ${smallRcloneTuned.length ? median(smallRcloneTuned).toFixed(0) : 'failed'} | ${ratio(smallRuns, smallRcloneTuned)} |`,
        '',
        `Runs (files/s): sluice ${list(smallRuns)}; rclone defaults ${list(smallRcloneDefault)}; rclone tuned ${list(smallRcloneTuned)}.`,
        ...(smallFailure ? [`sluice's run failed: ${smallFailure}`] : []),
        'sluice: ten concurrent workers in one process (the default transfer concurrency; the server allows 10 connections), each taking batches',
        'of ten files that share one SFTP connection, as the transfer function does; every file is claimed, uploaded with its SHA-256, and recorded',
        'in the ledger (DynamoDB Local).',
      ].join('\n'),
    },
  ];
}
