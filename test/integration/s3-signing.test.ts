import assert from 'node:assert/strict';
import { createHash, randomBytes } from 'node:crypto';
import { after, describe, it } from 'node:test';
import { DeleteObjectCommand, GetObjectCommand, PutObjectCommand } from '@aws-sdk/client-s3';
import { awsClients } from '../../lib/adapters/aws-clients';
import { loadConfig } from '../../lib/config';

const config = loadConfig({ ...process.env, SLUICE_API_TOKEN: 'signing-test-token-000' });
const s3 = awsClients(config).s3;
after(() => s3.destroy());

/** The x-amz-content-sha256 each request went out with, after signing (the deserialize step sees the final request). */
const signedPayloads: { command: string; payload: string }[] = [];
s3.middlewareStack.add(
  (next, context) => async (args) => {
    const headers = (args.request as { headers: Record<string, string> }).headers;
    signedPayloads.push({ command: context.commandName ?? '', payload: headers['x-amz-content-sha256'] ?? '' });
    return next(args);
  },
  { step: 'deserialize', name: 'recordSignedPayload' },
);

describe('S3 request signing', () => {
  it('signs an upload that carries its SHA-256 checksum as UNSIGNED-PAYLOAD (the store checks the checksum), and other requests as usual', async () => {
    const key = `signing-test/${randomBytes(4).toString('hex')}`;
    const body = randomBytes(4096);
    await s3.send(new PutObjectCommand({ Bucket: config.S3_BUCKET, Key: key, Body: body, ChecksumSHA256: createHash('sha256').update(body).digest('base64') }));
    try {
      const { Body } = await s3.send(new GetObjectCommand({ Bucket: config.S3_BUCKET, Key: key }));
      assert.deepEqual(Buffer.from(await Body!.transformToByteArray()), body, 'the object is stored byte-exact');
    } finally {
      await s3.send(new DeleteObjectCommand({ Bucket: config.S3_BUCKET, Key: key }));
    }
    assert.equal(signedPayloads.find((entry) => entry.command === 'PutObjectCommand')?.payload, 'UNSIGNED-PAYLOAD');
    assert.notEqual(signedPayloads.find((entry) => entry.command === 'GetObjectCommand')?.payload, 'UNSIGNED-PAYLOAD', 'a request without a checksum header keeps its payload hash');
  });
});
