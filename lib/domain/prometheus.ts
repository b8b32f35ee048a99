/** The Prometheus text exposition format, version 0.0.4. */
export const PROMETHEUS_CONTENT_TYPE = 'text/plain; version=0.0.4; charset=utf-8';

export interface Sample {
  /** Appended to the family's name: `_bucket`, `_sum`, `_count` of a histogram; '' otherwise. */
  suffix?: string;
  labels?: Record<string, string>;
  value: number;
}

export interface MetricFamily {
  name: string;
  help: string;
  type: 'counter' | 'gauge' | 'histogram';
  samples: Sample[];
}

function escapeLabel(value: string): string {
  return value.replace(/\\/g, '\\\\').replace(/\n/g, '\\n').replace(/"/g, '\\"');
}

function escapeHelp(value: string): string {
  return value.replace(/\\/g, '\\\\').replace(/\n/g, '\\n');
}

function formatValue(value: number): string {
  if (Number.isNaN(value)) return 'NaN';
  if (value === Number.POSITIVE_INFINITY) return '+Inf';
  if (value === Number.NEGATIVE_INFINITY) return '-Inf';
  return String(value);
}

/** Every family with its HELP and TYPE lines, then its samples; ends with a newline as the format requires. */
export function formatExposition(families: MetricFamily[]): string {
  const lines: string[] = [];
  for (const family of families) {
    lines.push(`# HELP ${family.name} ${escapeHelp(family.help)}`, `# TYPE ${family.name} ${family.type}`);
    for (const sample of family.samples) {
      const labels = Object.entries(sample.labels ?? {});
      const labelText = labels.length ? `{${labels.map(([name, value]) => `${name}="${escapeLabel(value)}"`).join(',')}}` : '';
      lines.push(`${family.name}${sample.suffix ?? ''}${labelText} ${formatValue(sample.value)}`);
    }
  }
  return `${lines.join('\n')}\n`;
}

/** The samples of a histogram from cumulative buckets (the `+Inf` bucket is `count`). */
export function histogramSamples(histogram: { buckets: { le: number; count: number }[]; sum: number; count: number }): Sample[] {
  return [
    ...histogram.buckets.map(({ le, count }) => ({ suffix: '_bucket', labels: { le: String(le) }, value: count })),
    { suffix: '_bucket', labels: { le: '+Inf' }, value: histogram.count },
    { suffix: '_sum', value: histogram.sum },
    { suffix: '_count', value: histogram.count },
  ];
}
