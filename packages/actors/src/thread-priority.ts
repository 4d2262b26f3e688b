/**
 * OS scheduling priority of the calling thread (main or worker). Linux gives each thread its own
 * nice value, reachable through its thread id, which a thread learns from /proc/thread-self.
 * Elsewhere (or without /proc) the call changes nothing and says so.
 *
 * NOTE: lowering a thread's priority (a positive nice) needs no privilege; raising it does.
 * A latency-sensitive thread sharing few cores with throughput work (a decode loop beside
 * back-to-back prefills) keeps its core when the throughput thread is the one niced.
 */
import { readlinkSync } from 'node:fs';
import { getPriority, setPriority } from 'node:os';
import { InvalidActorOptionsError } from './errors.js';

/** Linux nice values: -20 (highest priority) to 19 (lowest). */
const NICE_MIN = -20;
const NICE_MAX = 19;

/** The calling thread's kernel thread id, or null where threads have no nice of their own. */
function threadId(): number | null {
  if (process.platform !== 'linux') return null;
  try {
    const id = Number(readlinkSync('/proc/thread-self').split('/').pop());
    return Number.isInteger(id) && id > 0 ? id : null;
  } catch {
    return null;
  }
}

/**
 * Sets the calling thread's nice value (Linux; only this thread, not its process). Returns the
 * value now in effect, or null where per-thread priorities are unavailable (other platforms, no
 * /proc, or a raise without privilege).
 * @throws {InvalidActorOptionsError} when `nice` is not an integer in [-20, 19].
 */
export function setThreadNice(nice: number): number | null {
  if (!Number.isInteger(nice) || nice < NICE_MIN || nice > NICE_MAX) {
    throw new InvalidActorOptionsError('nice', `must be an integer in [${NICE_MIN}, ${NICE_MAX}], got ${String(nice)}`);
  }
  const id = threadId();
  if (id === null) return null;
  try {
    setPriority(id, nice);
    return getPriority(id);
  } catch {
    return null;
  }
}
