/**
 * `pidAlive`: whether an OS process still exists, for the cross-process tests that check a killed
 * actor process is gone, a restarted one is up, and nothing is left after close.
 */

/** True while a process with this pid exists (signal 0 probes without sending anything). */
export function pidAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}
