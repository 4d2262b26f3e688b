/**
 * ScaleRefusedError: `engine.spawn` or `engine.retire` asked for an instance change the engine
 * will not make now (roles are fixed, a bound would be crossed, another spawn is under way, the
 * instance is not live or already changing). Nothing changed; the caller may ask again later.
 */
import { EngineError } from './errors.js';

/** A refused spawn or retirement, naming what was asked and why. */
export class ScaleRefusedError extends EngineError {
  readonly action: 'spawn' | 'retire';
  readonly reason: string;

  constructor(action: 'spawn' | 'retire', what: string, reason: string) {
    super(`${action} of ${what} refused: ${reason}`);
    this.name = 'ScaleRefusedError';
    this.action = action;
    this.reason = reason;
  }
}
