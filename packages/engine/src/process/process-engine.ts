/**
 * ProcessEngine: Baton deployed as several OS processes on one machine. The parent process holds
 * the front end and the scheduler (placement, admission, the client side of every request); each
 * prefill and each decode role runs in its own forked process with its own KV pool; KV moves from
 * prefill to decode over loopback sockets (KvTransferSender/Receiver), control over IPC.
 *
 * Invariants: every accepted request ends exactly once; a serving process that dies is reported
 * (`events`), the requests it held end with ActorFailedError, and it is restarted (a restarted
 * decode process's new port is sent to every prefill process); greedy tokens equal the
 * in-process engine's (same model code, same RequestSampler).
 */
import { EventEmitter } from 'node:events';
import { defaultBackendName, describeModel, type BackendName, type GptConfig } from '@baton/model';
import { ActiveRequest, bindAbortSignal, type Generation, type GenerationResult } from '../active-request.js';
import { engineNow } from '../clock.js';
import type { CloseOptions, EngineStats } from '../engine.js';
import { resolveOptions, type EngineOptions, type EngineOptionsInput } from '../engine-options.js';
import { ActorFailedError, EngineClosedError, InvalidOptionsError, InvalidRequestError, OverloadedError } from '../errors.js';
import { drainThenAbort, FinishedRequests } from '../finished-requests.js';
import type { ClientMsg, ServingActorStats, WireRequest } from '../protocol.js';
import { limitsFor, validateRequest, type GenerateRequest } from '../request.js';
import { ProcessHost } from './process-host.js';
import type { FromProcess, ProcessInit, ProcessRole } from './process-protocol.js';

/** What `events` reports about the serving processes. */
export interface ProcessEvent {
  type: 'exited' | 'restarted' | 'restart-failed';
  name: string;
  detail: string;
}

/** Where a request's current attempt runs. */
interface Placement {
  active: ActiveRequest;
  prefill: number;
  decode: number;
  /** True once the prefill process produced the first token. */
  prefilled: boolean;
}

const RESTART_DELAY_MS = 200;

/** A running multi-process engine. Create with {@link createProcessEngine}. */
export class ProcessEngine {
  /** `process` events ({@link ProcessEvent}): a serving process exited, was restarted, or could not be. */
  readonly events = new EventEmitter<{ process: [ProcessEvent] }>();
  readonly #placements = new Map<string, Placement>();
  readonly #finished = new FinishedRequests();
  readonly #prefill: ProcessHost[] = [];
  readonly #decode: ProcessHost[] = [];
  readonly #tokenizer: ReturnType<typeof describeModel>['tokenizer'];
  #nextSequence = 1;
  #accepted = 0;
  #rejected = 0;
  #restarts = 0;
  #closing: Promise<void> | null = null;

  /** @internal use createProcessEngine. */
  constructor(
    /** The resolved options (`mode` is `disaggregated`). */
    readonly options: EngineOptions,
    /** The served model's hyper-parameters. */
    readonly config: GptConfig,
    /** The backend every serving process runs. */
    readonly backend: BackendName,
  ) {
    this.#tokenizer = describeModel(options.model).tokenizer;
  }

  /** The serving processes: name and OS pid (null while restarting). */
  processes(): Array<{ name: string; pid: number | null }> {
    return [...this.#prefill, ...this.#decode].map((h) => ({ name: h.name, pid: h.pid }));
  }

  /** Starts a request (same contract as `Engine.generate`). */
  generate(request: GenerateRequest): Generation {
    if (this.#closing !== null) throw new EngineClosedError();
    const req = validateRequest(request, limitsFor(this.config), { encode: (text) => this.#tokenizer.encode(text) });
    if (this.#placements.has(req.id)) throw new InvalidRequestError('id', `"${req.id}" is already in flight`);
    const active: ActiveRequest = new ActiveRequest({
      request: req,
      arrivalMs: engineNow(),
      decoder: this.#tokenizer.createDecoder(),
      now: engineNow,
      abortRemote: (wireId) => this.#abortRemote(wireId),
      retry: () => false,
      onDone: (result) => this.#done(active, result),
    });
    const generation = active.generation();
    if (this.#placements.size >= this.options.queue.maxRequests) {
      this.#rejected += 1;
      active.refuse(new OverloadedError({ estimate: 'queue', retryAfterMs: 1_000 }));
      return generation;
    }
    this.#accepted += 1;
    const placement: Placement = { active, prefill: this.#pick(this.#prefill, 'prefill'), decode: this.#pick(this.#decode, 'decode'), prefilled: false };
    this.#placements.set(active.wireId, placement);
    bindAbortSignal(active, req.signal);
    if (!active.done) this.#dispatch(placement, active.firstAttempt(engineNow()));
    return generation;
  }

  /** Stats of every serving process (same shape as `Engine.stats`; the pool is the sum of theirs). */
  async stats(): Promise<EngineStats> {
    const all = await Promise.all([...this.#prefill, ...this.#decode].map(async (h) => ({ host: h, r: await h.stats() })));
    const actors: ServingActorStats[] = all.map(({ host, r }) => r?.stats ?? down(host));
    const pool = { total: 0, free: 0, used: 0, cached: 0, indexed: 0, hits: 0, misses: 0, evictions: 0 };
    for (const { r } of all) for (const k of Object.keys(pool) as Array<keyof typeof pool>) pool[k] += r?.pool[k] ?? 0;
    return {
      mode: this.options.mode,
      backend: this.backend,
      active: this.#placements.size,
      completed: this.#finished.completed,
      retried: this.#restarts,
      summary: this.#finished.summary(this.options.slo),
      scheduler: { accepted: this.#accepted, rejected: this.#rejected, ttftCalibration: 1, inFlight: this.#placements.size, predictor: null, pool },
      actors,
    };
  }

  /** Stops accepting, lets requests finish until the deadline, aborts the rest, stops every process. */
  close(options: CloseOptions = {}): Promise<void> {
    this.#closing ??= this.#shutdown(options.deadlineMs ?? 30_000);
    return this.#closing;
  }

  /** @internal starts every serving process and links prefill to decode. */
  async start(): Promise<void> {
    const o = this.options;
    const backend = this.backend as ProcessInit['backend'];
    const init = (role: ProcessRole, index: number): ProcessInit => ({
      role, index, name: `${role}-${index}`, model: o.model, backend, chunkSize: o.prefillChunkSize, maxBatch: o.maxBatch,
      kv: o.kv, handoffTimeoutMs: o.handoffTimeoutMs, decodeCount: o.decode, nice: role === 'prefill' ? o.prefillNice : null,
    });
    for (let i = 0; i < o.decode; i++) this.#decode.push(this.#host(init('decode', i)));
    for (let i = 0; i < o.prefill; i++) this.#prefill.push(this.#host(init('prefill', i)));
    await Promise.all([...this.#decode, ...this.#prefill].map((h) => h.start()));
    this.#prefill.forEach((p) => this.#announce(p, this.#decode));
  }

  #host(init: ProcessInit): ProcessHost {
    const host: ProcessHost = new ProcessHost(init, {
      onMessage: (msg) => this.#onMessage(msg),
      onExit: (detail) => this.#onExit(host, detail),
    });
    return host;
  }

  /** Tells `decodes` where prefill process `prefill` accepts their KV links. */
  #announce(prefill: ProcessHost, decodes: readonly ProcessHost[]): void {
    for (const d of decodes) {
      const port = prefill.kvPorts[d.init.index];
      if (port !== undefined) d.send({ type: 'prefillPort', index: prefill.init.index, port });
    }
  }

  /** Least loaded process of a role (requests placed on it). */
  #pick(hosts: ProcessHost[], role: 'prefill' | 'decode'): number {
    const load = hosts.map(() => 0);
    for (const p of this.#placements.values()) if (role === 'decode' || !p.prefilled) load[p[role]] += 1;
    return load.indexOf(Math.min(...load));
  }

  #dispatch(p: Placement, wire: WireRequest): void {
    const sequenceId = this.#nextSequence++;
    const decodeName = this.#decode[p.decode].name;
    p.active.receive({ type: 'placed', requestId: wire.id, actor: this.#prefill[p.prefill].name, role: 'prefill' });
    p.active.receive({ type: 'placed', requestId: wire.id, actor: decodeName, role: 'decode' });
    const ok = this.#decode[p.decode].send({ type: 'expect', request: wire, sequenceId })
      && this.#prefill[p.prefill].send({ type: 'prefill', request: wire, sequenceId, decode: p.decode });
    if (!ok) p.active.complete('error', new ActorFailedError(decodeName, 'a serving process is restarting'), true);
  }

  #onMessage(msg: FromProcess): void {
    if (msg.type === 'client') return this.#deliver(msg.msg);
    if (msg.type !== 'prefilled') return;
    const p = this.#placements.get(msg.requestId);
    if (p === undefined) return;
    p.prefilled = true;
    this.#decode[msg.decode].send({ type: 'prefilled', requestId: msg.requestId, firstToken: msg.firstToken, finished: msg.finished, time: msg.time });
  }

  #deliver(msg: ClientMsg): void {
    if (msg.type === 'tokens') {
      for (const item of msg.items) this.#placements.get(item.requestId)?.active.token(item);
      return;
    }
    this.#placements.get(msg.requestId)?.active.receive(msg);
  }

  /** A serving process died: report it, fail what it held, restart it. */
  #onExit(host: ProcessHost, detail: string): void {
    this.events.emit('process', { type: 'exited', name: host.name, detail });
    const isDecode = host.init.role === 'decode';
    const error = new ActorFailedError(host.name, `process ${detail}`);
    for (const p of [...this.#placements.values()]) {
      const held = isDecode ? p.decode === host.init.index : p.prefill === host.init.index && !p.prefilled;
      if (held) p.active.complete('error', error, true);
    }
    if (this.#closing !== null) return;
    setTimeout(() => {
      if (this.#closing !== null) return;
      host.start().then(
        () => {
          this.#restarts += 1;
          if (isDecode) this.#prefill.forEach((p) => this.#announce(p, [host]));
          else this.#announce(host, this.#decode);
          this.events.emit('process', { type: 'restarted', name: host.name, detail: `pid ${host.pid}` });
        },
        (e: unknown) => this.events.emit('process', { type: 'restart-failed', name: host.name, detail: String(e) }),
      );
    }, RESTART_DELAY_MS);
  }

  #abortRemote(wireId: string): void {
    const p = this.#placements.get(wireId);
    if (p === undefined) return;
    this.#prefill[p.prefill]?.send({ type: 'abort', requestId: wireId });
    this.#decode[p.decode]?.send({ type: 'abort', requestId: wireId });
  }

  #done(active: ActiveRequest, result: GenerationResult | null): void {
    this.#placements.delete(active.wireId);
    if (result !== null) this.#finished.add(result.timing);
  }

  async #shutdown(deadlineMs: number): Promise<void> {
    await drainThenAbort(() => [...this.#placements.values()].map((p) => p.active), deadlineMs);
    await Promise.all([...this.#prefill, ...this.#decode].map((h) => h.stop()));
  }
}

function down(host: ProcessHost): ServingActorStats {
  return {
    name: host.name, role: host.init.role, activity: 'down (restarting)', queueLength: 0, running: 0, kvBlocksUsed: 0,
    utilization: 0, steps: 0, meanBatchSize: null, maxBatchSize: 0, tokensProcessed: 0, preemptions: 0, backend: 'none', tensors: 0,
  };
}

/**
 * Starts the multi-process deployment: `options.prefill` prefill and `options.decode` decode
 * processes (mode must be `disaggregated`, the default). Resolves once every model is loaded.
 */
export async function createProcessEngine(input: EngineOptionsInput = {}): Promise<ProcessEngine> {
  const options = resolveOptions(input);
  if (options.mode !== 'disaggregated') throw new InvalidOptionsError('mode', `the multi-process deployment runs disaggregated only, got ${options.mode}`);
  const backend: BackendName = options.backend === 'auto' ? defaultBackendName() : options.backend;
  const engine = new ProcessEngine(options, describeModel(options.model).config, backend);
  try {
    await engine.start();
  } catch (e) {
    await engine.close({ deadlineMs: 0 });
    throw e;
  }
  return engine;
}
