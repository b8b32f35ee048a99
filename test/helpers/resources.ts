import { randomBytes } from 'node:crypto';
import { join, resolve } from 'node:path';
import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { S3Client } from '@aws-sdk/client-s3';
import { DeleteMessageBatchCommand, ReceiveMessageCommand, SQSClient } from '@aws-sdk/client-sqs';
import { loadConfig, type Config } from '../../lib/config';
import { buildContainer, type Container } from '../../lib/container';
import { provision, resolveService } from '../../scripts/local/provision';

const projectRoot = resolve(import.meta.dirname, '../..');

/**
 * Tables and queues of the service's own definitions under a fresh name prefix, on the test stack's
 * emulators: in-process use-case tests get resources that the stack's scheduled functions never
 * touch. Returns a container wired to them.
 */
export async function isolatedContainer(): Promise<{ container: Container; prefix: string; queueUrls: Record<string, string> }> {
  const prefix = `t${randomBytes(4).toString('hex')}`;
  const cacheDir = join(process.env.SLUICE_TEST_DATA_DIR ?? '.sluice', 'stack', 'cache');
  const service = structuredClone(await resolveService(projectRoot, 'local', cacheDir));
  for (const resource of Object.values(service.resources.Resources)) {
    const properties = resource.Properties as Record<string, unknown> | undefined;
    if (!properties) continue;
    for (const key of ['TableName', 'QueueName'] as const) {
      if (typeof properties[key] === 'string') properties[key] = String(properties[key]).replace(/^sluice-local/, prefix);
    }
  }
  // The bucket is shared (its name is fixed by configuration); keys are unique per server name.
  const region = 'us-east-1';
  const clients = { dynamodb: new DynamoDBClient({ region }), s3: new S3Client({ region, forcePathStyle: true }), sqs: new SQSClient({ region, useQueueUrlAsEndpoint: false }) };
  const queueUrls = await provision(service, clients);
  for (const client of Object.values(clients)) client.destroy();
  const config = loadConfig({
    ...process.env,
    SLUICE_API_TOKEN: 'isolated-test-token-000',
    SERVERS_TABLE: `${prefix}-servers`,
    FILES_TABLE: `${prefix}-files`,
    POLL_QUEUE_NAME: `${prefix}-poll`,
    TRANSFER_QUEUE_NAME: `${prefix}-transfer`,
    NOTIFY_QUEUE_NAME: `${prefix}-notify`,
    SERVER_SECRET_PREFIX: `${prefix}/servers/`,
    LOG_LEVEL: 'warn',
  });
  return { container: buildContainer(config), prefix, queueUrls };
}

/** Counts SDK requests by command name (e.g. `PutItemCommand`) on a client. */
export function countRequests(client: { middlewareStack: { add: (...args: never[]) => void } }): Map<string, number> {
  const counts = new Map<string, number>();
  const middleware = (next: (args: unknown) => Promise<unknown>, context: { commandName?: string }) => async (args: unknown) => {
    const name = context.commandName ?? 'unknown';
    counts.set(name, (counts.get(name) ?? 0) + 1);
    return next(args);
  };
  (client.middlewareStack.add as unknown as (m: typeof middleware, o: object) => void)(middleware, { step: 'initialize', name: `count-${Math.random()}` });
  return counts;
}

export const total = (counts: Map<string, number>) => [...counts.values()].reduce((sum, value) => sum + value, 0);

/** A parsed Config back as the environment variables that give it (for a worker process of a test). */
export function environmentOf(config: Config): Record<string, string> {
  const text = (value: unknown): string =>
    Array.isArray(value) ? value.map((range: { address: string; prefix: number }) => `${range.address}/${range.prefix}`).join(',') || 'none' : String(value);
  return Object.fromEntries(Object.entries(config).filter(([, value]) => value !== undefined).map(([name, value]) => [name, text(value)]));
}

/** Every message waiting on a queue, taken off it (received and deleted), bodies parsed as JSON. */
export async function drainJobs<T>(sqs: SQSClient, queueUrl: string): Promise<T[]> {
  const jobs: T[] = [];
  while (true) {
    const { Messages = [] } = await sqs.send(new ReceiveMessageCommand({ QueueUrl: queueUrl, MaxNumberOfMessages: 10, WaitTimeSeconds: 0 }));
    if (Messages.length === 0) return jobs;
    jobs.push(...Messages.map((message) => JSON.parse(message.Body!) as T));
    await sqs.send(new DeleteMessageBatchCommand({ QueueUrl: queueUrl, Entries: Messages.map((message, index) => ({ Id: String(index), ReceiptHandle: message.ReceiptHandle! })) }));
  }
}
