/**
 * HealthMonitor: heartbeats to every serving actor. Each tick it asks every actor that has no
 * heartbeat in flight for its stats; the engine also reports each actor's output as it arrives
 * (`alive`). An actor that has neither answered nor sent anything for `unhealthyAfterMs` is
 * declared down (it gets no new work and its requests resume elsewhere), one that answers again is
 * declared up, and one still down after `restartAfterMs` is handed to `restart` (once per outage).
 * The last stats each actor sent are kept, so `engine.stats()` never waits on a frozen actor.
 *
 * Invariants: at most one heartbeat per actor is in flight; `onDown` and `onUp` alternate per
 * actor, starting with `onDown`; nothing here blocks: every callback runs from a timer or a reply.
 */
import type { ActorRef } from '@baton/actors';
import type { ServingActorStats } from './protocol.js';
import type { StatsProtocol } from './topology.js';

/** Heartbeat timing (engine option `health`). */
export interface HealthOptions {
  /** Heartbeat period, ms. */
  intervalMs: number;
  /** An actor silent this long is declared unhealthy, ms. */
  unhealthyAfterMs: number;
  /** An actor unhealthy this long is restarted (its thread or process ended, so its supervisor starts a new one), ms. */
  restartAfterMs: number;
}

/** What the monitor tells the engine. */
export interface HealthEvents {
  onDown(actor: string, silentMs: number): void;
  onUp(actor: string): void;
  /** `actor` has been silent for `silentMs`, past `restartAfterMs` of its outage. */
  restart(actor: string, silentMs: number): void;
}

interface Beat {
  ref: ActorRef<StatsProtocol>;
  lastAnswerMs: number;
  inFlight: boolean;
  down: boolean;
  downSinceMs: number;
  restarted: boolean;
  last: ServingActorStats | null;
}

/** Heartbeats over a set of serving actors. */
export class HealthMonitor {
  readonly #beats = new Map<string, Beat>();
  #timer: NodeJS.Timeout | null = null;

  constructor(
    refs: readonly ActorRef<StatsProtocol>[],
    private readonly options: HealthOptions,
    private readonly events: HealthEvents,
    private readonly now: () => number,
  ) {
    const t = now();
    for (const ref of refs) this.#beats.set(ref.name, { ref, lastAnswerMs: t, inFlight: false, down: false, downSinceMs: 0, restarted: false, last: null });
  }

  /** Watches one more actor (an elastic instance spawned while serving). */
  watch(ref: ActorRef<StatsProtocol>): void {
    this.#beats.set(ref.name, { ref, lastAnswerMs: this.now(), inFlight: false, down: false, downSinceMs: 0, restarted: false, last: null });
  }

  /** Stops watching `actor` (it was stopped on purpose). */
  forget(actor: string): void {
    this.#beats.delete(actor);
  }

  /** Starts the heartbeats (unref'd: an idle engine does not keep the process alive). */
  start(): void {
    this.#timer = setInterval(() => this.#tick(), this.options.intervalMs);
    this.#timer.unref();
  }

  stop(): void {
    if (this.#timer !== null) clearInterval(this.#timer);
    this.#timer = null;
  }

  /** True while `actor` is declared unhealthy. */
  isDown(actor: string): boolean {
    return this.#beats.get(actor)?.down ?? false;
  }

  /** The latest stats `actor` sent, or null before its first answer. */
  lastStats(actor: string): ServingActorStats | null {
    return this.#beats.get(actor)?.last ?? null;
  }

  /**
   * `actor`'s output arrived: as good as a heartbeat answer (an actor busy on a loaded machine may
   * answer heartbeats late; a frozen one sends nothing). Ends its outage if it had one.
   */
  alive(actor: string): void {
    const b = this.#beats.get(actor);
    if (b !== undefined) this.#answered(actor, b);
  }

  /**
   * A crashed actor was restarted: it starts a fresh record (its outage, if any, ends with its next
   * answer). NOTE: the outage clock restarts too, or the new incarnation — still loading its model
   * — would be ended again at the next tick for its predecessor's silence.
   */
  restarted(actor: string): void {
    const b = this.#beats.get(actor);
    if (b === undefined) return;
    b.lastAnswerMs = this.now();
    b.downSinceMs = b.lastAnswerMs;
    b.restarted = false;
  }

  #tick(): void {
    const t = this.now();
    for (const [name, b] of this.#beats) {
      const silent = t - b.lastAnswerMs;
      if (!b.down && silent > this.options.unhealthyAfterMs) {
        b.down = true;
        b.downSinceMs = t;
        this.events.onDown(name, silent);
      }
      if (b.down && !b.restarted && t - b.downSinceMs > this.options.restartAfterMs) {
        b.restarted = true;
        this.events.restart(name, silent);
      }
      if (!b.inFlight) this.#beat(name, b);
    }
  }

  #answered(name: string, b: Beat): void {
    b.lastAnswerMs = this.now();
    if (!b.down) return;
    b.down = false;
    b.restarted = false;
    this.events.onUp(name);
  }

  #beat(name: string, b: Beat): void {
    b.inFlight = true;
    b.ref.ask({ type: 'stats' }, { timeoutMs: this.options.unhealthyAfterMs + this.options.restartAfterMs }).then(
      (stats) => {
        b.inFlight = false;
        b.last = stats;
        this.#answered(name, b);
      },
      () => {
        b.inFlight = false;
      },
    );
  }
}
