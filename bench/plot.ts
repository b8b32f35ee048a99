/**
 * Dependency-free SVG line charts for benchmark reports, with an optional second y-axis so
 * throughput and memory can share one x-axis. PNG output rasterises the same SVG with resvg.
 */

export interface Series {
  name: string;
  points: { x: number; y: number }[];
  axis: 'left' | 'right';
  /** A reference level (e.g. a baseline or a limit): drawn dashed, without markers. */
  reference?: boolean;
}

export interface Chart {
  title: string;
  xLabel: string;
  leftLabel: string;
  rightLabel?: string;
  series: Series[];
  xLog?: boolean;
}

interface Scale {
  lo: number;
  hi: number;
  ticks: number[];
}

const WIDTH = 960;
const HEIGHT = 540;
const FONT = 'DejaVu Sans, Helvetica, Arial, sans-serif';
const PALETTE = ['#1f77b4', '#d62728', '#2ca02c', '#ff7f0e', '#9467bd', '#8c564b', '#17becf'];
const TICK = 5;
const LEGEND_GAP = 28;
const numberFormat = new Intl.NumberFormat('en-US', { maximumSignificantDigits: 6 });

export function renderSvg(chart: Chart): string {
  const left = chart.series.filter((s) => s.axis === 'left');
  const right = chart.series.filter((s) => s.axis === 'right');
  const hasRight = right.length > 0;
  const xs = chart.series.flatMap((s) => s.points.map((p) => p.x));
  const x = chart.xLog ? logScale(xs) : sharedScales([extent(xs)], [6, 5, 7, 4, 8])[0]!;
  // Both y-axes get the same number of intervals so their ticks share one set of gridlines.
  const [yLeft, yRight] = sharedScales(hasRight ? [yExtent(left), yExtent(right)] : [yExtent(left)], [5, 4, 6]) as [Scale, Scale?];

  const legendRows = layoutLegend(chart.series, hasRight, WIDTH - 80);
  const top = 70 + legendRows.length * 20;
  const leftPad = 24 + 18 + tickLabelWidth(yLeft) + TICK + 8;
  const rightPad = hasRight ? 24 + 18 + tickLabelWidth(yRight!) + TICK + 8 : 32;
  const plot = { x0: leftPad, x1: WIDTH - rightPad, y0: top, y1: HEIGHT - 62 };

  const px = chart.xLog
    ? (v: number) => lerp(Math.log10(v), Math.log10(x.lo), Math.log10(x.hi), plot.x0, plot.x1)
    : (v: number) => lerp(v, x.lo, x.hi, plot.x0, plot.x1);
  const py = (scale: Scale) => (v: number) => lerp(v, scale.lo, scale.hi, plot.y1, plot.y0);

  const out: string[] = [
    `<svg xmlns="http://www.w3.org/2000/svg" width="${WIDTH}" height="${HEIGHT}" viewBox="0 0 ${WIDTH} ${HEIGHT}" font-family="${FONT}" fill="#222">`,
    `<rect width="${WIDTH}" height="${HEIGHT}" fill="#fff"/>`,
    text(WIDTH / 2, 32, chart.title, { size: 20, weight: 'bold' }),
  ];

  // Gridlines first so axes and data are drawn over them.
  for (const t of x.ticks) out.push(line(px(t), plot.y0, px(t), plot.y1, '#e6e6e6'));
  for (const t of yLeft.ticks) out.push(line(plot.x0, py(yLeft)(t), plot.x1, py(yLeft)(t), '#e6e6e6'));

  out.push(line(plot.x0, plot.y1, plot.x1, plot.y1, '#333'), line(plot.x0, plot.y0, plot.x0, plot.y1, '#333'));
  for (const t of x.ticks) {
    out.push(line(px(t), plot.y1, px(t), plot.y1 + TICK, '#333'), text(px(t), plot.y1 + TICK + 15, format(t), { size: 12 }));
  }
  if (chart.xLog) {
    for (const t of minorLogTicks(x)) out.push(line(px(t), plot.y1, px(t), plot.y1 + 3, '#777'));
  }
  for (const t of yLeft.ticks) {
    const y = py(yLeft)(t);
    out.push(line(plot.x0 - TICK, y, plot.x0, y, '#333'), text(plot.x0 - TICK - 4, y + 4, format(t), { size: 12, anchor: 'end' }));
  }
  if (yRight) {
    out.push(line(plot.x1, plot.y0, plot.x1, plot.y1, '#333'));
    for (const t of yRight.ticks) {
      const y = py(yRight)(t);
      out.push(line(plot.x1, y, plot.x1 + TICK, y, '#333'), text(plot.x1 + TICK + 4, y + 4, format(t), { size: 12, anchor: 'start' }));
    }
  }

  const midY = (plot.y0 + plot.y1) / 2;
  out.push(text((plot.x0 + plot.x1) / 2, HEIGHT - 18, chart.xLabel, { size: 14 }));
  out.push(text(22, midY, chart.leftLabel, { size: 14, rotate: -90 }));
  if (hasRight) out.push(text(WIDTH - 22, midY, chart.rightLabel ?? '', { size: 14, rotate: 90 }));

  chart.series.forEach((s, i) => {
    const color = PALETTE[i % PALETTE.length]!;
    const sy = py(s.axis === 'right' && yRight ? yRight : yLeft);
    const coords = s.points.map((p) => [px(p.x), sy(p.y)] as const);
    const dash = s.reference ? ' stroke-dasharray="7 5"' : '';
    out.push(
      `<polyline points="${coords.map(([a, b]) => `${r(a)},${r(b)}`).join(' ')}" fill="none" stroke="${color}" stroke-width="2.25" stroke-linejoin="round"${dash}/>`,
    );
    if (!s.reference) for (const [a, b] of coords) out.push(marker(a, b, s.axis, color));
  });

  legendRows.forEach((row, i) => {
    const y = 62 + i * 20;
    let cx = (WIDTH - row.width) / 2;
    for (const item of row.items) {
      const color = PALETTE[item.index % PALETTE.length]!;
      const dash = item.series.reference ? ' stroke-dasharray="6 4"' : '';
      out.push(`<line x1="${r(cx)}" y1="${y - 4}" x2="${r(cx + 24)}" y2="${y - 4}" stroke="${color}" stroke-width="2.25"${dash}/>`);
      if (!item.series.reference) out.push(marker(cx + 12, y - 4, item.series.axis, color));
      out.push(text(cx + 30, y, item.label, { size: 13, anchor: 'start' }));
      cx += item.width;
    }
  });

  out.push('</svg>');
  return out.join('\n');
}

/** Rasterises the chart; `width` is in pixels and the height keeps the chart's aspect ratio. */
export async function renderPng(chart: Chart, width = 1200): Promise<Buffer> {
  // Loaded lazily so renderSvg keeps working where the native resvg binary is unavailable.
  const { renderAsync } = await import('@resvg/resvg-js');
  const image = await renderAsync(renderSvg(chart), {
    fitTo: { mode: 'width', value: width },
    // Explicit DejaVu covers minimal Linux images whose fontconfig has no "Arial" alias.
    font: { loadSystemFonts: true, fontDirs: ['/usr/share/fonts'], sansSerifFamily: 'DejaVu Sans', defaultFontFamily: 'DejaVu Sans' },
    shapeRendering: 2,
    textRendering: 1,
  });
  return image.asPng();
}

function extent(values: number[]): [number, number] {
  return values.length ? [Math.min(...values), Math.max(...values)] : [0, 1];
}

/** y-axes start at zero for non-negative data: a truncated axis exaggerates differences. */
function yExtent(series: Series[]): [number, number] {
  const [lo, hi] = extent(series.flatMap((s) => s.points.map((p) => p.y)));
  return [Math.min(0, lo), hi];
}

/** Smallest step from the 1-2-2.5-5 progression for which `intervals` steps from a step-aligned start cover [min, max]. */
function niceScale([min, max]: [number, number], intervals: number): Scale {
  if (max <= min) max = min + (min === 0 ? 1 : Math.abs(min));
  const raw = (max - min) / intervals;
  for (let exp = Math.floor(Math.log10(raw)); ; exp++) {
    for (const m of [1, 2, 2.5, 5]) {
      const step = m * 10 ** exp;
      if (step < raw * (1 - 1e-9)) continue;
      const lo = Math.floor(min / step + 1e-9) * step;
      if (lo + intervals * step >= max - step * 1e-9) {
        const ticks = Array.from({ length: intervals + 1 }, (_, i) => roundOff(lo + i * step));
        return { lo: ticks[0]!, hi: ticks[intervals]!, ticks };
      }
    }
  }
}

/**
 * Scales for several ranges sharing one interval count (so their ticks coincide), choosing the
 * count that leaves the least empty space summed over the ranges; the first count wins near-ties.
 */
function sharedScales(ranges: [number, number][], counts: number[]): Scale[] {
  let best: { cost: number; scales: Scale[] } | undefined;
  for (const n of counts) {
    const scales = ranges.map((range) => niceScale(range, n));
    const cost = scales.reduce((sum, s, i) => sum + 1 - (ranges[i]![1] - ranges[i]![0]) / (s.hi - s.lo), 0);
    if (!best || cost < best.cost - 0.02) best = { cost, scales };
  }
  return best!.scales;
}

/** Log axis: decades as ticks, with 2x and 5x added when the data spans too few decades to read. */
function logScale(values: number[]): Scale {
  if (values.some((v) => !(v > 0))) throw new RangeError('a log x-axis needs every x > 0');
  const [min, max] = extent(values).map(Math.log10) as [number, number];
  const pad = Math.max((max - min) * 0.04, 0.15);
  const lo = 10 ** (min - pad);
  const hi = 10 ** (max + pad);
  const ticks: number[] = [];
  const decades = Math.floor(max + pad) - Math.ceil(min - pad) + 1;
  for (let e = Math.floor(min - pad); e <= Math.ceil(max + pad); e++) {
    for (const m of decades >= 3 ? [1] : [1, 2, 5]) {
      const t = roundOff(m * 10 ** e);
      if (t >= lo && t <= hi) ticks.push(t);
    }
  }
  return { lo, hi, ticks };
}

function minorLogTicks(scale: Scale): number[] {
  const minor: number[] = [];
  for (let e = Math.floor(Math.log10(scale.lo)); e <= Math.ceil(Math.log10(scale.hi)); e++) {
    for (let m = 2; m <= 9; m++) {
      const t = m * 10 ** e;
      if (t >= scale.lo && t <= scale.hi && !scale.ticks.includes(roundOff(t))) minor.push(t);
    }
  }
  return minor;
}

interface LegendItem {
  series: Series;
  index: number;
  label: string;
  width: number;
}

/** Greedy wrap of legend entries into centred rows no wider than `maxWidth`. */
function layoutLegend(series: Series[], hasRight: boolean, maxWidth: number): { items: LegendItem[]; width: number }[] {
  const rows: { items: LegendItem[]; width: number }[] = [];
  series.forEach((s, index) => {
    const label = hasRight ? `${s.name} (${s.axis} axis)` : s.name;
    const item = { series: s, index, label, width: 30 + textWidth(label, 13) + LEGEND_GAP };
    const row = rows.at(-1);
    if (row && row.width + item.width <= maxWidth) {
      row.items.push(item);
      row.width += item.width;
    } else {
      rows.push({ items: [item], width: item.width });
    }
  });
  // The trailing gap after the last entry is not part of the visible row.
  for (const row of rows) row.width -= LEGEND_GAP;
  return rows;
}

function marker(x: number, y: number, axis: Series['axis'], color: string): string {
  // Different shapes per axis keep the series distinguishable in greyscale prints.
  return axis === 'left'
    ? `<circle cx="${r(x)}" cy="${r(y)}" r="4.5" fill="${color}" stroke="#fff" stroke-width="1.5"/>`
    : `<rect x="${r(x - 4.5)}" y="${r(y - 4.5)}" width="9" height="9" fill="${color}" stroke="#fff" stroke-width="1.5"/>`;
}

function line(x1: number, y1: number, x2: number, y2: number, stroke: string): string {
  return `<line x1="${r(x1)}" y1="${r(y1)}" x2="${r(x2)}" y2="${r(y2)}" stroke="${stroke}" stroke-width="1"/>`;
}

function text(
  x: number,
  y: number,
  content: string,
  opts: { size: number; anchor?: 'start' | 'middle' | 'end'; weight?: 'bold'; rotate?: number },
): string {
  const rotate = opts.rotate ? ` transform="rotate(${opts.rotate} ${r(x)} ${r(y)})" dominant-baseline="middle"` : '';
  const weight = opts.weight ? ` font-weight="${opts.weight}"` : '';
  return `<text x="${r(x)}" y="${r(y)}" font-size="${opts.size}" text-anchor="${opts.anchor ?? 'middle'}"${weight}${rotate}>${escapeXml(content)}</text>`;
}

/** Approximate advance width: SVG has no text metrics before rendering. DejaVu Sans digits are ~0.64em, other text averages ~0.56em. */
function textWidth(content: string, size: number): number {
  return [...content].reduce((sum, c) => sum + (/\d/.test(c) ? 0.64 : 0.56), 0) * size;
}

function tickLabelWidth(scale: Scale): number {
  return Math.max(...scale.ticks.map((t) => textWidth(format(t), 12)));
}

function lerp(v: number, d0: number, d1: number, r0: number, r1: number): number {
  return r0 + ((v - d0) / (d1 - d0)) * (r1 - r0);
}

function format(v: number): string {
  return numberFormat.format(v);
}

/** Removes binary floating-point noise such as 0.30000000000000004 from computed ticks. */
function roundOff(v: number): number {
  return Number(v.toPrecision(12));
}

function r(v: number): string {
  return String(Math.round(v * 10) / 10);
}

function escapeXml(s: string): string {
  return s.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);
}
