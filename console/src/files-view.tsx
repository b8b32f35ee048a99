import { useRef, useState } from 'preact/hooks';
import { api, query } from './api';
import { mergedPage, serverPage, type FetchFiles } from './file-pages';
import { formatBytes, formatDateTime, formatShortDateTime, shorten } from './format';
import { notify } from './notices';
import { usePoll } from './poll';
import { ALL_SERVERS, href } from './routes';
import { loadAllServers } from './servers';
import { FILE_STATUSES, RETRYABLE_STATUSES, type FileView, type Page } from './types';
import { ActionButton, ActionsHeading, Facts, LastError, LoadFailed, Loading, StatusBadge } from './ui';

const PAGE_SIZE = 50;
const filePath = (file: FileView, action: string) => `/files/${encodeURIComponent(file.fileId)}${action}`;

function fetcher(status: string): FetchFiles<FileView> {
  return (serverId, nextToken) => api<Page<FileView>>('GET', `/files${query({ serverId, status, limit: PAGE_SIZE, nextToken })}`);
}

function FileRow({ file, showServer, refresh }: { file: FileView; showServer: boolean; refresh: () => void }) {
  const retry = async () => {
    await api('POST', filePath(file, '/retry'));
    notify(`${file.relativePath} sent back to pending: it is transferred again.`);
    refresh();
  };
  const renotify = async () => {
    await api('POST', filePath(file, '/renotify'));
    notify(`${file.relativePath} announced again (same messageId).`);
    refresh();
  };
  return (
    <tr data-file-id={file.fileId} data-status={file.status}>
      <td data-label="File" class="file-cell">
        <details>
          <summary title={file.remotePath}>{file.relativePath}</summary>
          <Facts
            rows={[
              ['Remote path', <code class="wrap">{file.remotePath}</code>],
              ['SHA-256', <code class="wrap">{file.sha256 ?? '—'}</code>],
              ['Store checksum', <code class="wrap">{file.objectChecksum ?? '—'}</code>],
              ['ETag', <code class="wrap">{file.etag ?? '—'}</code>],
              ['Status since', formatDateTime(file.statusSince)],
              ['Next attempt', formatDateTime(file.nextAttemptAt)],
              ['Uploaded', formatDateTime(file.uploadedAt)],
              ['Announced', formatDateTime(file.notifiedAt)],
              ['Announce tries', `${file.notifyAttempts}${file.notifyParked ? ' (parked: renotify to try again)' : ''}`],
              ['File id', <code class="wrap">{file.fileId}</code>],
            ]}
          />
        </details>
      </td>
      {showServer && (
        <td data-label="Server" class="server-cell">
          <a href={href({ view: 'server', id: file.serverId })}>{file.serverName}</a>
        </td>
      )}
      <td data-label="Status" class="nowrap">
        <StatusBadge status={file.status} />
      </td>
      <td data-label="Size" class="nowrap">{formatBytes(file.size)}</td>
      <td data-label="Modified" class="nowrap" title={formatDateTime(file.mtime)}>
        {formatShortDateTime(file.mtime)}
      </td>
      <td data-label="Discovered" class="nowrap" title={formatDateTime(file.discoveredAt)}>
        {formatShortDateTime(file.discoveredAt)}
      </td>
      <td data-label="Attempts" class="nowrap">{file.attempts}</td>
      <td data-label="Last error" class="error-cell">
        <LastError error={file.lastError} keep={48} />
      </td>
      <td data-label="Object" class="object-cell">
        {file.key ? (
          <span title={`${file.bucket}/${file.key}${file.versionId ? ` (version ${file.versionId})` : ''}`}>
            <code class="wrap">{file.key}</code>
            <div class="muted small">version {shorten(file.versionId, 10)}</div>
          </span>
        ) : (
          '—'
        )}
      </td>
      <td data-label="Actions" class="row-actions">
        {RETRYABLE_STATUSES.includes(file.status) && <ActionButton label="Retry" run={retry} />}
        {file.key && <ActionButton label="Renotify" run={renotify} />}
      </td>
    </tr>
  );
}

/** File versions of one server or all, newest first, filtered by status, 50 a page; refreshed on every tick. */
export function FilesView({ server, status }: { server: string; status: string }) {
  const servers = usePoll(loadAllServers, []);
  // The app keys this view by its filters, so a new filter starts again at page 1.
  const [pageIndex, setPageIndex] = useState(0);
  // Page i of one server starts at tokens[i] (the API's cursor).
  const tokens = useRef<(string | undefined)[]>([undefined]);
  const all = server === ALL_SERVERS;
  const serverIds = servers.data?.map((entry) => entry.id);
  const files = usePoll(async () => {
    const fetch = fetcher(status);
    if (!all) {
      const page = await serverPage(fetch, server, tokens.current[pageIndex], PAGE_SIZE);
      tokens.current[pageIndex + 1] = page.nextToken ?? undefined;
      return { items: page.items, hasMore: page.nextToken !== null };
    }
    return serverIds ? mergedPage(fetch, serverIds, pageIndex, PAGE_SIZE) : { items: [], hasMore: false };
  }, [server, status, pageIndex, all ? serverIds : null]);

  const navigate = (next: { server?: string; status?: string }) => {
    location.hash = href({ view: 'files', server: next.server ?? server, status: next.status ?? status });
  };
  const page = files.data;
  return (
    <section>
      <div class="heading">
        <h1>Files</h1>
      </div>
      <form class="filters" onSubmit={(event) => event.preventDefault()}>
        <label>
          Server{' '}
          <select value={server} onChange={(event) => navigate({ server: event.currentTarget.value })}>
            <option value={ALL_SERVERS}>All servers</option>
            {servers.data?.map((entry) => (
              <option value={entry.id}>{entry.name}</option>
            ))}
            {!all && servers.data && !servers.data.some((entry) => entry.id === server) && <option value={server}>{server} (deleted?)</option>}
          </select>
        </label>
        <label>
          Status{' '}
          <select value={status} onChange={(event) => navigate({ status: event.currentTarget.value })}>
            <option value="">All statuses</option>
            {FILE_STATUSES.map((value) => (
              <option value={value}>{value}</option>
            ))}
          </select>
        </label>
      </form>
      {!page && files.loading && <Loading what="files" />}
      {!page && files.error !== undefined && <LoadFailed error={files.error} />}
      {page && page.items.length === 0 && <p class="empty">No file versions{status ? ` ${status}` : ''} {pageIndex > 0 ? 'on this page' : 'yet'}.</p>}
      {page && page.items.length > 0 && (
        <div class="table-wrap">
        <table class="responsive files">
          <thead>
            <tr>
              <th>File</th>
              {all && <th>Server</th>}
              <th>Status</th>
              <th>Size</th>
              <th>Modified</th>
              <th>Discovered</th>
              <th>Attempts</th>
              <th>Last error</th>
              <th>Object (key, version)</th>
              <ActionsHeading />
            </tr>
          </thead>
          <tbody>
            {page.items.map((file) => (
              <FileRow key={file.fileId} file={file} showServer={all} refresh={files.refresh} />
            ))}
          </tbody>
        </table>
        </div>
      )}
      <nav class="pager" aria-label="Pages">
        <button type="button" class="secondary" disabled={pageIndex === 0} onClick={() => setPageIndex(pageIndex - 1)}>
          ← Newer
        </button>
        <span>Page {pageIndex + 1}</span>
        <button type="button" class="secondary" disabled={!page?.hasMore} onClick={() => setPageIndex(pageIndex + 1)}>
          Older →
        </button>
      </nav>
    </section>
  );
}
