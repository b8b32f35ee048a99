import { getContainer } from '../../lib/container';
import { route } from '../../lib/http/route';
import { listServers } from '../../lib/use-cases/servers';
import { httpRuntime } from './runtime';
import { ListServersQuery } from './schemas';

export const handler = route({ query: ListServersQuery }, httpRuntime, async ({ query }) => {
  const page = await listServers(query.limit, query.nextToken, getContainer().serverDeps);
  return { status: 200, body: { items: page.items, nextToken: page.nextToken ?? null } };
});
