import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { bundleFunctions, rateMilliseconds, startLambdaRuntime, type LambdaRuntime, type LocalFunction } from '../../scripts/local/lambda-runtime';

const projectRoot = resolve(import.meta.dirname, '../..');
const outDir = mkdtempSync(join(tmpdir(), 'sluice-runtime-'));
const base = { handler: 'test/helpers/lambda-fixture.handler', timeoutSeconds: 10, memorySize: 128, maxEnvironments: 2, env: { FIXTURE_MARKER: 'from-env', NODE_OPTIONS: '--expose-gc' } };
const definitions: LocalFunction[] = [
  { ...base, name: 'counter' },
  { ...base, name: 'short', timeoutSeconds: 1, maxEnvironments: 1 },
  { ...base, name: 'broken', env: { FAIL_INIT: '1' } },
];
let bundles: Map<string, string>;
let runtime: LambdaRuntime;

interface Reply {
  threadId: number;
  invocations: number;
  loadedAt: number;
  remainingMs: number;
  gc: string;
  marker: string;
}
const payload = async (name: string, event: object = {}) => {
  const result = await runtime.invoke(name, event);
  assert.equal(result.error, undefined, result.error);
  return result.payload as Reply;
};
async function until(condition: () => boolean, timeoutMs = 10_000) {
  const deadline = Date.now() + timeoutMs;
  while (!condition()) {
    if (Date.now() > deadline) throw new Error('condition not met in time');
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}

before(async () => {
  bundles = await bundleFunctions(projectRoot, definitions, outDir);
  runtime = startLambdaRuntime({ functions: definitions, bundles, idleSeconds: 1 });
});
after(async () => {
  await runtime.stop();
  rmSync(outDir, { recursive: true, force: true });
});

describe('local Lambda runtime', () => {
  it('loads a function once and reuses its warm environment, module scope and all, with its own environment variables', async () => {
    const first = await payload('counter');
    const second = await payload('counter');
    assert.equal(second.threadId, first.threadId, 'the same environment');
    assert.equal(second.loadedAt, first.loadedAt, 'not loaded again');
    assert.equal(second.invocations, first.invocations + 1);
    assert.equal(first.marker, 'from-env');
    assert.equal(first.gc, 'function', "--expose-gc from the function's NODE_OPTIONS");
    assert.ok(first.remainingMs > 9000 && first.remainingMs <= 10_000, `remaining time ${first.remainingMs}`);
  });

  it('runs at most maxEnvironments at once; the rest wait for one to come free', async () => {
    const replies = await Promise.all(Array.from({ length: 6 }, () => payload('counter', { sleepMs: 150 })));
    assert.ok(new Set(replies.map((reply) => reply.threadId)).size <= 2, 'two environments at most');
    assert.ok(runtime.environments().counter! <= 2);
  });

  it('kills an environment whose invocation outlives the timeout, and the next invocation starts cold', async () => {
    const warm = await payload('short');
    const timedOut = await runtime.invoke('short', { sleepMs: 5000 });
    assert.match(timedOut.error ?? '', /Task timed out after 1 seconds/);
    const next = await payload('short');
    assert.notEqual(next.threadId, warm.threadId);
    assert.equal(next.invocations, 1, 'a fresh module scope');
  });

  it('reports a handler error and keeps the environment; reports a failed init and discards it', async () => {
    const before = await payload('counter');
    const failed = await runtime.invoke('counter', { fail: true });
    assert.match(failed.error ?? '', /^Error: handler failed on purpose/);
    const after = await payload('counter');
    assert.ok(after.invocations > before.invocations, 'the same module scope carried on');
    const broken = await runtime.invoke('broken', {});
    assert.match(broken.error ?? '', /Runtime.InitError: init failed on purpose/);
    await until(() => runtime.environments().broken === 0);
  });

  it('shuts an idle environment down, returning its memory', async () => {
    await payload('counter');
    await until(() => runtime.environments().counter === 0);
  });

  it('reads EventBridge rate expressions and refuses what it cannot run', () => {
    assert.equal(rateMilliseconds('rate(1 minute)'), 60_000);
    assert.equal(rateMilliseconds('rate(5 minutes)'), 300_000);
    assert.throws(() => rateMilliseconds('cron(0 12 * * ? *)'), /only rate/);
  });
});
