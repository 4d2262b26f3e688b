import { describe, expect, it } from 'vitest';
import { TtftCalibrator } from './ttft-calibrator.js';

function clock(): { now: () => number; advance: (ms: number) => void } {
  let t = 0;
  return { now: () => t, advance: (ms) => (t += ms) };
}

describe('TtftCalibrator', () => {
  it('learns that queues drain slower than estimated, and corrects the queue part', () => {
    const c = clock();
    const cal = new TtftCalibrator({ now: c.now });
    for (let i = 0; i < 50; i++) cal.observe({ queueMs: 100, prefillMs: 5 }, 305);
    expect(cal.queueScale).toBeGreaterThan(2.8);
    expect(cal.correct({ queueMs: 50, prefillMs: 5 }).ttftMs).toBeGreaterThan(145);
  });

  it('follows the upper tail: one slow sample moves it more than one fast sample', () => {
    const c = clock();
    const up = new TtftCalibrator({ now: c.now });
    up.observe({ queueMs: 100, prefillMs: 0 }, 400);
    const down = new TtftCalibrator({ now: c.now });
    down.observe({ queueMs: 100, prefillMs: 0 }, 50);
    expect(up.queueScale - 1).toBeGreaterThan(10 * (1 - down.queueScale));
  });

  it('learns a fixed overhead from requests that met no queue', () => {
    const c = clock();
    const cal = new TtftCalibrator({ now: c.now });
    for (let i = 0; i < 40; i++) cal.observe({ queueMs: 0, prefillMs: 2 }, 12);
    expect(cal.overheadMs).toBeGreaterThan(9);
    expect(cal.queueScale).toBe(1);
  });

  it('decays back to neutral when no measurement arrives (a closed admission must reopen)', () => {
    const c = clock();
    const cal = new TtftCalibrator({ now: c.now, halfLifeMs: 1_000 });
    for (let i = 0; i < 50; i++) cal.observe({ queueMs: 100, prefillMs: 0 }, 2_000);
    expect(cal.queueScale).toBeGreaterThan(15);
    c.advance(10_000);
    expect(cal.queueScale).toBeLessThan(1.1);
  });
});
