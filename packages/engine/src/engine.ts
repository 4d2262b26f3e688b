/**
 * Engine: Baton embedded in the caller's process. `createEngine` builds the KV pool, spawns the
 * actors of the chosen mode and returns an Engine whose `generate` streams tokens back through a
 * main-thread inbox; `stats` gathers every actor's numbers; `close` drains, then aborts what is
 * left after a deadline, and stops every thread.
 *
 * Invariants: every accepted request ends exactly once (length, stop, abort or error) — a crashed
 * serving actor fails the requests in flight instead of leaving them hanging; after `close`
 * begins, `generate` throws EngineClosedError.
 */
import { ActorSystem, type ActorRef } from '@baton/actors';
import { BlockPool } from '@baton/kv-cache';
import { defaultBackendName, describeModel, type BackendName, type GptConfig } from '@baton/model';
import { ActiveRequest, type Generation, type GenerationResult } from './active-request.js';
import { engineNow } from './clock.js';
import { resolveOptions, type EngineOptions, type EngineOptionsInput } from './engine-options.js';
import { ActorFailedError, EngineClosedError, InvalidRequestError, engineErrorFromJSON } from './errors.js';
import { summarize, type RunSummary } from './metrics.js';
import type { ClientMsg, SchedulerStats, ServingActorStats, WireRequest } from './protocol.js';
import { validateRequest, type GenerateRequest, type NormalizedRequest } from './request.js';
import type { RequestTimingRecord } from './request-timing.js';
import { spawnTopology, type Topology } from './topology.js';

/** Everything `engine.stats()` reports. */
export interface EngineStats {
  mode: EngineOptions['mode'];
  backend: BackendName;
  active: number;
  completed: number;
  /** Summary of the most recent completed requests (TTFT, TPOT, ITL, JCT distributions). */
  summary: RunSummary;
  scheduler: SchedulerStats;
  actors: ServingActorStats[];
}

/** Options of `engine.close`. */
export interface CloseOptions {
  /** In-flight requests still running after this long are aborted (default 30 000 ms). */
  deadlineMs?: number;
}

const KEPT_RECORDS = 10_000;
const SUBMIT_TIMEOUT_MS = 30_000;
const DEFAULT_MAX_TOKENS_LIMIT = 4096;

/** A running Baton engine. Create with {@link createEngine}. */
export class Engine {
  readonly #active = new Map<string, ActiveRequest>();
  readonly #records: RequestTimingRecord[] = [];
  #completed = 0;
  #closing: Promise<void> | null = null;

  /** @internal use createEngine. */
  constructor(
    /** The resolved options. */
    readonly options: EngineOptions,
    /** The served model's hyper-parameters. */
    readonly config: GptConfig,
    /** The TensorFlow.js backend the model actors run on. */
    readonly backend: BackendName,
    private readonly system: ActorSystem,
    private readonly topology: Topology,
    private readonly tokenizer: ReturnType<typeof describeModel>['tokenizer'],
  ) {}

  /** Starts a request; iterate the result for tokens. Throws InvalidRequestError / EngineClosedError at once. */
  generate(request: GenerateRequest): Generation {
    if (this.#closing !== null) throw new EngineClosedError();
    const req = validateRequest(request, this.#limits(), { encode: (text) => this.tokenizer.encode(text) });
    if (this.#active.has(req.id)) throw new InvalidRequestError('id', `"${req.id}" is already in flight`);
    const active = this.#track(req, engineNow());
    const signal = req.signal;
    if (signal !== null) {
      const onAbort = (): void => active.complete('abort', null, true);
      if (signal.aborted) onAbort();
      else signal.addEventListener('abort', onAbort, { once: true });
    }
    if (!active.done) this.#submit(active, toWire(req, active));
    return active.generation();
  }

  /** Numbers from every actor and the latest completed requests. */
  async stats(): Promise<EngineStats> {
    const [scheduler, actors] = await Promise.all([
      this.topology.scheduler.ask({ type: 'stats' }, { timeoutMs: 5_000 }),
      Promise.all(this.topology.serving.map((ref) => ref.ask({ type: 'stats' }, { timeoutMs: 5_000 }))),
    ]);
    return {
      mode: this.options.mode,
      backend: this.backend,
      active: this.#active.size,
      completed: this.#completed,
      summary: summarize(this.#records, { slo: this.options.slo }),
      scheduler,
      actors,
    };
  }

  /** Stops accepting, lets requests finish until the deadline, aborts the rest, stops every actor. */
  close(options: CloseOptions = {}): Promise<void> {
    this.#closing ??= this.#shutdown(options.deadlineMs ?? 30_000);
    return this.#closing;
  }

  /** Routes a message from the actors (called by the client inbox). */
  deliver(msg: ClientMsg): void {
    if (msg.type === 'tokens') {
      for (const item of msg.items) this.#active.get(item.requestId)?.token(item);
      return;
    }
    this.#active.get(msg.requestId)?.receive(msg);
  }

  /** Fails every request in flight (a serving actor crashed: their state is gone). */
  failAll(actor: string, cause: unknown): void {
    const error = new ActorFailedError(actor, cause instanceof Error ? cause.message : String(cause));
    for (const a of [...this.#active.values()]) a.complete('error', error, true);
  }

  #track(req: NormalizedRequest, arrivalMs: number): ActiveRequest {
    const active = new ActiveRequest({
      request: req,
      arrivalMs,
      decoder: this.tokenizer.createDecoder(),
      now: engineNow,
      abortRemote: () => this.topology.scheduler.tell({ type: 'abort', requestId: req.id }),
      onDone: (result) => this.#done(req.id, result),
    });
    this.#active.set(req.id, active);
    return active;
  }

  #submit(active: ActiveRequest, wire: WireRequest): void {
    this.topology.scheduler.ask({ type: 'submit', request: wire }, { timeoutMs: SUBMIT_TIMEOUT_MS }).then(
      (reply) => {
        if (!reply.accepted) active.refuse(engineErrorFromJSON(reply.error));
      },
      (error: unknown) => active.refuse(error),
    );
  }

  #done(id: string, result: GenerationResult | null): void {
    this.#active.delete(id);
    if (result === null) return;
    this.#completed += 1;
    this.#records.push(result.timing);
    if (this.#records.length > KEPT_RECORDS) this.#records.shift();
  }

  #limits(): { vocabSize: number; maxContext: number; maxTokensLimit: number } {
    return { vocabSize: this.config.vocabSize, maxContext: this.config.nPositions, maxTokensLimit: Math.min(DEFAULT_MAX_TOKENS_LIMIT, this.config.nPositions) };
  }

  async #shutdown(deadlineMs: number): Promise<void> {
    const deadline = engineNow() + deadlineMs;
    while (this.#active.size > 0 && engineNow() < deadline) await new Promise((r) => setTimeout(r, 10));
    for (const a of [...this.#active.values()]) a.complete('abort', null, true);
    await this.system.shutdown();
  }
}

function toWire(req: NormalizedRequest, active: ActiveRequest): WireRequest {
  return {
    id: active.id,
    promptIds: req.promptIds,
    maxTokens: req.maxTokens,
    temperature: req.temperature,
    topK: req.topK ?? 0,
    topP: req.topP,
    seed: req.seed ?? 0,
    stopIds: req.stopTokenIds,
    arrivalMs: engineNow(),
  };
}

/** Builds the KV pool, spawns the actors of `options.mode` and returns the engine. */
export async function createEngine(input: EngineOptionsInput = {}): Promise<Engine> {
  const options = resolveOptions(input);
  const { config, tokenizer } = describeModel(options.model);
  const backend: BackendName = options.backend === 'auto' ? defaultBackendName() : options.backend;
  const pool = BlockPool.create({
    blockSize: options.kv.blockSize,
    layers: config.nLayer,
    heads: config.nHead,
    headDim: config.nEmbd / config.nHead,
    totalBlocks: options.kv.numBlocks,
    handoffSlots: Math.max(64, options.maxBatch * options.decode * 2),
  });
  const system = new ActorSystem();
  let engine: Engine | null = null;
  const client: ActorRef<ClientMsg> = system.inbox<ClientMsg>((msg) => engine?.deliver(msg), { name: 'client' });
  const setup = { model: options.model, backend, chunkSize: options.prefillChunkSize };
  try {
    const topology = await spawnTopology({ system, options, setup, pool, client });
    engine = new Engine(options, config, backend, system, topology, tokenizer);
    const current = engine;
    system.events.on('crashed', (e) => current.failAll(e.name, e.cause));
    // NOTE: a restarted scheduler is constructed from its init alone; its routing refs come by message.
    system.events.on('restarted', (e) => {
      if (e.name === 'scheduler') void topology.rewire().catch(() => undefined);
    });
    return engine;
  } catch (e) {
    await system.shutdown();
    throw e;
  }
}
