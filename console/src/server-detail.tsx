import type { ComponentChildren } from 'preact';
import { useState } from 'preact/hooks';
import { api, ApiError } from './api';
import { formatDateTime, hostKeyState, sinceTime } from './format';
import { notify } from './notices';
import { useNow, usePoll } from './poll';
import { href } from './routes';
import { ServerTest } from './server-test';
import { serverPath } from './servers';
import { nextPoll, setActive } from './servers-view';
import type { Server } from './types';
import { ActionButton, Badge, ConfirmDialog, Facts, HealthBadge, HostKeyBadge, LoadFailed, Loading } from './ui';

async function retryFailed(server: Server): Promise<void> {
  const result = await api<{ retried: number; complete: boolean }>('POST', serverPath(server.id, '/retry'));
  notify(
    `${result.retried} failed, quarantined or vanished version${result.retried === 1 ? '' : 's'} of ${server.name} sent back to pending` +
      (result.complete ? '.' : '; more remain: retry again.'),
  );
}

function HealthFacts({ server, now }: { server: Server; now: Date }) {
  const key = hostKeyState(server);
  return (
    <Facts
      rows={[
        ['Health', <HealthBadge server={server} />],
        ['Last poll', `${sinceTime(server.lastPollAt, now)} (${formatDateTime(server.lastPollAt)})`],
        ['Next poll', server.active ? `${nextPoll(server.nextPollAt, now)} (${formatDateTime(server.nextPollAt)})` : 'not polled: inactive'],
        ['Consecutive failures', String(server.consecutiveFailures)],
        [
          'Last error',
          server.lastError ? (
            <span>
              <Badge tone="bad">{server.lastError.code}</Badge> {server.lastError.message} <span class="muted small">{formatDateTime(server.lastError.at)}</span>
            </span>
          ) : (
            'none'
          ),
        ],
        ['Host key', <HostKeyBadge server={server} />],
        ['Pinned key', <code class="wrap">{server.hostKey ?? 'none'}</code>],
        ['Recorded key', <code class="wrap">{server.observedHostKey ?? 'none'}</code>],
        ...(key.state === 'mismatch'
          ? ([['', <span class="small">The server presented another key. Test the connection, check the new fingerprint with its owner, then pin it.</span>]] as [string, ComponentChildren][])
          : []),
      ]}
    />
  );
}

function RegistrationFacts({ server }: { server: Server }) {
  return (
    <Facts
      rows={[
        ['Address', `${server.host}:${server.port}`],
        ['User', `${server.username} (${server.authMethod === 'password' ? 'password' : 'private key'})`],
        ['Directory', `${server.remoteDir}${server.recursive ? ' (recursive)' : ''}`],
        ['Pattern', <code>{server.pattern}</code>],
        ['Poll interval', `${server.pollIntervalSeconds} s`],
        ['Stable after', `${server.stableAfterSeconds} s`],
        ['Connections', String(server.maxConnections)],
        ['After ingest', server.afterIngest],
        ['Key prefix', <code>{server.keyPrefix}/</code>],
        ['Registered', formatDateTime(server.createdAt)],
        ['Changed', formatDateTime(server.updatedAt)],
        ['Id', <code class="wrap">{server.id}</code>],
      ]}
    />
  );
}

/** One server: everything the API shows of it, and every action on it. */
export function ServerDetail({ id }: { id: string }) {
  const polled = usePoll(() => api<Server>('GET', serverPath(id)), [id]);
  const now = useNow();
  const [confirming, setConfirming] = useState(false);
  const server = polled.data;
  if (!server) {
    if (polled.error instanceof ApiError && polled.error.status === 404) {
      return <p class="empty">No server with this id (it may have been deleted). <a href={href({ view: 'servers' })}>All servers</a></p>;
    }
    return polled.error !== undefined ? <LoadFailed error={polled.error} /> : <Loading what="the server" />;
  }
  const remove = async () => {
    await api('DELETE', serverPath(server.id));
    notify(`${server.name} deleted. Its files' history is kept; its secret can be restored for a few days.`);
    location.hash = href({ view: 'servers' });
  };
  return (
    <section>
      <p class="crumbs">
        <a href={href({ view: 'servers' })}>Servers</a> /
      </p>
      <div class="heading start">
        <h1>{server.name}</h1>
        <HealthBadge server={server} />
      </div>
      <div class="actions wrap-actions">
        <a class="button" href={href({ view: 'edit-server', id: server.id })}>
          Edit
        </a>
        <ActionButton label={server.active ? 'Deactivate' : 'Activate'} run={() => setActive(server, !server.active, polled.refresh)} />
        <ActionButton label="Retry failed files" busyLabel="Retrying…" run={() => retryFailed(server)} />
        <a class="button secondary" href={href({ view: 'files', server: server.id, status: '' })}>
          Files
        </a>
        <a class="button secondary" href={href({ view: 'charts', server: server.id })}>
          Charts
        </a>
        <button type="button" class="danger" onClick={() => setConfirming(true)}>
          Delete
        </button>
      </div>
      <div class="columns">
        <section class="card" aria-labelledby="health-title">
          <h2 id="health-title">Health</h2>
          <HealthFacts server={server} now={now} />
        </section>
        <section class="card" aria-labelledby="registration-title">
          <h2 id="registration-title">Registration</h2>
          <RegistrationFacts server={server} />
        </section>
      </div>
      <ServerTest server={server} onPinned={polled.refresh} />
      {confirming && (
        <ConfirmDialog title={`Delete ${server.name}?`} confirmLabel="Delete server" onConfirm={remove} onClose={() => setConfirming(false)}>
          <p>
            sluice stops polling it and schedules its stored credentials for deletion (restorable for the recovery window). The history of its files is kept.
          </p>
        </ConfirmDialog>
      )}
    </section>
  );
}
