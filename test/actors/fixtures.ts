/**
 * Shared helpers of the cross-thread and cross-process actor tests: fixture module URLs (compiled,
 * in dist/), the placements every behaviour test runs in, and a system factory that records
 * events and is always shut down.
 */
import { afterEach } from 'vitest';
import { ActorSystem, ProcessExitedError, WorkerExitedError, type ActorSystemEvents, type Placement } from '@baton/actors';

const dist = new URL('../../packages/actors/dist/testing/', import.meta.url);

/** Compiled fixture modules. */
export const COUNTER = new URL('counter-actor.js', dist);
export const FAULTY = new URL('faulty-actors.js', dist);
export const SQUARE = new URL('square-task.js', dist);
/** A program that starts one actor process, prints its pid and waits. */
export const ORPHAN_PARENT = new URL('orphan-parent.js', dist);

/** Every event a system emitted, by name. */
export type EventLog = { [K in keyof ActorSystemEvents]: ActorSystemEvents[K][0][] };

const systems: ActorSystem[] = [];

afterEach(async () => {
  await Promise.all(systems.splice(0).map((system) => system.shutdown({ timeoutMs: 500 })));
});

/** A new system (shut down after the test) and the log of its events. */
export function newSystem(): { system: ActorSystem; events: EventLog } {
  const system = new ActorSystem();
  systems.push(system);
  const events: EventLog = {
    started: [],
    restarted: [],
    crashed: [],
    stopped: [],
    escalated: [],
    deadLetter: [],
    workerStarted: [],
    workerExited: [],
    processStarted: [],
    processExited: [],
  };
  for (const name of Object.keys(events) as (keyof EventLog)[]) {
    // NOTE: one recorder for every event name; eventemitter3's per-name typing cannot express it.
    system.events.on(name, ((event: unknown) => (events[name] as unknown[]).push(event)) as never);
  }
  return { system, events };
}

/** Polls a condition until it holds (shared with the other cross-thread tests). */
export { eventually } from '../support/eventually.js';

/** Every placement; behaviour suites run once per placement (`describe.each(PLACEMENTS)`). */
export const PLACEMENTS: readonly Placement[] = ['thread', 'process'];

/** How many hosts (worker threads or actor processes) of `placement` a system started / ended. */
export function hostCounts(events: EventLog, placement: Placement): { started: number; exited: number } {
  return placement === 'thread'
    ? { started: events.workerStarted.length, exited: events.workerExited.length }
    : { started: events.processStarted.length, exited: events.processExited.length };
}

/** The error class that is the cause when a host of `placement` ends unexpectedly. */
export function hostExitError(placement: Placement): typeof WorkerExitedError | typeof ProcessExitedError {
  return placement === 'thread' ? WorkerExitedError : ProcessExitedError;
}

export { pidAlive } from '../support/processes.js';
