import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { Deque } from './deque.js';

describe('Deque', () => {
  it('behaves like an array queue under any push/shift sequence', () => {
    fc.assert(
      fc.property(fc.array(fc.oneof(fc.integer(), fc.constant(null)), { maxLength: 300 }), (ops) => {
        const deque = new Deque<number>();
        const model: number[] = [];
        for (const op of ops) {
          if (op === null) expect(deque.shift()).toBe(model.length === 0 ? null : model.shift());
          else {
            deque.push(op);
            model.push(op);
          }
          expect(deque.size).toBe(model.length);
        }
        expect(deque.drain()).toEqual(model);
      }),
      { seed: 42 },
    );
  });
});
