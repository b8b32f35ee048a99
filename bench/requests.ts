import { execFileSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync, symlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Container } from '../lib/container';
import type { ServerView } from '../lib/domain/server';
import type { Sshd } from '../scripts/fixtures/sshd';
import { rcloneEnvironment, runCommand, type BenchResult } from './stats';
import { bundleWorker, describeRequests, s3RequestsDuring, type workerRunner } from './worker';

/** The last commit that stamped the digest by copying each object onto itself (CopyObject). */
export const SELF_COPY_COMMIT = '8521386';

interface RequestsInput {
  projectRoot: string;
  workDir: string;
  dir: string;
  s3Endpoint: string;
  container: Container;
  server: ServerView;
  runner: Awaited<ReturnType<typeof workerRunner>>;
  worker: string;
  largePath: string;
  sshd: Sshd;
  keyFile: string;
  removeObject: (key: string) => Promise<void>;
}

/**
 * S3 requests per file as MinIO counted them: this code, the code before the self-copy was dropped
 * (built from its commit in a throwaway worktree), and `rclone copyto`, each for one small file and
 * one 1 GiB file. Nothing else uses the store while a count runs.
 */
export async function benchRequestsPerFile(input: RequestsInput): Promise<BenchResult> {
  const { dir, s3Endpoint, server, runner } = input;
  const smallPath = join(dir, 'requests-small.dat');
  writeFileSync(smallPath, randomBytes(4096));
  const files = [
    { label: '4 KiB', path: smallPath },
    ...(existsSync(input.largePath) ? [{ label: '1 GiB', path: input.largePath }] : []),
  ];
  const countWorker = async (worker: string, path: string) => {
    const job = await runner.jobFor(path, server, dir);
    let seconds = 0;
    const counts = await s3RequestsDuring(s3Endpoint, async () => (seconds = (await runner.run(worker, { JOB: JSON.stringify(job) })).seconds));
    await input.removeObject(`${server.keyPrefix}/${path.slice(dir.length + 1)}`);
    return `${describeRequests(counts)} | ${seconds.toFixed(1)}`;
  };

  const rows: string[] = [];
  for (const file of files) rows.push(`| ${file.label} | sluice now | ${await countWorker(input.worker, file.path)} |`);
  // "Before" gets the same settings (part size, concurrency) but its own code: a checkpoint per part, SigV4 payload hashing.

  let beforeNote = `Before: the transfer worker of commit ${SELF_COPY_COMMIT}, built from a git worktree of it.`;
  const worktree = join(input.workDir, 'before');
  try {
    execFileSync('git', ['-C', input.projectRoot, 'worktree', 'add', '--detach', worktree, SELF_COPY_COMMIT], { stdio: 'ignore' });
    symlinkSync(join(input.projectRoot, 'node_modules'), join(worktree, 'node_modules'));
    // The worker moved from test/helpers to scripts/fixtures; the commit compared with may predate that.
    const workerPath = ['scripts/fixtures/transfer-worker.ts', 'test/helpers/transfer-worker.ts'].map((path) => join(worktree, path)).find((path) => existsSync(path))!;
    const before = await bundleWorker(workerPath, join(input.workDir, 'before-worker.cjs'));
    for (const file of files) rows.push(`| ${file.label} | sluice before (self-copy) | ${await countWorker(before, file.path)} |`);
  } catch (error) {
    beforeNote = `The code before (commit ${SELF_COPY_COMMIT}) could not be run in this run: ${error instanceof Error ? error.message.slice(0, 200) : String(error)}.`;
  } finally {
    execFileSync('git', ['-C', input.projectRoot, 'worktree', 'remove', '--force', worktree], { stdio: 'ignore' });
  }

  const env = rcloneEnvironment(input.sshd, input.keyFile, s3Endpoint);
  for (const file of files) {
    const target = `dst:${input.container.config.S3_BUCKET}/rclone/${file.path.slice(dir.length + 1)}`;
    let seconds = 0;
    const started = Date.now();
    const counts = await s3RequestsDuring(s3Endpoint, async () => {
      const result = await runCommand('rclone', ['copyto', '--retries', '1', `src:${file.path}`, target], { env, timeoutMs: 600_000 });
      if (result.status !== 0) throw new Error(`rclone copyto failed: ${result.stderr.slice(0, 300)}`);
      seconds = (Date.now() - started) / 1000;
    });
    await input.removeObject(`rclone/${file.path.slice(dir.length + 1)}`);
    rows.push(`| ${file.label} | \`rclone copyto\`, defaults | ${describeRequests(counts)} | ${seconds.toFixed(1)} |`);
  }

  return {
    title: 'S3 requests per file',
    markdown: [
      '| file | code | S3 requests MinIO served (total: by API) | seconds (one run) |',
      '|---|---|---|---|',
      ...rows,
      '',
      `Counted by MinIO itself (\`minio_api_requests_total\` from /minio/metrics/v3/api/requests, before and after each transfer). ${beforeNote}`,
      'Before, every multipart object was copied onto itself to stamp its SHA-256 into the metadata (CopyObject: the store reads and',
      'writes the whole object a second time, and AWS refuses it above 5 GiB); now the digest is in the ledger and the message, the store',
      'verifies every part against its SHA-256, and the digest goes on the committed version as a tag (PutObjectTagging copies no data).',
      "Small files are one PUT carrying the tag as a header. rclone's count includes its own existence and verification requests.",
    ].join('\n'),
  };
}
