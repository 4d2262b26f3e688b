import { afterEach, describe, expect, it, vi } from 'vitest';
import { armDeadline, releaseIdleDeadlines } from './ask-deadlines.js';

afterEach(() => {
  releaseIdleDeadlines();
  vi.useRealTimers();
});

describe('ask deadlines', () => {
  it('fires each live deadline once, in order, and never a cancelled one', async () => {
    vi.useFakeTimers({ toFake: ['setTimeout', 'clearTimeout', 'performance'] });
    const fired: string[] = [];
    const a = armDeadline(100, () => fired.push('a'));
    vi.advanceTimersByTime(40);
    const b = armDeadline(100, () => fired.push('b'));
    armDeadline(30, () => fired.push('short'));
    a.cancel();
    vi.advanceTimersByTime(70);
    expect(fired).toEqual(['short']);
    vi.advanceTimersByTime(40);
    expect(fired).toEqual(['short', 'b']);
    b.cancel();
    vi.advanceTimersByTime(1_000);
    expect(fired).toEqual(['short', 'b']);
  });

  it('lets an expiring ask arm another without losing either', () => {
    vi.useFakeTimers({ toFake: ['setTimeout', 'clearTimeout', 'performance'] });
    const fired: number[] = [];
    armDeadline(10, () => {
      fired.push(1);
      armDeadline(10, () => fired.push(2));
    });
    vi.advanceTimersByTime(10);
    expect(fired).toEqual([1]);
    vi.advanceTimersByTime(10);
    expect(fired).toEqual([1, 2]);
  });

  it('holds no timer once nothing is pending and idle queues are released', () => {
    vi.useFakeTimers({ toFake: ['setTimeout', 'clearTimeout', 'performance'] });
    for (let i = 0; i < 1_000; i++) armDeadline(30_000, () => {}).cancel();
    expect(vi.getTimerCount()).toBe(1);
    releaseIdleDeadlines();
    expect(vi.getTimerCount()).toBe(0);
  });
});
