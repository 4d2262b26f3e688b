/**
 * ModelSequence: one sequence attached to a Gpt — its KvBacking (system of record), its slot in
 * the model's KvArena (the backend-side copy) and which layers of the backing's existing rows
 * have been loaded into that slot. Invariant: every position < `length` is in the backing for
 * every layer; it is in the arena for every layer in `loaded`.
 */
import { ModelArgumentError } from './errors.js';
import type { KvBacking } from './kv-backing.js';

/** Hooks the owning model gives a sequence. */
export interface SequenceHost {
  loadLayer(seq: ModelSequence, layer: number): void;
  releaseSlot(slot: number): void;
  readonly nLayer: number;
}

/** A sequence attached to a model (create with `model.attach`). */
export class ModelSequence {
  /** @internal number of positions whose KV is in the backing. */
  len: number;
  /** @internal layers whose backing rows [0, loadedUpTo[layer]) are in the arena slot. */
  readonly loadedUpTo: number[];
  private released = false;

  /** @internal use `model.attach`. */
  constructor(
    private readonly host: SequenceHost,
    /** The backing this sequence writes every K/V row to. */
    readonly backing: KvBacking,
    /** @internal arena slot. */
    readonly slot: number,
    length: number,
  ) {
    this.len = length;
    this.loadedUpTo = new Array<number>(host.nLayer).fill(0);
  }

  /** Number of positions (tokens) whose KV exists. */
  get length(): number {
    return this.len;
  }

  /** True after release(). */
  get isReleased(): boolean {
    return this.released;
  }

  /** Uploads this layer's existing backing rows into the backend-side cache now (else done lazily on first use). */
  loadLayer(layer: number): void {
    this.assertLive('seq');
    if (!Number.isInteger(layer) || layer < 0 || layer >= this.host.nLayer) {
      throw new ModelArgumentError('layer', `${layer} is not a layer index in [0, ${this.host.nLayer})`);
    }
    this.host.loadLayer(this, layer);
  }

  /** Frees the backend-side cache (never the backing). Idempotent. */
  release(): void {
    if (this.released) return;
    this.released = true;
    this.host.releaseSlot(this.slot);
  }

  /** @internal */
  assertLive(argument: string): void {
    if (this.released) throw new ModelArgumentError(argument, 'sequence was released');
  }
}
