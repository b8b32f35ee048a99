import { z } from 'zod';

export { CreateServerInput, UpdateServerInput, ServerViewSchema } from '../../lib/domain/server';

export const ServerIdParams = z.object({ id: z.string().min(1).max(128) });

export const ListServersQuery = z.strictObject({
  limit: z.coerce.number().int().min(1).max(100).default(50),
  nextToken: z.string().min(1).max(2048).optional(),
});
