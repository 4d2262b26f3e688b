/**
 * Public API of @baton/kv-cache: the paged KV pool in SharedArrayBuffer, per-sequence block
 * tables (the model's KvBacking), prefix caching, in-process layer-wise handoff, the
 * cross-process transfer stream, the KV channel that picks one of the two by target, and the
 * tiered memory pool for cached prefixes.
 */

/** The pool shared by every thread of a process; see BlockPool.create / BlockPool.attach. */
export { BlockPool } from './block-pool.js';
export type { AttachOptions, BlockPoolHandle, BlockPoolOptions, PoolStats, PrefixMatch } from './block-pool.js';
/** One sequence's blocks; implements the model's KvBacking structurally. */
export { BlockTable } from './block-table.js';
export type { BlockTableDescriptor, KvKind } from './block-table.js';
/** Geometry of a pool. */
export type { PoolGeometry } from './pool-layout.js';
/** Producer and consumer sides of an in-process handoff. */
export { HandoffConsumer, HandoffProducer } from './handoff.js';
export type { HandoffDescriptor, OpenHandoffOptions, WaitForLayerOptions } from './handoff.js';
export type { HandoffState } from './handoff-slots.js';
/** Typed errors (base class KvCacheError, each with a stable `code`). */
export {
  HandoffCancelledError,
  HandoffStateError,
  HandoffTimeoutError,
  KvArgumentError,
  KvCacheError,
  KvCapacityError,
  KvClosedError,
  KvOwnerError,
  KvRefCountError,
  TransferChecksumError,
  TransferError,
  TransferPeerClosedError,
  TransferProtocolError,
  TransferRejectedError,
  TransferTimeoutError,
  TransferTruncatedError,
} from './errors.js';
/** Cross-process transfer stream: the sending side. */
export { KvTransferSender } from './transfer-sender.js';
export type { KvTransferSenderOptions, OpenSequenceOptions, OutgoingSequence, SendSequenceOptions } from './transfer-sender.js';
/** Cross-process transfer stream: the receiving side. */
export { KvTransferReceiver } from './transfer-receiver.js';
export type { IncomingSequence, KvTransferReceiverOptions, ReceiverCommonOptions, SequenceRejection, TransferEndpoint } from './transfer-receiver.js';
/** KV channel: one layer-wise handoff interface over a shared pool or a stream. */
export { checkKvTarget, openKvReader } from './kv-channel.js';
export type { KvEndpointDescriptor, KvReader, KvTarget, KvTicket, KvWriter, OpenKvReaderOptions, OpenKvWriterOptions } from './kv-channel.js';
/** Prefill side of KV channels: opens writers toward shared or stream targets. */
export { KvConnector } from './kv-connector.js';
export type { KvConnectorOptions } from './kv-connector.js';
/** Decode side of stream KV channels: listens, publishes a descriptor, hands out readers. */
export { KvEndpoint } from './kv-endpoint.js';
export type { KvEndpointOptions } from './kv-endpoint.js';
/** Tiered memory pool for cached prefixes (hot shared pool, host memory, disk) with pool events. */
export { KvMemPool } from './kv-mem-pool.js';
export type { KvMemPoolOptions, KvMemPoolStats, KvPoolEvent, KvTier, KvTierCounts, TieredMatch } from './kv-mem-pool.js';
/** Printable chain keys of a prompt's full blocks (the names pool events use). */
export { prefixKeys } from './block-key.js';
