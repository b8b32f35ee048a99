import { spawn } from 'node:child_process';
import { createWriteStream, globSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { ensureConsoleBuilt } from './console-build';
import { findMinio, MissingMinioError } from './local/minio';
import { localS3From, startLocalStack, type LocalS3, type LocalStack } from './local/stack';
import { errorMessage } from '../lib/errors';

/**
 * `npm test [unit|integration]`: unit tests need nothing; integration tests get a private local
 * stack on test ports (so a running `npm start` is not disturbed) in a throw-away data directory.
 * Its S3 is MinIO when one is installed (`npm run minio:install`), else the emulator;
 * `SLUICE_TEST_S3=minio|fauxqs` chooses (CI: minio). Tests that only a real store can prove are
 * skipped, with the reason, on the emulator.
 * Ends with the plain summary line `N passed, N failed`.
 */
const projectRoot = resolve(import.meta.dirname, '..');
const args = process.argv.slice(2);
const explicitFiles = args.filter((arg) => arg.endsWith('.test.ts'));
const layers = explicitFiles.length
  ? [...new Set(explicitFiles.map((file) => (file.includes('integration') ? 'integration' : 'unit')))]
  : args[0] === 'unit' || args[0] === 'integration'
    ? [args[0]]
    : ['unit', 'integration'];

/** SLUICE_TEST_PORT_OFFSET moves every test port, so two test runs can share a machine. */
const port = (base: number) => String(base + Number(process.env.SLUICE_TEST_PORT_OFFSET ?? 0));

async function main(): Promise<number> {
  const files = explicitFiles.length
    ? explicitFiles
    : layers.flatMap((name) => globSync(`test/${name}/**/*.test.ts`, { cwd: projectRoot }).sort());
  let stack: LocalStack | undefined;
  const dataDir = mkdtempSync(join(tmpdir(), 'sluice-test-'));
  const functionLog = join(dataDir, 'functions.log');
  const env: NodeJS.ProcessEnv = { ...process.env, SLUICE_TEST_DATA_DIR: dataDir };
  try {
    // The console's unit tests read the built page; the stack below and `serverless package` embed it.
    await ensureConsoleBuilt(projectRoot, (line) => console.log(`  ${line}`));
    if (layers.includes('integration')) {
      const logStream = createWriteStream(functionLog);
      const s3 = testS3();
      console.log(`Starting the local stack for integration tests (S3: ${s3}) ...`);
      const testEnv = { ...process.env };
      for (const name of Object.keys(testEnv)) if (name.startsWith('AWS_ENDPOINT_URL')) delete testEnv[name];
      stack = await startLocalStack({
        projectRoot,
        dataDir: join(dataDir, 'stack'),
        s3,
        env: {
          ...testEnv,
          PORT: process.env.SLUICE_TEST_API_PORT ?? port(3100),
          SLUICE_LAMBDA_PORT: port(3102),
          SLUICE_LOCAL_AWS_PORT: port(4666),
          SLUICE_LOCAL_DYNAMODB_PORT: port(8100),
          SLUICE_LOCAL_SECRETS_PORT: port(4684),
          SLUICE_LOCAL_S3_PORT: port(9100),
          SLUICE_API_TOKEN: '',
          // Stalling servers are cut off in seconds, not the deployed 30.
          SFTP_REQUEST_TIMEOUT_SECONDS: '10',
          LOG_LEVEL: 'debug',
          // The functions' CloudWatch metrics lines, which the operations test reads from their log.
          POWERTOOLS_METRICS_DISABLED: 'false',
        },
        log: (line) => console.log(`  ${line}`),
        functionOutput: (chunk) => logStream.write(chunk),
      });
      Object.assign(env, stack.env, {
        SLUICE_TEST_API_URL: stack.apiUrl,
        SLUICE_TEST_API_TOKEN: stack.apiToken,
        SLUICE_TEST_FUNCTION_LOG: functionLog,
        SLUICE_TEST_STAGE: 'local',
        SLUICE_TEST_S3: s3,
      });
    }
    return await runNodeTests(files, env);
  } finally {
    await stack?.stop();
    if (!process.env.SLUICE_KEEP_TEST_DATA) rmSync(dataDir, { recursive: true, force: true });
  }
}

function testS3(): LocalS3 {
  const chosen = process.env.SLUICE_TEST_S3;
  if (chosen) {
    const s3 = localS3From(chosen, 'SLUICE_TEST_S3');
    if (s3 === 'minio' && !findMinio()) throw new MissingMinioError();
    return s3;
  }
  if (findMinio()) return 'minio';
  console.log('MinIO is not installed (npm run minio:install): S3 tests run on the emulator, and those only a real store can prove are skipped.');
  return 'fauxqs';
}

/** A test that hangs fails after this instead of holding the run (and CI) forever; the longest (5 GiB) takes ~3 min. */
const TEST_TIMEOUT_MS = 10 * 60_000;

function runNodeTests(files: string[], env: NodeJS.ProcessEnv): Promise<number> {
  return new Promise((resolveRun, reject) => {
    const child = spawn(
      process.execPath,
      ['--import', 'tsx', '--test', '--test-reporter=spec', '--test-concurrency=2', `--test-timeout=${TEST_TIMEOUT_MS}`, ...files],
      { cwd: projectRoot, env, stdio: ['ignore', 'pipe', 'inherit'] },
    );
    let output = '';
    child.stdout.on('data', (chunk: Buffer) => {
      process.stdout.write(chunk);
      output = (output + chunk.toString('utf8')).slice(-20_000);
    });
    child.on('error', reject);
    child.on('exit', (code) => {
      const count = (label: string) => Number(new RegExp(`ℹ ${label} (\\d+)`).exec(output)?.[1] ?? 0);
      const passed = count('pass');
      const failed = count('fail') + count('cancelled');
      console.log(`${passed} passed, ${failed} failed`);
      resolveRun(code === 0 && failed === 0 && passed > 0 ? 0 : 1);
    });
  });
}

main().then(
  (code) => process.exit(code),
  (error: unknown) => {
    console.error(errorMessage(error));
    console.log('0 passed, 1 failed');
    process.exit(1);
  },
);
