/**
 * One configuration of the elastic bench (a fixed P:D split, or the planner) against one phased
 * workload, and a wave of them: one after the other in this process, or each in a child process
 * of its own at the same time (`parallel`, for a machine with a core per actor thread to spare:
 * the configurations then do not share cores, and a wave takes the time of one run).
 *
 * Invariants: a run builds its workload from the phases and the seed (the same requests in every
 * process); its engine is closed on every path; a child process answers with exactly one message
 * (the run, or its error) and exits.
 */
import { fork } from 'node:child_process';
import { createEngine, type EngineOptionsInput, type FlipRecord, type SloTargets } from '@baton/engine';
import type { ElasticRun } from './elastic-report.js';
import { phasedWorkload, type Phase } from './elastic-workload.js';
import { runAtRate } from './runner.js';

/** A fixed split (`prefill` of the instances serve prefill) or the planner starting at that split. */
export interface ElasticConfig { name: string; prefill: number; planner: boolean }

/** What one run needs; plain data (it travels to a child process). */
export interface ElasticRunSpec {
  model: string;
  instances: number;
  config: ElasticConfig;
  phases: Phase[];
  seed: number;
  slo: SloTargets;
  /** After the last arrival, unfinished requests get this long before they are aborted (counted as misses). */
  drainMs: number;
}

/** A run as the report reads it; plain data. */
export interface ElasticConfigRun extends ElasticRun {
  flips: FlipRecord[];
  decisions: number;
  /** Why the planner held (numbers stripped) and in how many 500 ms samples. */
  holding: Array<[string, number]>;
  /** Start of the workload, epoch ms (flip times are epoch ms too). */
  t0: number;
}

/** Messages between the bench and a child process running one configuration. */
export type ElasticChildMessage = { kind: 'run'; spec: ElasticRunSpec } | { kind: 'done'; run: ElasticConfigRun } | { kind: 'failed'; message: string };

/** A configuration's run failed in its child process, or the process ended without a result. */
export class ElasticRunError extends Error {
  readonly code = 'ELASTIC_RUN_FAILED';
  constructor(
    /** The configuration's name. */
    readonly config: string,
    detail: string,
  ) {
    super(`elastic run "${config}": ${detail}`);
    this.name = 'ElasticRunError';
  }
}

const now = (): number => performance.timeOrigin + performance.now();

/** The engine options every configuration shares. */
export function benchEngineBase(model: string): EngineOptionsInput {
  return { model, backend: 'wasm', health: { unhealthyAfterMs: 60_000, restartAfterMs: 120_000 } };
}

/** Runs one configuration here; samples its prefill instance count every 500 ms. */
export async function runElasticConfig(spec: ElasticRunSpec): Promise<ElasticConfigRun> {
  const { config: c, slo } = spec;
  const w = phasedWorkload(spec.phases, spec.seed);
  // NOTE: no engine-level SLO (it would turn on early rejection, whose TPOT estimate swings with the machine's load and decided
  // more than the split did); the planner gets the same targets as its own.
  const elastic = c.planner ? { elastic: { mode: 'planner' as const, slo } } : {};
  const engine = await createEngine({ ...benchEngineBase(spec.model), prefill: c.prefill, decode: spec.instances - c.prefill, ...elastic });
  try {
    await engine.generate({ prompt: w.requests[0].promptIds, maxTokens: 4 }).result;
    const t0 = now();
    const roles: Array<[number, number]> = [[0, c.prefill]];
    const holding = new Map<string, number>();
    const sampler = setInterval(() => {
      void engine.stats().then((s) => {
        roles.push([(now() - t0) / 1000, s.scheduler.elastic?.prefill ?? c.prefill]);
        const why = s.planner?.holding?.replace(/[0-9.]+/g, '#') ?? null;
        if (why !== null) holding.set(why, (holding.get(why) ?? 0) + 1);
      }, () => undefined);
    }, 500);
    const run = await runAtRate({ engine, mode: c.name, rate: 1, requests: w.requests, slo, drainMs: spec.drainMs, engineStartMs: t0 });
    clearInterval(sampler);
    const stats = await engine.stats();
    roles.push([(now() - t0) / 1000, stats.scheduler.elastic?.prefill ?? c.prefill]);
    return { name: c.name, records: run.records, prefillOverTime: roles, flips: stats.scheduler.elastic?.flips ?? [], decisions: stats.planner?.decisions.length ?? 0, holding: [...holding], t0 };
  } finally {
    await engine.close({ deadlineMs: 0 });
  }
}

/** Runs one configuration in a child process (`elastic-child.js`). */
function runInChild(spec: ElasticRunSpec): Promise<ElasticConfigRun> {
  return new Promise((resolve, reject) => {
    const child = fork(new URL('./elastic-child.js', import.meta.url), [], { stdio: ['ignore', 'inherit', 'inherit', 'ipc'] });
    let answered = false;
    child.on('message', (m: ElasticChildMessage) => {
      if (m.kind === 'done') resolve(m.run);
      else if (m.kind === 'failed') reject(new ElasticRunError(spec.config.name, `failed in its child process: ${m.message}`));
      else return;
      answered = true;
    });
    child.on('error', (e) => reject(e));
    child.on('exit', (code) => {
      if (!answered) reject(new ElasticRunError(spec.config.name, `its child process exited (${code}) without a result`));
    });
    child.send({ kind: 'run', spec } satisfies ElasticChildMessage);
  });
}

/** Runs every spec: one after the other here, or all at once in child processes (`parallel`). */
export async function runElasticWave(specs: readonly ElasticRunSpec[], parallel: boolean): Promise<ElasticConfigRun[]> {
  if (parallel) return Promise.all(specs.map(runInChild));
  const out: ElasticConfigRun[] = [];
  for (const s of specs) out.push(await runElasticConfig(s));
  return out;
}
