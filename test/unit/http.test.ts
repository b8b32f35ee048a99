import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { ConflictError, ValidationError } from '../../lib/errors';
import { bearerMatches } from '../../lib/http/auth';
import { toProblem } from '../../lib/http/problem';
import { createLogger, redact, scrubUrlCredentials } from '../../lib/logger';

describe('bearerMatches', () => {
  it('accepts the exact token with the Bearer scheme, case-insensitively', () => {
    assert.equal(bearerMatches('Bearer s3cr3t-token-value', 's3cr3t-token-value'), true);
    assert.equal(bearerMatches('bearer s3cr3t-token-value', 's3cr3t-token-value'), true);
  });
  it('refuses a missing header, another scheme, a prefix or a longer token', () => {
    for (const header of [undefined, '', 'Basic s3cr3t-token-value', 'Bearer s3cr3t', 'Bearer s3cr3t-token-value-x', 's3cr3t-token-value']) {
      assert.equal(bearerMatches(header, 's3cr3t-token-value'), false, String(header));
    }
  });
});

describe('toProblem', () => {
  it('keeps a domain error status and names invalid fields', () => {
    const problem = toProblem(new ValidationError([{ field: 'port', message: 'too big' }]), 'req-1', '/servers');
    assert.equal(problem.status, 400);
    assert.deepEqual(problem.errors, [{ field: 'port', message: 'too big' }]);
    assert.equal(toProblem(new ConflictError('taken'), 'req-2').status, 409);
  });
  it('turns anything else into an opaque 500 that carries only the request id', () => {
    const problem = toProblem(new Error('connect ECONNREFUSED amqp://admin:pw@10.0.0.1'), 'req-3');
    assert.equal(problem.status, 500);
    assert.doesNotMatch(JSON.stringify(problem), /ECONNREFUSED|pw/);
    assert.match(problem.detail, /req-3/);
  });
});

describe('logger', () => {
  it('redacts secret-looking fields at any depth and keeps secret ARNs', () => {
    assert.deepEqual(redact({ password: 'x', nested: { privateKey: 'k', passphrase: 'p' }, secretArn: 'arn:x', list: [{ token: 't' }] }), {
      password: '[redacted]',
      nested: { privateKey: '[redacted]', passphrase: '[redacted]' },
      secretArn: 'arn:x',
      list: [{ token: '[redacted]' }],
    });
  });
  it('strips credentials from URLs inside messages', () => {
    assert.equal(scrubUrlCredentials('failed amqp://guest:guest@127.0.0.1:5672/'), 'failed amqp://***@127.0.0.1:5672/');
  });
  it('writes one JSON object per line', () => {
    const lines: string[] = [];
    createLogger({ write: (line) => lines.push(line) }).info('thing_happened', { serverId: 's1', password: 'p' });
    const parsed = JSON.parse(lines[0]!);
    assert.equal(parsed.event, 'thing_happened');
    assert.equal(parsed.password, '[redacted]');
  });
});
