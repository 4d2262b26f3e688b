/**
 * Typed errors of @baton/model. Every error is a ModelError with a stable `code`; messages name
 * exactly what was wrong (the field, tensor, file, argument or backend).
 */

/** Base class of every error thrown by @baton/model. */
export class ModelError extends Error {
  /** Stable machine-readable code. */
  readonly code: string;
  constructor(code: string, message: string) {
    super(message);
    this.name = new.target.name;
    this.code = code;
  }
}

/** A config.json field is missing, of the wrong type or out of range. */
export class ConfigError extends ModelError {
  constructor(readonly field: string, message: string) {
    super('MODEL_CONFIG', `config field "${field}": ${message}`);
  }
}

/** A safetensors file is corrupt, truncated or holds an unsupported dtype. */
export class SafetensorsError extends ModelError {
  constructor(readonly file: string, message: string) {
    super('MODEL_SAFETENSORS', `${file}: ${message}`);
  }
}

/** A weight tensor is missing, unexpected or has the wrong shape. */
export class WeightsError extends ModelError {
  constructor(readonly tensor: string, message: string) {
    super('MODEL_WEIGHTS', `tensor "${tensor}": ${message}`);
  }
}

/** The requested model (directory or built-in name) could not be found or read. */
export class ModelNotFoundError extends ModelError {
  constructor(readonly source: string, message: string) {
    super('MODEL_NOT_FOUND', message);
  }
}

/** A tokenizer file is missing or malformed, or text/ids cannot be converted. */
export class TokenizerError extends ModelError {
  constructor(message: string) {
    super('MODEL_TOKENIZER', message);
  }
}

/** A TensorFlow.js backend cannot be loaded; the message says what is missing and how to install it. */
export class BackendUnavailableError extends ModelError {
  constructor(readonly backend: string, message: string) {
    super('MODEL_BACKEND_UNAVAILABLE', message);
  }
}

/** A KvBacking has less capacity than the positions the model must write. */
export class KvCapacityError extends ModelError {
  constructor(readonly needed: number, readonly capacity: number) {
    super('MODEL_KV_CAPACITY', `KV backing capacity ${capacity} is below the ${needed} positions needed`);
  }
}

/** A call received an invalid argument (token id, position, sampling parameter, released sequence…). */
export class ModelArgumentError extends ModelError {
  constructor(readonly argument: string, message: string) {
    super('MODEL_ARGUMENT', `${argument}: ${message}`);
  }
}
