import { execFileSync, spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import type { Sshd } from '../scripts/fixtures/sshd';

const projectRoot = resolve(import.meta.dirname, '..');

/**
 * `npm start` (its own ports and data directory) busy with 500 small files, then SIGTERM: how long
 * until it has exited, and how many of the processes it had started are still alive afterwards.
 */
export async function benchStop(sshd: Sshd, amqpUrl: string): Promise<{ seconds: number; leftBehind: string[] }> {
  const dataDir = mkdtempSync(join(tmpdir(), 'sluice-bench-stop-'));
  const ports = { PORT: '3500', SLUICE_LAMBDA_PORT: '3502', SLUICE_LOCAL_AWS_PORT: '4766', SLUICE_LOCAL_DYNAMODB_PORT: '8500', SLUICE_LOCAL_SECRETS_PORT: '4784' };
  const token = `bench-stop-${randomBytes(8).toString('hex')}`;
  const env: NodeJS.ProcessEnv = { ...process.env, ...ports, SLUICE_DATA_DIR: join(dataDir, 'service'), SLUICE_API_TOKEN: token, AMQP_URL: amqpUrl, SLUICE_COUNT_REQUESTS: '' };
  for (const name of Object.keys(env)) if (name.startsWith('AWS_ENDPOINT_URL') || name === 'SLUICE_LOCAL_S3') delete env[name];
  const child = spawn(process.execPath, ['--import', 'tsx', 'scripts/start.ts'], { cwd: projectRoot, env, stdio: ['ignore', 'pipe', 'pipe'] });
  try {
    let output = '';
    await new Promise<void>((ready, fail) => {
      const onData = (chunk: Buffer) => {
        output = (output + chunk.toString('utf8')).slice(-20_000);
        if (output.includes('Press Ctrl-C to stop.')) ready();
      };
      child.stdout!.on('data', onData);
      child.stderr!.on('data', onData);
      child.once('exit', (code) => fail(new Error(`npm start exited with ${code}: ${output.slice(-2000)}`)));
    });
    const dir = join(sshd.root, 'bench-stop');
    mkdirSync(dir, { recursive: true, mode: 0o755 });
    for (let index = 0; index < 500; index++) writeFileSync(join(dir, `s${index}.dat`), randomBytes(4096));
    const response = await fetch(`http://127.0.0.1:${ports.PORT}/servers`, {
      method: 'POST',
      headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' },
      body: JSON.stringify({ name: 'bench-stop', host: '127.0.0.1', port: sshd.port, username: sshd.username, privateKey: sshd.privateKey, remoteDir: dir, hostKey: sshd.hostKey, stableAfterSeconds: 1 }),
    });
    if (response.status !== 201) throw new Error(`register failed: ${response.status}`);
    // Stopped in the middle of the work: wait for the first upload.
    const busy = Date.now() + 120_000;
    while (!output.includes('"file_uploaded"') && Date.now() < busy) await new Promise((resolve) => setTimeout(resolve, 100));
    const tree = descendants(child.pid!);
    const stopped = performance.now();
    const exited = new Promise((resolve) => child.once('exit', resolve));
    child.kill('SIGTERM');
    await exited;
    const seconds = (performance.now() - stopped) / 1000;
    // A zombie (<defunct>) has exited and holds nothing; it waits for the container's init to reap it.
    const alive = new Set(descendantsOfAll().filter((row) => !row.args.includes('<defunct>')).map((row) => row.pid));
    return { seconds, leftBehind: tree.filter((row) => alive.has(row.pid)).map((row) => row.args.slice(0, 80)) };
  } finally {
    if (child.exitCode === null) child.kill('SIGKILL');
    rmSync(dataDir, { recursive: true, force: true });
  }
}

interface Row {
  pid: number;
  ppid: number;
  args: string;
}

function descendantsOfAll(): Row[] {
  return execFileSync('ps', ['-eo', 'pid=,ppid=,args='], { encoding: 'utf8' })
    .trim()
    .split('\n')
    .map((line) => {
      const [pid, ppid, ...args] = line.trim().split(/\s+/);
      return { pid: Number(pid), ppid: Number(ppid), args: args.join(' ') };
    });
}

/** Every process below `root` right now (the stand-ins, serverless-offline and their children). */
function descendants(root: number): Row[] {
  const rows = descendantsOfAll();
  const found = new Set([root]);
  for (let grown = true; grown; ) {
    grown = false;
    for (const row of rows) if (!found.has(row.pid) && found.has(row.ppid)) (found.add(row.pid), (grown = true));
  }
  return rows.filter((row) => found.has(row.pid) && row.pid !== root);
}
