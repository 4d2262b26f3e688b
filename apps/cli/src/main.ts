#!/usr/bin/env node
/**
 * The baton command line: dispatches `baton <command> ...` to one file per command. Errors print
 * one line (naming the argument) to stderr and exit with status 1; unknown commands print usage.
 */
import { EngineError } from '@baton/engine';
import { ModelError } from '@baton/model';
import { CliError } from './cli-error.js';
import { DEMO_USAGE, demoCommand } from './demo-command.js';
import { GENERATE_USAGE, generateCommand } from './generate-command.js';
import { LOGITS_USAGE, logitsCommand } from './logits-command.js';
import { SERVE_USAGE, serveCommand } from './serve-command.js';
import { BENCH_USAGE, benchCommand } from '@baton/bench';

/** A command prints through `write` and returns its last output, or an exit status of its own. */
type Command = (args: string[], write: (text: string) => void) => Promise<string | { exitCode: number }>;

/** Registered commands. */
const COMMANDS: Record<string, { usage: string; run: Command }> = {
  logits: { usage: LOGITS_USAGE, run: (args) => logitsCommand(args) },
  generate: { usage: GENERATE_USAGE, run: generateCommand },
  demo: { usage: DEMO_USAGE, run: (args, write) => demoCommand(args, write) },
  serve: { usage: SERVE_USAGE, run: serveCommand },
  // NOTE: bench reports its own errors (exit 2 for bad arguments) and returns its status.
  bench: { usage: BENCH_USAGE.split('\n')[0].replace(/^usage: /, ''), run: async (args) => ({ exitCode: await benchCommand(args) }) },
};

function usage(): string {
  return ['usage:', ...Object.values(COMMANDS).map((c) => `  ${c.usage}`)].join('\n');
}

function errorLine(e: unknown): string {
  if (e instanceof CliError || e instanceof ModelError || e instanceof EngineError) return e.message;
  const code = (e as { code?: unknown }).code;
  // node:util parseArgs errors (unknown option, missing value) carry ERR_PARSE_ARGS_* codes.
  if (typeof code === 'string' && code.startsWith('ERR_PARSE_ARGS')) return (e as Error).message;
  return `unexpected error: ${(e as Error)?.stack ?? String(e)}`;
}

/** Runs the CLI with argv (without node and script); returns the exit status. */
export async function main(argv: string[]): Promise<number> {
  const [name, ...args] = argv;
  if (name === undefined || name === '--help' || name === '-h' || name === 'help') {
    process.stdout.write(usage() + '\n');
    return name === undefined ? 1 : 0;
  }
  const command = COMMANDS[name];
  if (command === undefined) {
    process.stderr.write(`baton: unknown command "${name}"\n${usage()}\n`);
    return 1;
  }
  try {
    const out = await command.run(args, (text) => process.stdout.write(text));
    if (typeof out !== 'string') return out.exitCode;
    if (out !== '') process.stdout.write(out.endsWith('\n') ? out : out + '\n');
    return 0;
  } catch (e) {
    process.stderr.write(`baton ${name}: ${errorLine(e).split('\n')[0]}\n`);
    return 1;
  }
}

process.exitCode = await main(process.argv.slice(2));
