import { api } from './api';
import { relativeTime, sinceTime } from './format';
import { notify } from './notices';
import { useNow, usePoll } from './poll';
import { href } from './routes';
import { loadAllServers, serverPath } from './servers';
import type { Server } from './types';
import { ActionButton, ActionsHeading, HealthBadge, HostKeyBadge, LastError, LoadFailed, Loading } from './ui';

/** Turns polling of a server on or off (PATCH active). */
export async function setActive(server: Server, active: boolean, done: () => void): Promise<void> {
  await api('PATCH', serverPath(server.id), { active });
  notify(`${server.name} ${active ? 'activated: it is polled again' : 'deactivated: it is no longer polled'}.`);
  done();
}

/** A next poll in the past is one due now (waiting for its tick or a free connection), not one that happened. */
export function nextPoll(at: string | null, now: Date): string {
  return at && Date.parse(at) <= now.getTime() ? 'due now' : relativeTime(at, now);
}

function ServerRow({ server, now, refresh }: { server: Server; now: Date; refresh: () => void }) {
  return (
    <tr data-server-id={server.id}>
      <td data-label="Server">
        <a href={href({ view: 'server', id: server.id })} class="strong">
          {server.name}
        </a>
        <div class="muted small">
          {server.host}:{server.port} {server.remoteDir}
        </div>
      </td>
      <td data-label="Active">{server.active ? 'yes' : 'no'}</td>
      <td data-label="Health" class="nowrap">
        <HealthBadge server={server} />
      </td>
      <td data-label="Last poll" class="nowrap" title={server.lastPollAt ?? undefined}>
        {sinceTime(server.lastPollAt, now)}
      </td>
      <td data-label="Next poll" class="nowrap" title={server.nextPollAt ?? undefined}>
        {server.active ? nextPoll(server.nextPollAt, now) : '—'}
      </td>
      <td data-label="Failures">{server.consecutiveFailures}</td>
      <td data-label="Last error">
        <LastError error={server.lastError} keep={60} />
      </td>
      <td data-label="Host key" class="nowrap">
        <HostKeyBadge server={server} />
      </td>
      <td data-label="Actions" class="row-actions">
        <a class="button secondary" href={href({ view: 'files', server: server.id, status: '' })}>
          Files
        </a>
        <ActionButton label={server.active ? 'Deactivate' : 'Activate'} run={() => setActive(server, !server.active, refresh)} />
      </td>
    </tr>
  );
}

/** Every server with its health at a glance; the name opens its page (test, pin, retry, edit, delete). */
export function ServersView() {
  const servers = usePoll(loadAllServers, []);
  const now = useNow();
  const list = servers.data;
  const failing = list?.filter((server) => server.active && server.consecutiveFailures > 0).length ?? 0;
  return (
    <section>
      <div class="heading">
        <h1>Servers</h1>
        <a class="button" href={href({ view: 'new-server' })}>
          Register server
        </a>
      </div>
      {list && (
        <p class="muted">
          {list.length} registered, {list.filter((server) => server.active).length} active
          {failing > 0 ? `, ${failing} failing` : ''}.
        </p>
      )}
      {!list && servers.loading && <Loading what="servers" />}
      {!list && servers.error !== undefined && <LoadFailed error={servers.error} />}
      {list && list.length === 0 && <p class="empty">No server registered yet: register the first one.</p>}
      {list && list.length > 0 && (
        <div class="table-wrap">
        <table class="responsive servers">
          <thead>
            <tr>
              <th>Server</th>
              <th>Active</th>
              <th>Health</th>
              <th>Last poll</th>
              <th>Next poll</th>
              <th>Failures</th>
              <th>Last error</th>
              <th>Host key</th>
              <ActionsHeading />
            </tr>
          </thead>
          <tbody>
            {list.map((server) => (
              <ServerRow key={server.id} server={server} now={now} refresh={servers.refresh} />
            ))}
          </tbody>
        </table>
        </div>
      )}
    </section>
  );
}
