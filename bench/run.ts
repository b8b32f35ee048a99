import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { cpus, tmpdir, totalmem } from 'node:os';
import { join, resolve } from 'node:path';
import { LOCAL_AMQP_URL } from '../lib/amqp-defaults';
import { startLocalStack } from '../scripts/local/stack';
import { startSshd } from '../scripts/fixtures/sshd';
import { benchColdStart } from './cold-start';
import { benchUnchangedPoll } from './poll';
import { benchPipeline } from './pipeline';
import { benchTransfer } from './transfer';
import type { BenchResult } from './stats';
import { errorMessage } from '../lib/errors';

/**
 * `npm run bench`: starts a private local stack and sshd on loopback, runs each benchmark against a
 * reference measured in the same run, and rewrites docs/BENCHMARKS.md. Not a test: it asserts nothing
 * about speed.
 */
const projectRoot = resolve(import.meta.dirname, '..');
const BENCH_EXCHANGE = 'sluice-bench';
const AMQP_URL = process.env.AMQP_URL ?? LOCAL_AMQP_URL;

async function main() {
  const results: BenchResult[] = [];
  // --only=<poll|transfer|pipeline>: run one section and replace just that part of the document.
  const only = process.argv.find((arg) => arg.startsWith('--only='))?.slice('--only='.length);
  // --quick: one run of each, 1 GiB only (a check while changing code; the document says so).
  const quick = process.argv.includes('--quick');
  // --profile: one 2,000-file pipeline run and nothing else, the document left alone (with
  // SLUICE_LOCAL_CPU_PROFILE=<dir> for the local runtime's CPU profiles).
  const profile = process.argv.includes('--profile');
  const wanted = (section: string) => only === undefined || only === section;
  if (wanted('coldstart')) {
    // First, alone: it needs no stack, and an idle machine.
    console.log('Benchmark: cold start of each function ...');
    // --baseline=<checkout>: the same handlers of another tree measured in the same runs.
    const baselineRoot = process.argv.find((arg) => arg.startsWith('--baseline='))?.slice('--baseline='.length);
    results.push(await benchColdStart({ runs: quick ? 3 : 9, ...(baselineRoot ? { baselineRoot } : {}) }));
  }
  const needsStack = ['poll', 'transfer', 'pipeline'].some(wanted);
  if (needsStack) await runStackBenchmarks(results, wanted, { quick, profile });
  const machine = `${cpus().length} × ${cpus()[0]?.model ?? 'CPU'}, ${(totalmem() / 2 ** 30).toFixed(0)} GiB, Node ${process.version}, ${execFileSync('uname', ['-sr'], { encoding: 'utf8' }).trim()}`;
  const sections = new Map<string, string>();
  if (only !== undefined) {
    // Keep the other sections of the last full run, each under its heading.
    const previous = readFileSync(join(projectRoot, 'docs/BENCHMARKS.md'), 'utf8');
    for (const part of previous.split(/^## /m).slice(1)) sections.set(part.slice(0, part.indexOf('\n')), part.slice(part.indexOf('\n') + 1).trim());
  }
  // Sections renamed since: the S3 emulator's transfer figures, replaced by MinIO's.
  for (const stale of ['Transfer of a 1 GiB file, SFTP -> S3 emulator (fauxqs)', '2,000 files of 4 KiB, SFTP -> S3 emulator']) sections.delete(stale);
  for (const result of results) sections.set(result.title, result.markdown);
  const document = [
    '# Benchmarks',
    '',
    'Produced by `npm run bench` (it rewrites this file). Every figure is a ratio against a reference',
    'tool measured in the same run on the same machine, over loopback, with medians; absolute numbers',
    'are given for context only.',
    '',
    `Machine: ${machine}. Run: ${new Date().toISOString()}${only ? ` (this run: ${only} only; other sections from the previous full run)` : ''}${quick ? ' Quick run: one run of each, 1 GiB only.' : ''}.`,
    '',
    ...[...sections.entries()].flatMap(([title, markdown]) => [`## ${title}`, '', markdown, '']),
  ].join('\n');
  if (!profile) writeFileSync(join(projectRoot, 'docs/BENCHMARKS.md'), document);
  console.log(document);
}

/** The benchmarks that need the local stack and sshd: started once for them, stopped after. */
async function runStackBenchmarks(results: BenchResult[], wanted: (section: string) => boolean, { quick, profile }: { quick: boolean; profile: boolean }) {
  // Every AWS client of the stack (this process's event source and the functions) reports each request.
  process.env.SLUICE_COUNT_REQUESTS = '1';
  const dataDir = mkdtempSync(join(tmpdir(), 'sluice-bench-'));
  const env = { ...process.env };
  for (const name of Object.keys(env)) if (name.startsWith('AWS_ENDPOINT_URL')) delete env[name];
  const stack = await startLocalStack({
    projectRoot,
    dataDir: join(dataDir, 'stack'),
    // MinIO: the store the product targets (the emulator tops out near 100 MB/s and fails at 2 GiB).
    env: { ...env, SLUICE_LOCAL_S3: 'minio', SLUICE_LOCAL_S3_PORT: '9300', AMQP_EXCHANGE: BENCH_EXCHANGE, PORT: '3300', SLUICE_LAMBDA_PORT: '3302', SLUICE_LOCAL_AWS_PORT: '4866', SLUICE_LOCAL_DYNAMODB_PORT: '8300', SLUICE_LOCAL_SECRETS_PORT: '4884', SLUICE_API_TOKEN: '' },
    log: (line) => console.log(`  ${line}`),
    // --profile: each poll's outcome, to see when the detection happened.
    ...(profile ? { functionOutput: pollTimeline() } : {}),
  });
  Object.assign(process.env, stack.env, { SLUICE_TEST_DATA_DIR: dataDir });
  const sshd = await startSshd();
  const keyFile = join(dataDir, 'id_ed25519');
  writeFileSync(keyFile, sshd.privateKey, { mode: 0o600 });
  try {
    if (wanted('poll')) {
      console.log('Benchmark: unchanged 10,000-file poll ...');
      results.push(await benchUnchangedPoll(sshd, keyFile));
    }
    if (wanted('transfer')) {
      console.log('Benchmark: transfers ...');
      const options = quick ? { runs: 1, largeRuns: 1, sizesMiB: [1024] } : { runs: 3, largeRuns: 1, sizesMiB: [1024, 5120] };
      results.push(...(await benchTransfer(sshd, keyFile, stack.endpoints.s3, options)));
    }
    if (wanted('pipeline')) {
      console.log('Benchmark: whole pipeline ...');
      try {
        results.push(await benchPipeline(stack, sshd, keyFile, AMQP_URL, BENCH_EXCHANGE, profile
            ? { latencyFiles: 0, throughputRuns: 1, fleetServers: 0, reference: false }
            : { latencyFiles: 200, throughputRuns: quick ? 1 : 3, fleetServers: 50, reference: true }));
      } catch (error) {
        results.push({ title: 'Whole pipeline on the local stack: detection to notification', markdown: `Failed in this run: ${errorMessage(error)}` });
      }
    }
  } finally {
    await sshd.dispose();
    await stack.stop();
    rmSync(dataDir, { recursive: true, force: true });
  }
}

/** The functions' poll_completed / poll_skipped lines, one per poll, with the time they came. */
function pollTimeline(): (chunk: string) => void {
  let partial = '';
  return (chunk) => {
    const lines = (partial + chunk).split('\n');
    partial = lines.pop()!;
    for (const line of lines) {
      if (!/"(poll_completed|poll_skipped)"/.test(line)) continue;
      const { event, listed, enqueued, waiting, durationMs, reason } = JSON.parse(line) as Record<string, unknown>;
      console.log(`  ${new Date().toISOString().slice(11, 23)} ${event} ${JSON.stringify({ listed, enqueued, waiting, durationMs, reason })}`);
    }
  };
}

main().then(
  () => process.exit(0),
  (error: unknown) => {
    console.error(error);
    process.exit(1);
  },
);
