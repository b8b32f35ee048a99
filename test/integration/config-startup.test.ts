import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { describe, it } from 'node:test';

const TOKEN = 'a-token-of-sixteen-chars';

/** Every HTTP route function declared in serverless.yml: [function name, module path, method, path]. */
function httpRoutes(): [string, string, string, string][] {
  const pattern = /^  (\w+):\n    handler: (\S+)\.handler\n(?:    .*\n)*?      - httpApi: \{ method: (\w+), path: ('[^']+'|[^,}\s]+)/gm;
  const routes = [...readFileSync('serverless.yml', 'utf8').matchAll(pattern)].map((match) => [match[1]!, `./${match[2]}.ts`, match[3]!, match[4]!.replaceAll("'", '')] as [string, string, string, string]);
  assert.ok(routes.length >= 10, `found ${routes.length} routes in serverless.yml`);
  return routes;
}

/**
 * Loads a function module as Lambda does at cold start, with only the given environment, and (when
 * `event` is given) invokes its handler once. Prints the handler's result as the last line.
 */
function invoke(module: string, env: Record<string, string>, event?: object) {
  const script = [
    `const { handler } = await import(${JSON.stringify(module)});`,
    event ? `const result = await handler(${JSON.stringify(event)}, { awsRequestId: 'req-0001', getRemainingTimeInMillis: () => 29000 });` : 'const result = null;',
    'console.log(JSON.stringify(result));',
  ].join('\n');
  return spawnSync(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', script], {
    env: { PATH: process.env.PATH ?? '', AWS_ACCESS_KEY_ID: 'x', AWS_SECRET_ACCESS_KEY: 'x', ...env },
    encoding: 'utf8',
    timeout: 60_000,
  });
}

function httpEvent(method: string, path: string) {
  const rawPath = path.replace('{id}', '0123456789abcdef0123456789abcdef');
  return {
    version: '2.0',
    routeKey: `${method} ${path}`,
    rawPath,
    rawQueryString: '',
    headers: { authorization: `Bearer ${TOKEN}`, 'content-type': 'application/json' },
    pathParameters: path.includes('{id}') ? { id: '0123456789abcdef0123456789abcdef' } : undefined,
    queryStringParameters: path === '/files' ? { serverId: 'some-server' } : undefined,
    requestContext: { http: { method, path: rawPath } },
    body: method === 'POST' || method === 'PATCH' ? '{}' : undefined,
    isBase64Encoded: false,
  };
}

/** Asserts a 500 problem+json with a request id, and nothing of the internals in the body. */
function assertProblem500(result: ReturnType<typeof invoke>, code: string, label: string) {
  assert.equal(result.status, 0, `${label}: ${result.stderr}`);
  const response = JSON.parse(result.stdout.trim().split('\n').at(-1)!) as { statusCode: number; headers: Record<string, string>; body: string };
  assert.equal(response.statusCode, 500, `${label}: ${response.body}`);
  assert.equal(response.headers['content-type'], 'application/problem+json', label);
  const problem = JSON.parse(response.body) as Record<string, unknown>;
  assert.equal(problem.code, code, label);
  assert.equal(problem.requestId, 'req-0001', label);
  assert.doesNotMatch(response.body, /stack|errorMessage|\.ts\b|\/work\/|node_modules|NOT_valid_bucket|short/i, label);
}

describe('configuration at cold start', () => {
  it('an HTTP function with an invalid configuration logs the bad variables by name and answers every request 500 problem+json', () => {
    const bad = { SLUICE_API_TOKEN: 'short', S3_BUCKET: 'NOT_valid_bucket' };
    for (const [name, module, method, path] of httpRoutes()) {
      if (name === 'openapi' || name === 'console') continue; // static documents: they need no configuration
      const result = invoke(module, bad, httpEvent(method, path));
      assertProblem500(result, 'misconfigured', name);
      assert.match(result.stdout, /"event":"config_invalid".*SLUICE_API_TOKEN/, name);
      assert.match(result.stdout, /S3_BUCKET/, name);
      assert.doesNotMatch(result.stdout, /NOT_valid_bucket|"short"/, name);
    }
  });

  it('the authorizer lets a misconfigured request through to the route, which answers 500 itself', () => {
    const result = invoke('./functions/http/authorizer.ts', { SLUICE_API_TOKEN: 'short' }, { headers: { authorization: 'Bearer whatever' } });
    assert.equal(result.status, 0, result.stderr);
    assert.deepEqual(JSON.parse(result.stdout.trim().split('\n').at(-1)!), { isAuthorized: true });
  });

  it('an uncaught failure on a route (its database unreachable) is a 500 problem+json, never a 200', () => {
    // A closed port on loopback: the request to DynamoDB is refused for real.
    const env = { SLUICE_API_TOKEN: TOKEN, AWS_ENDPOINT_URL_DYNAMODB: 'http://127.0.0.1:9', AWS_MAX_ATTEMPTS: '1' };
    for (const [name, module, method, path] of httpRoutes()) {
      // health reports the outage itself (503); a body of {} and a missing `since` are refused (400)
      // before any database call.
      if (['health', 'openapi', 'console', 'createServer', 'updateServer', 'renotifyServer'].includes(name)) continue;
      assertProblem500(invoke(module, env, httpEvent(method, path)), 'internal', name);
    }
  });

  it('a queue or scheduled function fails its cold start, naming the bad variable and not its value', () => {
    const result = invoke('./functions/transfer.ts', { SLUICE_API_TOKEN: TOKEN, S3_BUCKET: 'NOT_valid_bucket', AWS_ENDPOINT_URL_DYNAMODB: 'not a url' });
    assert.notEqual(result.status, 0);
    assert.match(result.stderr, /Invalid configuration: .*S3_BUCKET/);
    assert.match(result.stderr, /AWS_ENDPOINT_URL_DYNAMODB/);
    assert.doesNotMatch(result.stderr, /NOT_valid_bucket/);
  });

  it('loads cleanly with a valid environment', () => {
    const result = invoke('./functions/http/list-servers.ts', { SLUICE_API_TOKEN: TOKEN });
    assert.equal(result.status, 0, result.stderr);
  });
});
