import type { ComponentChildren } from 'preact';
import { useEffect, useRef, useState } from 'preact/hooks';
import { describeError } from './api';
import { hostKeyState, serverHealth, shorten, statusTone } from './format';
import { notify } from './notices';
import type { ErrorInfo, Server } from './types';

export function Badge({ tone, children, title }: { tone: string; children: ComponentChildren; title?: string | undefined }) {
  return (
    <span class={`badge badge-${tone}`} title={title}>
      {children}
    </span>
  );
}

export const StatusBadge = ({ status }: { status: string }) => <Badge tone={statusTone(status)}>{status}</Badge>;

const HEALTH_TONES = { healthy: 'ok', failing: 'bad', inactive: 'muted', waiting: 'busy' } as const;
/** A recorded error: its code as a badge, the start of its message (the whole of it on hover); a dash without one. */
export function LastError({ error, keep }: { error: ErrorInfo | null; keep: number }) {
  if (!error) return <>—</>;
  return (
    <span title={error.message}>
      <Badge tone="bad">{error.code}</Badge> <span class="small">{shorten(error.message, keep)}</span>
    </span>
  );
}

/** The heading of a table's actions column: read out, not shown. */
export function ActionsHeading() {
  return (
    <th>
      <span class="visually-hidden">Actions</span>
    </th>
  );
}

export function HealthBadge({ server }: { server: Server }) {
  const health = serverHealth(server);
  return <Badge tone={HEALTH_TONES[health.state]}>{health.label}</Badge>;
}

const KEY_TONES = { pinned: 'ok', 'first-seen': 'busy', mismatch: 'bad', unknown: 'muted' } as const;
export function HostKeyBadge({ server }: { server: Server }) {
  const key = hostKeyState(server);
  return (
    <Badge tone={KEY_TONES[key.state]} title={key.fingerprint ?? undefined}>
      {key.label}
    </Badge>
  );
}

/**
 * A button that runs an API call: disabled while it runs; a failure becomes an error notice, so a
 * caller only says what success means.
 */
export function ActionButton({
  label,
  busyLabel,
  run,
  kind = 'secondary',
  disabled = false,
}: {
  label: string;
  busyLabel?: string;
  run: () => Promise<void>;
  kind?: 'primary' | 'secondary' | 'danger';
  disabled?: boolean;
}) {
  const [busy, setBusy] = useState(false);
  const onClick = async () => {
    setBusy(true);
    try {
      await run();
    } catch (error) {
      notify(`${label} failed: ${describeError(error)}`, 'error');
    } finally {
      setBusy(false);
    }
  };
  return (
    <button type="button" class={kind === 'primary' ? '' : kind} disabled={busy || disabled} onClick={onClick}>
      {busy ? (busyLabel ?? `${label}…`) : label}
    </button>
  );
}

/** A modal confirmation (Esc or Cancel closes it); the dangerous action only runs from its button. */
export function ConfirmDialog({
  title,
  children,
  confirmLabel,
  onConfirm,
  onClose,
}: {
  title: string;
  children: ComponentChildren;
  confirmLabel: string;
  onConfirm: () => Promise<void>;
  onClose: () => void;
}) {
  const dialog = useRef<HTMLDialogElement>(null);
  useEffect(() => {
    const element = dialog.current;
    element?.showModal();
    return () => element?.close();
  }, []);
  return (
    <dialog ref={dialog} class="card dialog" aria-labelledby="dialog-title" onCancel={onClose}>
      <h2 id="dialog-title">{title}</h2>
      <div>{children}</div>
      <div class="actions">
        <ActionButton label={confirmLabel} kind="danger" run={async () => (await onConfirm(), onClose())} />
        <button type="button" class="secondary" onClick={onClose}>
          Cancel
        </button>
      </div>
    </dialog>
  );
}

/** Label/value pairs (a definition list: two columns on a laptop, stacked on a phone). */
export function Facts({ rows }: { rows: [string, ComponentChildren][] }) {
  return (
    <dl class="facts">
      {rows.map(([label, value]) => (
        <div>
          <dt>{label}</dt>
          <dd>{value}</dd>
        </div>
      ))}
    </dl>
  );
}

export function Loading({ what }: { what: string }) {
  return <p class="muted">Loading {what}…</p>;
}

export function LoadFailed({ error }: { error: unknown }) {
  return (
    <p class="muted" role="status">
      Could not load: {describeError(error)}
    </p>
  );
}
