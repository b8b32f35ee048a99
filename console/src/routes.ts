// The console's views live in the URL's fragment (`#/files?server=...`): bookmarkable, and no server-side route beyond GET /console.

export type Route =
  | { view: 'servers' }
  | { view: 'new-server' }
  | { view: 'server'; id: string }
  | { view: 'edit-server'; id: string }
  | { view: 'files'; server: string; status: string }
  | { view: 'charts'; server: string };

/** `server` in files and charts routes: one server's id, or every server. */
export const ALL_SERVERS = 'all';

export function parseRoute(hash: string): Route {
  const [path = '', search = ''] = hash.replace(/^#/, '').split('?');
  const params = new URLSearchParams(search);
  const parts = path.split('/').filter(Boolean).map(decodeURIComponent);
  if (parts[0] === 'files') return { view: 'files', server: params.get('server') || ALL_SERVERS, status: params.get('status') ?? '' };
  if (parts[0] === 'charts') return { view: 'charts', server: params.get('server') || ALL_SERVERS };
  if (parts[0] === 'servers' && parts[1] === 'new') return { view: 'new-server' };
  if (parts[0] === 'servers' && parts[1] && parts[2] === 'edit') return { view: 'edit-server', id: parts[1] };
  if (parts[0] === 'servers' && parts[1]) return { view: 'server', id: parts[1] };
  return { view: 'servers' };
}

export function href(route: Route): string {
  switch (route.view) {
    case 'servers':
      return '#/servers';
    case 'new-server':
      return '#/servers/new';
    case 'server':
      return `#/servers/${encodeURIComponent(route.id)}`;
    case 'edit-server':
      return `#/servers/${encodeURIComponent(route.id)}/edit`;
    case 'files': {
      const params = new URLSearchParams({ server: route.server });
      if (route.status) params.set('status', route.status);
      return `#/files?${params}`;
    }
    case 'charts':
      return `#/charts?${new URLSearchParams({ server: route.server })}`;
  }
}
