/**
 * A strict reader of the Prometheus text exposition format 0.0.4, enough to prove /metrics parses:
 * every line is a comment, HELP/TYPE, or `name{label="value",...} value [timestamp]`; a sample's
 * family has a TYPE line before it (histograms: `_bucket`/`_sum`/`_count`); label values are
 * escaped; no family is declared twice. Throws naming the line that is wrong.
 */
export interface ParsedSample {
  name: string;
  labels: Record<string, string>;
  value: number;
}

export interface ParsedExposition {
  types: Map<string, string>;
  help: Map<string, string>;
  samples: ParsedSample[];
}

const NAME = /^[a-zA-Z_:][a-zA-Z0-9_:]*$/;
const LABEL_NAME = /^[a-zA-Z_][a-zA-Z0-9_]*$/;

export function parsePrometheusText(text: string): ParsedExposition {
  if (!text.endsWith('\n')) throw new Error('the exposition must end with a newline');
  const types = new Map<string, string>();
  const help = new Map<string, string>();
  const samples: ParsedSample[] = [];
  text
    .slice(0, -1)
    .split('\n')
    .forEach((line, index) => {
      const fail = (why: string): never => {
        throw new Error(`line ${index + 1} (${JSON.stringify(line)}): ${why}`);
      };
      if (line.trim() === '') return;
      if (line.startsWith('#')) {
        const match = /^# (HELP|TYPE) (\S+) ?(.*)$/.exec(line);
        if (!match) return; // a plain comment
        const [, keyword, name, rest] = match as unknown as [string, string, string, string];
        if (!NAME.test(name)) fail('bad metric name');
        if (keyword === 'TYPE') {
          if (!['counter', 'gauge', 'histogram', 'summary', 'untyped'].includes(rest)) fail(`unknown type ${rest}`);
          if (types.has(name)) fail('TYPE given twice');
          if (samples.some((sample) => familyOf(sample.name, types) === name)) fail('TYPE after its samples');
          types.set(name, rest);
        } else {
          if (help.has(name)) fail('HELP given twice');
          help.set(name, rest);
        }
        return;
      }
      const match = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(\{(.*)\})? (\S+)( -?\d+)?$/.exec(line);
      if (!match) fail('not a sample line');
      const [, name, , labelText = '', valueText] = match as unknown as [string, string, string | undefined, string | undefined, string];
      const labels = parseLabels(labelText, fail);
      const value = valueText === '+Inf' ? Infinity : valueText === '-Inf' ? -Infinity : valueText === 'NaN' ? NaN : Number(valueText);
      if (Number.isNaN(value) && valueText !== 'NaN') fail(`bad value ${valueText}`);
      const family = familyOf(name, types);
      if (!family) fail('sample before its TYPE line');
      if (types.get(family!) === 'histogram' && name.endsWith('_bucket') && labels.le === undefined) fail('bucket without le');
      samples.push({ name, labels, value });
    });
  return { types, help, samples };
}

function familyOf(name: string, types: Map<string, string>): string | undefined {
  if (types.has(name)) return name;
  for (const suffix of ['_bucket', '_sum', '_count']) {
    const base = name.slice(0, -suffix.length);
    if (name.endsWith(suffix) && (types.get(base) === 'histogram' || types.get(base) === 'summary')) return base;
  }
  return undefined;
}

function parseLabels(text: string, fail: (why: string) => never): Record<string, string> {
  const labels: Record<string, string> = {};
  let rest = text;
  while (rest.length > 0) {
    const match = /^([^=]+)="((?:[^"\\\n]|\\[\\"n])*)"(,|$)/.exec(rest);
    if (!match) fail(`bad labels at ${JSON.stringify(rest)}`);
    const [whole, name, raw] = match as unknown as [string, string, string];
    if (!LABEL_NAME.test(name)) fail(`bad label name ${name}`);
    if (name in labels) fail(`label ${name} given twice`);
    labels[name] = raw.replace(/\\(.)/g, (_, escaped: string) => (escaped === 'n' ? '\n' : escaped));
    rest = rest.slice(whole.length);
  }
  return labels;
}

/** The value of the one sample of `name` with exactly these labels (among others it may have). */
export function sampleValue(parsed: ParsedExposition, name: string, labels: Record<string, string> = {}): number | undefined {
  return parsed.samples.find((sample) => sample.name === name && Object.entries(labels).every(([key, value]) => sample.labels[key] === value))?.value;
}
