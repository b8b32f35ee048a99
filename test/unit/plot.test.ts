import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { renderPng, renderSvg } from '../../bench/plot';
import type { Chart } from '../../bench/plot';

const sizesMiB = [4 / 1024, 1, 16, 256, 1024];

function sampleChart(): Chart {
  const zip = (ys: number[]) => sizesMiB.map((x, i) => ({ x, y: ys[i]! }));
  return {
    title: 'Transfer throughput & peak memory by file size',
    xLabel: 'File size (MiB)',
    leftLabel: 'Throughput (MB/s)',
    rightLabel: 'Peak RSS (MiB)',
    xLog: true,
    series: [
      { name: 'Throughput', axis: 'left', points: zip([2, 20, 45, 60, 62]) },
      { name: 'Peak RSS', axis: 'right', points: zip([95, 120, 150, 152, 153]) },
      { name: 'OpenSSH sftp', axis: 'left', reference: true, points: [{ x: sizesMiB[0]!, y: 70 }, { x: 1024, y: 70 }] },
    ],
  };
}

describe('renderSvg', () => {
  it('contains the title, axis labels and every series name, XML-escaped', () => {
    const svg = renderSvg(sampleChart());

    assert.match(svg, /^<svg [^>]*xmlns="http:\/\/www\.w3\.org\/2000\/svg"/);
    for (const label of ['Transfer throughput &#38; peak memory by file size', 'File size (MiB)', 'Throughput (MB/s)', 'Peak RSS (MiB)']) {
      assert.ok(svg.includes(`>${label}</text>`), label);
    }
    for (const name of ['Throughput (left axis)', 'Peak RSS (right axis)', 'OpenSSH sftp (left axis)']) {
      assert.ok(svg.includes(name), name);
    }
  });

  it('labels a log x-axis with decades and y-axes with round numbers from zero', () => {
    const svg = renderSvg(sampleChart());
    const labels = [...svg.matchAll(/font-size="12"[^>]*>([^<]+)</g)].map((m) => m[1]);

    for (const decade of ['0.01', '0.1', '1', '10', '100', '1,000']) assert.ok(labels.includes(decade), decade);
    assert.ok(labels.includes('0'));
    assert.ok(labels.every((l) => /^[\d,.]+$/.test(l!)), labels.join(' '));
  });

  it('draws a reference series dashed and without markers', () => {
    const chart: Chart = { ...sampleChart(), series: [sampleChart().series[2]!] };

    const svg = renderSvg(chart);

    assert.match(svg, /<polyline [^>]*stroke-dasharray/);
    assert.doesNotMatch(svg, /<circle/);
  });

  it('rejects a log x-axis with a non-positive x', () => {
    const chart: Chart = { ...sampleChart(), series: [{ name: 'bad', axis: 'left', points: [{ x: 0, y: 1 }] }] };

    assert.throws(() => renderSvg(chart), RangeError);
  });
});

describe('renderPng', () => {
  it('returns a PNG of the requested width', async () => {
    const png = await renderPng(sampleChart(), 800);

    assert.deepEqual([...png.subarray(0, 8)], [0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]);
    assert.equal(png.toString('ascii', 12, 16), 'IHDR');
    assert.equal(png.readUInt32BE(16), 800);
    assert.equal(png.readUInt32BE(20), 450);
  });
});
