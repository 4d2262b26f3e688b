#!/usr/bin/env node
/**
 * The baton command line: dispatches `baton <command> ...` to one file per command. A command's
 * module is imported only when the command runs, and help pages are plain data, so `baton --help`
 * and `baton <command> --help` print at once without loading TensorFlow.js. Errors print one line
 * (naming the argument) to stderr and exit with status 1; unknown commands print usage.
 *
 * To add a command: one entry in COMMANDS (a summary, a help page or a usage loader, and `load`).
 */
import { formatHelp, usageLine, type CommandHelp } from './command-help.js';
import { DEMO_HELP, GENERATE_HELP, LOGITS_HELP, SERVE_HELP } from './help-pages.js';

/** A command prints through `write` and returns its last output, or an exit status of its own. */
type Command = (args: string[], write: (text: string) => void) => Promise<string | { exitCode: number }>;

/** A registered command: what help shows without loading it, and how to load it. */
interface CommandEntry {
  /** One line for `baton --help`. */
  summary: string;
  /** Its `--help` page; without one, `--help` prints `usage()`, or else goes to the command. */
  help?: CommandHelp;
  /** Loads the command's usage text (for a command without a help page). */
  usage?: () => Promise<string>;
  /** Loads the command. */
  load: () => Promise<Command>;
}

/** Registered commands, in the order `baton --help` lists them. */
const COMMANDS: Record<string, CommandEntry> = {
  generate: { summary: GENERATE_HELP.summary, help: GENERATE_HELP, load: async () => (await import('./generate-command.js')).generateCommand },
  logits: {
    summary: LOGITS_HELP.summary,
    help: LOGITS_HELP,
    load: async () => {
      const { logitsCommand } = await import('./logits-command.js');
      return (args) => logitsCommand(args);
    },
  },
  demo: {
    summary: DEMO_HELP.summary,
    help: DEMO_HELP,
    load: async () => {
      const { demoCommand } = await import('./demo-command.js');
      return (args, write) => demoCommand(args, write);
    },
  },
  serve: { summary: SERVE_HELP.summary, help: SERVE_HELP, load: async () => (await import('./serve-command.js')).serveCommand },
  worker: { summary: 'start prefill or decode workers that register with a cluster through NATS', usage: async () => (await import('./worker-command.js')).WORKER_USAGE, load: async () => (await import('./worker-command.js')).workerCommand },
  train: {
    summary: 'train a GPT-2-architecture model (AdamW, held-out eval, resumable checkpoints)',
    usage: async () => (await import('./train-command.js')).TRAIN_USAGE,
    load: async () => {
      const { trainCommand } = await import('./train-command.js');
      return (args) => trainCommand(args);
    },
  },
  profile: {
    summary: "measure this machine's step times for a model (the profile `baton plan` reads)",
    usage: async () => (await import('./profile-command.js')).PROFILE_USAGE,
    load: async () => {
      const { profileCommand } = await import('./profile-command.js');
      return (args) => profileCommand(args);
    },
  },
  plan: {
    summary: 'choose a deployment (mode, actor counts) for an SLO and N devices from a profile',
    usage: async () => (await import('./plan-command.js')).PLAN_USAGE,
    load: async () => {
      const { planCommand } = await import('./plan-command.js');
      return (args) => planCommand(args);
    },
  },
  // NOTE: bench prints its own --help, reports its own errors (exit 2 for bad arguments) and
  // returns its status.
  bench: {
    summary: 'compare engine modes on one workload: goodput, SLO attainment, latency, charts',
    load: async () => {
      const { benchCommand } = await import('@baton/bench');
      return async (args) => ({ exitCode: await benchCommand(args) });
    },
  },
};

function usage(): string {
  const width = Math.max(...Object.keys(COMMANDS).map((n) => n.length)) + 2;
  return [
    'usage: baton <command> [options]',
    '',
    'commands:',
    ...Object.entries(COMMANDS).map(([name, c]) => `  ${name.padEnd(width)}${c.summary}`),
    '',
    '`baton <command> --help` lists every option of a command and its default.',
  ].join('\n');
}

/** The help of one command, or null when the command prints its own. */
async function helpOf(entry: CommandEntry): Promise<string | null> {
  if (entry.help !== undefined) return formatHelp(entry.help);
  if (entry.usage !== undefined) return `usage: ${(await entry.usage()).replace(/^usage: /, '')}\n`;
  return null;
}

/** One line for an error: the message of an expected error, else the stack. */
async function errorLine(e: unknown): Promise<string> {
  // NOTE: loaded here, not at the top: by now the command has loaded these packages anyway.
  const [{ CliError }, { ModelError }, { EngineError }] = await Promise.all([import('./cli-error.js'), import('@baton/model'), import('@baton/engine')]);
  if (e instanceof CliError || e instanceof ModelError || e instanceof EngineError) return e.message;
  const code = (e as { code?: unknown }).code;
  // node:util parseArgs errors (unknown option, missing value) carry ERR_PARSE_ARGS_* codes.
  if (typeof code === 'string' && code.startsWith('ERR_PARSE_ARGS')) return (e as Error).message;
  return `unexpected error: ${(e as Error)?.stack ?? String(e)}`;
}

/** Runs the CLI with argv (without node and script); returns the exit status. */
export async function main(argv: string[]): Promise<number> {
  const [first, ...rest] = argv;
  if (first === undefined || first === '--help' || first === '-h') {
    process.stdout.write(usage() + '\n');
    return first === undefined ? 1 : 0;
  }
  // `baton help <command>` is `baton <command> --help`.
  const [name, args] = first === 'help' ? [rest[0], rest[0] === undefined ? [] : ['--help']] : [first, rest];
  if (name === undefined) {
    process.stdout.write(usage() + '\n');
    return 0;
  }
  const command = COMMANDS[name];
  if (command === undefined) {
    process.stderr.write(`baton: unknown command "${name}"\n${usage()}\n`);
    return 1;
  }
  if (args.includes('--help') || args.includes('-h')) {
    const help = await helpOf(command);
    if (help !== null) {
      process.stdout.write(help);
      return 0;
    }
  }
  try {
    const run = await command.load();
    const out = await run(args, (text) => process.stdout.write(text));
    if (typeof out !== 'string') return out.exitCode;
    if (out !== '') process.stdout.write(out.endsWith('\n') ? out : out + '\n');
    return 0;
  } catch (e) {
    process.stderr.write(`baton ${name}: ${(await errorLine(e)).split('\n')[0]}\n`);
    return 1;
  }
}

process.exitCode = await main(process.argv.slice(2));
