import { z } from 'zod';
import { ConfigError } from './errors';
import { HOST_KEY_POLICIES } from './domain/host-key';
import { ALWAYS_DENIED_CIDRS, LOOPBACK_CIDRS, parseCidr, type Cidr } from './domain/destination';

/**
 * Every setting the service reads, parsed once at cold start.
 *
 * AWS endpoints follow the SDK's own variables (`AWS_ENDPOINT_URL`, `AWS_ENDPOINT_URL_S3`, ...):
 * the SDK reads them itself; they are validated here only so a typo fails fast with its name.
 */
const booleanFlag = z
  .enum(['true', 'false', '1', '0', 'yes', 'no'])
  .transform((value) => value === 'true' || value === '1' || value === 'yes');

/** A comma-separated list of CIDR ranges (bare addresses are single-address ranges); `none`: empty. */
const cidrList = z.string().transform((text, context): Cidr[] => {
  const ranges: Cidr[] = [];
  if (text.trim() === 'none') return ranges;
  for (const entry of text.split(',').filter((part) => part.trim() !== '')) {
    const parsed = parseCidr(entry);
    if (typeof parsed === 'string') context.addIssue({ code: 'custom', message: parsed });
    else ranges.push(parsed);
  }
  return ranges;
});

const endpointUrl = z.url({ protocol: /^https?$/ }).optional();

export const ConfigSchema = z
  .object({
    AWS_REGION: z.string().min(1).default('us-east-1'),
    AWS_ENDPOINT_URL: endpointUrl,
    AWS_ENDPOINT_URL_S3: endpointUrl,
    AWS_ENDPOINT_URL_SQS: endpointUrl,
    AWS_ENDPOINT_URL_DYNAMODB: endpointUrl,
    AWS_ENDPOINT_URL_SECRETS_MANAGER: endpointUrl,
    SERVERS_TABLE: z.string().min(3).max(255).default('sluice-servers'),
    FILES_TABLE: z.string().min(3).max(255).default('sluice-files'),
    S3_BUCKET: z
      .string()
      .regex(/^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$/, 'must be a valid S3 bucket name')
      .default('sluice-ingest'),
    S3_FORCE_PATH_STYLE: booleanFlag.default(false),
    POLL_QUEUE_NAME: z.string().min(1).max(80).default('sluice-poll'),
    TRANSFER_QUEUE_NAME: z.string().min(1).max(80).default('sluice-transfer'),
    NOTIFY_QUEUE_NAME: z.string().min(1).max(80).default('sluice-notify'),
    /** A poll holding its server's lease longer than this loses it to the next poller. */
    POLL_LEASE_SECONDS: z.coerce.number().int().min(10).max(900).default(160),
    /** Ceiling of the per-server exponential backoff after connection failures. */
    POLL_BACKOFF_CAP_SECONDS: z.coerce.number().int().min(1).max(3600).default(300),
    /** A transfer renews its lease every third of this; a dead worker's file is taken over after it. */
    TRANSFER_LEASE_SECONDS: z.coerce.number().int().min(5).max(900).default(120),
    TRANSFER_MAX_ATTEMPTS: z.coerce.number().int().min(1).max(100).default(8),
    TRANSFER_BACKOFF_CAP_SECONDS: z.coerce.number().int().min(1).max(43_200).default(900),
    /** Smallest multipart part (S3's minimum, 5 MiB); files below it go in one PUT. A transfer holds (part concurrency + 1) parts in memory. */
    S3_PART_SIZE_MIB: z.coerce.number().int().min(5).max(5120).default(8),
    /** Largest part the store accepts (S3: 5 GiB; fauxqs: 10 MiB). */
    S3_MAX_PART_SIZE_MIB: z.coerce.number().int().min(5).max(5120).default(512),
    /**
     * Tag each object with `sha256=<hex>`, the whole file's digest (a tag copies no data). Off for
     * stores without object tagging: the local emulator would store the tag request as the object.
     */
    S3_OBJECT_TAGS: booleanFlag.default(true),
    /** Parts of one file uploading at once; memory is about (this + 1) × part size. */
    TRANSFER_PART_CONCURRENCY: z.coerce.number().int().min(1).max(32).default(2),
    /**
     * At most one resume checkpoint (a ledger write) per this many seconds of a multipart upload;
     * 0 writes one per part. A crash re-reads at most this long's bytes (parts the store holds are
     * not sent again).
     */
    TRANSFER_CHECKPOINT_SECONDS: z.coerce.number().min(0).max(60).default(2),
    /**
     * Small files (one PUT each) of a batch transferred at once over their server's shared
     * connection; a multipart file always goes alone, so memory stays that of one large file.
     */
    TRANSFER_SMALL_FILES_AT_ONCE: z.coerce.number().int().min(1).max(32).default(4),
    /**
     * A warm environment keeps an SFTP connection (and its slot) this long after a batch, for the
     * next one; 0 closes it at the end of every batch. The slot is held only for that long, so an
     * environment frozen meanwhile blocks it no longer.
     */
    TRANSFER_KEEP_CONNECTION_SECONDS: z.coerce.number().int().min(0).max(60).default(10),
    /** Most SFTP channels of one connection a large file is read over on a slow link. */
    SFTP_MAX_READ_CHANNELS: z.coerce.number().int().min(1).max(16).default(4),
    /** A read uses one more channel per this many milliseconds of measured round trip. */
    SFTP_SLOW_LINK_RTT_MS: z.coerce.number().int().min(1).max(1000).default(5),
    /**
     * Addresses no SFTP server may have (its address literal is refused by the API, a name resolving
     * into one is refused at connect time): by default link-local (the metadata service), "this
     * network", multicast, reserved and loopback. The local stack sets it without loopback.
     */
    SFTP_DENY_CIDRS: cidrList.prefault([...ALWAYS_DENIED_CIDRS, ...LOOPBACK_CIDRS].join(',')),
    /** When set, SFTP servers must be in one of these ranges (and in none of SFTP_DENY_CIDRS). */
    SFTP_ALLOW_CIDRS: cidrList.optional(),
    /**
     * Every SFTP request (and the handshake) must be answered within this: a server silent that long
     * with a request outstanding is stalled (`timeout`), its connection dropped, the poll backed off.
     */
    SFTP_REQUEST_TIMEOUT_SECONDS: z.coerce.number().min(1).max(600).default(30),
    /** `first-seen`: trust a server's first host key and require it after; `pinned`: only a pinned hostKey (see lib/domain/host-key.ts). */
    SFTP_HOST_KEY_POLICY: z.enum(HOST_KEY_POLICIES).default('first-seen'),
    /** Most servers one deployment holds; unset: no limit. */
    MAX_SERVERS: z.coerce.number().int().min(1).max(1_000_000).optional(),
    /** Smallest pollIntervalSeconds a server may have in this deployment (also the default's floor). */
    POLL_MIN_INTERVAL_SECONDS: z.coerce.number().int().min(5).max(86_400).default(5),
    /** Broker URL with credentials (local runs); wins over AMQP_URL_SECRET_ID. Default: the local RabbitMQ. */
    AMQP_URL: z
      .string()
      .regex(/^amqps?:\/\//, 'must start with amqp:// or amqps://')
      .optional(),
    /** Secrets Manager id of the broker URL (AWS: the URL carries credentials). */
    AMQP_URL_SECRET_ID: z.string().min(1).optional(),
    AMQP_EXCHANGE: z.string().min(1).max(255).default('sluice'),
    AMQP_ROUTING_KEY: z.string().min(1).max(255).default('file.ingested'),
    /** Have the broker return a message no queue receives (reported, retried a few times, then parked). */
    AMQP_MANDATORY: booleanFlag.default(true),
    /** Declare the exchange (durable topic) on connect; turn off when the broker's owner declares it. */
    AMQP_DECLARE_EXCHANGE: booleanFlag.default(true),
    /** PEM file of a private CA for amqps:// (public CAs are trusted by default). */
    AMQP_CA_FILE: z.string().min(1).optional(),
    NOTIFY_LEASE_SECONDS: z.coerce.number().int().min(5).max(900).default(30),
    NOTIFY_BACKOFF_CAP_SECONDS: z.coerce.number().int().min(1).max(900).default(30),
    /** A message the broker refuses (unroutable, missing exchange) is tried this often, then parked. */
    NOTIFY_MAX_REJECTIONS: z.coerce.number().int().min(1).max(100).default(10),
    /** The sweep re-enqueues the notification of a version uploaded but not announced for this long. */
    SWEEP_NOTIFY_AFTER_SECONDS: z.coerce.number().int().min(10).max(86_400).default(120),
    /** The sweep re-enqueues a transfer left `pending`, `transferring` or `failed` this long (its job was lost). */
    SWEEP_TRANSFER_AFTER_SECONDS: z.coerce.number().int().min(60).max(604_800).default(1800),
    /** The sweep aborts multipart uploads older than this that no live transfer owns. */
    SWEEP_ORPHAN_UPLOAD_AFTER_HOURS: z.coerce.number().min(1).max(720).default(24),
    /** Static API token (local runs). On AWS the token lives in Secrets Manager instead. */
    SLUICE_API_TOKEN: z.string().min(16, 'must be at least 16 characters').optional(),
    /** Secrets Manager id of the API token (AWS). */
    API_TOKEN_SECRET_ID: z.string().min(1).optional(),
    /** Prefix of the per-server credential secrets; IAM policies are scoped to it. */
    SERVER_SECRET_PREFIX: z
      .string()
      .regex(/^[A-Za-z0-9/_+=.@-]+$/, 'may only contain A-Z a-z 0-9 / _ + = . @ -')
      .default('sluice/servers/'),
    /** Days a deleted server's secret can still be restored (Secrets Manager allows 7 to 30). */
    SECRET_RECOVERY_DAYS: z.coerce.number().int().min(7).max(30).default(7),
    /** Directory entries (files and directories) one poll may read; past it the poll fails as listing_too_large, taking nothing. */
    POLL_MAX_ENTRIES: z.coerce.number().int().min(1).max(10_000_000).default(100_000),
    /** Directory levels below remoteDir a recursive poll may descend; deeper is listing_too_large. */
    POLL_MAX_DEPTH: z.coerce.number().int().min(1).max(1000).default(32),
    /**
     * A whole listing must finish within this (each request also within SFTP_REQUEST_TIMEOUT_SECONDS).
     * With the connect deadline (2 × the request deadline) it stays inside the poll function's 150 s,
     * so a slow server's poll is recorded and backed off instead of dying with its batch.
     */
    POLL_LISTING_TIMEOUT_SECONDS: z.coerce.number().int().min(1).max(900).default(60),
    LOG_LEVEL: z.enum(['debug', 'info', 'warn', 'error']).default('info'),
    /**
     * Powertools' own variables (the ecosystem's names): the CloudWatch namespace of the embedded
     * metrics, and the `service` of log lines and dimension of metrics (serverless.yml: the stage's
     * name, so two stages' metrics stay apart). POWERTOOLS_METRICS_DISABLED=true stops the metrics.
     */
    POWERTOOLS_METRICS_NAMESPACE: z.string().regex(/^[\w./#:-]{1,255}$/, 'letters, digits and . - _ / # : only, at most 255').default('sluice'),
    POWERTOOLS_SERVICE_NAME: z.string().min(1).max(250).default('sluice'),
    /**
     * Error-level log lines also go to Sentry when set (off by default). A DSN is a public key that
     * only lets its holder send events, which Sentry documents as safe to expose; it is not a secret.
     */
    SENTRY_DSN: z.url({ protocol: /^https?$/, error: 'must be a Sentry DSN (https://<key>@<host>/<project>)' }).optional(),
  })
  .refine((config) => config.POLL_LISTING_TIMEOUT_SECONDS + 2 * config.SFTP_REQUEST_TIMEOUT_SECONDS < config.POLL_LEASE_SECONDS, {
    path: ['POLL_LISTING_TIMEOUT_SECONDS'],
    message: 'with the connect deadline (2 x SFTP_REQUEST_TIMEOUT_SECONDS) it must stay below POLL_LEASE_SECONDS',
  })
  .refine((config) => config.SLUICE_API_TOKEN !== undefined || config.API_TOKEN_SECRET_ID !== undefined, {
    path: ['SLUICE_API_TOKEN'],
    message: 'set SLUICE_API_TOKEN or API_TOKEN_SECRET_ID so the API can authenticate callers',
  });

export type Config = z.infer<typeof ConfigSchema>;

/** Parses the environment; throws a ConfigError naming every bad variable (never its value). */
export function loadConfig(env: NodeJS.ProcessEnv = process.env): Config {
  const blankToUndefined = Object.fromEntries(
    Object.entries(env).map(([key, value]) => [key, value === '' ? undefined : value]),
  );
  const result = ConfigSchema.safeParse(blankToUndefined);
  if (result.success) return result.data;
  const problems = result.error.issues.map((issue) => ({
    variable: String(issue.path[0] ?? 'environment'),
    message: issue.message,
  }));
  throw new ConfigError(problems);
}

let cached: Config | undefined;

/** The process-wide configuration, parsed on first use. */
export function config(): Config {
  cached ??= loadConfig();
  return cached;
}
