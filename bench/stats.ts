export interface BenchResult {
  title: string;
  markdown: string;
}

export function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  const middle = Math.floor(sorted.length / 2);
  return sorted.length % 2 ? sorted[middle]! : (sorted[middle - 1]! + sorted[middle]!) / 2;
}

import { spawn } from 'node:child_process';

/**
 * Runs a command without blocking the event loop: the benchmark hosts the S3/SQS emulator in its
 * own process, so a synchronous spawn would deadlock any tool that talks to it.
 */
export function runCommand(
  command: string,
  args: string[],
  options: { input?: string; env?: NodeJS.ProcessEnv; timeoutMs?: number } = {},
): Promise<{ status: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(command, args, { env: options.env ?? process.env, stdio: ['pipe', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (chunk: Buffer) => (stdout += chunk.toString()));
    child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
    const timer = setTimeout(() => child.kill('SIGKILL'), options.timeoutMs ?? 600_000);
    child.on('error', reject);
    child.on('close', (status) => {
      clearTimeout(timer);
      resolve({ status, stdout, stderr });
    });
    child.stdin.end(options.input ?? '');
  });
}

/** Runs OpenSSH `sftp` in batch mode with `commands` against the test sshd, timing the whole session. */
export async function timedOpenSshSftp(
  target: { port: number; username: string },
  keyFile: string,
  commands: string,
): Promise<{ milliseconds: number; stdout: string }> {
  const started = process.hrtime.bigint();
  const result = await runCommand(
    'sftp',
    ['-q', '-b', '-', '-P', String(target.port), '-i', keyFile, '-o', 'StrictHostKeyChecking=no', '-o', 'UserKnownHostsFile=/dev/null', '-o', 'BatchMode=yes', `${target.username}@127.0.0.1`],
    { input: `${commands}\n` },
  );
  const milliseconds = Number(process.hrtime.bigint() - started) / 1e6;
  if (result.status !== 0) throw new Error(`sftp failed: ${result.stderr}`);
  return { milliseconds, stdout: result.stdout };
}

/** rclone configured by environment: `src:` is the SFTP server, `dst:` the S3 endpoint. */
export function rcloneEnvironment(source: { port: number; username: string }, keyFile: string, s3Endpoint: string): NodeJS.ProcessEnv {
  // rclone's S3 client cannot combine AWS_CA_BUNDLE with its own transport; loopback HTTP needs none.
  const { AWS_CA_BUNDLE: _caBundle, ...inherited } = process.env;
  return {
    ...inherited,
    RCLONE_CONFIG: '/dev/null',
    RCLONE_CONFIG_SRC_TYPE: 'sftp',
    RCLONE_CONFIG_SRC_HOST: '127.0.0.1',
    RCLONE_CONFIG_SRC_PORT: String(source.port),
    RCLONE_CONFIG_SRC_USER: source.username,
    RCLONE_CONFIG_SRC_KEY_FILE: keyFile,
    // The server is SFTP-only (as most ingestion servers are): rclone must not try remote shell commands.
    RCLONE_CONFIG_SRC_SHELL_TYPE: 'none',
    RCLONE_CONFIG_SRC_DISABLE_HASHCHECK: 'true',
    RCLONE_CONFIG_DST_TYPE: 's3',
    RCLONE_CONFIG_DST_PROVIDER: 'Other',
    RCLONE_CONFIG_DST_ENDPOINT: s3Endpoint,
    RCLONE_CONFIG_DST_ACCESS_KEY_ID: process.env.AWS_ACCESS_KEY_ID ?? 'x',
    RCLONE_CONFIG_DST_SECRET_ACCESS_KEY: process.env.AWS_SECRET_ACCESS_KEY ?? 'x',
    RCLONE_CONFIG_DST_REGION: 'us-east-1',
    RCLONE_CONFIG_DST_FORCE_PATH_STYLE: 'true',
  };
}

/** The value below which `fraction` of the values lie (nearest rank). */
export function percentile(values: number[], fraction: number): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil(fraction * sorted.length) - 1))]!;
}
