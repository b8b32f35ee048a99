import { execFileSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { connect } from 'amqplib';
import type { LocalStack } from '../scripts/local/stack';
import type { Sshd } from '../test/helpers/sshd';
import { median, percentile, rcloneEnvironment, runCommand, type BenchResult } from './stats';

/**
 * The whole pipeline on the running local stack (scheduler, poll workers, transfer, notifier under
 * serverless-offline, default settings): how long from a file being fully written to its AMQP
 * message, and how many small files per second end to end against `rclone copy` of the same
 * directory. Messages go to the bench's own exchange on the local RabbitMQ.
 */
export async function benchPipeline(stack: LocalStack, sshd: Sshd, keyFile: string, amqpUrl: string, exchange: string): Promise<BenchResult> {
  const connection = await connect(amqpUrl);
  const channel = await connection.createChannel();
  await channel.assertExchange(exchange, 'topic', { durable: true });
  const { queue } = await channel.assertQueue('', { exclusive: true });
  await channel.bindQueue(queue, exchange, 'file.ingested');
  const arrivals = new Map<string, number>();
  await channel.consume(queue, (message) => {
    if (!message) return;
    const { remotePath } = JSON.parse(message.content.toString()) as { remotePath: string };
    if (!arrivals.has(remotePath)) arrivals.set(remotePath, Date.now());
  }, { noAck: true });

  const register = async (name: string, remoteDir: string) => {
    const response = await fetch(`${stack.apiUrl}/servers`, {
      method: 'POST',
      headers: { authorization: `Bearer ${stack.apiToken}`, 'content-type': 'application/json' },
      // Four connections, as rclone's default four transfers.
      body: JSON.stringify({ name, host: '127.0.0.1', port: sshd.port, username: sshd.username, privateKey: sshd.privateKey, remoteDir, hostKey: sshd.hostKey, maxConnections: 4 }),
    });
    if (response.status !== 201) throw new Error(`register failed: ${response.status} ${await response.text()}`);
  };
  const until = async (done: () => boolean, timeoutMs: number) => {
    const deadline = Date.now() + timeoutMs;
    while (!done()) {
      if (Date.now() > deadline) throw new Error('pipeline benchmark timed out');
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
  };

  // RSS of the product's own processes: this one (it hosts the local Lambda runtime's environments)
  // and serverless-offline with its children; not the stand-ins, RabbitMQ or sshd.
  const rssSamples: number[] = [];
  const idleRss = productRssMiB();
  const sampler = setInterval(() => rssSamples.push(productRssMiB()), 1000);

  // Latency: 200 small files written over ~40 s into a polled directory (default 5 s interval and
  // 5 s stability), each timed from the end of its write to its message.
  const latencyDir = join(sshd.root, 'bench-latency');
  mkdirSync(latencyDir, { recursive: true, mode: 0o755 });
  await register(`bench-latency-${randomBytes(3).toString('hex')}`, latencyDir);
  const written = new Map<string, number>();
  for (let index = 0; index < 200; index++) {
    const path = join(latencyDir, `l${index}.dat`);
    writeFileSync(path, randomBytes(4096));
    written.set(path, Date.now());
    await new Promise((resolve) => setTimeout(resolve, 200));
  }
  await until(() => [...written.keys()].every((path) => arrivals.has(path)), 180_000);
  const latencies = [...written].map(([path, at]) => (arrivals.get(path)! - at) / 1000);

  // Throughput: 2,000 files of 4 KiB already in place when the server is registered.
  const manyDir = join(sshd.root, 'bench-many');
  mkdirSync(manyDir, { recursive: true, mode: 0o755 });
  const count = 2000;
  for (let index = 0; index < count; index++) writeFileSync(join(manyDir, `m${index}.dat`), randomBytes(4096));
  const started = Date.now();
  await register(`bench-many-${randomBytes(3).toString('hex')}`, manyDir);
  await until(() => [...arrivals.keys()].filter((path) => path.startsWith(manyDir)).length === count, 900_000);
  const ours = count / ((Date.now() - started) / 1000);
  clearInterval(sampler);
  const afterRss = productRssMiB();
  await connection.close();

  const env = rcloneEnvironment(sshd, keyFile, stack.endpoints.s3);
  const theirs: number[] = [];
  for (let run = 0; run < 3; run++) {
    const copyStarted = Date.now();
    const result = await runCommand('rclone', ['copy', `src:${manyDir}`, `dst:sluice-ingest/rclone-pipeline`], { env });
    if (result.status === 0) theirs.push(count / ((Date.now() - copyStarted) / 1000));
    await runCommand('rclone', ['purge', 'dst:sluice-ingest/rclone-pipeline'], { env });
  }

  return {
    title: 'Whole pipeline on the local stack: detection to notification',
    markdown: [
      '| measure | sluice | reference | ratio |',
      '|---|---|---|---|',
      `| file written -> AMQP message, p50 (s), 200 files | ${percentile(latencies, 0.5).toFixed(1)} | — | — |`,
      `| file written -> AMQP message, p99 (s), 200 files | ${percentile(latencies, 0.99).toFixed(1)} | — | — |`,
      `| RSS of sluice's own processes (MiB): idle before / peak / right after | ${idleRss.toFixed(0)} / ${Math.max(...rssSamples).toFixed(0)} / ${afterRss.toFixed(0)} | — | — |`,
      `| 2,000 × 4 KiB, files/s end to end | ${ours.toFixed(0)} | \`rclone copy\` (defaults, median of 3): ${theirs.length ? median(theirs).toFixed(0) : 'failed'} | ${theirs.length ? (ours / median(theirs)).toFixed(2) : 'n/a'} |`,
      '',
      'Default settings: a 5 s poll interval and 5 s `stableAfterSeconds`, so a file is taken once two listings at least 5 s apart',
      'saw it unchanged; the latency floor is therefore 5-10 s by design. sluice end to end = registration -> the 2,000th message: poll,',
      'dedup lock and enqueue in DynamoDB/SQS, transfer (claim, SHA-256, upload, ledger), and a confirmed AMQP publish per file, all through',
      'serverless-offline (HTTP) and the local Lambda runtime (queue and scheduled functions) on the same two cores. The servers allow 4 SFTP connections (`maxConnections`),',
      "as rclone's default 4 transfers. rclone only copies (no ledger, no notification).",
    ].join('\n'),
  };
}

/** RSS (MiB) of this process and of serverless-offline's process tree, from ps. */
function productRssMiB(): number {
  const rows = execFileSync('ps', ['-eo', 'pid=,ppid=,rss=,args='], { encoding: 'utf8' })
    .trim()
    .split('\n')
    .map((line) => {
      const [pid, ppid, rss, ...args] = line.trim().split(/\s+/);
      return { pid: Number(pid), ppid: Number(ppid), rssKiB: Number(rss), args: args.join(' ') };
    });
  const included = new Set<number>([process.pid, ...rows.filter((row) => row.args.includes('serverless.js offline')).map((row) => row.pid)]);
  for (let grown = true; grown; ) {
    grown = false;
    for (const row of rows) if (!included.has(row.pid) && included.has(row.ppid) && !/minio|java|fauxqs|stand-in|sshd|rclone/.test(row.args)) (included.add(row.pid), (grown = true));
  }
  return rows.filter((row) => included.has(row.pid)).reduce((sum, row) => sum + row.rssKiB, 0) / 1024;
}
