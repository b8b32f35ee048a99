import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { describe, it } from 'node:test';

/** Loads a function module the way Lambda does at cold start, with the given environment. */
function coldStart(env: Record<string, string>) {
  return spawnSync(process.execPath, ['--import', 'tsx', '-e', "await import('./functions/http/list-servers.ts')"], {
    env: { PATH: process.env.PATH ?? '', ...env },
    encoding: 'utf8',
  });
}

describe('configuration at cold start', () => {
  it('fails the cold start, naming the bad variable and not its value', () => {
    const result = coldStart({ SLUICE_API_TOKEN: 'a-token-of-sixteen-chars', S3_BUCKET: 'NOT_valid_bucket', AWS_ENDPOINT_URL_DYNAMODB: 'not a url' });
    assert.notEqual(result.status, 0);
    assert.match(result.stderr, /Invalid configuration: .*S3_BUCKET/);
    assert.match(result.stderr, /AWS_ENDPOINT_URL_DYNAMODB/);
    assert.doesNotMatch(result.stderr, /NOT_valid_bucket/);
  });

  it('loads cleanly with a valid environment', () => {
    const result = coldStart({ SLUICE_API_TOKEN: 'a-token-of-sixteen-chars' });
    assert.equal(result.status, 0, result.stderr);
  });
});
