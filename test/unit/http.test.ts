import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { Context } from 'aws-lambda';
import { EmfMetrics, METRIC } from '../../lib/adapters/emf-metrics';
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
    assert.equal(toProblem(new ConflictError('taken'), 'req-2').errors, undefined);
  });
  it('names the field of a conflict on one field, as a 400 names it', () => {
    const problem = toProblem(new ConflictError('a server named "a" already exists', 'name'), 'req-4');
    assert.equal(problem.status, 409);
    assert.deepEqual(problem.errors, [{ field: 'name', message: 'a server named "a" already exists' }]);
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
  it("puts the invocation's request id and function on every line after setInvocation, levels and service as configured", () => {
    const lines: string[] = [];
    const logger = createLogger({ level: 'info', service: 'sluice-test', write: (line) => lines.push(line) });
    logger.info('before_invocation');
    logger.setInvocation({ awsRequestId: 'c0ffee00-1234', functionName: 'sluice-test-transfer', memoryLimitInMB: '256', invokedFunctionArn: 'arn:aws:lambda:x' } as Context);
    logger.debug('below_the_level');
    logger.warn('in_invocation', { fileId: 'f1', serverId: 's1', url: 'amqp://user:pw@broker/' });
    const [first, second, ...rest] = lines.map((line) => JSON.parse(line));
    assert.equal(rest.length, 0, 'debug is below info');
    assert.deepEqual(Object.keys(first), ['time', 'level', 'event', 'service']);
    assert.equal(first.service, 'sluice-test');
    assert.deepEqual(
      { level: second.level, event: second.event, requestId: second.requestId, function: second.function, fileId: second.fileId, serverId: second.serverId, url: second.url },
      { level: 'warn', event: 'in_invocation', requestId: 'c0ffee00-1234', function: 'sluice-test-transfer', fileId: 'f1', serverId: 's1', url: 'amqp://***@broker/' },
    );
    assert.ok(!Number.isNaN(Date.parse(second.time)));
  });
});

describe('EmfMetrics', () => {
  /** What the adapter printed (Powertools writes the embedded metric format to stdout). */
  function printedBy(work: () => void): Record<string, unknown>[] {
    const printed: string[] = [];
    const write = process.stdout.write;
    process.stdout.write = ((chunk: string) => {
      printed.push(String(chunk));
      return true;
    }) as typeof process.stdout.write;
    try {
      work();
    } finally {
      process.stdout.write = write;
    }
    return printed.join('').split('\n').filter(Boolean).map((line) => JSON.parse(line));
  }

  it('writes one line per invocation under {service}, failures also under {service, code}, nothing when quiet', () => {
    const metrics = new EmfMetrics({ namespace: 'sluice-test', service: 'sluice-unit' });
    const lines = printedBy(() => {
      metrics.fileIngested(1000, 2.5);
      metrics.fileIngested(24, 0.5);
      metrics.fileNotified(4);
      metrics.fileFailed('timeout', 'retrying');
      metrics.pollFailed('auth_failed', 7);
      metrics.notificationParked('unroutable');
      metrics.publish();
      metrics.publish();
    });
    const byCode = lines.filter((line) => line.code !== undefined);
    assert.deepEqual(byCode.map((line) => [line.code, Object.keys(line).filter((key) => /^[A-Z]/.test(key))]), [
      ['timeout', [METRIC.transferRetries]],
      ['auth_failed', [METRIC.pollFailures]],
      ['unroutable', [METRIC.notificationsParked]],
    ]);
    for (const line of byCode) assert.deepEqual((line._aws as { CloudWatchMetrics: { Dimensions: string[][] }[] }).CloudWatchMetrics[0]!.Dimensions, [['service', 'code']]);
    const batched = lines.filter((line) => line.code === undefined);
    assert.equal(batched.length, 1, 'the second publish has nothing to write');
    const [line] = batched as [Record<string, unknown> & { _aws: { CloudWatchMetrics: { Namespace: string; Dimensions: string[][] }[] } }];
    assert.equal(line._aws.CloudWatchMetrics[0]!.Namespace, 'sluice-test');
    assert.deepEqual(line._aws.CloudWatchMetrics[0]!.Dimensions, [['service']]);
    assert.equal(line.service, 'sluice-unit');
    assert.deepEqual(line[METRIC.filesIngested], [1, 1]);
    assert.deepEqual(line[METRIC.bytesIngested], [1000, 24]);
    assert.deepEqual(line[METRIC.transferDuration], [2.5, 0.5]);
    assert.equal(line[METRIC.detectToNotify], 4);
    assert.equal(line[METRIC.transferRetries], 1);
    assert.equal(line[METRIC.pollFailures], 1);
    assert.equal(line[METRIC.pollConsecutiveFailures], 7);
    assert.equal(line[METRIC.notificationsParked], 1);
  });
});
