import { createHash } from 'node:crypto';
import { execFile } from 'node:child_process';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { promisify } from 'node:util';
import {
  CreateTableCommand,
  DescribeTableCommand,
  ResourceInUseException,
  UpdateTimeToLiveCommand,
  type CreateTableCommandInput,
  type DynamoDBClient,
} from '@aws-sdk/client-dynamodb';
import {
  CreateBucketCommand,
  HeadBucketCommand,
  PutBucketLifecycleConfigurationCommand,
  PutBucketVersioningCommand,
  type LifecycleRule,
  type S3Client,
} from '@aws-sdk/client-s3';
import { CreateQueueCommand, GetQueueAttributesCommand, type SQSClient } from '@aws-sdk/client-sqs';

const run = promisify(execFile);

interface CfnResource {
  Type: string;
  Properties?: Record<string, unknown>;
}

export interface ResolvedFunction {
  handler: string;
  timeout?: number;
  memorySize?: number;
  environment?: Record<string, string>;
  events?: {
    sqs?: { arn: unknown; batchSize?: number; maximumBatchingWindow?: number; functionResponseType?: string; maximumConcurrency?: number };
    schedule?: string | { rate: string | string[]; enabled?: boolean };
    httpApi?: unknown;
    http?: unknown;
  }[];
}

export interface ResolvedService {
  service: string;
  provider: { environment: Record<string, string>; region: string; timeout?: number; memorySize?: number };
  functions: Record<string, ResolvedFunction>;
  resources: { Resources: Record<string, CfnResource> };
}

/**
 * The service definition as the framework resolves it (`serverless print`), so the local stack is
 * provisioned from the very resources `serverless deploy` creates. Cached by the file's hash and the
 * values of the `${env:...}` variables it reads: the framework takes seconds to start.
 */
export async function resolveService(projectRoot: string, stage: string, cacheDir: string, env: NodeJS.ProcessEnv = process.env): Promise<ResolvedService> {
  const definition = readFileSync(join(projectRoot, 'serverless.yml'));
  const hash = createHash('sha256').update(definition).update(stage);
  for (const name of new Set([...definition.toString('utf8').matchAll(/\$\{env:([A-Za-z0-9_]+)/g)].map((match) => match[1]!))) {
    hash.update(`\0${name}=${env[name] ?? '\u0001unset'}`);
  }
  const key = hash.digest('hex').slice(0, 16);
  const cacheFile = join(cacheDir, `service-${key}.json`);
  try {
    return JSON.parse(readFileSync(cacheFile, 'utf8')) as ResolvedService;
  } catch {
    const { stdout } = await run(
      process.execPath,
      [join(projectRoot, 'node_modules/serverless/bin/serverless.js'), 'print', '--stage', stage, '--format', 'json'],
      { cwd: projectRoot, maxBuffer: 16 * 1024 * 1024, env: { ...env, SLS_TELEMETRY_DISABLED: '1' } },
    );
    const service = JSON.parse(stdout) as ResolvedService;
    mkdirSync(cacheDir, { recursive: true });
    writeFileSync(cacheFile, JSON.stringify(service));
    return service;
  }
}

function queueArnOf(logicalId: string, resources: Record<string, CfnResource>, region: string): string {
  const name = resources[logicalId]?.Properties?.QueueName;
  if (typeof name !== 'string') throw new Error(`queue ${logicalId} has no QueueName`);
  return `arn:aws:sqs:${region}:000000000000:${name}`;
}

/** Replaces `{ "Fn::GetAtt": [Queue, "Arn"] }` with the local queue ARN. */
function resolveArn(value: unknown, resources: Record<string, CfnResource>, region: string): unknown {
  if (value && typeof value === 'object' && 'Fn::GetAtt' in value) {
    const [logicalId] = (value as { 'Fn::GetAtt': [string, string] })['Fn::GetAtt'];
    return queueArnOf(logicalId, resources, region);
  }
  return value;
}

export interface ProvisionClients {
  dynamodb: DynamoDBClient;
  s3: S3Client;
  sqs: SQSClient;
}

/**
 * Creates (idempotently) every table, bucket and queue of the service; returns queue URLs by name.
 * A bucket's versioning and lifecycle rules are applied as far as the store implements them (`log`
 * says what it left out).
 */
export async function provision(service: ResolvedService, clients: ProvisionClients, log: (line: string) => void = () => {}): Promise<Record<string, string>> {
  const resources = service.resources.Resources;
  const region = service.provider.region;
  const entries = Object.entries(resources);

  for (const [, resource] of entries.filter(([, r]) => r.Type === 'AWS::DynamoDB::Table')) {
    // What protects a deployed table (backups, encryption, deletion protection) has no local meaning.
    const { PointInTimeRecoverySpecification: _pitr, SSESpecification: _sse, DeletionProtectionEnabled: _protection, TimeToLiveSpecification: ttl, ...table } =
      resource.Properties as Record<string, unknown>;
    const input = table as unknown as CreateTableCommandInput;
    try {
      await clients.dynamodb.send(new CreateTableCommand(input));
      const ttlSpec = ttl as { AttributeName: string; Enabled: boolean } | undefined;
      if (ttlSpec) {
        await clients.dynamodb.send(new UpdateTimeToLiveCommand({ TableName: input.TableName, TimeToLiveSpecification: ttlSpec }));
      }
    } catch (error) {
      if (!(error instanceof ResourceInUseException)) throw error;
    }
    await clients.dynamodb.send(new DescribeTableCommand({ TableName: input.TableName }));
  }

  for (const [, resource] of entries.filter(([, r]) => r.Type === 'AWS::S3::Bucket')) {
    const bucket = String(resource.Properties?.BucketName);
    try {
      await clients.s3.send(new HeadBucketCommand({ Bucket: bucket }));
    } catch {
      await clients.s3.send(new CreateBucketCommand({ Bucket: bucket }));
    }
    await configureBucket(clients.s3, bucket, resource.Properties ?? {}, log);
  }

  // Dead-letter queues first: the queues that redrive into them need their ARNs.
  const queues = entries
    .filter(([, r]) => r.Type === 'AWS::SQS::Queue')
    .sort(([, a], [, b]) => Number(Boolean(a.Properties?.RedrivePolicy)) - Number(Boolean(b.Properties?.RedrivePolicy)));
  const urls: Record<string, string> = {};
  for (const [, resource] of queues) {
    const { QueueName, RedrivePolicy, ...rest } = resource.Properties as Record<string, unknown>;
    const attributes: Record<string, string> = Object.fromEntries(Object.entries(rest).map(([key, value]) => [key, String(value)]));
    if (RedrivePolicy) {
      const policy = RedrivePolicy as { deadLetterTargetArn: unknown; maxReceiveCount: number };
      attributes.RedrivePolicy = JSON.stringify({
        deadLetterTargetArn: resolveArn(policy.deadLetterTargetArn, resources, region),
        maxReceiveCount: policy.maxReceiveCount,
      });
    }
    const { QueueUrl } = await clients.sqs.send(new CreateQueueCommand({ QueueName: String(QueueName), Attributes: attributes }));
    if (!QueueUrl) throw new Error(`no URL for queue ${String(QueueName)}`);
    await clients.sqs.send(new GetQueueAttributesCommand({ QueueUrl, AttributeNames: ['QueueArn'] }));
    urls[String(QueueName)] = QueueUrl;
  }
  return urls;
}

interface CfnLifecycleRule {
  Id: string;
  Status: 'Enabled' | 'Disabled';
  NoncurrentVersionExpiration?: { NoncurrentDays: number | string };
  AbortIncompleteMultipartUpload?: { DaysAfterInitiation: number | string };
}

/**
 * Versioning and lifecycle rules from the bucket's CloudFormation properties. The emulator has
 * neither (objects there are overwritten, as it says at start); MinIO has no rule for incomplete
 * uploads (it expires them itself, see startMinio), so such rules are left out there.
 */
async function configureBucket(s3: S3Client, bucket: string, properties: Record<string, unknown>, log: (line: string) => void): Promise<void> {
  const versioning = properties.VersioningConfiguration as { Status: 'Enabled' | 'Suspended' } | undefined;
  if (versioning) {
    try {
      await s3.send(new PutBucketVersioningCommand({ Bucket: bucket, VersioningConfiguration: { Status: versioning.Status } }));
    } catch (error) {
      if (!unsupported(error)) throw error;
      log(`bucket ${bucket}: this store has no versioning (a new version of a path replaces the object)`);
    }
  }
  const rules = ((properties.LifecycleConfiguration as { Rules?: CfnLifecycleRule[] } | undefined)?.Rules ?? []).map(
    (rule): LifecycleRule => ({
      ID: rule.Id,
      Status: rule.Status,
      Filter: { Prefix: '' },
      ...(rule.NoncurrentVersionExpiration ? { NoncurrentVersionExpiration: { NoncurrentDays: Number(rule.NoncurrentVersionExpiration.NoncurrentDays) } } : {}),
      ...(rule.AbortIncompleteMultipartUpload
        ? { AbortIncompleteMultipartUpload: { DaysAfterInitiation: Number(rule.AbortIncompleteMultipartUpload.DaysAfterInitiation) } }
        : {}),
    }),
  );
  if (rules.length === 0) return;
  const put = (selected: LifecycleRule[]) => s3.send(new PutBucketLifecycleConfigurationCommand({ Bucket: bucket, LifecycleConfiguration: { Rules: selected } }));
  try {
    await put(rules);
  } catch (error) {
    const withoutUploadRules = rules.filter((rule) => !rule.AbortIncompleteMultipartUpload);
    if (!unsupported(error) || withoutUploadRules.length === rules.length) throw error;
    await put(withoutUploadRules);
    log(`bucket ${bucket}: this store refuses AbortIncompleteMultipartUpload rules; it expires incomplete uploads itself`);
  }
}

function unsupported(error: unknown): boolean {
  const { name, $metadata } = error as { name?: string; $metadata?: { httpStatusCode?: number } };
  return name === 'NotImplemented' || name === 'InvalidArgument' || name === 'MalformedXML' || [400, 404, 405, 501].includes($metadata?.httpStatusCode ?? 0);
}
