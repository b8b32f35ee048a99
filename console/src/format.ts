// Pure presentation rules, shared by the views and tested without a browser (test/unit/console-format.test.ts).

const UNITS = ['B', 'KiB', 'MiB', 'GiB', 'TiB'];

export function formatBytes(bytes: number): string {
  if (!Number.isFinite(bytes) || bytes < 1024) return `${Math.max(0, Math.round(bytes || 0))} B`;
  let value = bytes;
  let unit = 0;
  while (value >= 1024 && unit < UNITS.length - 1) {
    value /= 1024;
    unit++;
  }
  return `${value.toFixed(value < 10 ? 2 : value < 100 ? 1 : 0)} ${UNITS[unit]}`;
}

export function formatCount(count: number): string {
  return Math.round(count).toLocaleString('en-US');
}

const pad = (value: number) => String(value).padStart(2, '0');

/** Local date and time, `2026-12-03 15:20:05`; `—` for none. */
export function formatDateTime(iso: string | null | undefined): string {
  if (!iso) return '—';
  const at = new Date(iso);
  if (Number.isNaN(at.getTime())) return '—';
  return `${at.getFullYear()}-${pad(at.getMonth() + 1)}-${pad(at.getDate())} ${pad(at.getHours())}:${pad(at.getMinutes())}:${pad(at.getSeconds())}`;
}

/** `12-03 15:20:05` (month-day time) for dense tables; the full value belongs in a title. */
export function formatShortDateTime(iso: string | null | undefined): string {
  const full = formatDateTime(iso);
  return full === '—' ? full : full.slice(5);
}

/** `12 s ago`, `in 3 min`; `—` for none. */
export function relativeTime(iso: string | null | undefined, now: Date): string {
  if (!iso) return '—';
  const at = Date.parse(iso);
  if (Number.isNaN(at)) return '—';
  const seconds = Math.round((at - now.getTime()) / 1000);
  const magnitude = Math.abs(seconds);
  const amount =
    magnitude < 60 ? `${magnitude} s` : magnitude < 3600 ? `${Math.floor(magnitude / 60)} min` : magnitude < 86_400 ? `${Math.floor(magnitude / 3600)} h` : `${Math.floor(magnitude / 86_400)} d`;
  if (magnitude < 1) return 'now';
  return seconds < 0 ? `${amount} ago` : `in ${amount}`;
}

/** Like relativeTime for something that has happened: a clock a little ahead of the browser's still reads `now`. */
export function sinceTime(iso: string | null | undefined, now: Date): string {
  if (iso && Date.parse(iso) > now.getTime()) return 'now';
  return relativeTime(iso, now);
}

interface HostKeyFacts {
  hostKey: string | null;
  observedHostKey: string | null;
  lastError: { code: string } | null;
}

export type HostKeyState = 'pinned' | 'first-seen' | 'mismatch' | 'unknown';

/**
 * How far sluice trusts the server's host key: `mismatch` (the last poll was refused a changed key:
 * someone must check it and pin the new one), `pinned` (an operator set hostKey), `first-seen` (no
 * pin; the key recorded on first connection is required), `unknown` (nothing pinned or seen yet).
 */
export function hostKeyState(server: HostKeyFacts): { state: HostKeyState; label: string; fingerprint: string | null } {
  if (server.lastError?.code === 'host_key_mismatch') return { state: 'mismatch', label: 'mismatch', fingerprint: server.hostKey ?? server.observedHostKey };
  if (server.hostKey) return { state: 'pinned', label: 'pinned', fingerprint: server.hostKey };
  if (server.observedHostKey) return { state: 'first-seen', label: 'first-seen', fingerprint: server.observedHostKey };
  return { state: 'unknown', label: 'not seen yet', fingerprint: null };
}

interface HealthFacts {
  active: boolean;
  lastPollAt: string | null;
  consecutiveFailures: number;
}

export type Health = 'healthy' | 'failing' | 'inactive' | 'waiting';

export function serverHealth(server: HealthFacts): { state: Health; label: string } {
  if (!server.active) return { state: 'inactive', label: 'inactive' };
  if (server.consecutiveFailures > 0) return { state: 'failing', label: `failing (${server.consecutiveFailures}×)` };
  if (!server.lastPollAt) return { state: 'waiting', label: 'not polled yet' };
  return { state: 'healthy', label: 'healthy' };
}

/** The badge colour of a file status. */
export function statusTone(status: string): 'ok' | 'busy' | 'warn' | 'bad' | 'muted' {
  switch (status) {
    case 'notified':
      return 'ok';
    case 'pending':
    case 'transferring':
    case 'uploaded':
      return 'busy';
    case 'failed':
      return 'warn';
    case 'quarantined':
      return 'bad';
    default:
      return 'muted';
  }
}

/** `ab12cd…` for long identifiers shown in narrow cells (the full value goes in a title). */
export function shorten(text: string | null | undefined, keep = 12): string {
  if (!text) return '—';
  return text.length > keep + 1 ? `${text.slice(0, keep)}…` : text;
}

/** An hour's start as `15:00` local time (chart axes). */
export function hourLabel(epochSeconds: number): string {
  const at = new Date(epochSeconds * 1000);
  return `${pad(at.getHours())}:00`;
}
