import { z } from 'zod';
import { FILE_STATUSES, FileView } from '../../lib/domain/file-version';
import { RETRYABLE_STATUSES } from '../../lib/use-cases/redrive';

export { CreateServerInput, UpdateServerInput, ServerViewSchema } from '../../lib/domain/server';

export const ServerIdParams = z.object({ id: z.string().min(1).max(128) });

export const ListServersQuery = z.strictObject({
  limit: z.coerce.number().int().min(1).max(100).default(50),
  nextToken: z.string().min(1).max(2048).optional(),
});

export const FileIdParams = z.object({ id: z.string().min(1).max(128) });

export { FILE_STATUSES };

export const ListFilesQuery = z.strictObject({
  serverId: z.string().min(1).max(128),
  status: z.enum(FILE_STATUSES).optional(),
  limit: z.coerce.number().int().min(1).max(100).default(50),
  nextToken: z.string().min(1).max(2048).optional(),
});

/** `POST /servers/{id}/retry`: which versions to retry (default: every retryable status). */
export const RetryServerQuery = z.strictObject({ status: z.enum(RETRYABLE_STATUSES).optional() });

/** `POST /servers/{id}/renotify`: versions first announced at or after `since` (ISO 8601, `Z` or an offset). */
export const RenotifyServerQuery = z.strictObject({ since: z.iso.datetime({ offset: true }) });

const complete = z.boolean().describe('False when the time budget ran out first: call again for the rest');
export const RetriedSchema = z.object({ retried: z.int().describe('Versions sent back to pending, each with its transfer job enqueued'), complete });
export const QueuedSchema = z.object({ queued: z.int().describe('Notify jobs enqueued, one per version, each re-published with its original messageId'), complete });

/** The shape of a file version in responses (lib/domain/file-version.ts). */
export const FileViewSchema = FileView;

/** `GET /stats`: one server's counters, or (without serverId) the whole deployment's. */
export const StatsQuery = z.strictObject({ serverId: z.string().min(1).max(128).optional() });

const counts = z.object(Object.fromEntries(FILE_STATUSES.map((status) => [status, z.int()])) as Record<(typeof FILE_STATUSES)[number], z.ZodInt>);
/** The shape of `GET /stats` (documentation; lib/domain/stats.ts builds it). */
export const StatsSchema = z.object({
  serverId: z.string().nullable().describe('The server asked for; null for the whole deployment'),
  counts: counts.describe('File versions in each status, now'),
  totals: z.object({ filesIngested: z.int(), bytesIngested: z.int() }).describe('Since the deployment began counting'),
  last24h: z
    .object({
      since: z.iso.datetime().describe('Start of the window: the start of the UTC hour 23 hours before the current one'),
      filesIngested: z.int(),
      bytesIngested: z.int(),
      failures: z.record(z.string(), z.int()).describe('Failed transfer attempts and quarantines, by error code'),
      hourly: z
        .array(z.object({ hour: z.iso.datetime().describe('Start of the UTC hour'), filesIngested: z.int(), bytesIngested: z.int(), failures: z.int().describe('Of every code') }))
        .describe('The 24 hours of the window, oldest first, zeros included'),
    })
    .describe('Hourly buckets: the current UTC hour and the 23 before it'),
  detectToNotify: z.object({
    buckets: z.array(z.object({ le: z.number(), count: z.int() })).describe('Cumulative: versions announced within `le` seconds of detection'),
    sum: z.number(),
    count: z.int(),
  }),
});
