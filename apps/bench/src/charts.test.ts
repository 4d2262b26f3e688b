import { describe, expect, it } from 'vitest';
import { attainmentChart, cdfChart, renderLineChart } from './charts.js';

/** Minimal well-formedness check: one root, balanced tags, quoted attributes, no bare `&` or `<`. */
function assertWellFormed(svg: string): void {
  expect(svg.startsWith('<svg xmlns="http://www.w3.org/2000/svg"')).toBe(true);
  const stack: string[] = [];
  let roots = 0;
  const tag = /<(\/?)([a-zA-Z]+)((?:\s+[a-zA-Z][a-zA-Z0-9:-]*="[^"<]*")*)\s*(\/?)>/g;
  let last = 0;
  for (let m = tag.exec(svg); m !== null; m = tag.exec(svg)) {
    const between = svg.slice(last, m.index);
    expect(between).not.toMatch(/[<>]|&(?!(amp|lt|gt|quot);)/);
    last = tag.lastIndex;
    const [, close, name, , self] = m;
    if (close === '/') expect(stack.pop()).toBe(name);
    else if (self !== '/') {
      if (stack.length === 0) roots += 1;
      stack.push(name);
    } else if (stack.length === 0) roots += 1;
  }
  expect(svg.slice(last).trim()).toBe('');
  expect(stack).toEqual([]);
  expect(roots).toBe(1);
}

describe('charts', () => {
  it('attainment chart: well-formed, titled, one legend entry per mode, goal line, bounds bars', () => {
    const svg = attainmentChart({
      title: 'SLO attainment <chat & co>',
      modes: [
        { name: 'disaggregated', points: [{ rate: 1, attainment: 1 }, { rate: 2, attainment: 0.95 }, { rate: 4, attainment: 0.3, upper: 0.85 }] },
        { name: 'colocated', points: [{ rate: 1, attainment: 0.9 }, { rate: 2, attainment: 0.4 }] },
      ],
    });
    assertWellFormed(svg);
    expect(svg).toContain('SLO attainment &lt;chat &amp; co&gt;');
    expect(svg).toContain('>disaggregated</text>');
    expect(svg).toContain('>colocated</text>');
    expect(svg).toContain('90% goal');
    expect(svg).toContain('offered rate (requests/s)');
    expect(svg).toContain('fill="#ffffff" stroke='); // the hollow marker of the bounded point
  });

  it('CDF chart: log axis, step lines, SLO line; empty and degenerate series still render', () => {
    const svg = cdfChart({ title: 'TPOT', metric: 'TPOT', samples: [{ name: 'a', values: [1, 2, 3, 50] }, { name: 'b', values: [] }], target: 10 });
    assertWellFormed(svg);
    expect(svg).toContain('TPOT (ms, log scale)');
    expect(svg).toContain('SLO 10 ms');
    expect(svg).toContain('a (n=4)');
    assertWellFormed(renderLineChart({ title: 't', xLabel: 'x', yLabel: 'y', series: [{ name: 'one', points: [[3, 3]] }] }));
    assertWellFormed(renderLineChart({ title: 't', xLabel: 'x', yLabel: 'y', series: [] }));
  });

  it('puts the goal label where it covers no data point (points near the goal at both ends)', () => {
    // Attainment just above the goal at low rates (where a fixed left label sat) and at 95% far right.
    const svg = attainmentChart({
      title: 'overlap',
      modes: [
        { name: 'a', points: [{ rate: 1, attainment: 0.95 }, { rate: 1.5, attainment: 0.93 }, { rate: 2, attainment: 0.6 }, { rate: 8, attainment: 0.2 }] },
        { name: 'b', points: [{ rate: 1, attainment: 1 }, { rate: 4, attainment: 0.5 }, { rate: 8, attainment: 0.95 }] },
      ],
    });
    assertWellFormed(svg);
    const label = /<text ([^>]*)>90% goal<\/text>/.exec(svg)?.[1] ?? '';
    const attr = (name: string): string => new RegExp(`${name}="([^"]*)"`).exec(label)?.[1] ?? '';
    const [x, y, anchor] = [Number(attr('x')), Number(attr('y')), attr('text-anchor')];
    expect(['start', 'end']).toContain(anchor);
    const width = '90% goal'.length * 7;
    const [left, right] = anchor === 'start' ? [x, x + width] : [x - width, x];
    const markers = [...svg.matchAll(/<circle cx="([\d.]+)" cy="([\d.]+)"/g)].map((m) => [Number(m[1]), Number(m[2])]);
    expect(markers.length).toBeGreaterThan(0);
    for (const [cx, cy] of markers) expect(cx >= left - 4 && cx <= right + 4 && cy >= y - 14 && cy <= y + 4).toBe(false);
    expect(svg.indexOf('90% goal')).toBeGreaterThan(svg.lastIndexOf('<circle')); // drawn over the data
  });
});

