import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdirSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { DynamoDBClient, ListTablesCommand } from '@aws-sdk/client-dynamodb';
import { S3Client } from '@aws-sdk/client-s3';
import { SQSClient } from '@aws-sdk/client-sqs';
import { countRequests } from '../../lib/adapters/aws-clients';
import { LOCAL_AMQP_URL } from '../../lib/amqp-defaults';
import { loadConfig } from '../../lib/config';
import { ConfigError } from '../../lib/errors';
import { ensureConsoleBuilt } from '../console-build';
import { assertJava, startDynamoDbLocal } from './dynamodb';
import { findMinio, MINIO_DEFAULT_CREDENTIALS, MissingMinioError, startMinio } from './minio';
import { startStandIn, stopChild, waitFor } from './processes';
import { bundleFunctions, startLambdaRuntime, startSchedules, type LocalFunction } from './lambda-runtime';
import { ALWAYS_DENIED_CIDRS } from '../../lib/domain/destination';
import { provision, resolveService, type ResolvedFunction, type ResolvedService } from './provision';
import { sqsMappings, startSqsEventSources, type SqsMapping } from './sqs-event-source';

export interface LocalStackOptions {
  projectRoot: string;
  /** Where emulator state lives; persists across restarts. */
  dataDir: string;
  stage?: string;
  apiPort?: number;
  lambdaPort?: number;
  awsPort?: number;
  dynamodbPort?: number;
  secretsPort?: number;
  /** S3 stand-in: the embedded emulator (default) or MinIO (`SLUICE_LOCAL_S3`). */
  s3?: LocalS3;
  s3Port?: number;
  /** Extra environment for the functions (and the source of endpoint overrides). */
  env?: NodeJS.ProcessEnv;
  log?: (line: string) => void;
  /** Receives the functions' own output (JSON log lines). */
  functionOutput?: (chunk: string) => void;
}

export type LocalS3 = 'fauxqs' | 'minio';

export interface LocalStack {
  apiUrl: string;
  /** What serves S3: a stand-in, or the endpoint from the environment. */
  s3: LocalS3 | 'external';
  apiToken: string;
  endpoints: { s3: string; sqs: string; dynamodb: string; secretsManager: string };
  /** Environment that points an SDK client (or a function) at this stack. */
  env: Record<string, string>;
  queueUrls: Record<string, string>;
  /** The local Lambda runtime's invocations and CPU per function (benchmarks). */
  functionUsage(): Record<string, { invocations: number; cpuSeconds: number }>;
  stop(): Promise<void>;
}

const numberFrom = (value: string | undefined, fallback: number) => (value ? Number(value) : fallback);

export class LocalStackConfigError extends Error {
  override name = 'LocalStackConfigError';
}

/** `SLUICE_LOCAL_S3`: which S3 the local stack runs (the emulator needs no set-up; MinIO is the real store). */
export function localS3From(value: string | undefined, variable = 'SLUICE_LOCAL_S3'): LocalS3 {
  if (value === undefined || value === '' || value === 'fauxqs') return 'fauxqs';
  if (value === 'minio') return 'minio';
  throw new LocalStackConfigError(`${variable}: must be fauxqs or minio`);
}

/**
 * Starts everything `npm start` needs: the AWS stand-ins (unless endpoint variables point elsewhere),
 * the tables, bucket and queues declared in serverless.yml, and the functions under
 * serverless-offline. Stops in reverse order; a failure part-way stops what had started.
 */
/**
 * The local stack's concurrency when the environment sets none: sized for a laptop, not a fleet.
 * Measured on 2 cores (docs/BENCHMARKS.md): with the deployed 10 transfer environments and a server
 * allowing 4 connections, the 6 without a slot only deferred files (2,000 small files: 13.6 files/s,
 * 8.5 AWS requests per file); with 4, 18.2 files/s and 6.6 requests per file, in less memory.
 */
/** How long invocations in flight get to finish when the local stack stops. */
const DRAIN_MS = 5000;

export const LOCAL_CONCURRENCY = { SLUICE_TRANSFER_CONCURRENCY: '4', SLUICE_NOTIFY_CONCURRENCY: '2', SLUICE_POLL_CONCURRENCY: '4' };

export async function startLocalStack(options: LocalStackOptions): Promise<LocalStack> {
  const env: NodeJS.ProcessEnv = { ...LOCAL_CONCURRENCY, ...process.env, ...options.env };
  const log = options.log ?? (() => {});
  const stage = options.stage ?? 'local';
  const dataDir = resolve(options.dataDir);
  mkdirSync(dataDir, { recursive: true, mode: 0o700 });
  // Stopped in rounds, each all at once (one after another, each process's grace period added up:
  // a busy npm start took 14 s to stop): the event sources and schedules stop starting invocations
  // and give those in flight DRAIN_MS to finish (one killed mid-poll keeps its server's poll lease
  // for POLL_LEASE_SECONDS after a restart); then the runtime and serverless-offline; then the stand-ins.
  const drains: (() => Promise<void>)[] = [];
  const standIns: (() => Promise<void>)[] = [];
  const stoppers: (() => Promise<void>)[] = [];
  const stop = async () => {
    for (const round of [drains, stoppers, standIns]) {
      await Promise.all(round.splice(0).map((stopOne) => stopOne().catch((error: unknown) => log(`stop failed: ${String(error)}`))));
    }
  };

  try {
    // Each service uses its endpoint variable when set (LocalStack, MinIO, AWS); a stand-in otherwise.
    const configured = (service: 'S3' | 'SQS' | 'DYNAMODB' | 'SECRETS_MANAGER') => env[`AWS_ENDPOINT_URL_${service}`] || env.AWS_ENDPOINT_URL || undefined;
    const awsPort = numberFrom(env.SLUICE_LOCAL_AWS_PORT, options.awsPort ?? 4566);
    const dynamodbPort = numberFrom(env.SLUICE_LOCAL_DYNAMODB_PORT, options.dynamodbPort ?? 8000);
    const secretsPort = numberFrom(env.SLUICE_LOCAL_SECRETS_PORT, options.secretsPort ?? 4584);
    const endpoints = {
      s3: configured('S3') ?? `http://127.0.0.1:${awsPort}`,
      sqs: configured('SQS') ?? `http://127.0.0.1:${awsPort}`,
      dynamodb: configured('DYNAMODB') ?? `http://127.0.0.1:${dynamodbPort}`,
      secretsManager: configured('SECRETS_MANAGER') ?? `http://127.0.0.1:${secretsPort}`,
    };

    const s3Kind = configured('S3') ? 'external' : (options.s3 ?? localS3From(env.SLUICE_LOCAL_S3));
    const s3Port = numberFrom(env.SLUICE_LOCAL_S3_PORT, options.s3Port ?? 9000);
    if (s3Kind === 'minio') endpoints.s3 = `http://127.0.0.1:${s3Port}`;
    const minioBinary = s3Kind === 'minio' ? findMinio(env) : undefined;
    if (s3Kind === 'minio' && !minioBinary) throw new MissingMinioError();
    // MinIO's root credentials are the ones every function signs with; the other stand-ins take any.
    const credentials = {
      accessKeyId: env.AWS_ACCESS_KEY_ID ?? (s3Kind === 'minio' ? MINIO_DEFAULT_CREDENTIALS : LOCAL_CREDENTIALS).accessKeyId,
      secretAccessKey: env.AWS_SECRET_ACCESS_KEY ?? (s3Kind === 'minio' ? MINIO_DEFAULT_CREDENTIALS : LOCAL_CREDENTIALS).secretAccessKey,
    };

    const region = env.AWS_REGION ?? 'us-east-1';
    const stackEnv: Record<string, string> = {
      AWS_REGION: region,
      AWS_ACCESS_KEY_ID: credentials.accessKeyId,
      AWS_SECRET_ACCESS_KEY: credentials.secretAccessKey,
      AWS_ENDPOINT_URL_S3: endpoints.s3,
      AWS_ENDPOINT_URL_SQS: endpoints.sqs,
      AWS_ENDPOINT_URL_DYNAMODB: endpoints.dynamodb,
      AWS_ENDPOINT_URL_SECRETS_MANAGER: endpoints.secretsManager,
      S3_FORCE_PATH_STYLE: env.S3_FORCE_PATH_STYLE ?? 'true',
      // The broker comes from the environment here, never from Secrets Manager (serverless.yml names
      // the AWS secret for every stage): by default the local RabbitMQ.
      AMQP_URL: env.AMQP_URL ?? LOCAL_AMQP_URL,
      // Partners are simulated on loopback here; everything else a deployed stage denies stays denied.
      SFTP_DENY_CIDRS: env.SFTP_DENY_CIDRS || ALWAYS_DENIED_CIDRS.join(','),
      // Embedded-format metrics mean something to CloudWatch only; locally GET /metrics shows the
      // counters. The test stack turns them on to check what the functions emit.
      POWERTOOLS_METRICS_DISABLED: env.POWERTOOLS_METRICS_DISABLED ?? 'true',
      // fauxqs refuses request bodies over 11 MiB, and takes a tagging request for a new object body.
      ...(s3Kind === 'fauxqs' ? { S3_MAX_PART_SIZE_MIB: env.S3_MAX_PART_SIZE_MIB ?? '10', S3_OBJECT_TAGS: 'false' } : {}),
    };

    const apiToken = env.SLUICE_API_TOKEN || randomBytes(24).toString('base64url');
    const apiPort = numberFrom(env.PORT, options.apiPort ?? 3000);
    const lambdaPort = numberFrom(env.SLUICE_LAMBDA_PORT, options.lambdaPort ?? 3002);
    const functionEnv: NodeJS.ProcessEnv = {
      ...env,
      ...stackEnv,
      SLUICE_API_TOKEN: apiToken,
      PORT: String(apiPort),
      SLUICE_LAMBDA_PORT: String(lambdaPort),
      SLS_TELEMETRY_DISABLED: '1',
      SLS_NOTIFICATIONS_MODE: 'off',
      SLUICE_ESBUILD_DIR: `.esbuild/offline-${apiPort}`,
    };
    // serverless-offline serves the HTTP API only; the queue and scheduled functions run in the
    // local Lambda runtime below (scripts/local/lambda-runtime.ts says why).
    const offlineEnv: NodeJS.ProcessEnv = { ...functionEnv, SLUICE_OFFLINE_HTTP_ONLY: '1' };
    // Fail fast: every function's configuration is checked, as its cold start would, before anything runs.
    const service = await resolveService(options.projectRoot, stage, join(dataDir, 'cache'), functionEnv);
    checkFunctionConfig(service, functionEnv);
    // serverless-offline bundles the console's function, which embeds the built page.
    await ensureConsoleBuilt(options.projectRoot, log);

    if (!configured('DYNAMODB')) assertJava();
    if (s3Kind === 'fauxqs' || !configured('SQS')) {
      const fauxqs = await startStandIn('fauxqs', ['--port', String(awsPort), '--data-dir', join(dataDir, 'fauxqs')], `http://127.0.0.1:${awsPort}/`);
      standIns.push(() => stopChild(fauxqs));
      log(`${s3Kind === 'fauxqs' ? 'S3 + SQS (fauxqs)      ' : 'SQS (fauxqs)           '} http://127.0.0.1:${awsPort}`);
    }
    if (minioBinary) {
      const minio = await startMinio({ binary: minioBinary, port: s3Port, dataDir: join(dataDir, 'minio'), credentials });
      standIns.push(() => stopChild(minio));
      log(`S3 (MinIO)              ${endpoints.s3}`);
    }
    if (!configured('SECRETS_MANAGER')) {
      const secrets = await startStandIn('secrets-manager', ['--port', String(secretsPort), '--state-file', join(dataDir, 'secrets.json')], endpoints.secretsManager);
      standIns.push(() => stopChild(secrets));
      log(`Secrets Manager (local) ${endpoints.secretsManager}`);
    }
    if (!configured('DYNAMODB')) {
      const dynamodb = startDynamoDbLocal({ port: dynamodbPort, dataDir: join(dataDir, 'dynamodb') });
      standIns.push(() => stopChild(dynamodb));
      await waitFor('DynamoDB Local', dynamodb, async () => {
        const client = new DynamoDBClient({ endpoint: endpoints.dynamodb, region: 'us-east-1', credentials: LOCAL_CREDENTIALS });
        try {
          await client.send(new ListTablesCommand({}));
        } finally {
          client.destroy();
        }
      });
      log(`DynamoDB (Local)        ${endpoints.dynamodb}`);
    }
    for (const service of ['S3', 'SQS', 'DYNAMODB', 'SECRETS_MANAGER'] as const) {
      if (configured(service)) log(`${service.padEnd(23)} ${configured(service)} (from the environment)`);
    }

    const clientConfig = { region, credentials };
    const clients = {
      dynamodb: new DynamoDBClient({ ...clientConfig, endpoint: endpoints.dynamodb }),
      s3: new S3Client({ ...clientConfig, endpoint: endpoints.s3, forcePathStyle: stackEnv.S3_FORCE_PATH_STYLE === 'true' }),
      sqs: new SQSClient({ ...clientConfig, endpoint: endpoints.sqs }),
    };
    const queueUrls = await provision(service, clients, log).finally(() => {
      for (const client of Object.values(clients)) client.destroy();
    });
    log(`Tables, bucket and ${Object.keys(queueUrls).length} queues ready`);

    const offline = spawn(
      process.execPath,
      [join(options.projectRoot, 'node_modules/serverless/bin/serverless.js'), 'offline', 'start', '--stage', stage],
      { cwd: options.projectRoot, env: offlineEnv, stdio: ['ignore', 'pipe', 'pipe'], detached: true },
    );
    stoppers.push(() => stopChild(offline, true));
    const forward = (chunk: Buffer) => options.functionOutput?.(chunk.toString('utf8'));
    offline.stdout?.on('data', forward);
    offline.stderr?.on('data', forward);
    const apiUrl = `http://127.0.0.1:${apiPort}`;
    await waitFor(
      'serverless-offline',
      offline,
      async () => {
        const response = await fetch(`${apiUrl}/health`);
        if (response.status !== 200) throw new Error(`health answered ${response.status}`);
      },
      120_000,
    );
    log(`API                     ${apiUrl}`);

    const mappings = sqsMappings(service.functions, service.resources.Resources);
    const functions = localFunctions(service, functionEnv, mappings);
    const bundles = await bundleFunctions(options.projectRoot, functions, join(dataDir, 'functions'));
    const runtime = startLambdaRuntime({ functions, bundles, output: options.functionOutput });
    stoppers.push(() => runtime.stop());
    const warn = (event: string, fields: Record<string, unknown>) => options.functionOutput?.(`${JSON.stringify({ level: 'warn', event, ...fields })}\n`);
    if (mappings.length > 0) {
      // Lambda's event source mapping, not the product: counted apart when requests are counted.
      const sqs = countRequests(new SQSClient({ ...clientConfig, endpoint: endpoints.sqs }), 'event source');
      const runner = startSqsEventSources({ sqs, mappings, invoke: runtime.invoke, region, log: warn });
      drains.push(async () => {
        const drained = runner.stop();
        await Promise.race([drained, new Promise((resolve) => setTimeout(resolve, DRAIN_MS).unref())]);
        // Invocations still running are ended with the runtime in the next round.
        stoppers.push(async () => {
          await drained;
          sqs.destroy();
        });
      });
      log(`SQS event sources       ${mappings.map((mapping) => `${mapping.queueName} -> ${mapping.functionName} (${mapping.maximumConcurrency})`).join(', ')}`);
    }
    const schedules = scheduledFunctions(service);
    const scheduler = startSchedules(runtime, schedules, warn);
    drains.push(async () => scheduler.stop());
    log(`Schedules               ${schedules.map((schedule) => `${schedule.functionName} ${schedule.rate}`).join(', ')}`);

    return {
      apiUrl,
      s3: s3Kind,
      apiToken,
      endpoints,
      env: { ...stackEnv, SLUICE_API_TOKEN: apiToken },
      queueUrls,
      functionUsage: () => runtime.usage(),
      stop,
    };
  } catch (error) {
    await stop();
    throw error;
  }
}

/**
 * Parses each function's environment (the local one, then serverless.yml's on top, as
 * serverless-offline's `localEnvironment` does) like its cold start; throws naming every bad
 * variable with what is wrong, never its value.
 */
export function checkFunctionConfig(service: Pick<ResolvedService, 'provider' | 'functions'>, env: NodeJS.ProcessEnv): void {
  const problems = new Map<string, string>();
  for (const definition of Object.values(service.functions)) {
    try {
      loadConfig(functionEnvironment(service, definition, env));
    } catch (error) {
      if (!(error instanceof ConfigError)) throw error;
      for (const problem of error.problems) problems.set(problem.variable, problem.message);
    }
  }
  if (problems.size === 0) return;
  throw new LocalStackConfigError(
    ['Invalid configuration; nothing was started:', ...[...problems].map(([variable, message]) => `  ${variable}: ${message}`)].join('\n'),
  );
}

/** The queue and scheduled functions, each with the environment serverless-offline would give it. */
function localFunctions(service: ResolvedService, env: NodeJS.ProcessEnv, mappings: SqsMapping[]): LocalFunction[] {
  const functions: LocalFunction[] = [];
  for (const [name, definition] of Object.entries(service.functions)) {
    const events = definition.events ?? [];
    if (!events.some((event) => event.sqs || event.schedule)) continue;
    const concurrency = Math.max(1, ...mappings.filter((mapping) => mapping.functionName === name).map((mapping) => mapping.maximumConcurrency));
    functions.push({
      name,
      handler: definition.handler,
      timeoutSeconds: definition.timeout ?? service.provider.timeout ?? 6,
      memorySize: definition.memorySize ?? service.provider.memorySize ?? 1024,
      maxEnvironments: concurrency,
      env: functionEnvironment(service, definition, env, name),
    });
  }
  return functions;
}

/** As serverless-offline with `localEnvironment`: the local environment, then serverless.yml's on top. */
function functionEnvironment(service: Pick<ResolvedService, 'provider'>, definition: ResolvedFunction, env: NodeJS.ProcessEnv, name = 'function'): Record<string, string> {
  const merged: Record<string, string | undefined> = { ...env, ...service.provider.environment, ...definition.environment, IS_OFFLINE: 'true', AWS_LAMBDA_FUNCTION_NAME: name };
  return Object.fromEntries(Object.entries(merged).filter((entry): entry is [string, string] => typeof entry[1] === 'string'));
}

function scheduledFunctions(service: ResolvedService): { functionName: string; rate: string }[] {
  return Object.entries(service.functions).flatMap(([functionName, definition]) =>
    (definition.events ?? []).flatMap((event) => {
      if (!event.schedule) return [];
      if (typeof event.schedule === 'string') return [{ functionName, rate: event.schedule }];
      if (event.schedule.enabled === false) return [];
      return [event.schedule.rate].flat().map((rate) => ({ functionName, rate }));
    }),
  );
}

export const LOCAL_CREDENTIALS = { accessKeyId: 'sluicelocal', secretAccessKey: 'sluicelocal' };
