/**
 * The error boundary of the commands built on the simulator and the bench (`baton plan`,
 * `baton profile`): their typed errors become one-line CLI errors, anything else passes through.
 * NOTE: its own file, not cli-error.ts, because it imports @baton/sim and @baton/bench, and
 * `baton --help` loads cli-error.ts (the help path must not load the model or the simulator).
 */
import { BenchError } from '@baton/bench';
import { SimError } from '@baton/sim';
import { CliError } from './cli-error.js';

/** Runs `run`, turning a SimError or BenchError into a CliError with the same message (main prints those). */
export async function withSimErrors<T>(run: () => Promise<T>): Promise<T> {
  try {
    return await run();
  } catch (e) {
    if (e instanceof SimError || e instanceof BenchError) throw new CliError(e.message);
    throw e;
  }
}
