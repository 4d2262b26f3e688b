/**
 * Options and public value types of KvTransferReceiver (transfer-receiver.ts): what a receiver is
 * built from and what it hands its caller for each arriving or refused sequence.
 */
import type { Socket } from 'node:net';
import type { Duplex } from 'node:stream';
import type { BlockPool } from './block-pool.js';
import type { HandoffConsumer } from './handoff.js';
import type { RejectReason } from './transfer-protocol.js';

/** A sequence arriving over the stream; its KV lives in the receiving pool. */
export interface IncomingSequence {
  readonly sequenceId: number;
  /** The channel id the sender gave the sequence (KvTicket.channelId), or null. */
  readonly key: string | null;
  readonly tokenCount: number;
  /** Tokens to register the blocks under once complete (transfer-with-insert), or null. */
  readonly insert: readonly number[] | null;
  /** The deadline the sender gave (ms from its Begin), or null. */
  readonly deadlineMs: number | null;
  /** Layer-wise view of the arriving KV; adopt() once complete. Post `consumer.descriptor` to other threads. */
  readonly consumer: HandoffConsumer;
  /** Resolves when every frame arrived and verified; rejects with a TransferError otherwise. */
  readonly done: Promise<void>;
}

/** Where a receiver dials its sender (a loopback or LAN TCP listener). */
export interface TransferEndpoint {
  readonly port: number;
  /** Default 127.0.0.1. */
  readonly host?: string;
}

/** Options of the KvTransferReceiver constructor: exactly one of `socket`, `accepted` and `connect`. */
export type KvTransferReceiverOptions = ReceiverCommonOptions &
  (
    | {
        /** A connected net.Socket or any Duplex byte stream; chunks are copied into the pool. */
        readonly socket: Duplex;
        readonly accepted?: undefined;
        readonly connect?: undefined;
      }
    | {
        /**
         * A socket accepted by a net.Server created with `pauseOnConnect: true`: the receiver takes
         * its connection over and reads payloads straight into the pool's memory (in-place-socket.ts;
         * where that is not possible it copies the socket's chunks, as for `socket`).
         */
        readonly accepted: Socket;
        readonly socket?: undefined;
        readonly connect?: undefined;
      }
    | {
        /** Dial the sender; payloads are read straight into the pool's memory. */
        readonly connect: TransferEndpoint;
        readonly socket?: undefined;
        readonly accepted?: undefined;
      }
  );

/** Options common to both ways of constructing a KvTransferReceiver. */
export interface ReceiverCommonOptions {
  readonly pool: BlockPool;
  /** Called when a sequence's Begin frame was accepted (blocks and a handoff slot taken). */
  readonly onSequence: (incoming: IncomingSequence) => void;
  /** Fail in-flight sequences when no byte arrives for this long (default 30 s). */
  readonly idleTimeoutMs?: number;
  /**
   * Where payload checksums (span-hash.ts) are computed: 'inline' (default: on this thread) or
   * 'worker' (a worker thread reads the spans from the pool's shared memory beside the socket
   * reads). NOTE: see KvTransferSenderOptions.checksums for why inline is the default.
   */
  readonly checksums?: 'worker' | 'inline';
  /** Require a Hello frame carrying this token before anything else (wrong or missing: the connection is refused). */
  readonly token?: string;
  /** Called when a sequence's Begin frame was refused (no blocks, no slot, bad geometry). */
  readonly onReject?: (rejection: SequenceRejection) => void;
}

/** A sequence the receiver refused at its Begin frame. */
export interface SequenceRejection {
  readonly sequenceId: number;
  readonly key: string | null;
  readonly reason: RejectReason['reason'];
  readonly message: string;
}
