import { describe, expect, it, vi } from 'vitest';
import { ByteTokenizer } from '@baton/model';
import { ActiveRequest, type GenerationResult } from './active-request.js';
import type { NormalizedRequest } from './request.js';

function make(over: Partial<NormalizedRequest> = {}) {
  const request: NormalizedRequest = {
    id: 'r1', promptIds: [104, 105], promptText: 'hi', maxTokens: 8, temperature: 0, topK: null, topP: 1, seed: null,
    stopStrings: [], stopTokenIds: [], signal: null, ...over,
  };
  const abortRemote = vi.fn();
  const done: Array<GenerationResult | null> = [];
  const active = new ActiveRequest({
    request, arrivalMs: 100, decoder: new ByteTokenizer().createDecoder(), now: () => 200, abortRemote, retry: () => false, onDone: (r) => done.push(r),
  });
  return { active, abortRemote, done };
}

const tok = (index: number, id: number, time: number) => ({ requestId: 'r1', index, id, time });

describe('ActiveRequest', () => {
  it('waits for KV from a preemption until its next token or attempt (the stall watchdog skips it meanwhile)', () => {
    const { active } = make();
    active.token(tok(0, 97, 110));
    expect(active.waitingForKv).toBe(false);
    active.receive({ type: 'kvWait', requestId: 'r1' });
    expect(active.waitingForKv).toBe(true);
    active.token(tok(1, 98, 120));
    expect(active.waitingForKv).toBe(false);
    active.receive({ type: 'kvWait', requestId: 'r1' });
    active.nextAttempt();
    expect(active.waitingForKv).toBe(false);
  });

  it('puts tokens from different actors back in order and waits for all of them before finishing', async () => {
    const { active, done } = make();
    active.token(tok(1, 98, 130));
    active.receive({ type: 'finished', requestId: 'r1', reason: 'length', time: 140, error: null, outputTokens: 3 });
    active.token(tok(2, 99, 135));
    expect(done).toHaveLength(0);
    active.token(tok(0, 97, 120));
    const result = await active.stream.result;
    expect(result.ids).toEqual([97, 98, 99]);
    expect(result.text).toBe('abc');
    expect(result.metrics.ttftMs).toBe(20);
    expect(result.metrics.tpotMs).toBe(7.5);
    expect(done).toHaveLength(1);
  });

  it('ends on a stop string, cuts the text before it and frees the remote request', async () => {
    const { active, abortRemote } = make({ stopStrings: ['c'] });
    active.token(tok(0, 97, 110));
    active.token(tok(1, 98, 111));
    active.token(tok(2, 99, 112));
    active.token(tok(3, 100, 113));
    const result = await active.stream.result;
    expect(result.finishReason).toBe('stop');
    expect(result.text).toBe('ab');
    expect(result.ids).toEqual([97, 98, 99]);
    expect(abortRemote).toHaveBeenCalledOnce();
  });

  it('completes at once on a worker error and ignores anything after', async () => {
    const { active } = make();
    active.receive({ type: 'finished', requestId: 'r1', reason: 'error', time: 150, error: { code: 'ACTOR_FAILED', actorId: 'decode-0', message: 'boom' }, outputTokens: 5 });
    active.token(tok(0, 97, 160));
    const result = await active.stream.result;
    expect(result.finishReason).toBe('error');
    expect(result.error?.message).toBe('boom');
    expect(result.ids).toEqual([]);
  });

  it('a consumer that stops iterating aborts the remote request', async () => {
    const { active, abortRemote } = make();
    active.token(tok(0, 97, 110));
    for await (const ev of active.generation()) if (ev.type === 'token') break;
    expect(abortRemote).toHaveBeenCalledOnce();
    await expect(active.stream.result).rejects.toThrow(/stopped/);
  });
});
