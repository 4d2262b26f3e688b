/**
 * `baton demo [--mode M] [--prefill P] [--decode D] [--colocated N] [--requests N] [--max-tokens N]
 * [--backend B]`: the `npm start` show. Runs the engine on the built-in tiny GPT, streams a mixed
 * workload with live per-actor progress (redrawn in place on a TTY, periodic plain lines
 * otherwise), then prints the summary. Invariants: the engine is closed on every path (no thread
 * is left, the process exits by itself); Ctrl-C aborts the requests and still prints the summary.
 */
import { setMaxListeners } from 'node:events';
import { createEngine, type Engine } from '@baton/engine';
import { DEFAULT_MODEL, describeModel } from '@baton/model';
import { parseNumber } from './cli-error.js';
import { parseCommandArgs } from './command-args.js';
import { runDemoSession, type DemoSnapshot } from './demo-session.js';
import { demoWorkload } from './demo-workload.js';
import { ENGINE_OPTIONS, engineOptionsFromFlags, parseMode } from './engine-flags.js';
import { LiveDisplay } from './live-display.js';
import { renderLiveFrame, renderPlainTick, renderRequestEnd } from './progress-view.js';
import { renderSummary } from './summary-table.js';

/** The flags the command parses (its help page is DEMO_HELP in help-pages.ts). */
export const DEMO_OPTIONS = { ...ENGINE_OPTIONS, backend: { type: 'string' }, requests: { type: 'string' }, 'max-tokens': { type: 'string' } } as const;

/** The terminal the demo draws on. */
export interface DemoTerminal {
  /** Redraw in place (ANSI) when true; plain periodic lines when false. */
  isTTY: boolean;
  columns: number | undefined;
}

const TTY_POLL_MS = 200;
const PLAIN_POLL_MS = 1000;

/** Runs the demo; live output goes to `write`; returns the summary. */
export async function demoCommand(args: string[], write: (text: string) => void, terminal: DemoTerminal = stdoutTerminal()): Promise<string> {
  const v = parseCommandArgs(DEMO_OPTIONS, args);
  const mode = parseMode(v.mode, 'disaggregated');
  const engineOptions = engineOptionsFromFlags(v, mode, { prefill: 2, decode: 2, colocated: 2 });
  const requests = parseNumber(v.requests, '--requests', { min: 1, max: 200, integer: true, fallback: 12 });
  const maxTokens = parseNumber(v['max-tokens'], '--max-tokens', { min: 1, max: 512, integer: true, fallback: 256 });
  const { config, tokenizer } = describeModel(DEFAULT_MODEL);
  const workload = demoWorkload({ requests, maxTokens, contextTokens: config.nPositions });
  const engine = await createEngine({ ...engineOptions, model: DEFAULT_MODEL });
  const abort = new AbortController();
  // NOTE: every request listens on the one signal; that is by design, not a leak.
  setMaxListeners(requests + 10, abort.signal);
  const onInterrupt = (): void => abort.abort();
  process.once('SIGINT', onInterrupt);
  const display = new LiveDisplay({ write, columns: terminal.columns });
  try {
    write(headerLine(engine, requests) + '\n');
    const outcome = await runDemoSession({
      engine,
      requests: workload,
      encode: (text) => tokenizer.encode(text),
      pollMs: terminal.isTTY ? TTY_POLL_MS : PLAIN_POLL_MS,
      signal: abort.signal,
      onFrame: (s: DemoSnapshot) =>
        terminal.isTTY ? display.redraw(renderLiveFrame(s, display.width)) : write(renderPlainTick(s).join('\n') + '\n'),
      onRequestEnd: terminal.isTTY ? undefined : (p, s) => write(renderRequestEnd(p, s) + '\n'),
    });
    display.close();
    return '\n' + renderSummary(outcome).join('\n') + '\n';
  } finally {
    display.close();
    process.removeListener('SIGINT', onInterrupt);
    await engine.close({ deadlineMs: 0 });
  }
}

function headerLine(engine: Engine, requests: number): string {
  const o = engine.options;
  const actors =
    o.mode === 'disaggregated' ? `${o.prefill} prefill + ${o.decode} decode actors, a scheduler and a length predictor`
    : o.mode === 'single' ? 'one actor, one request at a time'
    : `${o.colocated} ${o.mode} actors and a scheduler`;
  return `baton demo · ${o.mode}: ${actors} · ${o.model} on ${engine.backend} · ${requests} requests\n` +
    `(random weights: the output is byte soup; bytes that are not printable are shown as \\xNN)`;
}

function stdoutTerminal(): DemoTerminal {
  return { isTTY: process.stdout.isTTY === true, columns: process.stdout.columns };
}
