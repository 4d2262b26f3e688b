/**
 * Test support: child processes that print a ready line, and their cleanup.
 * `startChild` resolves once a stdout line matches `ready`; `stopAll` kills what is left (SIGKILL
 * after a grace period) and waits for every exit, so no process outlives a test; any still
 * running when this process exits is killed then.
 */
import { spawn, type ChildProcess } from 'node:child_process';

const children = new Set<ChildProcess>();
// NOTE: should a test's cleanup never run (a hook timed out, the test runner ends the process),
// nothing it started outlives it.
process.once('exit', () => {
  for (const child of children) child.kill('SIGKILL');
});

/** Spawns `node args…` and waits for its ready line (rejects if it exits first). */
export async function startChild(args: readonly string[], ready: RegExp, env?: NodeJS.ProcessEnv): Promise<ChildProcess> {
  const child = spawn(process.execPath, [...args], { stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, ...env } });
  children.add(child);
  child.once('exit', () => children.delete(child));
  let out = '';
  let err = '';
  child.stderr?.on('data', (chunk: Buffer) => (err += chunk.toString()));
  await new Promise<void>((resolve, reject) => {
    const onData = (chunk: Buffer): void => {
      out += chunk.toString();
      if (ready.test(out)) resolve();
    };
    child.stdout?.on('data', onData);
    child.once('exit', (code, signal) => reject(new Error(`child ${args.join(' ')} exited (${String(code ?? signal)}) before ready:\n${out}\n${err}`)));
  });
  return child;
}

/** Resolves when `child` has exited. */
export function exited(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return Promise.resolve();
  return new Promise((resolve) => child.once('exit', () => resolve()));
}

/** Ends every child still running (SIGTERM, then SIGKILL after `graceMs`). */
export async function stopAll(graceMs = 3_000): Promise<void> {
  await Promise.all([...children].map(async (child) => {
    if (child.exitCode !== null || child.signalCode !== null) return;
    if (child.signalCode === null) child.kill('SIGCONT');
    child.kill('SIGTERM');
    const timer = setTimeout(() => child.kill('SIGKILL'), graceMs);
    await exited(child);
    clearTimeout(timer);
  }));
}
