/**
 * Fixture actor for the package's own tests and benchmark (compiled so workers can load it).
 * A counter plus helpers that exercise ordering, async handlers, crashes and refs.
 */
import { appendFileSync } from 'node:fs';
import { threadId } from 'node:worker_threads';
import { Actor } from '../actor.js';
import type { ActorRef } from '../actor-ref.js';
import type { Ask, Handlers } from '../message.js';

/** Init of `CounterActor`. */
export interface CounterInit {
  readonly start?: number;
  /** Counts constructions across restarts (Int32Array over a SharedArrayBuffer, index 0). */
  readonly constructions?: SharedArrayBuffer;
  /** Throw from the constructor on every construction after the first. */
  readonly failOnRestart?: boolean;
  /** Someone to tell `{ type: 'stopping' }` from `onStop`. */
  readonly watcher?: ActorRef<CounterEvent>;
  /** `record` messages also bump index 0 of this Int32Array view (seen by other threads at once). */
  readonly countInto?: SharedArrayBuffer;
  /** `record` messages also append a line to this file (seen by other processes at once). */
  readonly countIntoFile?: string;
  /** `hang` appends a line to this file when it starts (seen by other processes at once). */
  readonly hangLog?: string;
}

/** Where an actor runs, as `where` reports it. */
export interface Whereabouts {
  readonly pid: number;
  readonly threadId: number;
  readonly placement: string;
  readonly argv: string[];
}

/** Constructions per actor name in this thread or process (counts in-place restarts). */
const constructionsHere = new Map<string, number>();

/** What `CounterActor` tells its watcher or a subscriber. */
export type CounterEvent = { type: 'stopping'; count: number } | { type: 'tick'; at: number } | { type: 'value'; count: number };

/** Protocol of `CounterActor`. */
export type CounterProtocol =
  | { type: 'inc'; by: number }
  | Ask<{ type: 'get' }, number>
  | Ask<{ type: 'slowInc'; by: number; ms: number }, number>
  | { type: 'record'; sender: string; seq: number }
  | Ask<{ type: 'log' }, Array<{ sender: string; seq: number }>>
  | Ask<{ type: 'echo'; value: unknown }, unknown>
  | Ask<{ type: 'throw'; message: string }, never>
  | { type: 'exit'; code: number }
  | { type: 'throwLater'; message: string }
  | Ask<{ type: 'badReply' }, unknown>
  | Ask<{ type: 'sum'; data: SharedArrayBuffer }, number>
  | Ask<{ type: 'byteLength'; data: ArrayBuffer }, number>
  | { type: 'report'; to: ActorRef<CounterEvent> }
  | { type: 'tickEvery'; ms: number; to: ActorRef<CounterEvent> }
  | Ask<{ type: 'self' }, ActorRef<CounterProtocol>>
  | Ask<{ type: 'hang' }, never>
  | { type: 'stopSelf' }
  | Ask<{ type: 'constructions' }, number>
  | { type: 'sendRecords'; to: ActorRef<CounterProtocol>; sender: string; count: number }
  | Ask<{ type: 'threadId' }, number>
  | Ask<{ type: 'where' }, Whereabouts>
  | Ask<{ type: 'askOther'; to: ActorRef<CounterProtocol>; msg: CounterProtocol; timeoutMs: number }, string>
  /** Keeps `to` for later `askKept` asks (a ref held across its target's restart). */
  | { type: 'keep'; to: ActorRef<CounterProtocol> }
  | Ask<{ type: 'askKept'; msg: CounterProtocol; timeoutMs: number }, string>;

/** A counter actor with test helpers. */
export default class CounterActor extends Actor<CounterProtocol, CounterInit | undefined> {
  #count: number;
  readonly #log: Array<{ sender: string; seq: number }> = [];
  readonly #constructions: number;
  #kept: ActorRef<CounterProtocol> | null = null;

  constructor(init: CounterInit | undefined) {
    super(init);
    this.#count = init?.start ?? 0;
    const here = (constructionsHere.get(this.context.name) ?? 0) + 1;
    constructionsHere.set(this.context.name, here);
    this.#constructions = init?.constructions ? Atomics.add(new Int32Array(init.constructions), 0, 1) + 1 : here;
    if (init?.failOnRestart && this.#constructions > 1) throw new Error(`construction ${this.#constructions} refused`);
  }

  readonly handlers: Handlers<CounterProtocol> = {
    inc: ({ by }) => {
      this.#count += by;
    },
    get: () => this.#count,
    slowInc: async ({ by, ms }) => {
      const before = this.#count;
      await new Promise((resolve) => setTimeout(resolve, ms));
      this.#count = before + by;
      return this.#count;
    },
    record: ({ sender, seq }) => {
      this.#log.push({ sender, seq });
      if (this.init?.countInto) Atomics.add(new Int32Array(this.init.countInto), 0, 1);
      if (this.init?.countIntoFile) appendFileSync(this.init.countIntoFile, `${sender} ${seq}\n`);
    },
    sendRecords: ({ to, sender, count }) => {
      for (let seq = 0; seq < count; seq++) to.tell({ type: 'record', sender, seq });
    },
    threadId: () => threadId,
    where: () => ({ pid: process.pid, threadId, placement: this.context.placement, argv: process.argv.slice(2) }),
    askOther: async ({ to, msg, timeoutMs }) => {
      try {
        return `resolved ${JSON.stringify(await to.ask(msg, { timeoutMs }))}`;
      } catch (error) {
        const cause = (error as Error).cause;
        return `rejected ${(error as Error).name}${cause instanceof Error ? ` (${cause.name})` : ''}`;
      }
    },
    keep: ({ to }) => {
      this.#kept = to;
    },
    askKept: async ({ msg, timeoutMs }) => {
      if (this.#kept === null) return 'nothing kept';
      try {
        return `resolved ${JSON.stringify(await this.#kept.ask(msg, { timeoutMs }))}`;
      } catch (error) {
        return `rejected ${(error as Error).name}`;
      }
    },
    log: () => this.#log,
    echo: ({ value }) => value,
    throw: ({ message }) => {
      throw new Error(message);
    },
    exit: ({ code }) => process.exit(code),
    throwLater: ({ message }) => {
      setTimeout(() => {
        throw new Error(message);
      }, 1);
    },
    badReply: () => () => 'functions cannot be cloned',
    sum: ({ data }) => new Int32Array(data).reduce((a, b) => a + b, 0),
    byteLength: ({ data }) => data.byteLength,
    report: ({ to }) => to.tell({ type: 'value', count: this.#count }),
    tickEvery: ({ ms, to }) => {
      this.context.setInterval(() => to.tell({ type: 'tick', at: this.context.now() }), ms);
    },
    self: () => this.context.self,
    hang: () => {
      if (this.init?.hangLog) appendFileSync(this.init.hangLog, 'hang\n');
      return new Promise<never>(() => {});
    },
    stopSelf: () => this.context.stop(),
    constructions: () => this.#constructions,
  };

  override onStop(): void {
    this.init?.watcher?.tell({ type: 'stopping', count: this.#count });
  }
}
