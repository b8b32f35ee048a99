import { getContainer } from '../../lib/container';
import { route } from '../../lib/http/route';
import { getServer } from '../../lib/use-cases/servers';
import { httpRuntime } from './runtime';
import { ServerIdParams } from './schemas';

export const handler = route({ params: ServerIdParams }, httpRuntime, async ({ params }) => ({
  status: 200,
  body: await getServer(params.id, getContainer().serverDeps),
}));
