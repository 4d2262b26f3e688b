/**
 * Fixture actors that fail to start, for the package's own tests.
 */
import { Actor } from '../actor.js';
import type { Handlers } from '../message.js';

type Nothing = { type: 'noop' };

/** Throws from its constructor. */
export class ThrowingConstructorActor extends Actor<Nothing, undefined> {
  readonly handlers: Handlers<Nothing> = { noop: () => {} };
  constructor(init: undefined) {
    super(init);
    throw new Error('constructor refused');
  }
}

/** Rejects from `onStart`. */
export class FailingStartActor extends Actor<Nothing, undefined> {
  readonly handlers: Handlers<Nothing> = { noop: () => {} };
  override async onStart(): Promise<void> {
    throw new Error('onStart refused');
  }
}

/** Calls `process.exit` from its constructor. */
export class ExitingConstructorActor extends Actor<Nothing, undefined> {
  readonly handlers: Handlers<Nothing> = { noop: () => {} };
  constructor(init: undefined) {
    super(init);
    process.exit(7);
  }
}

/** Not an actor class (for "module has no actor export" errors). */
export const notAnActor = 42;
