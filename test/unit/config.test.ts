import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { loadConfig } from '../../lib/config';
import { ConfigError } from '../../lib/errors';
import { DestinationPolicy } from '../../lib/domain/destination';

const token = { SLUICE_API_TOKEN: 'a-token-of-sixteen-chars' };

describe('loadConfig', () => {
  it('applies the documented defaults', () => {
    const config = loadConfig(token);
    assert.equal(config.S3_BUCKET, 'sluice-ingest');
    assert.equal(config.AMQP_URL, undefined, 'unset: the local RabbitMQ, or AMQP_URL_SECRET_ID on AWS');
    assert.equal(config.AMQP_EXCHANGE, 'sluice');
    assert.equal(config.AMQP_ROUTING_KEY, 'file.ingested');
    assert.equal(config.AMQP_MANDATORY, true);
    assert.equal(config.TRANSFER_PART_CONCURRENCY, 2);
    assert.equal(config.S3_FORCE_PATH_STYLE, false);
    assert.equal(config.AWS_REGION, 'us-east-1');
  });

  it('switches path-style S3 addressing on for MinIO', () => {
    assert.equal(loadConfig({ ...token, S3_FORCE_PATH_STYLE: 'true' }).S3_FORCE_PATH_STYLE, true);
  });

  it('names each bad variable without echoing its value', () => {
    assert.throws(
      () => loadConfig({ ...token, S3_BUCKET: 'Not_A_Bucket', AWS_ENDPOINT_URL_S3: 'ftp://nope', S3_FORCE_PATH_STYLE: 'maybe' }),
      (error: unknown) => {
        assert.ok(error instanceof ConfigError);
        assert.deepEqual(error.variables.sort(), ['AWS_ENDPOINT_URL_S3', 'S3_BUCKET', 'S3_FORCE_PATH_STYLE']);
        assert.match(error.message, /S3_BUCKET/);
        assert.doesNotMatch(error.message, /Not_A_Bucket/);
        return true;
      },
    );
  });

  it('refuses to start without any way to authenticate API callers', () => {
    assert.throws(() => loadConfig({}), /SLUICE_API_TOKEN/);
  });

  it('accepts a token held in Secrets Manager instead of a static one', () => {
    assert.equal(loadConfig({ API_TOKEN_SECRET_ID: 'sluice/api-token' }).API_TOKEN_SECRET_ID, 'sluice/api-token');
  });

  it('treats blank variables as unset', () => {
    assert.equal(loadConfig({ ...token, S3_BUCKET: '' }).S3_BUCKET, 'sluice-ingest');
  });
});

describe('destination rules', () => {
  const verdictOn = (env: Record<string, string>, address: string) => {
    const config = loadConfig({ ...token, ...env });
    return new DestinationPolicy(config.SFTP_DENY_CIDRS, config.SFTP_ALLOW_CIDRS).check(address).allowed;
  };

  it('deny link-local, "this network", multicast, reserved and loopback by default, in both families', () => {
    for (const address of ['169.254.169.254', '0.0.0.0', '224.0.0.1', '240.0.0.1', '127.0.0.1', '127.8.9.10', '::1', '::', 'fe80::1', 'ff02::1', '::ffff:169.254.169.254', '::ffff:127.0.0.1']) {
      assert.equal(verdictOn({}, address), false, address);
    }
    for (const address of ['10.1.2.3', '192.168.1.10', '203.0.113.5', '2001:db8::1']) assert.equal(verdictOn({}, address), true, address);
  });

  it('take lists of ranges and bare addresses; an allow-list admits only what is inside it', () => {
    assert.equal(verdictOn({ SFTP_DENY_CIDRS: '10.0.0.0/8, 192.0.2.7' }, '10.9.9.9'), false);
    assert.equal(verdictOn({ SFTP_DENY_CIDRS: '10.0.0.0/8, 192.0.2.7' }, '192.0.2.7'), false);
    assert.equal(verdictOn({ SFTP_DENY_CIDRS: '10.0.0.0/8' }, '127.0.0.1'), true, 'a list replaces the default');
    assert.equal(verdictOn({ SFTP_DENY_CIDRS: 'none' }, '169.254.1.1'), true);
    assert.equal(verdictOn({ SFTP_DENY_CIDRS: 'none' }, '169.254.169.254'), false, 'the metadata service stays denied whatever the list');
    assert.equal(verdictOn({ SFTP_DENY_CIDRS: 'none' }, 'fd00:ec2::254'), false);
    assert.equal(verdictOn({ SFTP_ALLOW_CIDRS: '198.51.100.0/24' }, '198.51.100.9'), true);
    assert.equal(verdictOn({ SFTP_ALLOW_CIDRS: '198.51.100.0/24' }, '198.51.101.9'), false);
    assert.equal(verdictOn({ SFTP_ALLOW_CIDRS: '127.0.0.0/8' }, '127.0.0.1'), false, 'the deny list still wins');
  });

  it('name a malformed range', () => {
    assert.throws(() => loadConfig({ ...token, SFTP_DENY_CIDRS: '10.0.0.0/33,not-a-range' }), (error: unknown) => {
      assert.ok(error instanceof ConfigError);
      assert.deepEqual(error.variables, ['SFTP_DENY_CIDRS', 'SFTP_DENY_CIDRS']);
      return true;
    });
  });
});
