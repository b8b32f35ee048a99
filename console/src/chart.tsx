import { useEffect, useRef } from 'preact/hooks';
import uPlot from 'uplot';

export interface ChartSeries {
  label: string;
  values: number[];
  color: string;
  kind: 'bars' | 'line';
}

/** Tick steps for counts: whole numbers only (no `0, 0.2, 0.4` read as `0, 0, 0`). */
const WHOLE_STEPS = [1, 2, 5, 10, 20, 50, 100, 200, 500, 1000, 2000, 5000, 10_000, 20_000, 50_000, 100_000, 1e6, 1e7];

const AXIS = { stroke: '#57606a', grid: { stroke: '#eaeef2', width: 1 }, ticks: { stroke: '#d0d7de', width: 1 }, font: '12px system-ui, sans-serif' };

function options(
  width: number,
  height: number,
  series: ChartSeries[],
  formatX: (seconds: number) => string,
  formatY: (value: number) => string,
  xRange: (min: number, max: number) => [number, number],
  whole: boolean,
): uPlot.Options {
  return {
    width,
    height,
    legend: { show: series.length > 1, live: false },
    cursor: { points: { show: false }, drag: { x: false, y: false } },
    scales: {
      x: { time: true, range: (_plot, min, max) => xRange(min, max) },
      y: { range: (_plot, _min, max) => [0, max > 0 ? max * 1.1 : 1] },
    },
    axes: [
      { ...AXIS, values: (_plot, ticks) => ticks.map(formatX) },
      { ...AXIS, size: 80, values: (_plot, ticks) => ticks.map(formatY), ...(whole ? { incrs: WHOLE_STEPS } : {}) },
    ],
    series: [
      {},
      ...series.map((entry) => ({
        label: entry.label,
        stroke: entry.color,
        width: entry.kind === 'line' ? 2 : 0,
        fill: entry.kind === 'bars' ? `${entry.color}cc` : undefined,
        // Lines show their points while samples are few (uPlot's own rule), so a first sample is visible.
        ...(entry.kind === 'bars' ? { points: { show: false } } : {}),
        value: (_plot: uPlot, value: number | null) => (value === null ? '—' : formatY(value)),
        ...(entry.kind === 'bars' ? { paths: uPlot.paths.bars!({ size: [0.7, 48] }) } : {}),
      })),
    ],
  };
}

/**
 * A uPlot chart over time (x in epoch seconds) that follows its container's width. The canvas is
 * drawn by script (no inline style is needed, so the page's CSP allows it); `summary` is what a
 * screen reader hears instead.
 */
export function TimeChart({
  x,
  series,
  summary,
  formatX,
  formatY = (value) => String(Math.round(value * 100) / 100),
  height = 200,
  xPadding = 0,
  xWindow,
  whole = false,
}: {
  x: number[];
  series: ChartSeries[];
  summary: string;
  formatX: (seconds: number) => string;
  formatY?: (value: number) => string;
  height?: number;
  xPadding?: number;
  /** A fixed x range (epoch seconds) instead of the data's, e.g. the last 10 minutes: steady while samples arrive. */
  xWindow?: [number, number];
  /** The values are counts: whole-number ticks. */
  whole?: boolean;
}) {
  const container = useRef<HTMLDivElement>(null);
  const plot = useRef<uPlot | null>(null);
  const shape = series.map((entry) => `${entry.label}:${entry.kind}`).join(',');
  const data = [x, ...series.map((entry) => entry.values)] as uPlot.AlignedData;
  const latest = useRef(data);
  latest.current = data;
  const window = useRef(xWindow);
  window.current = xWindow;

  useEffect(() => {
    const element = container.current;
    if (!element) return undefined;
    const created = new uPlot(options(Math.max(200, element.clientWidth), height, series, formatX, formatY, (min, max) => window.current ?? [min - xPadding, max + xPadding], whole), latest.current, element);
    plot.current = created;
    const observer = new ResizeObserver(() => created.setSize({ width: Math.max(200, element.clientWidth), height }));
    observer.observe(element);
    return () => {
      observer.disconnect();
      created.destroy();
      plot.current = null;
    };
    // eslint-disable-next-line react-hooks/exhaustive-deps
  }, [shape, height]);

  useEffect(() => {
    plot.current?.setData(data);
  });

  return <div class="chart" ref={container} role="img" aria-label={summary} />;
}

/** Horizontal bars for categories (failures by code, queue depths): plain elements, widths relative to the largest. */
export function CategoryBars({ rows, format = String, empty }: { rows: { label: string; value: number; tone?: string }[]; format?: (value: number) => string; empty: string }) {
  const max = Math.max(0, ...rows.map((row) => row.value));
  if (rows.length === 0) return <p class="muted">{empty}</p>;
  return (
    <ul class="bars">
      {rows.map((row) => (
        <li>
          <span class="bar-label">{row.label}</span>
          <span class="bar-track">
            <span class={`bar-fill tone-${row.tone ?? 'info'}`} style={{ width: `${row.value > 0 && max > 0 ? Math.max(1, (row.value / max) * 100) : 0}%` }} />
          </span>
          <span class="bar-value">{format(row.value)}</span>
        </li>
      ))}
    </ul>
  );
}
