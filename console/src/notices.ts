// One line of feedback after an action ("Retried 3 versions", "Delete failed: ..."), shown in the header's live region.

export interface Notice {
  id: number;
  kind: 'ok' | 'error';
  text: string;
}

let next = 1;
const listeners = new Set<(notice: Notice) => void>();

export function notify(text: string, kind: Notice['kind'] = 'ok'): void {
  const notice = { id: next++, kind, text };
  listeners.forEach((listener) => listener(notice));
}

export function onNotice(listener: (notice: Notice) => void): () => void {
  listeners.add(listener);
  return () => listeners.delete(listener);
}
