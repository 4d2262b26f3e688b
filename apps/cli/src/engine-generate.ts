/**
 * The engine path of `baton generate`: one engine for every prompt, all submitted at once.
 * One prompt prints the plain path's JSON plus `mode`, `ttft_ms` and `tpot_ms` (or streams its
 * text, control bytes escaped, without --json); several prompts (--prompts-file) print one JSON object per line, in
 * completion order, each with `index`. Invariant: the engine is closed on every path, so the
 * process exits by itself.
 */
import { createEngine, type EngineOptionsInput, type FinishReason, type GenerationResult } from '@baton/engine';
import type { StopReason } from '@baton/model';
import { CliError } from './cli-error.js';
import { terminalText } from './escape-text.js';
import type { GenerateParams } from './generate-command.js';
import type { PromptItem } from './prompt-source.js';

/** What an engine-backed generate run needs. */
export interface EngineGenerateRun {
  prompts: PromptItem[];
  params: GenerateParams;
  engineOptions: EngineOptionsInput;
  /** `stream`: the one prompt's text as it comes; `json`: one object; `json-lines`: one per prompt, with `index`. */
  output: 'stream' | 'json' | 'json-lines';
  write: (text: string) => void;
}

/** The plain path's stop reasons, plus the engine-only endings. */
type EngineStopReason = StopReason | 'abort' | 'error';

const STOP_REASON: Record<FinishReason, EngineStopReason> = { length: 'max_tokens', stop: 'stop_id', abort: 'abort', error: 'error' };

/** Runs every prompt through one engine; returns what is left to print. */
export async function runEngineGenerate(run: EngineGenerateRun): Promise<string> {
  const { prompts, params } = run;
  const totalPromptTokens = prompts.reduce((n, p) => n + p.ids.length, 0);
  const engine = await createEngine({
    ...run.engineOptions,
    // NOTE: the CLI submits everything at once; the queue must hold it all rather than reject, however long it waits.
    queue: { maxRequests: Math.max(256, prompts.length), maxPromptTokens: Math.max(65_536, totalPromptTokens), maxWaitMs: null },
  });
  const shape = { mode: engine.options.mode, backend: engine.backend };
  try {
    const start = (p: PromptItem): ReturnType<typeof engine.generate> =>
      engine.generate({
        prompt: p.ids,
        maxTokens: params.maxTokens,
        temperature: params.temperature,
        topK: params.topK === 0 ? null : params.topK,
        topP: params.topP,
        seed: params.seed,
        ...(params.stopIds.length > 0 ? { stop: params.stopIds } : {}),
        id: `line-${p.index}`,
      });
    if (run.output === 'stream') {
      for await (const event of start(prompts[0])) run.write(terminalText(event.text));
      return '\n';
    }
    const failures: string[] = [];
    const done = prompts.map(async (p) => {
      const result = await start(p).result;
      if (result.error !== null) failures.push(`line ${p.index + 1}: ${result.error.message}`);
      const line = outputLine(p, result, shape);
      run.write(JSON.stringify(run.output === 'json' ? line : { index: p.index, ...line }) + '\n');
    });
    await Promise.all(done);
    if (failures.length > 0) throw new CliError(`${failures.length} of ${prompts.length} requests failed (first: ${failures[0]})`);
    return '';
  } finally {
    await engine.close({ deadlineMs: 0 });
  }
}

function outputLine(p: PromptItem, r: GenerationResult, shape: { mode: string; backend: string }): Record<string, unknown> {
  const m = r.metrics;
  return {
    ids: r.ids,
    text: r.text,
    backend: shape.backend,
    promptIds: p.ids,
    stopReason: STOP_REASON[r.finishReason],
    elapsedMs: Math.round((r.timing.finishMs ?? r.timing.arrivalMs) - r.timing.arrivalMs),
    mode: shape.mode,
    ttft_ms: round2(m.ttftMs),
    tpot_ms: round2(m.tpotMs),
    ...(r.error !== null ? { error: r.error.message } : {}),
  };
}

function round2(x: number | null): number | null {
  return x === null ? null : Math.round(x * 100) / 100;
}
