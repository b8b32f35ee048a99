import { getContainer } from '../../lib/container';
import { route } from '../../lib/http/route';
import { httpRuntime } from './runtime';
import { ListFilesQuery } from './schemas';

/** A server's ingestion history, newest first; still answers after the server was deleted. */
export const handler = route({ query: ListFilesQuery }, httpRuntime, async ({ query }) => {
  const page = await getContainer().files.listByServer(query.serverId, query.limit, query.nextToken, query.status);
  return { status: 200, body: { items: page.items, nextToken: page.nextToken ?? null } };
});
