/**
 * FlipRefusedError: `engine.flip` asked for a role change the engine will not make now (roles are
 * fixed, the instance is already flipping or already serves that role, or a role would leave its
 * elastic bounds). Nothing changed; the caller may ask again later.
 */
import { EngineError } from './errors.js';

/** A refused role flip, naming the instance and why. */
export class FlipRefusedError extends EngineError {
  readonly instance: number;
  readonly reason: string;

  constructor(instance: number, reason: string) {
    super(`flip of instance ${instance} refused: ${reason}`);
    this.name = 'FlipRefusedError';
    this.instance = instance;
    this.reason = reason;
  }
}
