import assert from 'node:assert/strict';
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync, symlinkSync } from 'node:fs';
import { connect } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { GetSecretValueCommand, SecretsManagerClient } from '@aws-sdk/client-secrets-manager';
import { findMinio } from '../../scripts/local/minio';
import { startSecretsManager } from '../../scripts/local/secrets-manager';

const dataDir = mkdtempSync(join(tmpdir(), 'sluice-start-'));
after(() => rmSync(dataDir, { recursive: true, force: true }));

const ports = { PORT: '3200', SLUICE_LAMBDA_PORT: '3202', SLUICE_LOCAL_AWS_PORT: '4766', SLUICE_LOCAL_DYNAMODB_PORT: '8200', SLUICE_LOCAL_SECRETS_PORT: '4784' };

function baseEnv(): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = { ...process.env, ...ports, SLUICE_DATA_DIR: dataDir, SLUICE_API_TOKEN: 'start-test-token-0123456789' };
  for (const name of Object.keys(env)) if (name.startsWith('AWS_ENDPOINT_URL')) delete env[name];
  return env;
}

function startService(env: NodeJS.ProcessEnv): { child: ChildProcess; output: () => string; ready: Promise<void> } {
  const child = spawn(process.execPath, ['--import', 'tsx', 'scripts/start.ts'], { env, stdio: ['ignore', 'pipe', 'pipe'] });
  let output = '';
  const ready = new Promise<void>((resolve, reject) => {
    const onData = (chunk: Buffer) => {
      output += chunk.toString('utf8');
      if (output.includes('Press Ctrl-C to stop.')) resolve();
    };
    child.stdout!.on('data', onData);
    child.stderr!.on('data', onData);
    child.once('exit', (code) => reject(new Error(`npm start exited with ${code}:\n${output}`)));
    setTimeout(() => reject(new Error(`npm start not ready in time:\n${output}`)), 120_000).unref();
  });
  return { child, output: () => output, ready };
}

async function interrupt(child: ChildProcess): Promise<number | null> {
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
  child.kill('SIGINT');
  return exited;
}

function portOpen(port: string): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = connect(Number(port), '127.0.0.1');
    socket.once('connect', () => {
      socket.destroy();
      resolve(true);
    });
    socket.once('error', () => resolve(false));
  });
}

const authorized = { authorization: 'Bearer start-test-token-0123456789', 'content-type': 'application/json' };

describe('npm start', () => {
  it('prints where everything is, keeps data across restarts, and Ctrl-C stops every process', async () => {
    const first = startService(baseEnv());
    let id: string;
    try {
      await first.ready;
      const printed = first.output();
      for (const expected of ['API URL     http://127.0.0.1:3200', 'API token   start-test-token-0123456789', 'http://127.0.0.1:4766', 'http://127.0.0.1:8200', 'http://127.0.0.1:4784']) {
        assert.ok(printed.includes(expected), `prints ${expected}`);
      }
      assert.equal((await fetch('http://127.0.0.1:3200/health')).status, 200);
      // The console is built if need be and served with the API (test/integration/console.test.ts drives it).
      assert.ok(printed.includes('Console     http://127.0.0.1:3200/console'), 'prints the console');
      const page = await fetch('http://127.0.0.1:3200/console');
      assert.equal(page.status, 200);
      assert.match(await page.text(), /<script type="module"[^>]* src="\/console\/assets\//);
      const created = await fetch('http://127.0.0.1:3200/servers', {
        method: 'POST',
        headers: authorized,
        body: JSON.stringify({ name: 'persisted', host: '127.0.0.1', port: 9, username: 'u', password: 'start-test-password', active: false }),
      });
      assert.equal(created.status, 201);
      id = ((await created.json()) as { id: string }).id;
    } finally {
      assert.equal(await interrupt(first.child), 0, first.output());
    }
    for (const port of Object.values(ports)) assert.equal(await portOpen(port), false, `port ${port} released`);

    const second = startService(baseEnv());
    try {
      await second.ready;
      const read = await fetch(`http://127.0.0.1:3200/servers/${id}`, { headers: authorized });
      assert.equal(read.status, 200, 'the server registered before the restart is still there');
    } finally {
      assert.equal(await interrupt(second.child), 0);
    }
    assert.doesNotMatch(first.output() + second.output(), /start-test-password/);
  });

  it('uses a service endpoint given in the environment instead of starting its stand-in', async () => {
    const external = await startSecretsManager({ port: 4794 });
    const service = startService({ ...baseEnv(), AWS_ENDPOINT_URL_SECRETS_MANAGER: external.url });
    try {
      await service.ready;
      assert.doesNotMatch(service.output(), /Secrets Manager \(local\)/);
      assert.match(service.output(), /SECRETS_MANAGER\s+http:\/\/127\.0\.0\.1:4794 \(from the environment\)/);
      const created = await fetch('http://127.0.0.1:3200/servers', {
        method: 'POST',
        headers: authorized,
        body: JSON.stringify({ name: 'external-secrets', host: '127.0.0.1', port: 9, username: 'u', password: 'kept-elsewhere', active: false }),
      });
      assert.equal(created.status, 201);
      const { id } = (await created.json()) as { id: string };
      const client = new SecretsManagerClient({ region: 'us-east-1', endpoint: external.url, credentials: { accessKeyId: 'x', secretAccessKey: 'x' } });
      const { SecretString } = await client.send(new GetSecretValueCommand({ SecretId: `sluice/local/servers/${id}` }));
      client.destroy();
      assert.deepEqual(JSON.parse(SecretString!), { type: 'password', password: 'kept-elsewhere' });
    } finally {
      assert.equal(await interrupt(service.child), 0);
      await external.stop();
    }
  });

  it('says what to install when Java is missing, without a stack trace', () => {
    // A PATH holding only node, wherever node lives (it may share /usr/bin with java).
    const nodeOnly = mkdtempSync(join(tmpdir(), 'sluice-node-only-'));
    symlinkSync(process.execPath, join(nodeOnly, 'node'));
    const result = spawnSync(process.execPath, ['--import', 'tsx', 'scripts/start.ts'], {
      env: { ...baseEnv(), PATH: nodeOnly },
      encoding: 'utf8',
      timeout: 60_000,
    });
    assert.equal(result.status, 1);
    const output = result.stdout + result.stderr;
    assert.match(output, /Java was not found/);
    assert.match(output, /apt-get install -y openjdk-17-jre-headless/);
    assert.doesNotMatch(output, /\n\s+at /, 'no stack trace');
    rmSync(nodeOnly, { recursive: true, force: true });
  });

  it('runs MinIO in place of the emulator\'s S3 with SLUICE_LOCAL_S3=minio, and names it in the banner', { skip: findMinio() ? false : 'MinIO is not installed (npm run minio:install)' }, async () => {
    const env = { ...baseEnv(), SLUICE_LOCAL_S3: 'minio', SLUICE_LOCAL_S3_PORT: '9200', SLUICE_DATA_DIR: join(dataDir, 'with-minio') };
    const service = startService(env);
    try {
      await service.ready;
      assert.match(service.output(), /S3 \(MinIO\)\s+http:\/\/127\.0\.0\.1:9200/);
      assert.match(service.output(), /S3 {10}http:\/\/127\.0\.0\.1:9200 {3}bucket sluice-ingest {3}\(MinIO\)/);
      const live = await fetch('http://127.0.0.1:9200/minio/health/live');
      assert.equal(live.status, 200);
    } finally {
      assert.equal(await interrupt(service.child), 0);
    }
    assert.equal(await portOpen('9200'), false, 'MinIO stopped with npm start');
  });

  it('says how to get MinIO when SLUICE_LOCAL_S3=minio and there is none, and exits non-zero', () => {
    const nodeOnly = mkdtempSync(join(tmpdir(), 'sluice-node-only-'));
    symlinkSync(process.execPath, join(nodeOnly, 'node'));
    const result = spawnSync(process.execPath, ['--import', 'tsx', 'scripts/start.ts'], {
      env: { ...baseEnv(), SLUICE_LOCAL_S3: 'minio', PATH: nodeOnly, HOME: nodeOnly },
      encoding: 'utf8',
      timeout: 60_000,
    });
    rmSync(nodeOnly, { recursive: true, force: true });
    assert.equal(result.status, 1);
    const output = result.stdout + result.stderr;
    assert.match(output, /needs the MinIO server/);
    assert.match(output, /npm run minio:install/);
    assert.doesNotMatch(output, /\n\s+at /, 'no stack trace');
  });

  it('refuses an unknown SLUICE_LOCAL_S3, naming the variable', () => {
    const result = spawnSync(process.execPath, ['--import', 'tsx', 'scripts/start.ts'], {
      env: { ...baseEnv(), SLUICE_LOCAL_S3: 'ceph' },
      encoding: 'utf8',
      timeout: 60_000,
    });
    assert.equal(result.status, 1);
    assert.match(result.stdout + result.stderr, /SLUICE_LOCAL_S3: must be fauxqs or minio/);
  });

  it('validates the whole configuration before it serves: exits non-zero naming each bad variable, never its value, starting nothing', async () => {
    const result = spawnSync(process.execPath, ['--import', 'tsx', 'scripts/start.ts'], {
      env: { ...baseEnv(), SLUICE_API_TOKEN: 'short-tok', S3_BUCKET: 'Not_A_Bucket', TRANSFER_PART_CONCURRENCY: 'lots' },
      encoding: 'utf8',
      timeout: 120_000,
    });
    const output = result.stdout + result.stderr;
    assert.equal(result.status, 1, output);
    assert.match(output, /Invalid configuration; nothing was started/);
    for (const variable of ['SLUICE_API_TOKEN', 'S3_BUCKET', 'TRANSFER_PART_CONCURRENCY']) assert.match(output, new RegExp(`${variable}: `), variable);
    for (const value of ['short-tok', 'Not_A_Bucket', 'lots']) assert.doesNotMatch(output, new RegExp(value), `the value ${value} is not printed`);
    assert.doesNotMatch(output, /\n\s+at /, 'no stack trace');
    assert.equal(await portOpen(ports.SLUICE_LOCAL_DYNAMODB_PORT), false, 'no stand-in was started');
  });
});
