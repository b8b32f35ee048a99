import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { ConfigError, loadConfig } from '../../lib/config';

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
