import { spawn } from 'node:child_process';
import { readdirSync, readFileSync } from 'node:fs';

export interface BenchResult {
  title: string;
  markdown: string;
}

export function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  const middle = Math.floor(sorted.length / 2);
  return sorted.length % 2 ? sorted[middle]! : (sorted[middle - 1]! + sorted[middle]!) / 2;
}


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

/** Where CPU time went, by kind of process: cumulative seconds from /proc (reaped children count towards their parent). */
export type CpuGroup = 'sluice' | 'DynamoDB Local' | 'S3 store' | 'SQS/emulator' | 'RabbitMQ' | 'sshd' | 'other';

export interface ProcessRow {
  pid: number;
  ppid: number;
  args: string;
  rssKiB: number;
  /** utime + stime + cutime + cstime, in seconds. */
  cpuSeconds: number;
}

/**
 * Every process of the machine, read from /proc. No `ps`: the benchmark samples this every second
 * from the thread that hosts the local runtime's event loop, and a spawnSync of `ps` was measured to
 * block that loop ~100 ms a second (7.9 s of an 80 s run) and to charge its CPU to sluice.
 */
export function processTable(): ProcessRow[] {
  const ticksPerSecond = 100; // USER_HZ on Linux
  const pageKiB = 4;
  const rows: ProcessRow[] = [];
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const stat = readFileSync(`/proc/${entry}/stat`, 'utf8');
      // After the command name in parentheses: fields[0] is field 3 (state) of proc(5).
      const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
      const args = readFileSync(`/proc/${entry}/cmdline`, 'utf8').split('\0').join(' ').trim() || stat.slice(stat.indexOf('(') + 1, stat.lastIndexOf(')'));
      rows.push({
        pid: Number(entry),
        ppid: Number(fields[1]),
        args,
        rssKiB: Number(fields[21]) * pageKiB,
        cpuSeconds: (Number(fields[11]) + Number(fields[12]) + Number(fields[13]) + Number(fields[14])) / ticksPerSecond,
      });
    } catch {
      // the process ended while it was read
    }
  }
  return rows;
}

export function cpuSecondsByGroup(): Record<CpuGroup, number> & { machine: number } {
  const ticksPerSecond = 100; // USER_HZ on Linux
  const totals: Record<string, number> = { sluice: 0, 'DynamoDB Local': 0, 'S3 store': 0, 'SQS/emulator': 0, RabbitMQ: 0, sshd: 0, other: 0 };
  const groupOf = (args: string, pid: number): CpuGroup => {
    if (/DynamoDBLocal|java/.test(args)) return 'DynamoDB Local';
    if (/minio/.test(args)) return 'S3 store';
    if (/fauxqs|stand-in/.test(args)) return 'SQS/emulator';
    if (/beam|rabbitmq|epmd|erl_child/.test(args)) return 'RabbitMQ';
    if (/sshd|sftp-server/.test(args)) return 'sshd';
    if (pid === process.pid || /serverless\.js offline|esbuild/.test(args)) return 'sluice';
    return 'other';
  };
  for (const row of processTable()) totals[groupOf(row.args, row.pid)]! += row.cpuSeconds;
  const cpu = readFileSync('/proc/stat', 'utf8').split('\n')[0]!.trim().split(/\s+/).slice(1).map(Number);
  const busy = cpu[0]! + cpu[1]! + cpu[2]! + cpu[5]! + cpu[6]! + cpu[7]!;
  return { ...(totals as Record<CpuGroup, number>), machine: busy / ticksPerSecond };
}

export function cpuDelta(before: ReturnType<typeof cpuSecondsByGroup>, after: ReturnType<typeof cpuSecondsByGroup>): Record<string, number> {
  return Object.fromEntries(Object.keys(after).map((key) => [key, (after as Record<string, number>)[key]! - (before as Record<string, number>)[key]!]));
}
