import { z } from 'zod';
import type { NotifyJob, TransferJob } from '../ports';

/**
 * The bodies of the transfer and notify queues, as their consumers parse them (and the dead-letter
 * redrive reads them): one declaration each, checked against the ports' job types.
 */
export const TransferJobMessage = z.object({
  fileId: z.string().regex(/^[0-9a-f]{32}$/),
  serverId: z.string().min(1),
  remotePath: z.string().min(1),
  size: z.number().int().min(0),
  mtime: z.number().int(),
}) satisfies z.ZodType<TransferJob>;

export const NotifyJobMessage = z.object({
  fileId: z.string().regex(/^[0-9a-f]{32}$/),
  again: z.literal(true).optional(),
}) satisfies z.ZodType<NotifyJob>;
