import { getContainer } from '../../lib/container';
import { route } from '../../lib/http/route';
import { renotifyServer } from '../../lib/use-cases/redrive';
import { httpRuntime } from './runtime';
import { RenotifyServerQuery, ServerIdParams } from './schemas';

export const handler = route({ params: ServerIdParams, query: RenotifyServerQuery, qualifyQueryFields: true }, httpRuntime, async ({ params, query, requestId }) => ({
  status: 202,
  body: await renotifyServer(params.id, new Date(query.since), getContainer().redriveDeps, { requestId }),
}));
