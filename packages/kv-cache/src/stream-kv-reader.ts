/**
 * Reader of a 'stream' KV channel, made by KvEndpoint.reader. Before the stream begins it waits
 * for the arrival; afterwards it is the local handoff the receiver publishes verified layers on.
 * Every way of giving up (timeout, signal, cancel) ends the channel through the endpoint, which
 * cancels the local handoff (blocks released) and tells the writer; a stream failure is reported
 * as itself (TransferChecksumError, TransferPeerClosedError, ...), not as a bare cancellation.
 */
import type { BlockTable, KvKind } from './block-table.js';
import { HandoffCancelledError, HandoffStateError, HandoffTimeoutError, KvArgumentError } from './errors.js';
import type { WaitForLayerOptions } from './handoff.js';
import type { KvReader } from './kv-channel.js';
import type { IncomingSequence, KvTransferReceiver } from './transfer-receiver.js';

/** The endpoint's record of one channel (shared with its reader). */
export interface StreamChannel {
  readonly channelId: string;
  incoming: IncomingSequence | null;
  receiver: KvTransferReceiver | null;
  /** Why the channel ended early, or null. */
  failure: Error | null;
  claimed: boolean;
  /** Adopted or failed. */
  ended: boolean;
  timer: NodeJS.Timeout | null;
  readonly arrival: Promise<IncomingSequence>;
  readonly resolveArrival: (incoming: IncomingSequence) => void;
  readonly rejectArrival: (error: Error) => void;
}

/** What a reader asks of its endpoint. */
export interface StreamChannelControl {
  fail(error: Error): void;
  adopted(): void;
}

/** Reader of a stream channel; see KvReader. */
export class StreamKvReader implements KvReader {
  readonly kind = 'stream' as const;

  constructor(
    private readonly channel: StreamChannel,
    private readonly layers: number,
    readonly tokenCount: number,
    private readonly control: StreamChannelControl,
  ) {}

  get layersReady(): number {
    if (this.channel.failure !== null) return 0;
    return this.channel.incoming?.consumer.layersReady ?? 0;
  }

  async waitForLayer(layer: number, options: WaitForLayerOptions = {}): Promise<void> {
    if (!Number.isInteger(layer) || layer < 0 || layer >= this.layers) {
      throw new KvArgumentError(`waitForLayer: layer ${String(layer)} is not in [0, ${this.layers})`);
    }
    const { timeoutMs, signal } = options;
    if (timeoutMs !== undefined && !(timeoutMs >= 0)) throw new KvArgumentError(`waitForLayer: timeoutMs must be >= 0, got ${String(timeoutMs)}`);
    if (this.channel.failure !== null) throw this.channel.failure;
    const started = Date.now();
    const incoming = this.channel.incoming ?? (await this.#arrival(layer, timeoutMs, signal));
    const remaining = timeoutMs === undefined ? undefined : Math.max(0, timeoutMs - (Date.now() - started));
    try {
      await incoming.consumer.waitForLayer(layer, { timeoutMs: remaining, signal });
    } catch (error) {
      this.control.fail(error instanceof Error ? error : new HandoffCancelledError(String(error)));
      throw this.channel.failure ?? error;
    }
  }

  read(layer: number, kind: KvKind, start: number, end: number, out: Float32Array): void {
    if (this.channel.failure !== null) throw this.channel.failure;
    const incoming = this.channel.incoming;
    if (incoming === null) throw new KvArgumentError(`read: layer ${layer} is not here yet (the stream has not begun)`);
    incoming.consumer.read(layer, kind, start, end, out);
  }

  adopt(): BlockTable {
    if (this.channel.failure !== null) throw this.channel.failure;
    const incoming = this.channel.incoming;
    if (incoming === null) throw new HandoffStateError(`adopt: channel ${this.channel.channelId} has not begun`);
    const table = incoming.consumer.adopt();
    this.control.adopted();
    return table;
  }

  cancel(): boolean {
    if (this.channel.ended) return false;
    this.control.fail(new HandoffCancelledError(`KV channel ${this.channel.channelId}: cancelled by the reader`));
    return true;
  }

  /** Waits for the stream to begin, giving up (and ending the channel) on timeout or abort. */
  #arrival(layer: number, timeoutMs: number | undefined, signal: AbortSignal | undefined): Promise<IncomingSequence> {
    return new Promise<IncomingSequence>((resolve, reject) => {
      let timer: NodeJS.Timeout | undefined;
      const giveUp = (error: Error): void => {
        cleanup();
        this.control.fail(error);
        reject(this.channel.failure ?? error);
      };
      const onAbort = (): void => giveUp(new HandoffCancelledError(`waitForLayer(${layer}): aborted by the caller's signal`));
      const cleanup = (): void => {
        clearTimeout(timer);
        signal?.removeEventListener('abort', onAbort);
      };
      if (signal?.aborted) return onAbort();
      signal?.addEventListener('abort', onAbort, { once: true });
      if (timeoutMs !== undefined) {
        timer = setTimeout(() => giveUp(new HandoffTimeoutError(`waitForLayer(${layer}): the stream did not begin within ${timeoutMs} ms`)), timeoutMs);
      }
      this.channel.arrival.then(
        (incoming) => {
          cleanup();
          resolve(incoming);
        },
        (error: unknown) => {
          cleanup();
          reject(error);
        },
      );
    });
  }
}
