import { useEffect, useState } from 'preact/hooks';
import { onConnectivity, tokenStore } from './api';
import { ChartsView } from './charts-view';
import { FilesView } from './files-view';
import { Login } from './login';
import { onNotice, type Notice } from './notices';
import { REFRESH_MS, TickContext, useTicker } from './poll';
import { href, parseRoute, type Route } from './routes';
import { ServerDetail } from './server-detail';
import { ServerForm } from './server-form';
import { ServersView } from './servers-view';
import { formatDateTime } from './format';

function useRoute(): Route {
  const [route, setRoute] = useState(() => parseRoute(location.hash));
  useEffect(() => {
    const onChange = () => setRoute(parseRoute(location.hash));
    window.addEventListener('hashchange', onChange);
    return () => window.removeEventListener('hashchange', onChange);
  }, []);
  return route;
}

/** Whether the API answered lately: the banner, and a refused token sending the operator back to the login. */
function useConnection(onRefused: () => void) {
  const [connection, setConnection] = useState<{ reachable: boolean; since: Date | null; lastAnswer: Date | null }>({ reachable: true, since: null, lastAnswer: null });
  useEffect(
    () =>
      onConnectivity((state) => {
        if (state === 'refused') onRefused();
        setConnection((previous) =>
          state === 'unreachable'
            ? { ...previous, reachable: false, since: previous.reachable ? new Date() : previous.since }
            : { reachable: true, since: null, lastAnswer: new Date() },
        );
      }),
    [onRefused],
  );
  return connection;
}

function Notices() {
  const [notice, setNotice] = useState<Notice | null>(null);
  useEffect(() => onNotice(setNotice), []);
  useEffect(() => {
    if (!notice) return undefined;
    const timer = window.setTimeout(() => setNotice(null), notice.kind === 'error' ? 12_000 : 6000);
    return () => window.clearTimeout(timer);
  }, [notice]);
  return (
    <div class="notices" aria-live="polite">
      {notice && (
        <p class={`notice notice-${notice.kind}`} role={notice.kind === 'error' ? 'alert' : 'status'}>
          {notice.text}
          <button type="button" class="link" onClick={() => setNotice(null)} aria-label="Dismiss">
            ×
          </button>
        </p>
      )}
    </div>
  );
}

const NAV: { label: string; view: Route['view'][]; target: Route }[] = [
  { label: 'Servers', view: ['servers', 'server', 'new-server', 'edit-server'], target: { view: 'servers' } },
  { label: 'Files', view: ['files'], target: { view: 'files', server: 'all', status: '' } },
  { label: 'Charts', view: ['charts'], target: { view: 'charts', server: 'all' } },
];

function View({ route }: { route: Route }) {
  switch (route.view) {
    case 'servers':
      return <ServersView />;
    case 'new-server':
      return <ServerForm />;
    case 'edit-server':
      return <ServerForm id={route.id} />;
    case 'server':
      return <ServerDetail id={route.id} />;
    case 'files':
      return <FilesView key={`${route.server} ${route.status}`} server={route.server} status={route.status} />;
    case 'charts':
      return <ChartsView server={route.server} />;
  }
}

export function App() {
  const route = useRoute();
  const [signedIn, setSignedIn] = useState(() => tokenStore.get() !== null);
  const [refused, setRefused] = useState(false);
  const [onRefused] = useState(() => () => {
    tokenStore.clear();
    setRefused(true);
    setSignedIn(false);
  });
  const connection = useConnection(onRefused);
  const tick = useTicker(signedIn);

  if (!signedIn) {
    return <Login refused={refused} onSignedIn={() => (setRefused(false), setSignedIn(true))} />;
  }
  return (
    <TickContext.Provider value={tick}>
      <header class="top">
        <a class="brand" href="#/servers">
          sluice <span>console</span>
        </a>
        <nav aria-label="Views">
          {NAV.map((item) => (
            <a href={href(item.target)} aria-current={item.view.includes(route.view) ? 'page' : undefined}>
              {item.label}
            </a>
          ))}
        </nav>
        <p class="freshness" title={`Refreshes every ${REFRESH_MS / 1000} s`}>
          {connection.lastAnswer ? `Updated ${formatDateTime(connection.lastAnswer.toISOString()).slice(11)}` : 'Loading…'}
        </p>
        <button type="button" class="secondary" onClick={() => (tokenStore.clear(), setRefused(false), setSignedIn(false))}>
          Sign out
        </button>
      </header>
      {!connection.reachable && (
        <div class="banner banner-error" role="alert">
          <strong>The API is unreachable</strong> since {formatDateTime(connection.since?.toISOString()).slice(11)}. The page shows the last data it received and
          keeps retrying every {REFRESH_MS / 1000} s.
        </div>
      )}
      <Notices />
      <main>
        <View route={route} />
      </main>
    </TickContext.Provider>
  );
}
