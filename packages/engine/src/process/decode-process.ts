/**
 * DecodeProcess: the decode role in its own OS process. It owns a KV pool, dials each prefill
 * process's KV port (KvTransferReceiver `connect`: checksummed, payloads read straight into the
 * pool, no copy), loads each arriving
 * sequence into the model, and runs continuous batching over every sequence whose KV and first
 * token have both arrived. Tokens go to the parent over IPC.
 *
 * Invariants: a sequence decodes only after its transfer completed (`done`) and its first token
 * is known; an abort, a failed transfer or a KV timeout releases the sequence's blocks; aborts
 * that arrive before the KV are remembered so late KV is dropped at once.
 */
import { BlockPool, KvTransferReceiver, type BlockTable, type IncomingSequence } from '@baton/kv-cache';
import type { Gpt, ModelSequence } from '@baton/model';
import { engineNow } from '../clock.js';
import { ActorFailedError, KvExhaustedError } from '../errors.js';
import type { WireRequest } from '../protocol.js';
import { RequestSampler, logitsRow } from '../request-sampler.js';
import { HandoffBacking } from '../actors/handoff-backing.js';
import type { FromProcess, ProcessInit, ToProcess } from './process-protocol.js';
import { ProcessCounters } from './process-counters.js';

interface Pending {
  request: WireRequest;
  sequenceId: number;
  incoming: IncomingSequence | null;
  first: { token: number; time: number } | null;
  timer: NodeJS.Timeout;
}

interface Running {
  request: WireRequest;
  seq: ModelSequence;
  table: BlockTable;
  sampler: RequestSampler;
  last: number;
  length: number;
}

/** The decode side of the multi-process deployment. */
export class DecodeProcess {
  readonly #pending = new Map<string, Pending>();
  readonly #bySequence = new Map<number, Pending>();
  readonly #early = new Map<number, IncomingSequence>();
  readonly #running = new Map<string, Running>();
  readonly #aborted = new Set<string>();
  readonly #counters: ProcessCounters;
  /** One receiver per prefill process, by its index (replaced when it restarts). */
  readonly #receivers = new Map<number, KvTransferReceiver>();
  #stepping = false;

  constructor(
    private readonly init: ProcessInit,
    private readonly model: Gpt,
    private readonly pool: BlockPool,
    private readonly send: (msg: FromProcess) => void,
    backend: string,
  ) {
    this.#counters = new ProcessCounters('decode', backend);
  }

  /** (Re)links to prefill process `index`, which accepts KV links at `port`. */
  #link(index: number, port: number): void {
    this.#receivers.get(index)?.close();
    const receiver = new KvTransferReceiver({ pool: this.pool, connect: { port }, onSequence: (incoming) => this.#arrived(incoming) });
    // NOTE: a failed dial leaves no link; requests routed over it fail by the handoff timeout and
    // the parent re-announces the port when the prefill process restarts.
    receiver.ready.catch(() => undefined);
    this.#receivers.set(index, receiver);
  }

  /** Handles one parent message. */
  handle(msg: ToProcess): void {
    if (msg.type === 'expect') this.#expect(msg.request, msg.sequenceId);
    else if (msg.type === 'prefillPort') this.#link(msg.index, msg.port);
    else if (msg.type === 'prefilled') this.#prefilled(msg);
    else if (msg.type === 'abort') this.#abort(msg.requestId);
    else if (msg.type === 'stats') {
      const counts = { queueLength: this.#pending.size, running: this.#running.size, kvBlocksUsed: this.#blocksUsed() };
      this.send({ type: 'stats', ask: msg.ask, stats: this.#counters.snapshot(this.init.name, counts), pool: this.pool.stats() });
    }
  }

  /** Releases everything (shutdown). */
  close(): void {
    for (const id of [...this.#pending.keys()]) this.#drop(id);
    for (const r of this.#running.values()) this.#release(r);
    this.#running.clear();
    for (const receiver of this.#receivers.values()) receiver.close();
  }

  #expect(request: WireRequest, sequenceId: number): void {
    if (this.#aborted.delete(request.id)) return;
    const timer = setTimeout(() => this.#fail(request.id, `KV for sequence ${sequenceId} did not arrive within ${this.init.handoffTimeoutMs} ms`), this.init.handoffTimeoutMs);
    const p: Pending = { request, sequenceId, incoming: null, first: null, timer };
    this.#pending.set(request.id, p);
    this.#bySequence.set(sequenceId, p);
    const early = this.#early.get(sequenceId);
    if (early !== undefined) {
      this.#early.delete(sequenceId);
      this.#arrived(early);
    }
  }

  #arrived(incoming: IncomingSequence): void {
    if (this.#aborted.delete(`#${incoming.sequenceId}`)) {
      incoming.consumer.cancel();
      return;
    }
    const p = this.#bySequence.get(incoming.sequenceId);
    if (p === undefined) {
      this.#early.set(incoming.sequenceId, incoming);
      return;
    }
    p.incoming = incoming;
    incoming.done.then(
      () => this.#maybeJoin(p),
      (e: unknown) => this.#fail(p.request.id, `KV transfer failed: ${e instanceof Error ? e.message : String(e)}`),
    );
  }

  #prefilled(m: Extract<ToProcess, { type: 'prefilled' }>): void {
    const p = this.#pending.get(m.requestId);
    if (p === undefined) return;
    if (m.finished) return this.#drop(m.requestId);
    p.first = { token: m.firstToken, time: m.time };
    this.#maybeJoin(p);
  }

  /** NOTE: `done` settles after every layer was verified, so all layers load at once here. */
  #maybeJoin(p: Pending): void {
    if (p.first === null || p.incoming === null || this.#pending.get(p.request.id) !== p) return;
    void p.incoming.done.then(() => {
      if (this.#pending.get(p.request.id) !== p || p.incoming === null || p.first === null) return;
      this.#forget(p);
      const tokenCount = p.incoming.tokenCount;
      const backing = new HandoffBacking(p.incoming.consumer, tokenCount);
      const seq = this.model.attach(backing, { length: tokenCount });
      for (let layer = 0; layer < this.model.config.nLayer; layer++) seq.loadLayer(layer);
      const table = backing.adopt();
      this.send({ type: 'client', msg: { type: 'kvTransfer', requestId: p.request.id, startMs: p.first.time, endMs: engineNow() } });
      const sampler = new RequestSampler(p.request, 1);
      this.#running.set(p.request.id, { request: p.request, seq, table, sampler, last: p.first.token, length: tokenCount });
      this.#schedule();
    });
  }

  #schedule(): void {
    if (this.#stepping || this.#running.size === 0) return;
    this.#stepping = true;
    // NOTE: one step per macrotask, so IPC messages (aborts, new arrivals) interleave with steps.
    setImmediate(() => {
      this.#stepping = false;
      this.#step();
      this.#schedule();
    });
  }

  #step(): void {
    const batch = [...this.#running.values()].slice(0, this.init.maxBatch).filter((r) => this.#reserve(r));
    if (batch.length === 0) return;
    const started = engineNow();
    const logits = this.model.decode(batch.map((r) => ({ seq: r.seq, token: r.last })));
    const time = engineNow();
    const vocab = this.model.config.vocabSize;
    const items = batch.map((r, i) => {
      const index = r.sampler.produced;
      const next = r.sampler.next(logitsRow(logits, i, vocab));
      r.last = next.id;
      r.length += 1;
      return { r, item: { requestId: r.request.id, id: next.id, index, time }, finish: next.finish };
    });
    this.send({ type: 'client', msg: { type: 'tokens', items: items.map((x) => x.item) } });
    for (const { r, finish } of items) {
      if (finish === null) continue;
      this.#running.delete(r.request.id);
      this.#release(r);
      this.send({ type: 'client', msg: { type: 'finished', requestId: r.request.id, reason: finish, time, error: null, outputTokens: r.sampler.produced } });
    }
    this.#counters.step(batch.length, time - started);
  }

  /** Room for one more token; a sequence that cannot grow ends with KvExhaustedError. */
  #reserve(r: Running): boolean {
    if (r.table.ensureCapacity(r.length + 1)) return true;
    this.#running.delete(r.request.id);
    this.#release(r);
    const error = new KvExhaustedError({ neededBlocks: 1, freeBlocks: this.pool.stats().free }).toJSON();
    this.send({ type: 'client', msg: { type: 'finished', requestId: r.request.id, reason: 'error', time: engineNow(), error, outputTokens: r.sampler.produced } });
    return false;
  }

  #abort(requestId: string): void {
    const r = this.#running.get(requestId);
    if (r !== undefined) {
      this.#running.delete(requestId);
      this.#release(r);
    } else if (this.#pending.has(requestId)) this.#drop(requestId);
    else this.#aborted.add(requestId);
  }

  #fail(requestId: string, cause: string): void {
    const p = this.#pending.get(requestId);
    if (p === undefined) return;
    this.#drop(requestId);
    const error = new ActorFailedError(this.init.name, cause).toJSON();
    this.send({ type: 'client', msg: { type: 'finished', requestId, reason: 'error', time: engineNow(), error, outputTokens: p.request.emitted + 1 } });
  }

  #drop(requestId: string): void {
    const p = this.#pending.get(requestId);
    if (p === undefined) return;
    this.#forget(p);
    p.incoming?.consumer.cancel();
    if (p.incoming === null) this.#aborted.add(`#${p.sequenceId}`);
  }

  #forget(p: Pending): void {
    clearTimeout(p.timer);
    this.#pending.delete(p.request.id);
    this.#bySequence.delete(p.sequenceId);
  }

  #release(r: Running): void {
    r.seq.release();
    r.table.release();
  }

  #blocksUsed(): number {
    let n = 0;
    for (const r of this.#running.values()) n += r.table.blockIds.length;
    return n;
  }
}
