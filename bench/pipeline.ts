import { randomBytes } from 'node:crypto';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { connect } from 'amqplib';
import type { LocalStack } from '../scripts/local/stack';
import type { Sshd } from '../scripts/fixtures/sshd';
import { REQUEST_COUNT_CHANNEL } from '../lib/adapters/aws-clients';
import { benchStop } from './stop';
import { cpuDelta, cpuSecondsByGroup, median, percentile, processTable, rcloneEnvironment, runCommand, type BenchResult } from './stats';

/**
 * The whole pipeline on the running local stack (scheduler, poll workers, transfer, notifier under
 * serverless-offline, default settings): how long from a file being fully written to its AMQP
 * message, and how many small files per second end to end against `rclone copy` of the same
 * directory. Messages go to the bench's own exchange on the local RabbitMQ.
 */
export async function benchPipeline(
  stack: LocalStack,
  sshd: Sshd,
  keyFile: string,
  amqpUrl: string,
  exchange: string,
  options = { latencyFiles: 200, throughputRuns: 3, fleetServers: 50, reference: true },
): Promise<BenchResult> {
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

  // Every AWS request of the functions and of the local event source (SLUICE_COUNT_REQUESTS=1, set
  // by the bench's stack), by origin, service and command.
  const requests = new Map<string, number>();
  const requestChannel = new BroadcastChannel(REQUEST_COUNT_CHANNEL);
  requestChannel.onmessage = (event) => {
    const { counts } = (event as unknown as { data: { counts: Record<string, number> } }).data;
    for (const [key, n] of Object.entries(counts)) requests.set(key, (requests.get(key) ?? 0) + n);
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
  if (options.latencyFiles > 0) await register(`bench-latency-${randomBytes(3).toString('hex')}`, latencyDir);
  const written = new Map<string, number>();
  for (let index = 0; index < options.latencyFiles; index++) {
    const path = join(latencyDir, `l${index}.dat`);
    writeFileSync(path, randomBytes(4096));
    written.set(path, Date.now());
    await new Promise((resolve) => setTimeout(resolve, 200));
  }
  await until(() => [...written.keys()].every((path) => arrivals.has(path)), 180_000);
  const latencies = [...written].map(([path, at]) => (arrivals.get(path)! - at) / 1000);

  // Throughput: 2,000 files of 4 KiB already in place when the server is registered, several times
  // in the same stack (memory must not grow from run to run), with the CPU each kind of process used.
  const count = 2000;
  const runs: { filesPerSecond: number; peakRss: number; cpu: Record<string, number>; requests: Map<string, number> }[] = [];
  let manyDir = '';
  for (let run = 0; run < options.throughputRuns; run++) {
    manyDir = join(sshd.root, `bench-many-${run}`);
    mkdirSync(manyDir, { recursive: true, mode: 0o755 });
    for (let index = 0; index < count; index++) writeFileSync(join(manyDir, `m${index}.dat`), randomBytes(4096));
    rssSamples.length = 0;
    requests.clear();
    const cpuBefore = cpuSecondsByGroup();
    const usageBefore = stack.functionUsage();
    const started = Date.now();
    console.log(`  run ${run + 1}: registering at ${new Date(started).toISOString().slice(11, 23)}`);
    await register(`bench-many-${run}-${randomBytes(3).toString('hex')}`, manyDir);
    const dir = manyDir;
    await until(() => [...arrivals.keys()].filter((path) => path.startsWith(`${dir}/`)).length === count, 900_000);
    const filesPerSecond = count / ((Date.now() - started) / 1000);
    const cpu = cpuDelta(cpuBefore, cpuSecondsByGroup());
    // The sluice share split by function (each environment's own thread); the rest of the process is
    // the event source, the runtime, this benchmark, the GC and I/O threads, and serverless-offline.
    for (const [name, usage] of Object.entries(stack.functionUsage())) cpu[`  ${name}`] = usage.cpuSeconds - (usageBefore[name]?.cpuSeconds ?? 0);
    // The last files' ledger writes follow their messages, and each thread reports its request
    // counts in batches (countRequests): let those land before the counts are read.
    await new Promise((resolve) => setTimeout(resolve, 1000));
    runs.push({ filesPerSecond, peakRss: Math.max(...rssSamples), cpu, requests: new Map(requests) });
    // When the messages came, from registration: how much is the detection delay and how steady the rest is.
    const times = [...arrivals].filter(([path]) => path.startsWith(`${dir}/`)).map(([, at]) => (at - started) / 1000).sort((a, b) => a - b);
    const at = (fraction: number) => times[Math.min(times.length - 1, Math.floor(fraction * times.length))]!.toFixed(1);
    console.log(`  run ${run + 1}: messages at (s from registration) first ${at(0)}, 10% ${at(0.1)}, 50% ${at(0.5)}, 90% ${at(0.9)}, last ${at(1)}`);
    console.log(`  run ${run + 1}: ${filesPerSecond.toFixed(1)} files/s, peak RSS ${Math.max(...rssSamples).toFixed(0)} MiB (idle before ${idleRss.toFixed(0)}), CPU s ${JSON.stringify(Object.fromEntries(Object.entries(cpu).map(([k, v]) => [k, Math.round(v)])))}`);
  }

  requestChannel.close();
  console.log(`  requests per file: ${requestLine(runs[0]!.requests, count)}`);
  if (!options.reference) {
    console.log(`  RSS 70 s later: ${(await settledRss()).toFixed(0)} MiB`);
    clearInterval(sampler);
    await connection.close();
    return { title: 'Whole pipeline on the local stack: detection to notification', markdown: '' };
  }

  // Many servers at once: 50 x 20 files registered together; the slowest server is the one starved.
  const fleetStarted = Date.now();
  const fleet: string[] = [];
  for (let server = 0; server < options.fleetServers; server++) {
    const dir = join(sshd.root, `bench-fleet-${server}`);
    mkdirSync(dir, { recursive: true, mode: 0o755 });
    for (let index = 0; index < 20; index++) writeFileSync(join(dir, `f${index}.dat`), randomBytes(4096));
    fleet.push(dir);
  }
  await Promise.all(fleet.map((dir, server) => register(`bench-fleet-${server}-${randomBytes(3).toString('hex')}`, dir)));
  const lastOf = (dir: string) => Math.max(...[...arrivals].filter(([path]) => path.startsWith(`${dir}/`)).map(([, at]) => at));
  await until(() => fleet.every((dir) => [...arrivals.keys()].filter((path) => path.startsWith(`${dir}/`)).length === 20), 900_000);
  const perServer = fleet.map((dir) => (lastOf(dir) - fleetStarted) / 1000);
  clearInterval(sampler);
  const idleAfter = options.reference ? await settledRss() : productRssMiB();
  await connection.close();

  const env = rcloneEnvironment(sshd, keyFile, stack.endpoints.s3);
  const theirs: number[] = [];
  for (let run = 0; run < (options.reference ? 3 : 0); run++) {
    const copyStarted = Date.now();
    const result = await runCommand('rclone', ['copy', `src:${manyDir}`, `dst:sluice-ingest/rclone-pipeline`], { env });
    if (result.status === 0) theirs.push(count / ((Date.now() - copyStarted) / 1000));
    await runCommand('rclone', ['purge', 'dst:sluice-ingest/rclone-pipeline'], { env });
  }

  // A separate npm start, busy, stopped with SIGTERM.
  const stop = await benchStop(sshd, amqpUrl);

  const ours = median(runs.map((run) => run.filesPerSecond));
  return {
    title: 'Whole pipeline on the local stack: detection to notification',
    markdown: [
      '| measure | sluice | reference | ratio |',
      '|---|---|---|---|',
      `| file written -> AMQP message, p50 (s), 200 files | ${percentile(latencies, 0.5).toFixed(1)} | — | — |`,
      `| file written -> AMQP message, p99 (s), 200 files | ${percentile(latencies, 0.99).toFixed(1)} | — | — |`,
      `| 2,000 × 4 KiB, files/s end to end, median of ${runs.length} runs in one stack | ${ours.toFixed(0)} | \`rclone copy\` (defaults, median of 3): ${theirs.length ? median(theirs).toFixed(0) : 'failed'} | ${theirs.length ? (ours / median(theirs)).toFixed(2) : 'n/a'} |`,
      `| RSS of sluice's own processes (MiB): idle before / peak of each run / idle after | ${idleRss.toFixed(0)} / ${runs.map((run) => run.peakRss.toFixed(0)).join(', ')} / ${idleAfter.toFixed(0)} | — | — |`,
      `| ${options.fleetServers} servers × 20 files registered at once: each server's last message (s), slowest / median / fastest | ${Math.max(...perServer).toFixed(1)} / ${median(perServer).toFixed(1)} / ${Math.min(...perServer).toFixed(1)} | — | — |`,
      `| \`npm start\` busy with 500 files, SIGTERM -> exited (s); its processes left behind | ${stop.seconds.toFixed(1)} (goal <= 10: ${stop.seconds <= 10 ? 'met' : 'not met'}); ${stop.leftBehind.length === 0 ? 'none' : stop.leftBehind.join('; ')} | — | — |`,
      `| AWS requests per file, all functions, by service (first run) | ${requestTotals(runs[0]!.requests, count)} | — | — |`,
      '',
      `Requests per file by command (first run): ${requestLine(runs[0]!.requests, count)}; plus one AMQP publish per file.`,
      '',
      `Runs (files/s): ${runs.map((run) => run.filesPerSecond.toFixed(1)).join(', ')}. CPU seconds during the first run, by process: ${cpuLine(runs[0]!.cpu)}.`,
      '',
      'Default settings: a 5 s poll interval and 5 s `stableAfterSeconds`, so a file is taken once two listings at least 5 s apart',
      'saw it unchanged; the latency floor is therefore 5-10 s by design. sluice end to end = registration -> the 2,000th message: poll,',
      'dedup lock and enqueue in DynamoDB/SQS, transfer (claim, SHA-256, upload, ledger), and a confirmed AMQP publish per file, all through',
      'serverless-offline (HTTP) and the local Lambda runtime (queue and scheduled functions; npm start\'s 4 transfer, 2 notify and 4 poll environments) on the same two cores.',
      "The servers allow 4 SFTP connections (`maxConnections`), as rclone's default 4 transfers. rclone only copies (no ledger, no notification).",
      'The stand-ins alone (DynamoDB Local above all) use about as much CPU per file as sluice does: with them on the same two cores, the box is saturated (machine busy ~1.7 of 2 cores).',
    ].join('\n'),
  };
}

/** RSS (MiB) of this process and of serverless-offline's process tree, from ps. */
function productRssMiB(): number {
  const rows = processTable();
  const included = new Set<number>([process.pid, ...rows.filter((row) => row.args.includes('serverless.js offline')).map((row) => row.pid)]);
  for (let grown = true; grown; ) {
    grown = false;
    for (const row of rows) if (!included.has(row.pid) && included.has(row.ppid) && !/minio|java|fauxqs|stand-in|sshd|rclone/.test(row.args)) (included.add(row.pid), (grown = true));
  }
  return rows.filter((row) => included.has(row.pid)).reduce((sum, row) => sum + row.rssKiB, 0) / 1024;
}

function cpuLine(cpu: Record<string, number>): string {
  const { machine, ...all } = cpu;
  const functions = Object.entries(all).filter(([name]) => name.startsWith('  ')).map(([name, seconds]) => [name.trim(), seconds] as const);
  const groups = Object.entries(all).filter(([name, seconds]) => !name.startsWith('  ') && seconds >= 0.5);
  const parts = groups.sort((x, y) => y[1] - x[1]).map(([group, seconds]) => `${group} ${seconds.toFixed(0)}`);
  const byFunction = functions.sort((x, y) => y[1] - x[1]).map(([name, seconds]) => `${name} ${seconds.toFixed(1)}`).join(', ');
  return `${parts.join(', ')} (machine busy ${machine!.toFixed(0)} CPU s); of sluice's, the functions' own threads: ${byFunction}`;
}

/** The product's RSS 70 s after the run: the local runtime shuts an environment down after 60 s idle. */
async function settledRss(): Promise<number> {
  const settled = Date.now() + 70_000;
  while (Date.now() < settled) await new Promise((resolve) => setTimeout(resolve, 5000));
  return productRssMiB();
}

/** `functions|DynamoDB|PutItem` counts as "DynamoDB PutItem 1.00", per file. */
function requestLine(requests: Map<string, number>, files: number): string {
  return [...requests]
    .sort((a, b) => b[1] - a[1])
    .map(([key, n]) => {
      const [origin, service, command] = key.split('|');
      return `${origin === 'functions' ? '' : `${origin}: `}${service} ${command} ${(n / files).toFixed(2)}`;
    })
    .join(', ');
}

function requestTotals(requests: Map<string, number>, files: number): string {
  const byService = new Map<string, number>();
  let eventSource = 0;
  for (const [key, n] of requests) {
    const [origin, service] = key.split('|') as [string, string];
    if (origin === 'functions') byService.set(service, (byService.get(service) ?? 0) + n);
    else eventSource += n;
  }
  const total = [...byService.values()].reduce((sum, n) => sum + n, 0) / files + 1;
  const parts = [...byService].sort((a, b) => b[1] - a[1]).map(([service, n]) => `${service} ${(n / files).toFixed(2)}`);
  return `${parts.join(', ')}, AMQP 1 = **${total.toFixed(2)}** (goal <= 8: ${total <= 8 ? 'met' : 'not met'}); the event source's SQS receives and deletes ${(eventSource / files).toFixed(2)}`;
}
