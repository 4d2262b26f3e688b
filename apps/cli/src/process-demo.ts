/**
 * The multi-process demo (`baton serve --processes --demo`, `npm run demo`): streams a small
 * mixed workload through a ProcessEngine, prints one progress line per serving OS process every
 * half second (pid, activity, steps, tokens, KV blocks), reports process exits and restarts, and
 * ends with a TTFT/TPOT summary. Invariant: it never leaves a request running (it awaits them all).
 */
import type { ProcessEngine } from '@baton/engine';

const POLL_MS = 500;

/** Runs the demo on `engine`; returns the summary text. */
export async function runProcessDemo(engine: ProcessEngine, o: { requests: number; write: (text: string) => void }): Promise<string> {
  const pids = new Map(engine.processes().map((p) => [p.name, p.pid]));
  o.write(`baton demo · multi-process: ${[...pids].map(([n, pid]) => `${n} (pid ${pid})`).join(', ')} · parent pid ${process.pid} runs the scheduler\n`);
  const onEvent = (e: { type: string; name: string; detail: string }): void => o.write(`  ! ${e.name} ${e.type}: ${e.detail}\n`);
  engine.events.on('process', onEvent);
  let done = 0;
  const jobs = Array.from({ length: o.requests }, async (_, i) => {
    await new Promise((r) => setTimeout(r, i * 150));
    const prompt = `Request ${i}: ${'tell me a story about relay races. '.repeat(1 + (i % 4) * 6)}`;
    const r = await engine.generate({ prompt, maxTokens: 64 + (i % 3) * 96 }).result.catch(() => null);
    done += 1;
    return r;
  });
  const timer = setInterval(() => void progress(engine, o.write, () => done, o.requests), POLL_MS);
  try {
    await Promise.all(jobs);
  } finally {
    clearInterval(timer);
    engine.events.off('process', onEvent);
  }
  const s = (await engine.stats()).summary;
  const ms = (v: number | null): string => (v === null ? '-' : `${v.toFixed(1)} ms`);
  return [
    '',
    `summary: ${s.requests} requests, ${s.outputTokens} output tokens`,
    `  TTFT  p50 ${ms(s.ttftMs.p50)}  p90 ${ms(s.ttftMs.p90)}  p99 ${ms(s.ttftMs.p99)}`,
    `  TPOT  p50 ${ms(s.tpotMs.p50)}  p90 ${ms(s.tpotMs.p90)}  p99 ${ms(s.tpotMs.p99)}`,
    `  KV transfer p50 ${ms(s.kvTransferMs.p50)}`,
  ].join('\n');
}

async function progress(engine: ProcessEngine, write: (text: string) => void, done: () => number, total: number): Promise<void> {
  const stats = await engine.stats();
  const pids = new Map(engine.processes().map((p) => [p.name, p.pid]));
  const lines = stats.actors.map((a) =>
    `  ${a.name.padEnd(10)} pid ${String(pids.get(a.name) ?? '-').padEnd(7)} ${a.activity.padEnd(16)} steps ${String(a.steps).padStart(5)}  tokens ${String(a.tokensProcessed).padStart(6)}  kv ${a.kvBlocksUsed}`);
  write(`[${done()}/${total} done]\n${lines.join('\n')}\n`);
}
