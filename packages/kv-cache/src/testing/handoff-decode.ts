/**
 * Test/bench helper: the decode side of a model-backed handoff. Loads each layer of a handed-off
 * prompt into the model as soon as it is published (through a KvBacking over the HandoffConsumer,
 * no copy of pool bytes), then adopts the blocks and decodes greedily. The model module is passed
 * in: @baton/kv-cache never imports @baton/model at runtime (only its types, erased on build).
 */
import type { Gpt, KvBacking } from '@baton/model';
import { KvArgumentError } from '../errors.js';
import type { BlockTable, KvKind } from '../block-table.js';
import type { HandoffConsumer } from '../handoff.js';
import { layerChecksum } from './layer-checksum.js';

/** KvBacking over a handoff before adoption (reads only), then over the adopted table. */
class HandoffKvBacking implements KvBacking {
  private table: BlockTable | null = null;

  constructor(
    private readonly consumer: HandoffConsumer,
    private readonly tokenCount: number,
  ) {}

  get capacity(): number {
    return this.table?.capacity ?? this.tokenCount;
  }

  adopt(): BlockTable {
    this.table ??= this.consumer.adopt();
    return this.table;
  }

  write(layer: number, kind: KvKind, start: number, rows: Float32Array): void {
    if (this.table === null) throw new KvArgumentError(`write at position ${start} before the handoff was adopted`);
    this.table.write(layer, kind, start, rows);
  }

  read(layer: number, kind: KvKind, start: number, end: number, out: Float32Array): void {
    (this.table ?? this.consumer).read(layer, kind, start, end, out);
  }
}

/** Options of decodeHandoff. */
export interface DecodeHandoffOptions {
  readonly model: Gpt;
  readonly consumer: HandoffConsumer;
  /** Resolves with the first generated token (sampled by the prefill side). */
  readonly firstToken: Promise<number>;
  /** Tokens to generate in all, the first one included (>= 1). */
  readonly maxTokens: number;
  readonly timeoutMs: number;
  /** Called after layer `layer` was loaded into the model, before the next wait. */
  readonly onLayerLoaded?: (layer: number) => void;
  /** Resolves when the adopted blocks may be read (a cross-process transfer's `done`). */
  readonly complete?: Promise<void>;
}

/** Result of decodeHandoff. */
export interface DecodeHandoffResult {
  readonly tokens: number[];
  readonly layersReadyAtLoad: number[];
  readonly layerChecksums: number[];
}

/** Greedy argmax, first maximum wins (the model's greedy sampler does the same). */
function argmax(row: Float32Array): number {
  let best = 0;
  for (let i = 1; i < row.length; i++) if (row[i] > row[best]) best = i;
  return best;
}

/** Loads the handed-off prompt layer by layer, adopts it, decodes greedily, releases everything. */
export async function decodeHandoff(options: DecodeHandoffOptions): Promise<DecodeHandoffResult> {
  const { model, consumer } = options;
  const tokenCount = consumer.descriptor.tokenCount;
  const backing = new HandoffKvBacking(consumer, tokenCount);
  const seq = model.attach(backing, { length: tokenCount });
  const layersReadyAtLoad: number[] = [];
  let table: BlockTable | null = null;
  try {
    for (let layer = 0; layer < model.config.nLayer; layer++) {
      await consumer.waitForLayer(layer, { timeoutMs: options.timeoutMs });
      layersReadyAtLoad.push(consumer.layersReady);
      seq.loadLayer(layer);
      options.onLayerLoaded?.(layer);
    }
    await options.complete;
    const adopted = backing.adopt();
    table = adopted;
    const nEmbd = model.config.nEmbd;
    const layerChecksums = Array.from({ length: model.config.nLayer }, (_, layer) => layerChecksum(adopted, { layer, tokenCount, nEmbd }));
    const tokens = [await options.firstToken];
    if (!adopted.ensureCapacity(tokenCount + options.maxTokens)) throw new KvArgumentError('decodeHandoff: the pool has no room to decode');
    while (tokens.length < options.maxTokens) {
      tokens.push(argmax(model.decode([{ seq, token: tokens[tokens.length - 1] }])));
    }
    return { tokens, layersReadyAtLoad, layerChecksums };
  } finally {
    seq.release();
    if (table === null) consumer.cancel();
    else table.release();
  }
}
