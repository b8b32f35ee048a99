import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { once } from 'node:events';
import { chmodSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { connect } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import ssh2 from 'ssh2';

const { utils } = ssh2;

/** The system account the test sshd lets in (password and key), created on first use. */
export const SFTP_USER = 'sluice-sftp';

export interface Sshd {
  port: number;
  /** Files served over SFTP live here (absolute path, also the SFTP path). */
  root: string;
  username: string;
  password: string;
  privateKey: string;
  /** `SHA256:...` fingerprint of the server's host key. */
  hostKey: string;
  stop(): Promise<void>;
  start(): Promise<void>;
  /** Removes everything; the server must be stopped. */
  dispose(): Promise<void>;
}

/**
 * One random password per machine for the shared test account, so concurrent test processes (each
 * with its own sshd) agree on it. Created atomically; readable by root only.
 */
function machinePassword(): string {
  const file = join(tmpdir(), 'sluice-sftp-test-password');
  try {
    writeFileSync(file, `pw-${randomBytes(12).toString('base64url')}`, { flag: 'wx', mode: 0o600 });
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== 'EEXIST') throw error;
  }
  return readFileSync(file, 'utf8').trim();
}

function ensureUser(password: string): void {
  try {
    execFileSync('id', [SFTP_USER], { stdio: 'ignore' });
  } catch {
    execFileSync('useradd', ['--no-create-home', '--shell', '/bin/sh', SFTP_USER], { stdio: 'pipe' });
  }
  execFileSync('chpasswd', [], { input: `${SFTP_USER}:${password}\n`, stdio: ['pipe', 'ignore', 'pipe'] });
}

export async function freePort(): Promise<number> {
  const { createServer } = await import('node:net');
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      server.close(() => resolve(typeof address === 'object' && address ? address.port : 0));
    });
  });
}

export async function waitForPort(port: number, timeoutMs = 10_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    const open = await new Promise<boolean>((resolve) => {
      const socket = connect(port, '127.0.0.1');
      socket.once('connect', () => {
        socket.destroy();
        resolve(true);
      });
      socket.once('error', () => resolve(false));
    });
    if (open) return;
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
  throw new Error(`port ${port} did not open`);
}

/**
 * A real OpenSSH sshd on a loopback port serving SFTP (internal-sftp) from a temporary directory,
 * accepting a generated password and a generated ed25519 key. Needs root (it sets the test
 * account's password) and the openssh-server package.
 */
export async function startSshd(): Promise<Sshd> {
  const dir = mkdtempSync(join(tmpdir(), 'sluice-sshd-'));
  chmodSync(dir, 0o755);
  const root = join(dir, 'files');
  mkdirSync(root, { mode: 0o755 });
  mkdirSync('/run/sshd', { recursive: true, mode: 0o755 });
  const password = machinePassword();
  ensureUser(password);
  execFileSync('ssh-keygen', ['-q', '-t', 'ed25519', '-N', '', '-f', join(dir, 'host_key')]);
  const hostKey = /SHA256:[A-Za-z0-9+/]+/.exec(execFileSync('ssh-keygen', ['-l', '-f', join(dir, 'host_key.pub')], { encoding: 'utf8' }))![0];
  const keys = utils.generateKeyPairSync('ed25519');
  writeFileSync(join(dir, 'authorized_keys'), `${keys.public}\n`, { mode: 0o644 });
  const port = await freePort();
  const config = join(dir, 'sshd_config');
  writeFileSync(
    config,
    [
      `Port ${port}`,
      'ListenAddress 127.0.0.1',
      `HostKey ${join(dir, 'host_key')}`,
      `PidFile ${join(dir, 'sshd.pid')}`,
      `AuthorizedKeysFile ${join(dir, 'authorized_keys')}`,
      'PasswordAuthentication yes',
      'KbdInteractiveAuthentication no',
      'PubkeyAuthentication yes',
      'UsePAM no',
      'StrictModes no',
      `AllowUsers ${SFTP_USER}`,
      'Subsystem sftp internal-sftp',
      'ForceCommand internal-sftp',
      'MaxStartups 200',
      'MaxSessions 100',
      'LogLevel ERROR',
      '',
    ].join('\n'),
  );

  let child: ChildProcess | undefined;
  const start = async () => {
    child = spawn('/usr/sbin/sshd', ['-D', '-e', '-f', config], { stdio: ['ignore', 'ignore', 'pipe'] });
    let stderr = '';
    child.stderr!.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
    try {
      await waitForPort(port);
    } catch (error) {
      throw new Error(`sshd did not start: ${stderr} ${String(error)}`);
    }
  };
  const stop = async () => {
    if (!child || child.exitCode !== null || child.signalCode !== null) return;
    // Established sessions are served by per-connection children: end them too, as in a real outage.
    try {
      execFileSync('pkill', ['-KILL', '-P', String(child.pid)], { stdio: 'ignore' });
    } catch {
      // no sessions
    }
    const exited = once(child, 'exit');
    child.kill('SIGTERM');
    await exited;
  };
  await start();
  return {
    port,
    root,
    username: SFTP_USER,
    password,
    privateKey: keys.private,
    hostKey,
    start,
    stop,
    async dispose() {
      await stop();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

/** Writes a file under the SFTP root with a given mtime (seconds), creating directories. */
export function writeRemoteFile(sshd: Sshd, relativePath: string, content: string | Buffer, mtimeSeconds?: number): string {
  const path = join(sshd.root, relativePath);
  mkdirSync(join(path, '..'), { recursive: true, mode: 0o755 });
  writeFileSync(path, content, { mode: 0o644 });
  if (mtimeSeconds !== undefined) execFileSync('touch', ['-d', `@${mtimeSeconds}`, path]);
  return path;
}

export function readLocal(path: string): Buffer {
  return readFileSync(path);
}
