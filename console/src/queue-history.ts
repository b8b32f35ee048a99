import type { QueueDepth } from './prometheus';

/** Queue depths sampled while the page is open (GET /metrics has only the present), kept across views. */
const MAX_SAMPLES = 150;

export interface QueueHistory {
  at: number[];
  work: Record<'poll' | 'transfer' | 'notify', number[]>;
  deadLetters: number[];
}

const history: QueueHistory = { at: [], work: { poll: [], transfer: [], notify: [] }, deadLetters: [] };

export function recordDepths(depths: QueueDepth[], at: Date): QueueHistory {
  const total = (queue: string) => {
    const depth = depths.find((entry) => entry.queue === queue);
    return depth ? depth.visible + depth.inflight : 0;
  };
  const seconds = Math.floor(at.getTime() / 1000);
  if (history.at.at(-1) !== seconds) {
    history.at.push(seconds);
    for (const queue of ['poll', 'transfer', 'notify'] as const) history.work[queue].push(total(queue));
    history.deadLetters.push(total('poll-dlq') + total('transfer-dlq') + total('notify-dlq'));
    if (history.at.length > MAX_SAMPLES) {
      history.at.shift();
      for (const values of [...Object.values(history.work), history.deadLetters]) values.shift();
    }
  }
  return { at: [...history.at], work: { poll: [...history.work.poll], transfer: [...history.work.transfer], notify: [...history.work.notify] }, deadLetters: [...history.deadLetters] };
}
