import { describe, expect, it } from 'vitest';
import { InvalidActorOptionsError } from './errors.js';
import { resolveSupervision, RestartTracker } from './supervision.js';

describe('supervision policy', () => {
  it('backs off exponentially and escalates after maxRestarts within the window', () => {
    const tracker = new RestartTracker(resolveSupervision({ maxRestarts: 3, withinMs: 1_000, backoff: { initialMs: 10, factor: 3, maxMs: 50 } }));
    expect(tracker.onCrash(0)).toEqual({ kind: 'restart', attempt: 1, delayMs: 10 });
    expect(tracker.onCrash(100)).toEqual({ kind: 'restart', attempt: 2, delayMs: 30 });
    expect(tracker.onCrash(200)).toEqual({ kind: 'restart', attempt: 3, delayMs: 50 });
    expect(tracker.onCrash(300)).toEqual({ kind: 'escalate', restarts: 3 });
  });

  it('forgets restarts that fall out of the window', () => {
    const tracker = new RestartTracker(resolveSupervision({ maxRestarts: 1, withinMs: 100 }));
    expect(tracker.onCrash(0).kind).toBe('restart');
    expect(tracker.onCrash(50).kind).toBe('escalate');
    expect(tracker.onCrash(150)).toEqual({ kind: 'restart', attempt: 1, delayMs: 100 });
  });

  it('escalates at once with strategy stop, and names bad options', () => {
    expect(new RestartTracker(resolveSupervision({ strategy: 'stop' })).onCrash(0)).toEqual({ kind: 'escalate', restarts: 0 });
    expect(() => resolveSupervision({ maxRestarts: -1 })).toThrow(InvalidActorOptionsError);
    expect(() => resolveSupervision({ backoff: { factor: 0.5 } })).toThrow(/supervision.backoff.factor/);
  });
});
