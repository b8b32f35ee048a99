import { useState } from 'preact/hooks';
import { api } from './api';
import { notify } from './notices';
import { serverPath } from './servers';
import type { Server, ServerTestResult } from './types';
import { ActionButton, Badge, Facts } from './ui';
import { formatBytes, formatDateTime } from './format';

/** POST /servers/{id}/test (changes nothing) and, from its result, pinning the key the server presented. */
export function ServerTest({ server, onPinned }: { server: Server; onPinned: () => void }) {
  const [result, setResult] = useState<ServerTestResult | null>(null);
  const run = async () => {
    setResult(null);
    setResult(await api<ServerTestResult>('POST', serverPath(server.id, '/test')));
  };
  const pin = async (hostKey: string) => {
    await api('PATCH', serverPath(server.id), { hostKey });
    notify(`Host key ${hostKey} pinned for ${server.name}.`);
    onPinned();
    await run();
  };
  const presented = result?.hostKey ?? null;
  return (
    <section class="card" aria-labelledby="test-title">
      <div class="heading">
        <h2 id="test-title">Connection test</h2>
        <ActionButton label="Test connection" busyLabel="Testing…" run={run} />
      </div>
      <p class="muted small">Connects, checks the host key, logs in only if the key is trusted, and lists the first page of {server.remoteDir}. Changes nothing.</p>
      {result && (
        <div class="test-result" data-ok={String(result.ok)}>
          <p>
            {result.ok ? <Badge tone="ok">connection OK</Badge> : <Badge tone="bad">{result.error?.code ?? 'failed'}</Badge>}{' '}
            {result.error && <span>{result.error.message}</span>}
          </p>
          <Facts
            rows={[
              ['Presented host key', <code class="wrap">{presented ?? '—'}</code>],
              ['Host key trusted', result.hostKeyTrusted ? 'yes' : 'no'],
              ['Logged in', result.authenticated ? 'yes' : 'no'],
            ]}
          />
          {presented && presented !== server.hostKey && (
            <div class="pin">
              <p class="small">
                {server.hostKey ? 'The pinned key is different.' : 'No key is pinned.'} Check this fingerprint with the server's owner before pinning it: from then on
                sluice sends credentials only to a server presenting it.
              </p>
              <ActionButton label="Pin this host key" kind="primary" run={() => pin(presented)} />
            </div>
          )}
          {result.entries && (
            <table class="responsive compact">
              <caption class="muted small">
                {result.entries.length > 10 ? `10 of the first ${result.entries.length} entries` : 'Entries'} of {server.remoteDir}
              </caption>
              <thead>
                <tr>
                  <th>Name</th>
                  <th>Type</th>
                  <th>Size</th>
                  <th>Modified</th>
                </tr>
              </thead>
              <tbody>
                {result.entries.slice(0, 10).map((entry) => (
                  <tr>
                    <td data-label="Name">{entry.name}</td>
                    <td data-label="Type">{entry.type}</td>
                    <td data-label="Size">{entry.size === null ? '—' : formatBytes(entry.size)}</td>
                    <td data-label="Modified">{formatDateTime(entry.mtime)}</td>
                  </tr>
                ))}
              </tbody>
            </table>
          )}
        </div>
      )}
    </section>
  );
}
