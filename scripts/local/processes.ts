import { spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { join } from 'node:path';

/** Polls `probe` until it succeeds; fails early, with the child's last output, if `child` exits. */
export async function waitFor(name: string, child: ChildProcess, probe: () => Promise<void>, timeoutMs = 60_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  let exited: number | null | undefined;
  let output = '';
  const keep = (chunk: Buffer) => {
    output = (output + chunk.toString('utf8')).slice(-4000);
  };
  child.stdout?.on('data', keep);
  child.stderr?.on('data', keep);
  child.once('exit', (code) => {
    exited = code;
  });
  let lastError: unknown;
  while (Date.now() < deadline) {
    if (exited !== undefined) throw new Error(`${name} exited with code ${exited} before it was ready:\n${output}`);
    try {
      await probe();
      return;
    } catch (error) {
      lastError = error;
      await new Promise((resolveDelay) => setTimeout(resolveDelay, 250));
    }
  }
  throw new Error(`${name} was not ready after ${timeoutMs} ms: ${String(lastError)}\n${output}`);
}

/** SIGTERM, then SIGKILL after 5 s; `group` signals the child's whole process group. */
export async function stopChild(child: ChildProcess, group = false): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  const signal = (name: NodeJS.Signals) => {
    try {
      if (group && child.pid) process.kill(-child.pid, name);
      else child.kill(name);
    } catch {
      // Already gone: nothing left to stop.
    }
  };
  const exited = once(child, 'exit');
  signal('SIGTERM');
  const timer = setTimeout(() => signal('SIGKILL'), 5000);
  await exited;
  clearTimeout(timer);
}

/** Resolves once an HTTP GET of `url` answers (any status): the server is accepting requests. */
export async function answers(url: string): Promise<void> {
  const response = await fetch(url, { signal: AbortSignal.timeout(2000) });
  await response.body?.cancel();
}

/**
 * Runs one of the JavaScript stand-ins (scripts/local/stand-in.ts) in a process of its own, so it can
 * be measured, killed and restarted without the start script; resolves once it listens.
 */
export async function startStandIn(kind: 'fauxqs' | 'secrets-manager', args: string[], url: string): Promise<ChildProcess> {
  const child = spawn(process.execPath, ['--import', 'tsx', join(import.meta.dirname, 'stand-in.ts'), kind, ...args], {
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  try {
    await waitFor(kind, child, () => answers(url));
  } catch (error) {
    await stopChild(child);
    throw error;
  }
  return child;
}
