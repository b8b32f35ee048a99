import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { closeSync, openSync, statSync, writeSync } from 'node:fs';
import { join } from 'node:path';
import { build } from 'esbuild';
import { fileVersionId } from '../lib/domain/file-identity';
import type { ServerView } from '../lib/domain/server';
import type { TransferJob } from '../lib/ports';
import type { Container } from '../lib/container';
import { resolveService } from '../scripts/local/provision';

export const MiB = 1024 * 1024;

/** Writes `bytes` of random data (8 MiB blocks repeated: incompressible enough for SSH and S3). */
export function makeFile(path: string, bytes: number): void {
  const fd = openSync(path, 'w', 0o644);
  const block = randomBytes(8 * MiB);
  for (let written = 0; written < bytes; written += block.length) writeSync(fd, block, 0, Math.min(block.length, bytes - written));
  closeSync(fd);
}

export const seconds = (started: bigint) => Number(process.hrtime.bigint() - started) / 1e9;

/** Bundles a transfer worker entry point as the function is deployed (esbuild, CommonJS). */
export async function bundleWorker(entryPoint: string, outfile: string): Promise<string> {
  await build({
    entryPoints: [entryPoint],
    bundle: true,
    platform: 'node',
    format: 'cjs',
    target: 'node22',
    external: ['cpu-features', '*.node'],
    outfile,
    logLevel: 'error',
  });
  return outfile;
}

export interface WorkerRun {
  seconds: number;
  peakMiB: number;
  /** CPU time of the worker process (user + system). */
  cpuSeconds: number;
  /** AWS requests by client and command, when the run set REPORT_REQUESTS=1. */
  requests?: Record<string, { count: number; ms: number }>;
}

/**
 * Runs bundled transfer workers as the transfer function runs: its environment from serverless.yml
 * (NODE_OPTIONS, malloc tuning) and the configuration of `container`, one process per run.
 */
export async function workerRunner(projectRoot: string, workDir: string, container: Container) {
  const service = await resolveService(projectRoot, 'local', join(workDir, 'cache'));
  const functionEnv = service.functions.transfer?.environment ?? {};
  const configEnv = Object.fromEntries(Object.entries(container.config).map(([name, value]) => [name, String(value)]));

  /** A ledger entry for `path` under a fresh version id, so each run is a new transfer of the same bytes. */
  const jobFor = async (path: string, server: ServerView, root: string): Promise<TransferJob> => {
    const stats = statSync(path);
    const file = { path, size: stats.size, mtime: Math.floor(stats.mtimeMs / 1000) };
    const fileId = fileVersionId(server.id, { ...file, mtime: file.mtime + Math.floor(Math.random() * 1e9) });
    await container.pollDeps.ledger.createIfAbsent({
      fileId, serverId: server.id, serverName: server.name, remotePath: path, relativePath: path.slice(root.length + 1), size: file.size, mtime: file.mtime, discoveredAt: new Date().toISOString(),
    });
    return { fileId, serverId: server.id, remotePath: path, size: file.size, mtime: file.mtime };
  };

  const run = (worker: string, jobs: { JOB: string } | { JOBS_FILE: string; LANES: string }, env: NodeJS.ProcessEnv = {}) =>
    new Promise<WorkerRun>((resolveRun, reject) => {
      const started = process.hrtime.bigint();
      const child = spawn(process.execPath, [worker], {
        env: { ...process.env, ...functionEnv, ...configEnv, LOG_LEVEL: 'error', ...jobs, ...env, REPORT_RSS: '1' },
        stdio: ['ignore', 'pipe', 'inherit'],
      });
      let output = '';
      child.stdout!.on('data', (chunk: Buffer) => (output += chunk.toString()));
      child.on('exit', (code) => {
        const report = /"maxRssKiB":(\d+)/.exec(output);
        if (code !== 0 || !report) reject(new Error(`transfer worker failed: ${output.slice(0, 500)}`));
        else {
          const parsed = JSON.parse(output.trim().split('\n').at(-1)!) as { requests?: WorkerRun['requests'] };
          resolveRun({ seconds: seconds(started), peakMiB: Number(report[1]) / 1024, cpuSeconds: Number(/"cpuSeconds":([\d.]+)/.exec(output)?.[1] ?? Number.NaN), requests: parsed.requests });
        }
      });
    });

  /** Files per transfer invocation, as serverless.yml's SQS trigger batches them. */
  const batchSize = Number(service.functions.transfer?.events?.find((event) => event.sqs)?.sqs?.batchSize ?? 10);
  return { jobFor, run, batchSize, nodeOptions: functionEnv.NODE_OPTIONS ?? '' };
}

/** S3 requests by API name from MinIO's own counters (metrics v3, public on the local MinIO). */
export async function minioRequestCounts(s3Endpoint: string): Promise<Map<string, number>> {
  const response = await fetch(`${s3Endpoint}/minio/metrics/v3/api/requests`);
  if (response.status !== 200) throw new Error(`MinIO metrics answered ${response.status}`);
  const counts = new Map<string, number>();
  for (const match of (await response.text()).matchAll(/^minio_api_requests_total\{name="([^"]+)"[^}]*type="s3"[^}]*\} (\d+)/gm)) {
    counts.set(match[1]!, (counts.get(match[1]!) ?? 0) + Number(match[2]));
  }
  return counts;
}

/** The S3 requests MinIO served while `action` ran, by API name (nothing else may use the store meanwhile). */
export async function s3RequestsDuring(s3Endpoint: string, action: () => Promise<unknown>): Promise<Map<string, number>> {
  const before = await minioRequestCounts(s3Endpoint);
  await action();
  const after = await minioRequestCounts(s3Endpoint);
  const delta = new Map<string, number>();
  for (const [name, count] of after) if (count > (before.get(name) ?? 0)) delta.set(name, count - (before.get(name) ?? 0));
  return delta;
}

/** `CreateMultipartUpload 1, UploadPart 205, ...` in the order a transfer makes them. */
export function describeRequests(counts: Map<string, number>): string {
  const order = ['PutObject', 'NewMultipartUpload', 'ListObjectParts', 'PutObjectPart', 'CompleteMultipartUpload', 'HeadObject', 'CopyObject', 'PutObjectTagging'];
  const names = [...counts.keys()].sort((a, b) => (order.indexOf(a) + 1 || 99) - (order.indexOf(b) + 1 || 99));
  const total = [...counts.values()].reduce((sum, count) => sum + count, 0);
  return `${total}: ${names.map((name) => `${name} ${counts.get(name)}`).join(', ')}`;
}
