/**
 * The actor driven by the actors benchmark. As a driver it measures ask round trips and tell
 * floods against a target ref (another instance, in another worker thread or process), and the
 * bare-socket baseline against a server its target runs (so both run between the same processes).
 */
import type { Server } from 'node:net';
import { Actor } from '../actor.js';
import type { ActorRef } from '../actor-ref.js';
import type { Ask, Handlers } from '../message.js';
import { driveBare, serveBare, type BareResult } from './bare-socket.js';
import { summarizeLatency, type LatencySummary } from './bench-stats.js';

/** Protocol of `BenchActor`. */
export type BenchProtocol =
  | Ask<{ type: 'ping'; n: number }, number>
  | { type: 'hit'; n: number }
  | Ask<{ type: 'count' }, number>
  | Ask<{ type: 'pingPong'; target: ActorRef<BenchProtocol>; rounds: number }, LatencySummary>
  | Ask<{ type: 'flood'; target: ActorRef<BenchProtocol>; messages: number }, number>
  | Ask<{ type: 'bareServe' }, string>
  | Ask<{ type: 'bareDrive'; address: string; rounds: number; messages: number }, BareResult>;

/** Benchmark actor: a target (ping, hit, count) and a driver (pingPong, flood). */
export default class BenchActor extends Actor<BenchProtocol, undefined> {
  #hits = 0;
  #bare: Server | null = null;

  readonly handlers: Handlers<BenchProtocol> = {
    ping: ({ n }) => n,
    hit: () => {
      this.#hits++;
    },
    count: () => this.#hits,
    pingPong: async ({ target, rounds }) => {
      const durations: number[] = [];
      for (let i = 0; i < rounds; i++) {
        const start = performance.now();
        await target.ask({ type: 'ping', n: i });
        durations.push(performance.now() - start);
      }
      return summarizeLatency(durations);
    },
    flood: async ({ target, messages }) => {
      const before = await target.ask({ type: 'count' });
      const start = performance.now();
      for (let n = 0; n < messages; n++) target.tell({ type: 'hit', n });
      // NOTE: per-sender order means this ask is answered after every hit above was handled.
      const after = await target.ask({ type: 'count' });
      const elapsedMs = performance.now() - start;
      if (after - before !== messages) throw new Error(`flood: target counted ${after - before} of ${messages}`);
      return (messages / elapsedMs) * 1_000;
    },
    bareServe: async () => {
      const { address, server } = await serveBare();
      this.#bare = server;
      return address;
    },
    bareDrive: ({ address, rounds, messages }) => driveBare(address, rounds, messages),
  };

  override onStop(): void {
    this.#bare?.close();
  }
}
