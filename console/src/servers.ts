import { api, query } from './api';
import type { Page, Server } from './types';

/** Every registered server, in creation order (pages of 100; MAX_SERVERS bounds how many). */
export async function loadAllServers(): Promise<Server[]> {
  const servers: Server[] = [];
  let nextToken: string | null = null;
  do {
    const page: Page<Server> = await api<Page<Server>>('GET', `/servers${query({ limit: 100, nextToken })}`);
    servers.push(...page.items);
    nextToken = page.nextToken;
  } while (nextToken);
  return servers;
}

export const serverPath = (id: string, action = '') => `/servers/${encodeURIComponent(id)}${action}`;
