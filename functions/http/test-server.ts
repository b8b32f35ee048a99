import { getContainer } from '../../lib/container';
import { route } from '../../lib/http/route';
import { testServer } from '../../lib/use-cases/server-test';
import { httpRuntime } from './runtime';
import { ServerIdParams } from './schemas';

export const handler = route({ params: ServerIdParams }, httpRuntime, async ({ params }) => ({
  status: 200,
  body: await testServer(params.id, getContainer().serverTestDeps),
}));
