// Reads GET /metrics (the Prometheus text format 0.0.4) into samples; pure, unit-tested.

export interface Sample {
  name: string;
  labels: Record<string, string>;
  value: number;
}

const SAMPLE = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})?\s+(\S+)/;
const LABEL = /([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"/g;

export function parseMetrics(text: string): Sample[] {
  const samples: Sample[] = [];
  for (const line of text.split('\n')) {
    if (line === '' || line.startsWith('#')) continue;
    const match = SAMPLE.exec(line);
    if (!match) continue;
    const labels: Record<string, string> = {};
    for (const [, name, value] of (match[2] ?? '').matchAll(LABEL)) labels[name!] = value!.replace(/\\(.)/g, (_, escaped: string) => (escaped === 'n' ? '\n' : escaped));
    samples.push({ name: match[1]!, labels, value: Number(match[3]) });
  }
  return samples;
}

/** The value of the one sample of `name` whose labels include `labels`; 0 when there is none. */
export function metricValue(samples: Sample[], name: string, labels: Record<string, string> = {}): number {
  const sample = samples.find((candidate) => candidate.name === name && Object.entries(labels).every(([key, value]) => candidate.labels[key] === value));
  return sample?.value ?? 0;
}

export const QUEUES = ['poll', 'transfer', 'notify', 'poll-dlq', 'transfer-dlq', 'notify-dlq'] as const;

export interface QueueDepth {
  queue: string;
  visible: number;
  inflight: number;
}

export function queueDepths(samples: Sample[]): QueueDepth[] {
  return QUEUES.map((queue) => ({
    queue,
    visible: metricValue(samples, 'sluice_queue_messages', { queue, state: 'visible' }),
    inflight: metricValue(samples, 'sluice_queue_messages', { queue, state: 'inflight' }),
  }));
}
