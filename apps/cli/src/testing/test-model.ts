/**
 * The model the CLI tests run: the small built-in `baton-tiny` (4 layers x 256, byte vocabulary,
 * seeded weights), whatever the default model is, so the tests stay fast and can rely on a
 * 256-entry byte vocabulary. Test support: only the tests import it.
 */

/** Model of the CLI tests. */
export const TEST_MODEL = 'baton-tiny';

const TAKES_MODEL = new Set(['generate', 'logits', 'demo', 'serve']);

/** `args` with `--model baton-tiny` after the command name, unless it names a model already. */
export function withTestModel(args: readonly string[]): string[] {
  const [command, ...rest] = args;
  if (command === undefined || !TAKES_MODEL.has(command) || rest.includes('--model') || rest.includes('--help')) return [...args];
  return [command, '--model', TEST_MODEL, ...rest];
}
