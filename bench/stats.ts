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
