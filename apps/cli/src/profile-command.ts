/**
 * `baton profile --model M --backend B [--out FILE] [--quick]`: measures this machine's step times
 * for a model (prefill by chunk length and cached prefix, decode by batch size and context, the KV
 * handoff load, a thread hop, the scheduler's decision time) and writes the profile JSON that
 * `baton plan` and the simulator read. Progress goes to stderr.
 */
import { writeFileSync } from 'node:fs';
import { parseArgs } from 'node:util';
import { parseBackendName } from '@baton/model';
import { measureProfile } from '@baton/sim';
import { CliError } from './cli-error.js';
import { withSimErrors } from './with-sim-errors.js';

/** One-line usage of the command. */
export const PROFILE_USAGE = 'baton profile --model NAME|DIR|baton-LxW --backend wasm|cpu|webgpu|tensorflow [--out FILE] [--quick]';

/** Runs the profile command; returns the profile JSON (also written to --out when given). */
export function profileCommand(args: string[]): Promise<string> {
  return withSimErrors(() => run(args));
}

async function run(args: string[]): Promise<string> {
  const { values } = parseArgs({
    args,
    options: { model: { type: 'string' }, backend: { type: 'string' }, out: { type: 'string' }, quick: { type: 'boolean' } },
    strict: true,
    allowPositionals: false,
  });
  if (values.model === undefined) throw new CliError('--model: required (a built-in name, a checkpoint directory, or baton-LxW)');
  if (values.backend === undefined) throw new CliError('--backend: required (wasm, cpu, webgpu or tensorflow)');
  const backend = parseBackendName(values.backend, '--backend');
  const profile = await measureProfile({
    model: values.model,
    backend,
    quick: values.quick === true,
    onProgress: (line) => process.stderr.write(`profile: ${line}\n`),
  });
  const json = JSON.stringify(profile, null, 1);
  if (values.out !== undefined) {
    try {
      writeFileSync(values.out, json + '\n');
    } catch (e) {
      throw new CliError(`--out: cannot write ${values.out}: ${(e as Error).message}`);
    }
    return `wrote ${values.out}`;
  }
  return json;
}
