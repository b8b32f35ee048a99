import assert from 'node:assert/strict';
import { execFileSync, spawnSync } from 'node:child_process';
import { mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';

const workDir = mkdtempSync(join(tmpdir(), 'sluice-package-'));
after(() => {
  rmSync(workDir, { recursive: true, force: true });
  rmSync(`.esbuild/package-${process.pid}`, { recursive: true, force: true });
});

describe('serverless package', () => {
  it('builds one self-contained CommonJS artifact per function that loads without native addons', () => {
    const packageDir = join(workDir, 'artifacts');
    execFileSync(process.execPath, ['node_modules/serverless/bin/serverless.js', 'package', '--stage', 'ci', '--package', packageDir], {
      env: { ...process.env, SLS_TELEMETRY_DISABLED: '1', SLUICE_ESBUILD_DIR: `.esbuild/package-${process.pid}` },
      stdio: 'pipe',
    });
    const printed = JSON.parse(
      execFileSync(process.execPath, ['node_modules/serverless/bin/serverless.js', 'print', '--stage', 'ci', '--format', 'json'], {
        env: { ...process.env, SLS_TELEMETRY_DISABLED: '1' },
        encoding: 'utf8',
      }),
    ) as { functions: Record<string, { handler: string }>; provider: { runtime: string } };
    assert.equal(printed.provider.runtime, 'nodejs22.x');
    const zips = readdirSync(packageDir).filter((name) => name.endsWith('.zip')).sort();
    assert.deepEqual(zips, Object.keys(printed.functions).map((name) => `${name}.zip`).sort());

    const unpacked = join(workDir, 'createServer');
    execFileSync('unzip', ['-q', join(packageDir, 'createServer.zip'), '-d', unpacked]);
    const files = execFileSync('find', [unpacked, '-type', 'f'], { encoding: 'utf8' });
    assert.doesNotMatch(files, /node_modules|\.node\b/);
    const load = spawnSync(process.execPath, ['-e', "console.log(typeof require('./functions/http/create-server.cjs').handler)"], {
      cwd: unpacked,
      env: { PATH: process.env.PATH ?? '', SLUICE_API_TOKEN: 'a-token-of-sixteen-chars' },
      encoding: 'utf8',
    });
    assert.equal(load.status, 0, load.stderr);
    assert.equal(load.stdout.trim(), 'function');
  });
});
