import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { existsSync, mkdirSync } from 'node:fs';
import { homedir } from 'node:os';
import { delimiter, join } from 'node:path';
import { waitFor } from './processes';

/**
 * The real MinIO server for the local stack and the tests (`SLUICE_LOCAL_S3=minio`). It is built
 * from its Go module at a pinned commit (MinIO publishes no tagged Go module versions) and kept
 * outside the repository; `npm run minio:install` builds it.
 */
export const MINIO_MODULE = 'github.com/minio/minio';
export const MINIO_VERSION = 'v0.0.0-20260212201848-7aac2a2c5b7c';
export const MINIO_CACHE_DIR = join(homedir(), '.cache', 'sluice', 'bin');
export const MINIO_DEFAULT_CREDENTIALS = { accessKeyId: 'minioadmin', secretAccessKey: 'minioadmin' };

export class MissingMinioError extends Error {
  constructor() {
    super(
      [
        'SLUICE_LOCAL_S3=minio needs the MinIO server, which was not found on PATH or in ~/.cache/sluice/bin.',
        'Build it once (needs Go; about 3 minutes), then run the command again:',
        '  npm run minio:install',
        `  (or: GOBIN=~/.cache/sluice/bin go install ${MINIO_MODULE}@${MINIO_VERSION})`,
        'Or run on the embedded emulator: leave SLUICE_LOCAL_S3 unset.',
      ].join('\n'),
    );
    this.name = 'MissingMinioError';
  }
}

/** A `minio` on PATH, else the one `npm run minio:install` built; undefined when there is none. */
export function findMinio(env: NodeJS.ProcessEnv = process.env): string | undefined {
  for (const dir of (env.PATH ?? '').split(delimiter).filter(Boolean)) {
    if (existsSync(join(dir, 'minio'))) return join(dir, 'minio');
  }
  const cached = join(MINIO_CACHE_DIR, 'minio');
  return existsSync(cached) ? cached : undefined;
}

/** The module version a Go-built binary was built from (`go version -m`), if Go can tell. */
export function builtVersion(binary: string): string | undefined {
  const result = spawnSync('go', ['version', '-m', binary], { encoding: 'utf8' });
  if (result.status !== 0) return undefined;
  return new RegExp(`^\\s*mod\\s+${MINIO_MODULE.replaceAll('.', '\\.')}\\s+(\\S+)`, 'm').exec(result.stdout)?.[1];
}

export interface MinioOptions {
  binary: string;
  port: number;
  dataDir: string;
  credentials: { accessKeyId: string; secretAccessKey: string };
}

/**
 * Starts a single-node MinIO on 127.0.0.1 (its web console off: one port only) and waits until it is
 * live. Incomplete multipart uploads are kept 7 days, as the bucket lifecycle rule keeps them on AWS
 * (MinIO's own expiry replaces that rule, which it does not implement; its default is 24 h, as short
 * as the sweep's orphan threshold).
 */
export async function startMinio(options: MinioOptions): Promise<ChildProcess> {
  mkdirSync(options.dataDir, { recursive: true, mode: 0o700 });
  const child = spawn(options.binary, ['server', options.dataDir, '--address', `127.0.0.1:${options.port}`, '--quiet', '--anonymous'], {
    env: {
      PATH: process.env.PATH,
      HOME: process.env.HOME,
      MINIO_ROOT_USER: options.credentials.accessKeyId,
      MINIO_ROOT_PASSWORD: options.credentials.secretAccessKey,
      MINIO_BROWSER: 'off',
      MINIO_UPDATE: 'off',
      MINIO_API_STALE_UPLOADS_EXPIRY: '168h',
      // Prometheus metrics without a token: this MinIO listens on loopback only, and the benchmark
      // counts S3 requests per file from its own counters.
      MINIO_PROMETHEUS_AUTH_TYPE: 'public',
    },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  await waitFor('MinIO', child, () => live(`http://127.0.0.1:${options.port}`));
  return child;
}

async function live(url: string): Promise<void> {
  const response = await fetch(`${url}/minio/health/live`, { signal: AbortSignal.timeout(2000) });
  await response.body?.cancel();
  if (response.status !== 200) throw new Error(`MinIO health answered ${response.status}`);
}

