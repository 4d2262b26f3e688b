import { describe, expect, it } from 'vitest';
import { InvalidRequestError } from './errors.js';
import { limitsFor, validateRequest, type RequestLimits } from './request.js';

const limits: RequestLimits = { vocabSize: 256, maxContext: 64, maxTokensLimit: 48 };
const deps = { encode: (s: string) => [...new TextEncoder().encode(s)], generateId: () => 'gen-1' };

function fieldOf(input: unknown, l: RequestLimits = limits): string {
  try {
    validateRequest(input, l, deps);
  } catch (e) {
    expect(e).toBeInstanceOf(InvalidRequestError);
    return (e as InvalidRequestError).field;
  }
  throw new Error('expected validation to fail');
}

describe('validateRequest', () => {
  it("adds the model's end-of-text id to every request's stop ids (once)", () => {
    const eos = limitsFor({ vocabSize: 257, nPositions: 64, eosTokenId: 256 });
    expect(validateRequest({ prompt: [1] }, eos, deps).stopTokenIds).toEqual([256]);
    expect(validateRequest({ prompt: [1], stop: [7, 256] }, eos, deps).stopTokenIds).toEqual([7, 256]);
    expect(validateRequest({ prompt: [1], stop: ['x'] }, eos, deps)).toMatchObject({ stopStrings: ['x'], stopTokenIds: [256] });
    expect(validateRequest({ prompt: [1] }, limitsFor({ vocabSize: 256, nPositions: 64, eosTokenId: null }), deps).stopTokenIds).toEqual([]);
  });

  it('normalizes a minimal id prompt with defaults', () => {
    expect(validateRequest({ prompt: [1, 2, 3] }, limits, deps)).toEqual({
      id: 'gen-1',
      promptIds: [1, 2, 3],
      promptText: null,
      maxTokens: 16,
      temperature: 0,
      topK: null,
      topP: 1,
      seed: null,
      stopStrings: [],
      stopTokenIds: [],
      signal: null,
    });
  });

  it('encodes text prompts with the given encoder and keeps every knob', () => {
    const signal = new AbortController().signal;
    const r = validateRequest(
      { prompt: 'hi', maxTokens: 5, temperature: 0.7, topK: 40, topP: 0.9, seed: 7, stop: ['\n'], signal, id: 'a' },
      limits,
      deps,
    );
    expect(r).toMatchObject({ id: 'a', promptIds: [104, 105], promptText: 'hi', maxTokens: 5, topK: 40, seed: 7 });
    expect(r.stopStrings).toEqual(['\n']);
    expect(r.signal).toBe(signal);
    expect(validateRequest({ prompt: [1], stop: [0, 255] }, limits, deps).stopTokenIds).toEqual([0, 255]);
  });

  it('clamps the default maxTokens to the room left in the context', () => {
    const prompt = Array.from({ length: 60 }, () => 1);
    expect(validateRequest({ prompt }, limits, deps).maxTokens).toBe(4);
  });

  it('names the offending field', () => {
    const cases: Array<[unknown, string]> = [
      [null, 'request'],
      [[1, 2], 'request'],
      [{ prompt: [1], bogus: 1 }, 'bogus'],
      [{}, 'prompt'],
      [{ prompt: 5 }, 'prompt'],
      [{ prompt: [] }, 'prompt'],
      [{ prompt: '' }, 'prompt'],
      [{ prompt: [1, 2, 256] }, 'prompt[2]'],
      [{ prompt: [1, -1] }, 'prompt[1]'],
      [{ prompt: [1, 1.5] }, 'prompt[1]'],
      [{ prompt: Array.from({ length: 64 }, () => 1) }, 'prompt'],
      [{ prompt: [1], maxTokens: 0 }, 'maxTokens'],
      [{ prompt: [1], maxTokens: -3 }, 'maxTokens'],
      [{ prompt: [1], maxTokens: 1e9 }, 'maxTokens'],
      [{ prompt: [1], maxTokens: '5' }, 'maxTokens'],
      [{ prompt: Array.from({ length: 40 }, () => 1), maxTokens: 30 }, 'maxTokens'],
      [{ prompt: [1], temperature: Number.NaN }, 'temperature'],
      [{ prompt: [1], temperature: -0.1 }, 'temperature'],
      [{ prompt: [1], temperature: Infinity }, 'temperature'],
      [{ prompt: [1], topK: 0 }, 'topK'],
      [{ prompt: [1], topK: 1e9 }, 'topK'],
      [{ prompt: [1], topK: 257 }, 'topK'],
      [{ prompt: [1, , 3] }, 'prompt[1]'], // sparse arrays: a hole is not a token id
      [{ prompt: [1], stop: ['a', , 'b'] }, 'stop[1]'],
      [{ prompt: [1], stop: [1, , 2] }, 'stop[1]'],
      [{ prompt: [1], topP: 0 }, 'topP'],
      [{ prompt: [1], topP: 1.01 }, 'topP'],
      [{ prompt: [1], topP: Number.NaN }, 'topP'],
      [{ prompt: [1], seed: -1 }, 'seed'],
      [{ prompt: [1], seed: 2 ** 32 }, 'seed'],
      [{ prompt: [1], stop: 'x' }, 'stop'],
      [{ prompt: [1], stop: ['a', 3] }, 'stop[1]'],
      [{ prompt: [1], stop: [3, 'a'] }, 'stop[1]'],
      [{ prompt: [1], stop: [''] }, 'stop[0]'],
      [{ prompt: [1], stop: [999] }, 'stop[0]'],
      [{ prompt: [1], stop: Array.from({ length: 17 }, () => 'x') }, 'stop'],
      [{ prompt: [1], signal: {} }, 'signal'],
      [{ prompt: [1], id: '' }, 'id'],
      [{ prompt: [1], id: 5 }, 'id'],
    ];
    for (const [input, field] of cases) expect(fieldOf(input), JSON.stringify(input)).toBe(field);
  });

  it('keeps a session id and names a bad one', () => {
    expect(validateRequest({ prompt: [1], session: 'chat-7' }, limits, deps).session).toBe('chat-7');
    expect(validateRequest({ prompt: [1] }, limits, deps).session).toBeUndefined();
    expect(fieldOf({ prompt: [1], session: '' })).toBe('session');
    expect(fieldOf({ prompt: [1], session: 7 })).toBe('session');
  });

  it('accepts topK up to the vocabulary size', () => {
    expect(validateRequest({ prompt: [1], topK: 256 }, limits, deps).topK).toBe(256);
    expect(() => validateRequest({ prompt: [1], topK: 1e9 }, limits, deps)).toThrow('invalid request field "topK": must be an integer in [1, 256]');
  });

  it('reads only own properties: a field inherited through the prototype is rejected by name', () => {
    expect(fieldOf(Object.create({ prompt: 'x' }))).toBe('prompt');
    const inheritedTopK = Object.assign(Object.create({ topK: 1e9 }), { prompt: [1] });
    expect(fieldOf(inheritedTopK)).toBe('topK');
    expect(() => validateRequest(Object.create({ prompt: [1] }), limits, deps)).toThrow(/inherited through the prototype/);
    // A null-prototype object and a class instance with own fields are fine.
    const bare = Object.assign(Object.create(null), { prompt: [1, 2] });
    expect(validateRequest(bare, limits, deps).promptIds).toEqual([1, 2]);
    class Req {
      prompt = [3];
      maxTokens = 2;
    }
    expect(validateRequest(new Req(), limits, deps)).toMatchObject({ promptIds: [3], maxTokens: 2 });
  });

  it('reads each field once, so a getter cannot pass validation with one value and serve another', () => {
    let reads = 0;
    const tricky = {
      get prompt(): number[] {
        reads += 1;
        return reads === 1 ? [1, 2] : [999_999];
      },
    };
    expect(validateRequest(tricky, limits, deps).promptIds).toEqual([1, 2]);
    expect(reads).toBe(1);
  });

  it('refuses text prompts without a tokenizer, with a message saying so', () => {
    expect(() => validateRequest({ prompt: 'hi' }, limits)).toThrow(/needs a tokenizer/);
  });

  it('writes messages that show the bad value', () => {
    expect(() => validateRequest({ prompt: [1], topP: 1.5 }, limits, deps)).toThrow(
      'invalid request field "topP": must be a number in (0, 1], got 1.5',
    );
  });
});
