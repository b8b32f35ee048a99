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
      return (dynamodb ??= countRequests(new DynamoDBClient({ region })));
    },
    get secrets() {
      return (secrets ??= countRequests(new SecretsManagerClient({ region })));
    },
    get s3() {
      if (!s3) {
        s3 = countRequests(new S3Client({ region, forcePathStyle: config.S3_FORCE_PATH_STYLE }));
        signChecksumNotPayload(s3);
      }
      return s3;
    },
    get sqs() {
      // Send to the configured endpoint rather than the queue URL's host: emulators hand out queue
      // URLs whose hosts (sqs.<region>.localhost) need not resolve.
      return (sqs ??= countRequests(new SQSClient({ region, useQueueUrlAsEndpoint: false })));
    },
  };
}
/** Where `countRequests` reports: `{ counts: { "<origin>|<service>|<command>": n } }` per message. */
export const REQUEST_COUNT_CHANNEL = 'sluice-aws-requests';

/** How long a thread gathers its request counts before it reports them. */
const REPORT_EVERY_MS = 250;

/** This thread's requests not yet reported, and the one channel they go out on. */
const unreported = new Map<string, number>();
let reportChannel: InstanceType<typeof BroadcastChannel> | undefined;
let reportTimer: NodeJS.Timeout | undefined;

function report(): void {
  reportTimer = undefined;
  reportChannel?.postMessage({ counts: Object.fromEntries(unreported) });
  unreported.clear();
}

/**
 * SLUICE_COUNT_REQUESTS=1 (benchmarks): every request a client sends is counted, and each thread
 * reports its counts on a BroadcastChannel (which reaches every thread of the process) every
 * REPORT_EVERY_MS, so the benchmark can count the requests of all local Lambda environments by
 * service and command. One message per request was measured to cost more CPU than the requests
 * themselves: a BroadcastChannel message wakes every thread that has the channel open.
 * Off: the client is untouched.
 */
export function countRequests<Client extends DynamoDBClient | S3Client | SecretsManagerClient | SQSClient>(client: Client, origin = 'functions'): Client {
  if (process.env.SLUICE_COUNT_REQUESTS !== '1') return client;
  if (!reportChannel) {
    reportChannel = new BroadcastChannel(REQUEST_COUNT_CHANNEL);
    (reportChannel as unknown as { unref?: () => void }).unref?.();
  }
  (client.middlewareStack as DynamoDBClient['middlewareStack']).add(
    (next, context) => async (args) => {
      const key = `${origin}|${context.clientName?.replace(/Client$/, '') ?? 'unknown'}|${context.commandName?.replace(/Command$/, '') ?? 'unknown'}`;
      unreported.set(key, (unreported.get(key) ?? 0) + 1);
      reportTimer ??= setTimeout(report, REPORT_EVERY_MS);
      return next(args);
    },
    { step: 'initialize', name: 'countRequests' },
  );
  return client;
}

const SHA256_CHECKSUMMED = new Set(['PutObjectCommand', 'UploadPartCommand']);

/**
 * An upload that carries its body's SHA-256 in `x-amz-checksum-sha256` (a signed header, checked by
 * the store) is signed as UNSIGNED-PAYLOAD, as the AWS CLI and rclone sign: otherwise SigV4 hashes
 * every byte a second time on each side for no extra integrity (measured: docs/BENCHMARKS.md).
 */
function signChecksumNotPayload(client: S3Client): void {
  client.middlewareStack.add(
    (next, context) => async (args) => {
      const input = args.input as { ChecksumSHA256?: string };
      const request = args.request as { headers?: Record<string, string> } | undefined;
      if (SHA256_CHECKSUMMED.has(context.commandName ?? '') && input.ChecksumSHA256 && request?.headers) {
        request.headers['x-amz-content-sha256'] = 'UNSIGNED-PAYLOAD';
      }
      return next(args);
    },
    { step: 'build', name: 'signChecksumNotPayload' },
  );
}

export type AwsClients = ReturnType<typeof awsClients>;
