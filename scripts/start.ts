import { resolve } from 'node:path';
import { redactAmqpUrl } from '../lib/adapters/amqp-url';
import { LOCAL_AMQP_URL } from '../lib/amqp-defaults';
import { MissingJavaError } from './local/dynamodb';
import { MissingMinioError } from './local/minio';
import { LocalStackConfigError, startLocalStack } from './local/stack';
import { errorMessage } from '../lib/errors';

const S3_DESCRIPTIONS = {
  fauxqs: 'fauxqs emulator: objects under 2 GiB, checksums not verified; SLUICE_LOCAL_S3=minio for the real store',
  minio: 'MinIO',
  external: 'from the environment',
} as const;

/**
 * `npm start`: runs sluice on the embedded local stack (or on the endpoints in AWS_ENDPOINT_URL*),
 * prints where everything is, and stops every child process on Ctrl-C.
 */
async function main(): Promise<void> {
  const projectRoot = resolve(import.meta.dirname, '..');
  const dataDir = resolve(projectRoot, process.env.SLUICE_DATA_DIR ?? '.sluice');
  console.log('Starting sluice locally ...');
  const stack = await startLocalStack({
    projectRoot,
    dataDir,
    log: (line) => console.log(`  ${line}`),
    functionOutput: (chunk) => process.stdout.write(chunk),
  });
  console.log(
    [
      '',
      'sluice is running.',
      `  API URL     ${stack.apiUrl}   (OpenAPI: ${stack.apiUrl}/openapi.json)`,
      `  Console     ${stack.apiUrl}/console   (sign in with the API token)`,
      `  API token   ${stack.apiToken}`,
      `  S3          ${stack.endpoints.s3}   bucket ${process.env.S3_BUCKET ?? 'sluice-ingest'}   (${S3_DESCRIPTIONS[stack.s3]})`,
      `  SQS         ${stack.endpoints.sqs}`,
      `  DynamoDB    ${stack.endpoints.dynamodb}`,
      `  Secrets     ${stack.endpoints.secretsManager}`,
      `  AMQP        ${redactAmqpUrl(process.env.AMQP_URL ?? LOCAL_AMQP_URL)}   exchange ${process.env.AMQP_EXCHANGE ?? 'sluice'}, routing key ${process.env.AMQP_ROUTING_KEY ?? 'file.ingested'}`,
      `  Data        ${dataDir}`,
      '',
      `Try: curl -H "Authorization: Bearer ${stack.apiToken}" ${stack.apiUrl}/servers`,
      'Press Ctrl-C to stop.',
      '',
    ].join('\n'),
  );
  let stopping = false;
  const shutdown = async () => {
    if (stopping) return;
    stopping = true;
    console.log('\nStopping ...');
    await stack.stop();
    console.log('Stopped.');
    process.exit(0);
  };
  process.on('SIGINT', shutdown);
  process.on('SIGTERM', shutdown);
}

main().catch((error: unknown) => {
  if (error instanceof MissingJavaError || error instanceof MissingMinioError || error instanceof LocalStackConfigError) {
    console.error(error.message);
  } else {
    console.error(`sluice failed to start: ${errorMessage(error)}`);
  }
  process.exit(1);
});
