import { getContainer } from '../../lib/container';
import { route } from '../../lib/http/route';
import { createServer } from '../../lib/use-cases/servers';
import { httpRuntime } from './runtime';
import { CreateServerInput } from './schemas';

export const handler = route({ body: CreateServerInput }, httpRuntime, async ({ body, requestId }) => {
  const server = await createServer(body, getContainer().serverDeps, { requestId });
  return { status: 201, body: server, headers: { location: `/servers/${server.id}` } };
});
