import { getContainer } from '../../lib/container';
import { route } from '../../lib/http/route';
import { deleteServer } from '../../lib/use-cases/servers';
import { httpRuntime } from './runtime';
import { ServerIdParams } from './schemas';

export const handler = route({ params: ServerIdParams }, httpRuntime, async ({ params, requestId }) => {
  await deleteServer(params.id, getContainer().serverDeps, { requestId });
  return { status: 204 };
});
