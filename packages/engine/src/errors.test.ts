import { describe, expect, it } from 'vitest';
import {
  ActorFailedError,
  EngineClosedError,
  EngineError,
  InvalidOptionsError,
  InvalidRequestError,
  KvExhaustedError,
  OverloadedError,
  RequestAbortedError,
  engineErrorFromJSON,
  isSerializedEngineError,
} from './errors.js';

const samples: EngineError[] = [
  new EngineError('generic'),
  new OverloadedError({ estimate: 'tpot', retryAfterMs: 250 }),
  new InvalidRequestError('topP', 'must be in (0, 1], got 1.5'),
  new InvalidOptionsError('kv.blockSize', 'must be a positive integer, got 0'),
  new EngineClosedError(),
  new RequestAbortedError('req-1'),
  new KvExhaustedError({ neededBlocks: 4, freeBlocks: 1 }),
  new ActorFailedError('decode-0', 'worker exited with code 1'),
];

describe('engine errors', () => {
  it('carry stable codes and messages that name the culprit', () => {
    expect(samples.map((e) => e.code)).toEqual([
      'ENGINE_ERROR',
      'OVERLOADED',
      'INVALID_REQUEST',
      'INVALID_OPTIONS',
      'ENGINE_CLOSED',
      'REQUEST_ABORTED',
      'KV_EXHAUSTED',
      'ACTOR_FAILED',
    ]);
    expect(samples[2].message).toBe('invalid request field "topP": must be in (0, 1], got 1.5');
    expect(samples[3].message).toContain('"kv.blockSize"');
    expect(samples[6].message).toBe('KV pool exhausted: needed 4 blocks, 1 free');
    expect(samples[7].message).toBe('actor "decode-0" failed: worker exited with code 1');
    for (const e of samples) {
      expect(e).toBeInstanceOf(EngineError);
      expect(e).toBeInstanceOf(Error);
      expect(e.name).toBe(e.constructor.name);
    }
  });

  it('round-trip through structured clone and JSON with class and fields intact', () => {
    for (const e of samples) {
      const viaClone = engineErrorFromJSON(structuredClone(e.toJSON()));
      const viaJson = engineErrorFromJSON(JSON.parse(JSON.stringify(e)));
      for (const back of [viaClone, viaJson]) {
        expect(back.constructor).toBe(e.constructor);
        expect(back.toJSON()).toEqual(e.toJSON());
      }
    }
    const o = engineErrorFromJSON(samples[1].toJSON()) as OverloadedError;
    expect(o.estimate).toBe('tpot');
    expect(o.retryAfterMs).toBe(250);
  });

  it('turns malformed data into a plain EngineError instead of throwing', () => {
    for (const bad of [null, 42, 'x', { code: 'OVERLOADED', message: 'm' }, { code: 'NOPE', message: 'm' }]) {
      expect(isSerializedEngineError(bad)).toBe(false);
      const e = engineErrorFromJSON(bad);
      expect(e.code).toBe('ENGINE_ERROR');
      expect(e.message).toMatch(/^malformed serialized engine error/);
    }
  });
});
