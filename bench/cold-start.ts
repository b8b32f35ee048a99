import { mkdtempSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { build } from 'esbuild';
import { median, runCommand, type BenchResult } from './stats';

/**
 * What a cold start costs each function: its handler bundled as serverless-esbuild bundles it
 * (serverless.yml custom.esbuild), then loaded in a fresh Node process (module evaluation and the
 * container built at load, as Lambda's init phase does), against a process that loads nothing.
 * No network: the clients are built, never called.
 */
const projectRoot = resolve(import.meta.dirname, '..');
const HANDLERS = ['functions/transfer.ts', 'functions/notifier.ts', 'functions/poll-worker.ts', 'functions/http/list-files.ts'];

/** Loads a bundle (or nothing) and reports the time since the process started and the memory after a GC. */
const PROBE = `
const started = performance.now();
if (process.argv[1]) require(process.argv[1]);
const loadedAt = performance.now();
global.gc();
const { rss, heapUsed } = process.memoryUsage();
process.stdout.write(JSON.stringify({ readyMs: loadedAt, loadMs: loadedAt - started, rss, heapUsed }));
setImmediate(() => process.exit(0));
`;

/** A configuration the container accepts; every endpoint a closed loopback port (nothing is called). */
const PROBE_ENV = {
  PATH: process.env.PATH ?? '',
  AWS_REGION: 'us-east-1',
  AWS_ACCESS_KEY_ID: 'bench',
  AWS_SECRET_ACCESS_KEY: 'bench',
  AWS_ENDPOINT_URL: 'http://127.0.0.1:9',
  SLUICE_API_TOKEN: 'cold-start-benchmark-token',
  AMQP_URL: 'amqp://127.0.0.1:9',
  LOG_LEVEL: 'info',
};

interface Probe {
  readyMs: number;
  loadMs: number;
  rss: number;
  heapUsed: number;
}

async function probe(bundle: string | undefined): Promise<Probe> {
  const result = await runCommand(process.execPath, ['--expose-gc', '-e', PROBE, ...(bundle ? [bundle] : [])], { env: PROBE_ENV, timeoutMs: 60_000 });
  if (result.status !== 0) throw new Error(`probe of ${bundle ?? 'an empty process'} failed: ${result.stderr.slice(0, 500)}`);
  return JSON.parse(result.stdout) as Probe;
}

/**
 * `baselineRoot`: another checkout of sluice (e.g. `git worktree add /tmp/before HEAD~1`, its
 * node_modules linked) whose handlers are measured in the same runs, to see what a change costs.
 */
export async function benchColdStart(options: { runs: number; baselineRoot?: string }): Promise<BenchResult> {
  const outDir = mkdtempSync(join(tmpdir(), 'sluice-cold-start-'));
  const trees = [{ label: '', root: projectRoot }, ...(options.baselineRoot ? [{ label: ' (baseline)', root: resolve(options.baselineRoot) }] : [])];
  const entries = trees.flatMap((tree) => HANDLERS.map((handler) => ({ name: `\`${handler}\`${tree.label}`, path: join(tree.root, handler) })));
  try {
    const bundles = new Map<string, string>();
    for (const [index, entry] of entries.entries()) {
      const outfile = join(outDir, `${index}.cjs`);
      await build({
        entryPoints: [entry.path],
        outfile,
        bundle: true,
        minify: false,
        target: 'node22',
        platform: 'node',
        format: 'cjs',
        external: ['cpu-features', '*.node'],
        logLevel: 'error',
      });
      bundles.set(entry.name, outfile);
    }
    const empty: Probe[] = [];
    const samples = new Map<string, Probe[]>(entries.map((entry) => [entry.name, []]));
    // Interleaved, so a busy moment of the machine touches every handler alike.
    for (let run = 0; run < options.runs; run += 1) {
      empty.push(await probe(undefined));
      for (const entry of entries) samples.get(entry.name)!.push(await probe(bundles.get(entry.name)));
    }
    const MiB = 2 ** 20;
    const emptyReady = median(empty.map((sample) => sample.readyMs));
    const emptyRss = median(empty.map((sample) => sample.rss));
    const rows = [...samples.keys()].sort().map((handler) => {
      const runs = samples.get(handler)!;
      const ready = median(runs.map((sample) => sample.readyMs));
      const rss = median(runs.map((sample) => sample.rss));
      return `| ${handler} | ${(statSync(bundles.get(handler)!).size / MiB).toFixed(2)} | ${median(runs.map((sample) => sample.loadMs)).toFixed(0)} | ${(ready / emptyReady).toFixed(2)}x (${ready.toFixed(0)} ms) | ${(rss / emptyRss).toFixed(2)}x (${(rss / MiB).toFixed(0)} MiB) | ${(median(runs.map((sample) => sample.heapUsed)) / MiB).toFixed(1)} |`;
    });
    return {
      title: 'Cold start: loading each function',
      markdown: [
        `Each handler bundled as \`serverless package\` bundles it, loaded in a fresh Node process (its init: modules and the container),`,
        `${options.runs} runs interleaved, medians. Reference: a Node process that loads nothing, measured in the same runs`,
        `(ready ${emptyReady.toFixed(0)} ms after start, ${(emptyRss / MiB).toFixed(0)} MiB RSS). Lambda adds its own runtime start to both.`,
        '',
        '| handler | bundle (MiB) | module load (ms) | ready, vs empty process | RSS after GC, vs empty process | heap used (MiB) |',
        '|---|---:|---:|---:|---:|---:|',
        ...rows,
      ].join('\n'),
    };
  } finally {
    rmSync(outDir, { recursive: true, force: true });
  }
}
