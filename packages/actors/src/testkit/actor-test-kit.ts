/**
 * `ActorTestKit`: runs actor classes in the test's own thread, with a manual clock and probes.
 * The actor code is the same that runs in workers (same `Endpoint`, same `ActorCell`); only the
 * links are in-thread. Crashes are recorded, not supervised: call `restart()` to model one.
 */
import { ActorCell } from '../actor-cell.js';
import { ActorRef } from '../actor-ref.js';
import type { ActorClass } from '../actor.js';
import { Endpoint } from '../endpoint.js';
import { ActorError } from '../errors.js';
import type { Message } from '../message.js';
import type { DeadLetter, EndpointState, MailboxOptions, Placement, Reconnect } from '../protocol.js';
import type { RefResolver } from '../reconnecting-link.js';
import { inFlight, LocalLink } from './local-link.js';
import { ManualClock } from './manual-clock.js';
import { TestProbe } from './test-probe.js';

/** Options of `ActorTestKit.spawn`. */
export interface TestSpawnOptions<Init> {
  readonly name?: string;
  readonly init?: Init;
  readonly mailbox?: Partial<MailboxOptions>;
  /**
   * The placement the actor will be deployed with (default 'thread'). The actor still runs in
   * the test's thread; messages to it are checked as that placement would (with 'process', a
   * SharedArrayBuffer is a `MessageNotCloneableError`), and `context.placement` reports it.
   */
  readonly placement?: Placement;
}

/** An actor running inside the test kit. */
export interface TestActor<P extends Message> {
  readonly ref: ActorRef<P>;
  readonly name: string;
  readonly state: EndpointState;
  /** Graceful stop (drain, `onStop`). */
  stop(): Promise<void>;
  /** Constructs the actor again with the same init (after a crash, as a supervisor would). */
  restart(): Promise<void>;
}

/** A crash recorded by the kit. */
export interface RecordedCrash {
  readonly name: string;
  readonly cause: unknown;
}

const SETTLE_LIMIT_MS = 1_000;

/** In-thread harness for actor unit tests. */
export class ActorTestKit {
  /** The clock every actor of this kit uses: time moves only on `clock.advance(ms)`. */
  readonly clock = new ManualClock();
  /** Tells that could not be delivered. */
  readonly deadLetters: DeadLetter[] = [];
  /** Crashes (handler, timer job) in order. */
  readonly crashes: RecordedCrash[] = [];
  readonly #endpoints = new Set<Endpoint>();
  #nextId = 1;

  readonly #resolver: RefResolver = {
    reconnect: async (): Promise<Reconnect> => ({ kind: 'stopped' }),
    locate: async (): Promise<Reconnect> => ({ kind: 'stopped' }),
    deadLetter: (letter: DeadLetter) => void this.deadLetters.push(letter),
  };

  /** Constructs `actorClass` in this thread and runs `onStart`; rejects with what they throw. */
  async spawn<P extends Message, Init>(actorClass: ActorClass<P, Init>, options?: TestSpawnOptions<Init>): Promise<TestActor<P>> {
    const id = `test-actor-${this.#nextId++}`;
    const name = options?.name ?? `${actorClass.name}-${id}`;
    const endpoint: Endpoint = new Endpoint({
      id,
      name,
      incarnation: 1,
      mailbox: { capacity: options?.mailbox?.capacity ?? 10_000, overflow: options?.mailbox?.overflow ?? 'reject' },
      resolver: this.#resolver,
      local: true,
      onCrash: (cause) => void this.crashes.push({ name, cause }),
    });
    const placement = options?.placement ?? 'thread';
    const ref = new ActorRef<P>(new LocalLink(id, name, endpoint, placement));
    const start = async (): Promise<void> => {
      const cell = new ActorCell({
        actorClass: actorClass as unknown as ActorClass,
        init: options?.init,
        endpoint,
        self: ref as unknown as ActorRef,
        clock: this.clock,
        placement,
        requestStop: () => void endpoint.stop(),
      });
      await cell.start();
      endpoint.start(cell);
    };
    await start();
    this.#endpoints.add(endpoint);
    return {
      ref,
      name,
      get state() {
        return endpoint.state;
      },
      stop: async () => void (await endpoint.stop()),
      restart: async () => {
        if (endpoint.state !== 'down') throw new ActorError('NOT_CRASHED', `actor '${name}' is ${endpoint.state}, not down`);
        await start();
      },
    };
  }

  /** A recording ref. */
  probe<P extends Message = Message>(name = `probe-${this.#nextId++}`): TestProbe<P> {
    return new TestProbe<P>(name, () => this.settle());
  }

  /** Waits until no delivery is queued and every actor is idle (bounded by 1 s of real time). */
  async settle(): Promise<void> {
    const deadline = Date.now() + SETTLE_LIMIT_MS;
    do {
      await new Promise<void>((resolve) => setImmediate(resolve));
    } while ((inFlight.count > 0 || [...this.#endpoints].some((e) => !e.idle)) && Date.now() < deadline);
  }

  /** Stops every actor of the kit (ports are not involved, so nothing else remains). */
  async shutdown(): Promise<void> {
    for (const endpoint of this.#endpoints) endpoint.kill();
    this.#endpoints.clear();
  }
}
