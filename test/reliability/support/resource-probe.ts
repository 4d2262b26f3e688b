/**
 * Resource snapshots for the soak and overload tests: OS threads of this process (worker threads
 * add theirs), the kinds of active libuv resources, RSS and the V8 heap after a full GC.
 *
 * NOTE: `global.gc` is obtained at run time (v8.setFlagsFromString + a fresh context) because the
 * vitest worker processes are not started with --expose-gc and the root config is not ours to edit.
 */
import { readdirSync } from 'node:fs';
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';

/** What a snapshot holds. */
export interface ResourceSnapshot {
  /** OS threads of this process (/proc/self/task; null where /proc is absent). */
  threads: number | null;
  /** Active handles/requests by kind (process.getActiveResourcesInfo). */
  resources: Record<string, number>;
  rssBytes: number;
  heapUsedBytes: number;
}

setFlagsFromString('--expose-gc');
const gc = runInNewContext('gc') as () => void;

/** Runs full garbage collections (twice, so weakly held garbage of the first pass goes too). */
export async function collectGarbage(): Promise<void> {
  for (let i = 0; i < 2; i++) {
    gc();
    await new Promise((r) => setImmediate(r));
  }
}

/** Counts this process's OS threads. */
export function threadCount(): number | null {
  try {
    return readdirSync('/proc/self/task').length;
  } catch {
    return null;
  }
}

/** Active libuv resources by kind. */
export function activeResources(): Record<string, number> {
  const out: Record<string, number> = {};
  for (const kind of process.getActiveResourcesInfo()) out[kind] = (out[kind] ?? 0) + 1;
  return out;
}

/** Takes a snapshot after a full GC. */
export async function snapshot(): Promise<ResourceSnapshot> {
  await collectGarbage();
  const mem = process.memoryUsage();
  return { threads: threadCount(), resources: activeResources(), rssBytes: mem.rss, heapUsedBytes: mem.heapUsed };
}

/** Resource kinds that `after` holds more of than `before` (empty when none leaked). */
export function extraResources(before: Record<string, number>, after: Record<string, number>): Record<string, number> {
  const out: Record<string, number> = {};
  for (const [kind, n] of Object.entries(after)) if (n > (before[kind] ?? 0)) out[kind] = n - (before[kind] ?? 0);
  return out;
}

/**
 * Polls `take` until `settled` accepts a snapshot, or `timeoutMs` passes; returns the last one.
 * Threads and handles go away asynchronously after close, so a single look would be flaky.
 */
export async function settle(settled: (s: ResourceSnapshot) => boolean, timeoutMs = 5_000): Promise<ResourceSnapshot> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const s = await snapshot();
    if (settled(s) || Date.now() > deadline) return s;
    await new Promise((r) => setTimeout(r, 50));
  }
}

/** Bytes as MiB with one decimal. */
export function mib(bytes: number): string {
  return (bytes / 2 ** 20).toFixed(1);
}
