import { parseArgs } from 'node:util';
import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { SQSClient } from '@aws-sdk/client-sqs';
import { documentClient } from '../lib/adapters/dynamodb-documents';
import { DynamoFileCatalog } from '../lib/adapters/dynamodb-file-catalog';
import { DynamoRedriveLedger } from '../lib/adapters/dynamodb-redrive-ledger';
import { DynamoStats } from '../lib/adapters/dynamodb-stats';
import { DynamoServerStore } from '../lib/adapters/dynamodb-server-store';
import { SqsDeadLetterQueue } from '../lib/adapters/sqs-dead-letter-queue';
import { SqsJobQueue } from '../lib/adapters/sqs-job-queue';
import { createLogger } from '../lib/logger';
import type { NotifyJob, TransferJob } from '../lib/ports';
import { redriveDeadLetters, type DeadLetterKind } from '../lib/use-cases/redrive';
import { LOCAL_CREDENTIALS } from './local/stack';
import { errorMessage } from '../lib/errors';

const USAGE = `usage: npm run redrive -- --queue transfer|notify [--dry-run] [--server-id <id>] [--stage <stage>]

Moves the messages of sluice-<stage>-<queue>-dlq back, each as its file version now needs (README,
"Dead-letter queues"). --dry-run only counts. --server-id takes one server's messages only.
--stage defaults to local (the stack of npm start, on its default ports unless AWS_ENDPOINT_URL* are
set); for a deployed stage the AWS SDK's usual credentials and region apply. FILES_TABLE,
SERVERS_TABLE, TRANSFER_QUEUE_NAME and NOTIFY_QUEUE_NAME override the names derived from the stage.`;

/**
 * `npm run redrive`: the operator's tool for a dead-letter queue once the cause of its messages is
 * fixed. A composition root of its own (the functions' container needs the whole service
 * configuration, an API token among it); the work is redriveDeadLetters.
 */
async function main(): Promise<number> {
  const { values } = parseArgs({
    options: {
      queue: { type: 'string' },
      'dry-run': { type: 'boolean', default: false },
      'server-id': { type: 'string' },
      stage: { type: 'string', default: process.env.SLUICE_STAGE ?? 'local' },
      help: { type: 'boolean', default: false },
    },
    strict: true,
  });
  if (values.help) {
    console.log(USAGE);
    return 0;
  }
  if (values.queue !== 'transfer' && values.queue !== 'notify') {
    console.error(`--queue must be transfer or notify\n\n${USAGE}`);
    return 2;
  }
  const kind: DeadLetterKind = values.queue;
  const env = process.env;
  const prefix = `sluice-${values.stage}`;
  if (values.stage === 'local') {
    // The local stand-ins take any credentials; DynamoDB Local ignores them (-sharedDb).
    env.AWS_ENDPOINT_URL_SQS ??= env.AWS_ENDPOINT_URL ?? `http://127.0.0.1:${env.SLUICE_LOCAL_AWS_PORT ?? 4566}`;
    env.AWS_ENDPOINT_URL_DYNAMODB ??= env.AWS_ENDPOINT_URL ?? `http://127.0.0.1:${env.SLUICE_LOCAL_DYNAMODB_PORT ?? 8000}`;
    env.AWS_ACCESS_KEY_ID ??= LOCAL_CREDENTIALS.accessKeyId;
    env.AWS_SECRET_ACCESS_KEY ??= LOCAL_CREDENTIALS.secretAccessKey;
  }
  const region = env.AWS_REGION ?? 'us-east-1';
  const dynamodb = new DynamoDBClient({ region });
  const documents = documentClient(dynamodb);
  // As the functions do: emulators hand out queue URLs whose hosts need not resolve.
  const sqs = new SQSClient({ region, useQueueUrlAsEndpoint: false });
  const filesTable = env.FILES_TABLE ?? `${prefix}-files`;
  const queueName = (kind === 'transfer' ? env.TRANSFER_QUEUE_NAME : env.NOTIFY_QUEUE_NAME) ?? `${prefix}-${kind}`;
  const stats = new DynamoStats({ documents, table: filesTable });
  try {
    const report = await redriveDeadLetters(
      kind,
      {
        files: new DynamoFileCatalog({ documents, table: filesTable }),
        ledger: new DynamoRedriveLedger({ documents, table: filesTable }),
        servers: new DynamoServerStore({ documents, table: env.SERVERS_TABLE ?? `${prefix}-servers` }),
        transfers: new SqsJobQueue<TransferJob>({ client: sqs, queueName: env.TRANSFER_QUEUE_NAME ?? `${prefix}-transfer` }),
        notifications: new SqsJobQueue<NotifyJob>({ client: sqs, queueName: env.NOTIFY_QUEUE_NAME ?? `${prefix}-notify` }),
        deadLetters: new SqsDeadLetterQueue({ client: sqs, queueName: `${queueName}-dlq` }),
        clock: { now: () => new Date() },
        logger: createLogger({ level: 'warn', service: 'sluice-redrive' }),
        budgetMs: Number.POSITIVE_INFINITY,
        stats,
      },
      { dryRun: values['dry-run'], ...(values['server-id'] ? { serverId: values['server-id'] } : {}) },
    );
    console.log(JSON.stringify({ queue: `${queueName}-dlq`, dryRun: values['dry-run'], ...report }));
    return 0;
  } finally {
    await stats.flush();
    dynamodb.destroy();
    sqs.destroy();
  }
}

main().then(
  (code) => process.exit(code),
  (error: unknown) => {
    console.error(errorMessage(error));
    process.exit(1);
  },
);
