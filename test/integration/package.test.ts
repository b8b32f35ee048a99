import assert from 'node:assert/strict';
import { execFileSync, spawnSync } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { METRIC } from '../../lib/adapters/emf-metrics';

const workDir = mkdtempSync(join(tmpdir(), 'sluice-package-'));
after(() => {
  rmSync(workDir, { recursive: true, force: true });
  rmSync(`.esbuild/package-${process.pid}`, { recursive: true, force: true });
});

interface CfnResource {
  Type: string;
  Condition?: string;
  DeletionPolicy?: string;
  UpdateReplacePolicy?: string;
  // eslint-disable-next-line @typescript-eslint/no-explicit-any
  Properties?: any;
}

/** Every IAM action a role's inline policies allow. */
function allowedActions(role: CfnResource): string[] {
  const statements = ((role.Properties?.Policies ?? []) as { PolicyDocument: { Statement: { Effect: string; Action: string | string[] }[] } }[]).flatMap(
    (policy) => policy.PolicyDocument.Statement,
  );
  return statements.filter((statement) => statement.Effect === 'Allow').flatMap((statement) => [statement.Action].flat());
}

describe('serverless package', () => {
  it('builds one self-contained CommonJS artifact per function that loads without native addons', () => {
    const packageDir = join(workDir, 'artifacts');
    execFileSync(process.execPath, ['node_modules/serverless/bin/serverless.js', 'package', '--stage', 'ci', '--package', packageDir], {
      env: { ...process.env, SLS_TELEMETRY_DISABLED: '1', SLUICE_ESBUILD_DIR: `.esbuild/package-${process.pid}` },
      stdio: 'pipe',
    });
    // Printed with throttling limits of its own: they are deploy-time parameters.
    const printed = JSON.parse(
      execFileSync(process.execPath, ['node_modules/serverless/bin/serverless.js', 'print', '--stage', 'ci', '--format', 'json'], {
        env: { ...process.env, SLS_TELEMETRY_DISABLED: '1', SLUICE_API_RATE_LIMIT: '7', SLUICE_API_BURST_LIMIT: '9' },
        encoding: 'utf8',
      }),
    ) as {
      functions: Record<string, { handler: string }>;
      provider: { runtime: string; environment: Record<string, string> };
      resources: { extensions: { HttpApiStage: { Properties: { DefaultRouteSettings: Record<string, unknown> } } } };
    };
    assert.equal(printed.provider.runtime, 'nodejs22.x');
    assert.equal(printed.provider.environment.SECRET_RECOVERY_DAYS, '7');
    const printedThrottling = printed.resources.extensions.HttpApiStage.Properties.DefaultRouteSettings;
    assert.deepEqual([Number(printedThrottling.ThrottlingRateLimit), Number(printedThrottling.ThrottlingBurstLimit)], [7, 9]);
    const zips = readdirSync(packageDir).filter((name) => name.endsWith('.zip')).sort();
    assert.deepEqual(zips, Object.keys(printed.functions).map((name) => `${name}.zip`).sort());

    const unpacked = join(workDir, 'createServer');
    execFileSync('unzip', ['-q', join(packageDir, 'createServer.zip'), '-d', unpacked]);
    const files = execFileSync('find', [unpacked, '-type', 'f'], { encoding: 'utf8' });
    assert.doesNotMatch(files, /node_modules|\.node\b/);
    const load = spawnSync(process.execPath, ['-e', "console.log(typeof require('./functions/http/create-server.cjs').handler)"], {
      cwd: unpacked,
      env: { PATH: process.env.PATH ?? '', SLUICE_API_TOKEN: 'a-token-of-sixteen-chars' },
      encoding: 'utf8',
    });
    assert.equal(load.status, 0, load.stderr);
    assert.equal(load.stdout.trim(), 'function');

    // The CloudFormation template as deployed.
    const { Resources, Conditions = {} } = JSON.parse(readFileSync(join(packageDir, 'cloudformation-template-update-stack.json'), 'utf8')) as {
      Resources: Record<string, CfnResource>;
      Conditions?: Record<string, unknown>;
    };
    const ofType = (type: string) => Object.entries(Resources).filter(([, resource]) => resource.Type === type);

    // The unauthenticated routes run under a role of their own that cannot read or write any secret.
    const roleOf = (fn: string) => {
      const resource = Resources[`${fn[0]!.toUpperCase()}${fn.slice(1)}LambdaFunction`];
      assert.ok(resource, `no function resource for ${fn}`);
      return (resource.Properties.Role as { 'Fn::GetAtt': [string, string] })['Fn::GetAtt'][0];
    };
    const publicRole = roleOf('health');
    assert.equal(roleOf('openapi'), publicRole);
    const publicUsers = Object.keys(printed.functions).filter((fn) => roleOf(fn) === publicRole);
    assert.deepEqual(publicUsers.sort(), ['console', 'health', 'openapi'], 'no other function runs under it');
    // The console's page and assets load without a token (the page asks for one): no authorizer on them.
    const routeAuth = new Map(ofType('AWS::ApiGatewayV2::Route').map(([, route]) => [route.Properties.RouteKey as string, route.Properties.AuthorizationType ?? 'NONE']));
    assert.deepEqual(['GET /console', 'GET /console/{asset+}', 'GET /servers'].map((key) => routeAuth.get(key)), ['NONE', 'NONE', 'CUSTOM']);
    const role = Resources[publicRole]!;
    assert.equal(role.Type, 'AWS::IAM::Role');
    assert.deepEqual(role.Properties.ManagedPolicyArns, ['arn:aws:iam::aws:policy/service-role/AWSLambdaBasicExecutionRole']);
    const actions = allowedActions(role);
    assert.ok(actions.length > 0);
    assert.deepEqual(actions.filter((action) => /^secretsmanager:|\*/i.test(action)), [], `${publicRole} allows ${actions.join(', ')}`);
    assert.ok(allowedActions(Resources[roleOf('createServer')]!).includes('secretsmanager:CreateSecret'), 'the other routes keep theirs');
    // What S3 authorises each of the transfer's requests as (a tagged PUT is also PutObjectTagging;
    // a request naming a versionId needs the *Version* action): MinIO's root credentials hide a gap.
    const transferActions = allowedActions(Resources[roleOf('transfer')]!);
    for (const action of ['s3:PutObject', 's3:PutObjectTagging', 's3:PutObjectVersionTagging', 's3:GetObjectVersion', 's3:AbortMultipartUpload', 's3:ListMultipartUploadParts']) {
      assert.ok(transferActions.includes(action), `the transfer role allows ${action}`);
    }

    // The re-drive routes share a role that reads no server secret and no broker URL: only the API token.
    const redriveRole = roleOf('retryFile');
    assert.deepEqual(['retryServer', 'renotifyServer'].map(roleOf), [redriveRole, redriveRole]);
    const redriveStatements = (Resources[redriveRole]!.Properties.Policies as { PolicyDocument: { Statement: { Action: string[]; Resource: unknown }[] } }[]).flatMap(
      (policy) => policy.PolicyDocument.Statement,
    );
    assert.deepEqual(
      redriveStatements.filter((statement) => statement.Action.some((action) => action.startsWith('secretsmanager:'))).map((statement) => [statement.Action, statement.Resource]),
      [[['secretsmanager:GetSecretValue'], { Ref: 'ApiTokenSecret' }]],
    );

    // The bucket refuses plain-HTTP requests, from anyone.
    const policies = ofType('AWS::S3::BucketPolicy').map(([, resource]) => resource.Properties);
    const bucketPolicy = policies.find((properties) => properties.Bucket?.Ref === 'IngestBucket');
    assert.ok(bucketPolicy, 'a policy on the ingest bucket');
    const denial = (bucketPolicy.PolicyDocument.Statement as { Effect: string; Principal: unknown; Action: unknown; Resource: unknown[]; Condition?: { Bool?: Record<string, unknown> } }[]).find(
      (statement) => statement.Effect === 'Deny' && String(statement.Condition?.Bool?.['aws:SecureTransport']) === 'false',
    );
    assert.ok(denial, 'denies aws:SecureTransport false');
    assert.equal(denial.Principal, '*');
    assert.equal(denial.Action, 's3:*');
    assert.equal(JSON.stringify(denial.Resource), JSON.stringify([{ 'Fn::GetAtt': ['IngestBucket', 'Arn'] }, { 'Fn::Join': ['', [{ 'Fn::GetAtt': ['IngestBucket', 'Arn'] }, '/*']] }]));

    // Every queue, dead-letter queues included, is encrypted at rest.
    const queues = ofType('AWS::SQS::Queue');
    assert.equal(queues.length, 6);
    for (const [name, queue] of queues) assert.equal(queue.Properties.SqsManagedSseEnabled, true, name);

    // What survives what (docs/BACKUP-RESTORE.md): the tables and the bucket outlive the stack and any
    // change that would replace them; every table keeps point-in-time recovery and refuses
    // DeleteTable; the bucket keeps every version, a replaced one for 30 days (the default).
    // The framework's deployment bucket holds only build artifacts, which any deploy uploads again.
    const stateful = [...ofType('AWS::DynamoDB::Table'), ...ofType('AWS::S3::Bucket')].filter(([name]) => name !== 'ServerlessDeploymentBucket');
    assert.deepEqual(stateful.map(([name]) => name).sort(), ['FilesTable', 'IngestBucket', 'ServersTable']);
    for (const [name, resource] of stateful) assert.deepEqual([resource.DeletionPolicy, resource.UpdateReplacePolicy], ['Retain', 'Retain'], name);
    for (const [name, table] of ofType('AWS::DynamoDB::Table')) {
      assert.equal(table.Properties.PointInTimeRecoverySpecification?.PointInTimeRecoveryEnabled, true, name);
      assert.equal(table.Properties.DeletionProtectionEnabled, true, name);
    }
    const ingestBucket = Resources.IngestBucket!.Properties;
    assert.equal(ingestBucket.VersioningConfiguration?.Status, 'Enabled');
    const lifecycle = ingestBucket.LifecycleConfiguration.Rules as { Status: string; NoncurrentVersionExpiration?: { NoncurrentDays: unknown } }[];
    assert.deepEqual(lifecycle.filter((rule) => rule.NoncurrentVersionExpiration).map((rule) => [rule.Status, Number(rule.NoncurrentVersionExpiration!.NoncurrentDays)]), [['Enabled', 30]]);
    // Dead-letter queues keep messages 14 days (SQS's most), longer than their source queues (default
    // 4 days): a standard queue's message keeps its original enqueue time when it is dead-lettered.
    const FOURTEEN_DAYS = 14 * 24 * 3600;
    const sources = queues.filter(([, queue]) => queue.Properties.RedrivePolicy);
    assert.equal(sources.length, 3);
    for (const [name, source] of sources) {
      const target = (source.Properties.RedrivePolicy.deadLetterTargetArn as { 'Fn::GetAtt': [string, string] })['Fn::GetAtt'][0];
      assert.equal(Number(Resources[target]!.Properties.MessageRetentionPeriod), FOURTEEN_DAYS, target);
      assert.ok(Number(source.Properties.MessageRetentionPeriod ?? 4 * 24 * 3600) < FOURTEEN_DAYS, `${name} keeps messages less long than ${target}`);
    }

    // The HTTP API's stage is throttled (defaults: 50 requests/s, bursts of 100), its other settings kept.
    const stage = Resources.HttpApiStage!;
    assert.equal(stage.Type, 'AWS::ApiGatewayV2::Stage');
    assert.deepEqual(stage.Properties.ApiId, { Ref: 'HttpApi' });
    assert.equal(stage.Properties.StageName, '$default');
    assert.deepEqual([Number(stage.Properties.DefaultRouteSettings.ThrottlingRateLimit), Number(stage.Properties.DefaultRouteSettings.ThrottlingBurstLimit)], [50, 100]);

    // Alarms go to one SNS topic: a message in any dead-letter queue, an old transfer/notify message,
    // the queue and scheduled functions' errors and throttles, the API's 5xx. The e-mail
    // subscription exists only when ALARM_EMAIL is set.
    const alarms = ofType('AWS::CloudWatch::Alarm');
    for (const [name, alarm] of alarms) assert.deepEqual(alarm.Properties.AlarmActions, [{ Ref: 'AlarmTopic' }], name);
    const watched = (namespace: string, metric: string) =>
      alarms.filter(([, alarm]) => alarm.Properties.Namespace === namespace && alarm.Properties.MetricName === metric).map(([, alarm]) => JSON.stringify(alarm.Properties.Dimensions));
    assert.deepEqual(watched('AWS/SQS', 'ApproximateNumberOfMessagesVisible').sort(), ['Poll', 'Transfer', 'Notify'].map((queue) => JSON.stringify([{ Name: 'QueueName', Value: { 'Fn::GetAtt': [`${queue}DeadLetterQueue`, 'QueueName'] } }])).sort());
    assert.equal(watched('AWS/SQS', 'ApproximateAgeOfOldestMessage').length, 2);
    for (const fn of ['PollWorker', 'Transfer', 'Notifier', 'Scheduler', 'Sweeper']) {
      for (const metric of ['Errors', 'Throttles']) assert.ok(watched('AWS/Lambda', metric).includes(JSON.stringify([{ Name: 'FunctionName', Value: { Ref: `${fn}LambdaFunction` } }])), `${fn} ${metric}`);
    }
    assert.equal(watched('AWS/ApiGateway', '5xx').length, 1);
    // The functions' own metrics (embedded metric format) under the stage's service: quarantines,
    // a server's run of failed polls, parked announcements; each alarm names a metric they emit.
    const service = JSON.stringify([{ Name: 'service', Value: 'sluice-ci' }]);
    for (const metric of [METRIC.filesQuarantined, METRIC.pollConsecutiveFailures, METRIC.notificationsParked]) {
      assert.deepEqual(watched('sluice', metric), [service], metric);
    }
    assert.equal(alarms.find(([, alarm]) => alarm.Properties.MetricName === METRIC.pollConsecutiveFailures)![1].Properties.Statistic, 'Maximum');
    assert.equal(printed.provider.environment.POWERTOOLS_SERVICE_NAME, 'sluice-ci');
    assert.equal(printed.provider.environment.POWERTOOLS_METRICS_NAMESPACE, 'sluice');
    assert.equal(Resources.AlarmTopic?.Type, 'AWS::SNS::Topic');
    assert.equal(Resources.AlarmEmailSubscription?.Condition, 'HasAlarmEmail');
    assert.ok(Conditions.HasAlarmEmail, 'the condition is declared');
    // The dashboard's body is valid JSON once CloudFormation substitutes its names.
    const dashboard = Resources.Dashboard!;
    assert.equal(dashboard.Type, 'AWS::CloudWatch::Dashboard');
    const [body] = dashboard.Properties.DashboardBody['Fn::Sub'] as [string, Record<string, unknown>];
    const widgets = (JSON.parse(body.replace(/\$\{[^}]+\}/g, 'x')) as { widgets: { properties: { title: string } }[] }).widgets;
    assert.ok(widgets.length >= 9, 'queue depths and ages, function errors and durations, API requests, ingest, latency, failures');
    // Every metric the functions emit is on the dashboard (failures by code through one SEARCH).
    for (const metric of Object.values(METRIC)) assert.ok(body.includes(`"${metric}"`) || body.includes(`\\"${metric}\\"`), `${metric} on the dashboard`);
    assert.deepEqual(dashboard.Properties.DashboardBody['Fn::Sub'][1].Service, 'sluice-ci');
  });
});
