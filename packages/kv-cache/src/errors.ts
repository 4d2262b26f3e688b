/**
 * Typed errors of @baton/kv-cache. Every error carries a stable `code` string; messages name the
 * argument, block, slot or frame that was wrong. "Can't right now" (pool or slots exhausted) is
 * never an error: those calls return `null`.
 */

/** Base class of every error thrown by @baton/kv-cache. */
export class KvCacheError extends Error {
  /** Stable machine-readable code, e.g. `'KV_REFCOUNT'`. */
  readonly code: string;

  constructor(code: string, message: string, options?: ErrorOptions) {
    super(message, options);
    this.name = new.target.name;
    this.code = code;
  }
}

/** An argument (geometry, layer, range, buffer length, token list) is invalid. */
export class KvArgumentError extends KvCacheError {
  constructor(message: string) {
    super('KV_ARGUMENT', message);
  }
}

/** A reference was dropped (or taken) on a block that holds no reference. */
export class KvRefCountError extends KvCacheError {
  /** The block whose reference count was wrong. */
  readonly blockId: number;

  constructor(blockId: number, message: string) {
    super('KV_REFCOUNT', message);
    this.blockId = blockId;
  }
}

/** An owner dropped a reference it does not hold (taken by another owner, or never taken). */
export class KvOwnerError extends KvCacheError {
  /** The owner id at fault. */
  readonly owner: number;

  constructor(owner: number, message: string) {
    super('KV_OWNER', message);
    this.owner = owner;
  }
}

/** A write or read went past a block table's capacity. */
export class KvCapacityError extends KvCacheError {
  constructor(message: string) {
    super('KV_CAPACITY', message);
  }
}

/** A table or handoff was used after it was released, adopted or cancelled. */
export class KvClosedError extends KvCacheError {
  constructor(message: string) {
    super('KV_CLOSED', message);
  }
}

/** A handoff was cancelled (by either side, a deadline or an abort signal). */
export class HandoffCancelledError extends KvCacheError {
  /** `options.cause`: the failure that ended the channel, when it was not a plain cancel. */
  constructor(message: string, options?: ErrorOptions) {
    super('HANDOFF_CANCELLED', message, options);
  }
}

/** Waiting for a handoff layer took longer than the caller's timeout (the handoff is cancelled). */
export class HandoffTimeoutError extends KvCacheError {
  constructor(message: string) {
    super('HANDOFF_TIMEOUT', message);
  }
}

/** A handoff was used out of order (layer published twice, adopt before completion, ...). */
export class HandoffStateError extends KvCacheError {
  constructor(message: string) {
    super('HANDOFF_STATE', message);
  }
}

/** Base class of the cross-process transfer errors. */
export class TransferError extends KvCacheError {}

/** A frame's payload did not match the checksum in its header. */
export class TransferChecksumError extends TransferError {
  constructor(message: string) {
    super('TRANSFER_CHECKSUM', message);
  }
}

/** The stream ended in the middle of a frame. */
export class TransferTruncatedError extends TransferError {
  constructor(message: string) {
    super('TRANSFER_TRUNCATED', message);
  }
}

/** The peer closed the connection while a sequence was still in flight. */
export class TransferPeerClosedError extends TransferError {
  constructor(message: string) {
    super('TRANSFER_PEER_CLOSED', message);
  }
}

/** No progress on the stream within the configured timeout. */
export class TransferTimeoutError extends TransferError {
  constructor(message: string) {
    super('TRANSFER_TIMEOUT', message);
  }
}

/** A frame was malformed (bad magic, unknown type, geometry mismatch, unknown sequence). */
export class TransferProtocolError extends TransferError {
  constructor(message: string) {
    super('TRANSFER_PROTOCOL', message);
  }
}

/** The receiver refused a sequence (its pool had no blocks or no handoff slot free, or it failed). */
export class TransferRejectedError extends TransferError {
  /** Why the receiver refused, as sent back by it. */
  readonly reason: string;

  constructor(reason: string, message: string) {
    super('TRANSFER_REJECTED', message);
    this.reason = reason;
  }
}
