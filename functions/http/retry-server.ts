import { getContainer } from '../../lib/container';
import { route } from '../../lib/http/route';
import { retryServer } from '../../lib/use-cases/redrive';
import { httpRuntime } from './runtime';
import { RetryServerQuery, ServerIdParams } from './schemas';

export const handler = route({ params: ServerIdParams, query: RetryServerQuery, qualifyQueryFields: true }, httpRuntime, async ({ params, query, requestId }) => ({
  status: 202,
  body: await retryServer(params.id, getContainer().redriveDeps, { ...(query.status ? { statuses: [query.status] } : {}), requestId }),
}));
