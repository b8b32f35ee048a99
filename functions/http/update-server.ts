import { getContainer } from '../../lib/container';
import { route } from '../../lib/http/route';
import { updateServer } from '../../lib/use-cases/servers';
import { httpRuntime } from './runtime';
import { ServerIdParams, UpdateServerInput } from './schemas';

export const handler = route({ params: ServerIdParams, body: UpdateServerInput }, httpRuntime, async ({ params, body, requestId }) => ({
  status: 200,
  body: await updateServer(params.id, body, getContainer().serverDeps, { requestId }),
}));
