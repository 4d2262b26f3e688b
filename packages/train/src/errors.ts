/**
 * Typed errors of @baton/train: bad options, data, or checkpoints. Messages name exactly what was
 * wrong (the option, file or tensor) so a command line can print them as they are.
 */

/** Base class of every error thrown by @baton/train. */
export class TrainError extends Error {
  /** Stable machine-readable code. */
  readonly code: string;
  constructor(message: string, code = 'TRAIN') {
    super(message);
    this.name = new.target.name;
    this.code = code;
  }
}

/** A training option is missing, malformed or out of range. */
export class TrainOptionError extends TrainError {
  constructor(readonly option: string, message: string) {
    super(`${option}: ${message}`, 'TRAIN_OPTION');
  }
}

/** The training data cannot be read or is too small for the requested context. */
export class TrainDataError extends TrainError {
  constructor(readonly source: string, message: string) {
    super(`${source}: ${message}`, 'TRAIN_DATA');
  }
}

/** A training checkpoint (resume state) is missing, corrupt or does not match the run. */
export class TrainCheckpointError extends TrainError {
  constructor(readonly dir: string, message: string) {
    super(`${dir}: ${message}`, 'TRAIN_CHECKPOINT');
  }
}

/** The training loss stopped being finite (the weights diverged, or a GPU device error such as running out of memory broke the computation). */
export class TrainDivergedError extends TrainError {
  constructor(readonly step: number, readonly loss: number) {
    super(`step ${step}: the training loss is ${loss}, not finite (on a GPU this follows a device error such as running out of memory: try a smaller --batch; otherwise a lower --lr)`, 'TRAIN_DIVERGED');
  }
}
