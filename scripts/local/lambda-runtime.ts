import { randomUUID } from 'node:crypto';
import { join } from 'node:path';
import { Worker } from 'node:worker_threads';
import { build, stop as stopEsbuild } from 'esbuild';
import { errorMessage } from '../../lib/errors';

/**
 * The local stand-in for Lambda's execution environments, for the queue and scheduled functions
 * (serverless-offline keeps serving the HTTP API).
 *
 * Why not serverless-offline for these too: measured here, 2,000 small files through it ran at
 * 3.8 files/s while its process grew to 4.6-8 GiB RSS — it has no SQS event source, and every
 * invocation through its Lambda port paid for a fresh handler load held in memory. This runtime
 * does what Lambda does instead:
 * - each function is bundled once, as deployed (esbuild, CommonJS), and esbuild is stopped;
 * - an environment is a worker thread that loads the bundle once (cold start) and then serves one
 *   invocation at a time, module scope kept (clients, SFTP sessions, the broker connection);
 * - a function has at most `maxEnvironments` of them (its event source's maximum concurrency);
 *   one idle longer than `idleSeconds` is shut down, returning its memory;
 * - an invocation past the function's timeout kills its environment (as Lambda does), and so does
 *   a failed init; the old generation is capped at the function's memory size.
 */
export interface LocalFunction {
  name: string;
  /** `functions/transfer.handler` */
  handler: string;
  timeoutSeconds: number;
  memorySize: number;
  maxEnvironments: number;
  env: Record<string, string>;
}

export interface InvokeResult {
  payload?: unknown;
  error?: string;
}

export interface LambdaRuntime {
  invoke(functionName: string, event: unknown): Promise<InvokeResult>;
  /** Live environments per function (for tests and the banner). */
  environments(): Record<string, number>;
  /** Invocations and the CPU seconds their environments' threads used, per function, since start. */
  usage(): Record<string, { invocations: number; cpuSeconds: number }>;
  stop(): Promise<void>;
}

interface Environment {
  worker: Worker;
  ready: Promise<void>;
  busy: boolean;
  idleTimer?: NodeJS.Timeout;
  /** The thread's CPU seconds at its last report. */
  cpuSeconds: number;
}

const ENVIRONMENT_SCRIPT = join(import.meta.dirname, 'lambda-environment.cjs');

/** Bundles each function's handler once into `outDir/<name>.cjs` (the deployed build's options). */
export async function bundleFunctions(projectRoot: string, functions: Pick<LocalFunction, 'name' | 'handler'>[], outDir: string): Promise<Map<string, string>> {
  const bundles = new Map<string, string>();
  const entryPoints: Record<string, string> = {};
  for (const definition of functions) {
    entryPoints[definition.name] = join(projectRoot, `${definition.handler.slice(0, definition.handler.lastIndexOf('.'))}.ts`);
    bundles.set(definition.name, join(outDir, `${definition.name}.cjs`));
  }
  try {
    await build({
      entryPoints,
      outdir: outDir,
      outExtension: { '.js': '.cjs' },
      bundle: true,
      platform: 'node',
      format: 'cjs',
      target: 'node22',
      sourcemap: 'linked',
      // ssh2's native helpers are optional: without them it falls back to pure JS (as deployed).
      external: ['cpu-features', '*.node'],
      logLevel: 'error',
    });
  } finally {
    // esbuild's service process would otherwise stay, holding the build's memory.
    await stopEsbuild();
  }
  return bundles;
}

export function startLambdaRuntime(options: {
  functions: LocalFunction[];
  bundles: Map<string, string>;
  idleSeconds?: number;
  /** Receives the functions' stdout and stderr (their JSON log lines). */
  output?: (chunk: string) => void;
}): LambdaRuntime {
  const idleMs = (options.idleSeconds ?? 60) * 1000;
  const pools = new Map<
    string,
    { definition: LocalFunction; environments: Set<Environment>; waiting: ((environment: Environment | undefined) => void)[]; usage: { invocations: number; cpuSeconds: number } }
  >();
  for (const definition of options.functions) pools.set(definition.name, { definition, environments: new Set(), waiting: [], usage: { invocations: 0, cpuSeconds: 0 } });
  let stopped = false;

  const startEnvironment = (definition: LocalFunction): Environment => {
    const nodeOptions = definition.env.NODE_OPTIONS ?? '';
    const worker = new Worker(ENVIRONMENT_SCRIPT, {
      // No TypeScript loader and no process-wide flags in the thread: the bundle is plain CommonJS.
      execArgv: [],
      env: definition.env,
      stdout: true,
      stderr: true,
      resourceLimits: { maxOldGenerationSizeMb: definition.memorySize },
      workerData: {
        bundle: options.bundles.get(definition.name),
        exportName: definition.handler.slice(definition.handler.lastIndexOf('.') + 1),
        functionName: definition.name,
        memorySize: definition.memorySize,
        exposeGc: /--expose-gc\b/.test(nodeOptions),
        sourceMaps: /--enable-source-maps\b/.test(nodeOptions),
        cpuProfileDir: process.env.SLUICE_LOCAL_CPU_PROFILE,
      },
    });
    const forward = (chunk: Buffer) => options.output?.(chunk.toString('utf8'));
    worker.stdout.on('data', forward);
    worker.stderr.on('data', forward);
    const ready = new Promise<void>((resolve, reject) => {
      worker.once('message', () => resolve());
      worker.once('error', reject);
      worker.once('exit', (code) => reject(new Error(`environment exited with code ${code} during init`)));
    });
    // Awaited by the first invocation, which reports the failure; this only keeps an environment
    // that fails before anyone waits from being an unhandled rejection.
    ready.catch(() => {});
    return { worker, ready, busy: false, cpuSeconds: 0 };
  };

  const retire = (pool: { environments: Set<Environment> }, environment: Environment): Promise<number> => {
    clearTimeout(environment.idleTimer);
    pool.environments.delete(environment);
    return environment.worker.terminate();
  };

  const acquire = async (name: string): Promise<Environment | undefined> => {
    const pool = pools.get(name);
    if (!pool) throw new Error(`no local function ${name}`);
    for (const environment of pool.environments) {
      if (!environment.busy) {
        environment.busy = true;
        clearTimeout(environment.idleTimer);
        return environment;
      }
    }
    if (pool.environments.size < pool.definition.maxEnvironments) {
      const environment = startEnvironment(pool.definition);
      environment.busy = true;
      pool.environments.add(environment);
      return environment;
    }
    // At the function's concurrency: wait for an environment to come free, as a throttled event source
    // does; on stop, the wait ends with `undefined`.
    return new Promise((resolve) => pool.waiting.push(resolve));
  };

  const release = (name: string, environment: Environment) => {
    const pool = pools.get(name)!;
    if (!pool.environments.has(environment)) {
      // Retired (timed out or failed): a waiting invocation gets a fresh one.
      const next = pool.waiting.shift();
      if (next) {
        const fresh = startEnvironment(pool.definition);
        fresh.busy = true;
        pool.environments.add(fresh);
        next(fresh);
      }
      return;
    }
    const next = pool.waiting.shift();
    if (next) return next(environment);
    environment.busy = false;
    environment.idleTimer = setTimeout(() => void retire(pool, environment), idleMs);
    environment.idleTimer.unref();
  };

  const invoke = async (name: string, event: unknown): Promise<InvokeResult> => {
    if (stopped) return { error: 'the local runtime is stopping' };
    const pool = pools.get(name);
    if (!pool) return { error: `no local function ${name}` };
    const environment = await acquire(name);
    if (!environment) return { error: 'the local runtime is stopping' };
    try {
      await environment.ready;
    } catch (error) {
      void retire(pool, environment);
      release(name, environment);
      return { error: `Runtime.InitError: ${errorMessage(error)}` };
    }
    const id = randomUUID();
    const timeoutMs = pool.definition.timeoutSeconds * 1000;
    const outcome = await new Promise<InvokeResult>((resolve) => {
      const onMessage = (message: { id?: string; result?: unknown; error?: { errorType: string; errorMessage: string }; fatal?: boolean; cpuSeconds?: number }) => {
        if (message.id !== id) return;
        cleanup();
        pool.usage.invocations++;
        if (message.cpuSeconds !== undefined) {
          pool.usage.cpuSeconds += message.cpuSeconds - environment.cpuSeconds;
          environment.cpuSeconds = message.cpuSeconds;
        }
        if (message.fatal) void retire(pool, environment);
        resolve(message.error ? { error: `${message.error.errorType}: ${message.error.errorMessage}` } : { payload: message.result });
      };
      const onExit = (code: number) => {
        cleanup();
        pool.environments.delete(environment);
        resolve({ error: `Runtime.ExitError: the environment exited with code ${code}` });
      };
      const timer = setTimeout(() => {
        cleanup();
        void retire(pool, environment);
        resolve({ error: `Task timed out after ${pool.definition.timeoutSeconds} seconds` });
      }, timeoutMs);
      const cleanup = () => {
        clearTimeout(timer);
        environment.worker.off('message', onMessage);
        environment.worker.off('exit', onExit);
      };
      environment.worker.on('message', onMessage);
      environment.worker.once('exit', onExit);
      environment.worker.postMessage({ id, event, requestId: randomUUID(), deadline: Date.now() + timeoutMs });
    });
    release(name, environment);
    return outcome;
  };

  return {
    invoke,
    environments: () => Object.fromEntries([...pools].map(([name, pool]) => [name, pool.environments.size])),
    usage: () => Object.fromEntries([...pools].map(([name, pool]) => [name, { ...pool.usage }])),
    async stop() {
      stopped = true;
      for (const pool of pools.values()) for (const waiter of pool.waiting.splice(0)) waiter(undefined);
      await Promise.all([...pools.values()].flatMap((pool) => [...pool.environments].map((environment) => retire(pool, environment))));
    },
  };
}

/** Milliseconds between runs of an EventBridge `rate(...)` expression. */
export function rateMilliseconds(expression: string): number {
  const match = /^rate\((\d+) (minute|minutes|hour|hours|day|days)\)$/.exec(expression.trim());
  if (!match) throw new Error(`unsupported schedule ${JSON.stringify(expression)}: only rate(N minutes|hours|days) runs locally`);
  const unit = { minute: 60_000, minutes: 60_000, hour: 3_600_000, hours: 3_600_000, day: 86_400_000, days: 86_400_000 }[match[2] as 'minute'];
  return Number(match[1]) * unit;
}

/**
 * Runs scheduled functions: once at start (so a fresh stack polls at once), then every rate, never
 * two runs of one function at a time (a run still going when the next is due makes the next wait).
 */
export function startSchedules(runtime: Pick<LambdaRuntime, 'invoke'>, schedules: { functionName: string; rate: string }[], log: (event: string, fields: Record<string, unknown>) => void): { stop(): void } {
  const timers: NodeJS.Timeout[] = [];
  for (const schedule of schedules) {
    const every = rateMilliseconds(schedule.rate);
    let running: Promise<unknown> = Promise.resolve();
    const fire = () => {
      running = running.then(async () => {
        const result = await runtime.invoke(schedule.functionName, { version: '0', id: randomUUID(), 'detail-type': 'Scheduled Event', source: 'aws.events', account: '000000000000', time: new Date().toISOString(), region: 'local', resources: [], detail: {} });
        if (result.error) log('scheduled_invocation_failed', { function: schedule.functionName, error: result.error });
      });
    };
    fire();
    timers.push(setInterval(fire, every));
  }
  return {
    stop() {
      for (const timer of timers) clearInterval(timer);
    },
  };
}
