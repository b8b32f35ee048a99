import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { S3Client } from '@aws-sdk/client-s3';
import { SecretsManagerClient } from '@aws-sdk/client-secrets-manager';
import { SQSClient } from '@aws-sdk/client-sqs';
import type { Config } from '../config';

/**
 * SDK clients, created lazily once per process. Endpoints come from the SDK's own environment
 * variables (AWS_ENDPOINT_URL, AWS_ENDPOINT_URL_S3, ...), so LocalStack, MinIO or the embedded stack
 * need no code path of their own.
 */
export function awsClients(config: Config) {
  const region = config.AWS_REGION;
  let dynamodb: DynamoDBClient | undefined;
  let secrets: SecretsManagerClient | undefined;
  let s3: S3Client | undefined;
  let sqs: SQSClient | undefined;
  return {
    get dynamodb() {
      return (dynamodb ??= new DynamoDBClient({ region }));
    },
    get secrets() {
      return (secrets ??= new SecretsManagerClient({ region }));
    },
    get s3() {
      return (s3 ??= new S3Client({ region, forcePathStyle: config.S3_FORCE_PATH_STYLE }));
    },
    get sqs() {
      // Send to the configured endpoint rather than the queue URL's host: emulators hand out queue
      // URLs whose hosts (sqs.<region>.localhost) need not resolve.
      return (sqs ??= new SQSClient({ region, useQueueUrlAsEndpoint: false }));
    },
  };
}
export type AwsClients = ReturnType<typeof awsClients>;
