import { createReadStream, readFileSync } from 'node:fs';
import { stat } from 'node:fs/promises';
import { sweepArrayBuffersPromptly } from '../../lib/adapters/native-garbage';
import { loadConfig } from '../../lib/config';
import { buildContainer } from '../../lib/container';
import type { SftpSession, TransferJob } from '../../lib/ports';
import { transferBatch } from '../../lib/use-cases/transfer-batch';
import { transferFile } from '../../lib/use-cases/transfer';

/**
 * Transfer workers in their own process, so a test can SIGKILL one mid-transfer and a benchmark
 * measures a process of its own. JOB: one job. JOBS_FILE: a JSON file of many, taken by LANES
 * concurrent workers in batches of BATCH_SIZE (10) that share SFTP sessions, as concurrent invocations of the
 * transfer function do.
 * Prints the outcome (or the outcome counts) as JSON, with memory figures when REPORT_RSS is set.
 */
sweepArrayBuffersPromptly(); // as the transfer function does
const container = buildContainer(loadConfig(process.env));

// CRASH_AT_CHECKPOINT=N: die (SIGKILL, no clean-up) when about to checkpoint part N, i.e. after the
// store took the part and before the ledger recorded it.
const crashAt = Number(process.env.CRASH_AT_CHECKPOINT ?? 0);
if (crashAt > 0) {
  const ledger = container.transferDeps.ledger;
  const checkpoint = ledger.checkpoint.bind(ledger);
  ledger.checkpoint = async (fileId, owner, progress) => {
    if (progress.partCount >= crashAt) process.kill(process.pid, 'SIGKILL');
    return checkpoint(fileId, owner, progress);
  };
}

// REPORT_REQUESTS=1: count AWS requests by command and the time spent waiting on them (profiling).
const requestStats: Record<string, { count: number; ms: number }> = {};
const timed = async <T>(name: string, run: () => Promise<T>): Promise<T> => {
  const started = Date.now();
  try {
    return await run();
  } finally {
    const stat = (requestStats[name] ??= { count: 0, ms: 0 });
    stat.count++;
    stat.ms += Date.now() - started;
  }
};
if (process.env.REPORT_REQUESTS === '1') {
  const connector = container.transferDeps.sftp;
  container.transferDeps.sftp = {
    connect: async (...args) => {
      const opened = await timed('sftp.connect', () => connector.connect(...args));
      const { session } = opened;
      const stat = session.stat.bind(session);
      session.stat = (path) => timed('sftp.stat', () => stat(path));
      const read = session.read.bind(session);
      session.read = (path, start, end, options) => {
        const chunks = read(path, start, end, options);
        return (async function* () {
          const started = Date.now();
          yield* chunks;
          const entry = (requestStats['sftp.read (whole file)'] ??= { count: 0, ms: 0 });
          entry.count++;
          entry.ms += Date.now() - started;
        })();
      };
      return opened;
    },
    presentedHostKey: (server) => connector.presentedHostKey(server),
  };
  const clients = [container.clients.dynamodb, container.clients.s3, container.clients.sqs, container.clients.secrets] as { middlewareStack: { add(middleware: unknown, options: unknown): void } }[];
  for (const client of clients) {
    client.middlewareStack.add(
      (next: (args: unknown) => Promise<unknown>, context: { clientName?: string; commandName?: string }) => async (args: unknown) => {
        return timed(`${context.clientName}.${context.commandName}`, () => next(args));
      },
      { step: 'initialize', name: 'requestStats' },
    );
  }
}

// LOCAL_SOURCE=1: read the job's path from this machine's disk instead of over SFTP. Everything else
// (parts, hashing, checkpoints, the store) is the transfer function's own: the benchmark's S3-side ceiling.
if (process.env.LOCAL_SOURCE === '1') {
  const session: SftpSession = {
    stat: async (path) => {
      const stats = await stat(path).catch(() => undefined);
      return stats && { size: stats.size, mtime: Math.floor(stats.mtimeMs / 1000) };
    },
    read: async function* (path, start, end) {
      if (end > start) yield* createReadStream(path, { start, end: end - 1, highWaterMark: 256 * 1024 }) as AsyncIterable<Buffer>;
    },
    remove: async () => {},
    move: async () => {},
    listFiles: async function* () {},
    firstEntries: async () => [],
    abort: () => {},
    close: async () => {},
  };
  container.transferDeps.sftp = { connect: async () => ({ session, hostKey: '' }), presentedHostKey: async () => '' };
}

async function run(): Promise<{ ok: boolean; result: object }> {
  if (process.env.JOB) {
    const outcome = await transferFile(JSON.parse(process.env.JOB) as TransferJob, container.transferDeps);
    return { ok: outcome.status === 'uploaded', result: outcome };
  }
  const jobs = JSON.parse(readFileSync(process.env.JOBS_FILE ?? '', 'utf8')) as TransferJob[];
  const counts: Record<string, number> = {};
  // Deferred jobs (a server at its connection cap) come back to this worker's list, as the transfer
  // function's re-enqueue sends them back to the queue; without delay: nothing else competes here.
  container.transferDeps.transfers = {
    ...container.transferDeps.transfers,
    sendEntries: async (entries) => void jobs.push(...entries.map((entry) => entry.message)),
    sendAll: async (messages) => void jobs.push(...messages),
  };
  let sequence = 0;
  const lane = async () => {
    while (jobs.length > 0) {
      const entries = jobs.splice(0, Number(process.env.BATCH_SIZE ?? 10)).map((job) => ({ id: String(sequence++), job }));
      // The transfer function's own batch: its order, its small files at once, its connection caps.
      const report = await transferBatch(entries, container.transferDeps, { smallFilesAtOnce: container.config.TRANSFER_SMALL_FILES_AT_ONCE });
      let progressed = false;
      for (const result of report.results.values()) {
        if (result === 'deferred' || result === 'handed-on') continue;
        progressed = true;
        counts[result] = (counts[result] ?? 0) + 1;
      }
      // Every file waited for a slot another lane holds: give that lane a moment instead of spinning.
      if (!progressed) await new Promise((resolve) => setTimeout(resolve, 100));
    }
  };
  await Promise.all(Array.from({ length: Number(process.env.LANES ?? 1) }, lane));
  return { ok: Object.keys(counts).every((status) => status === 'uploaded'), result: counts };
}

run().then(
  ({ ok, result }) => {
    const memory = process.memoryUsage();
    const report = process.env.REPORT_RSS
      ? { maxRssKiB: peakRssKiB(), cpuSeconds: (process.cpuUsage().user + process.cpuUsage().system) / 1e6, heapTotalMiB: Math.round(memory.heapTotal / 2 ** 20), heapUsedMiB: Math.round(memory.heapUsed / 2 ** 20), externalMiB: Math.round(memory.external / 2 ** 20), arrayBuffersMiB: Math.round(memory.arrayBuffers / 2 ** 20) }
      : {};
    console.log(JSON.stringify({ ...result, ...report, ...(process.env.REPORT_REQUESTS === '1' ? { requests: requestStats } : {}) }));
    process.exit(ok || !process.env.REPORT_RSS ? 0 : 1);
  },
  (error: unknown) => {
    console.error(error);
    process.exit(1);
  },
);

/**
 * This process's own peak RSS (VmHWM). Not `resourceUsage().maxRSS`: Linux carries a parent's
 * high-water mark across fork and exec, so a child of a big process would report its parent's peak.
 */
function peakRssKiB(): number {
  return Number(/VmHWM:\s+(\d+)/.exec(readFileSync('/proc/self/status', 'utf8'))?.[1] ?? Number.NaN);
}
