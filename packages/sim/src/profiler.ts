/**
 * The profiler behind `baton profile`: loads a model on a backend in this thread and times what
 * the engine's actors run — prefill calls by chunk length (and after a cached prefix), greedy
 * decode steps by batch size and context, the decode side's load of a handed-off sequence — plus
 * one message hop between two threads, what an actor's step loop costs around the model call, the
 * slowdown of model calls beside another busy model thread (co-run), the scheduler's decision
 * time, and — on a real engine of the same model — what the engine's machinery adds around those
 * model calls (`engine-probe.ts`). Repeated, interleaved samples: prefill calls as means, decode steps, hop and loop
 * overhead as medians.
 *
 * Invariants: every sequence and model it creates is released/disposed; the decode grid is full
 * (every batch at every context), capped so the model's KV arena stays within `arenaBudgetBytes`.
 */
import { cpus } from 'node:os';
import { MessageChannel, Worker } from 'node:worker_threads';
import { BUILTIN_MODELS, initBackend, loadModel, type BackendName, type Gpt, type ModelSpec } from '@baton/model';
import { measureCoRun } from './co-run.js';
import { measureEngineOverhead } from './engine-probe.js';
import { decodeRig, filledBacking, prefillOnce } from './profile-rigs.js';
import { PROFILE_FORMAT, type DecodePoint, type PrefillPoint, type Profile } from './profile.js';
import { measureSchedulerCost } from './scheduler-cost.js';
import { PlanArgumentError } from './sim-errors.js';
import { profileStepTimes } from './step-times.js';

/** Options of {@link measureProfile}. */
export interface ProfileOptions {
  /** A built-in name, a checkpoint directory, or `baton-<layers>x<width>` (random weights of that shape). */
  model: string;
  backend: BackendName;
  /** Fewer samples and a smaller grid (about 4x faster). */
  quick?: boolean;
  /** Cap on the KV arena the decode grid needs. Default 1 GiB. */
  arenaBudgetBytes?: number;
  /** Run the engine probe (default true; models the engine cannot load by name skip it anyway). */
  engineProbe?: boolean;
  onProgress?: (line: string) => void;
}

const SHAPE = /^baton-(\d+)x(\d+)$/;
/** Consecutive decode steps timed per rig and round, after WARM_UP untimed ones. */
const WARM_STEPS = 3;
/** NOTE: after other work, a batch's steps keep speeding up for about five steps (caches refill). */
const WARM_UP = 6;

/** What `loadModel` gets for a model argument: `baton-LxW` shapes become a seeded ModelSpec. */
export function modelSource(model: string): string | ModelSpec {
  const m = SHAPE.exec(model);
  if (m === null || BUILTIN_MODELS.includes(model)) return model;
  const nLayer = Number(m[1]);
  const nEmbd = Number(m[2]);
  if (nLayer < 1 || nEmbd < 8 || nEmbd % 8 !== 0) throw new PlanArgumentError('--model', `shape ${model} needs >= 1 layer and a width divisible by 8 heads`);
  return {
    config: {
      vocabSize: 256, nPositions: 1024, nEmbd, nLayer, nHead: 8, nInner: 4 * nEmbd, activation: 'gelu_new',
      layerNormEpsilon: 1e-5, initializerRange: 0.02, bosTokenId: null, eosTokenId: null,
    },
    seed: 1234,
  };
}

/** Measures a profile on this machine. */
export async function measureProfile(opts: ProfileOptions): Promise<Profile> {
  const log = opts.onProgress ?? (() => {});
  await initBackend(opts.backend);
  const model = await loadModel(modelSource(opts.model));
  const prefill: PrefillPoint[] = [];
  const decode: DecodePoint[] = [];
  try {
    const rounds = opts.quick ? 3 : 7;
    const cfg = model.config;
    const maxPos = cfg.nPositions;
    const tokenSizes = [16, 32, 64, 128, 256, 384, 512, 768, 1024].filter((t) => t <= maxPos);
    const prefixed = ([[64, 256], [128, 512], [256, 256], [256, 512], [128, 768]] as Array<[number, number]>).filter(([t, p]) => t + p <= maxPos);
    const bytesPerToken = cfg.nLayer * 2 * cfg.nEmbd * 4;
    const contexts = (opts.quick ? [32, 512] : [32, 256, 768]).filter((c) => c < maxPos - 8);
    const budget = opts.arenaBudgetBytes ?? 2 ** 30;
    const batches = [1, 2, 4, 8, 16, 32, 64].filter((b) => b * (Math.max(...contexts) + 8) * bytesPerToken <= budget);
    // NOTE: every case is sampled once per round, rounds interleaved, so a burst of load from
    // elsewhere on the machine spreads over all cases instead of skewing one. Prefill: means (a
    // long call averages the stalls of a busy machine). Decode: medians. NOTE: a step's stalls on
    // a busy machine depend on how busy the thread itself is (this loop never sleeps, an engine's
    // decode thread often does): charging the profile's mean, or its share of stalled steps, put
    // every simulated request over a tight TPOT target that 30-90% met for real.
    const prefillCases = [...tokenSizes.map((t) => [t, 0] as [number, number]), ...prefixed];
    const pSamples = prefillCases.map(() => [] as number[]);
    for (let r = -1; r < rounds; r++) {
      prefillCases.forEach(([t, p], i) => { const ms = prefillOnce(model, t, p); if (r >= 0) pSamples[i].push(ms); });
      if (r >= 0) log(`prefill round ${r + 1}/${rounds}: 256 tokens ${ms2(pSamples[tokenSizes.indexOf(256)])} ms`);
    }
    prefill.push(...prefillCases.map(([tokens, prefix], i) => ({ tokens, prefix, ms: mean(pSamples[i]) })));
    for (const context of contexts) {
      // NOTE: one context at a time keeps the arena small (every rig of a context is alive at once).
      const rigs = batches.map((batch) => decodeRig(model, batch, context, (rounds + 1) * (WARM_STEPS + WARM_UP) + 2));
      try {
        const dSamples = batches.map(() => [] as number[]);
        // NOTE: a decode loop runs the same batch step after step, its weights and KV warm in the
        // caches; so each round runs WARM_UP untimed steps of a rig, then times WARM_STEPS in a row.
        for (let r = -1; r < rounds; r++) {
          rigs.forEach((rig, i) => {
            for (let w = 0; w < WARM_UP; w++) rig.step();
            const steps = Array.from({ length: WARM_STEPS }, () => rig.step());
            if (r >= 0) dSamples[i].push(...steps);
          });
        }
        decode.push(...batches.map((batch, i) => ({ batch, context, ms: median(dSamples[i]) })));
        log(`decode at context ${context}: ${batches.map((b, i) => `b${b} ${ms2(dSamples[i])}`).join(', ')} ms`);
      } finally {
        for (const rig of rigs) rig.release();
      }
    }
    const transfer = measureTransfer(model, rounds);
    log(`KV load: ${transfer.fixedMs.toFixed(3)} ms + ${(transfer.msPerToken * 1000).toFixed(2)} µs/token`);
    const hopMs = await measureHopMs();
    log(`message hop: ${(hopMs * 1000).toFixed(0)} µs`);
    const stepOverheadMs = await measureStepOverheadMs();
    log(`step loop overhead: ${(stepOverheadMs * 1000).toFixed(0)} µs per step`);
    const coRun = await measureCoRun(model, { model: opts.model, backend: opts.backend }, opts.quick ? 3 : 5);
    log(`co-run slowdown beside a busy model thread: prefill x${coRun.prefillFactor.toFixed(2)}, decode x${coRun.decodeFactor.toFixed(2)}`);
    const scheduler = measureSchedulerCost(opts.quick ? 3 : 5);
    log(`scheduler decision: ${scheduler.baseUs.toFixed(1)} µs + ${scheduler.perInstanceUs.toFixed(3)} µs/instance`);
    const profile: Profile = {
      format: PROFILE_FORMAT,
      model: opts.model,
      shape: { nLayer: cfg.nLayer, nEmbd: cfg.nEmbd, nHead: cfg.nHead, vocabSize: cfg.vocabSize, nPositions: cfg.nPositions },
      backend: opts.backend,
      machine: { cpu: cpus()[0]?.model.trim() ?? 'unknown', cores: cpus().length, node: process.version },
      date: new Date().toISOString(),
      prefill,
      decode,
      transfer,
      hopMs,
      stepOverheadMs,
      coRun,
      scheduler,
    };
    if (opts.engineProbe === false) return profile;
    log('engine path (a real engine of this model, 1 prefill + 1 decode thread):');
    const engine = await measureEngineOverhead({
      model: opts.model, backend: opts.backend, vocabSize: cfg.vocabSize, nPositions: cfg.nPositions, quick: opts.quick, times: profileStepTimes(profile), onProgress: log,
    });
    if (engine === null) {
      log('  skipped: the engine loads built-in models and checkpoint directories, not baton-LxW shapes');
      return profile;
    }
    log(`engine path: request ${engine.pathMs.toFixed(2)} ms to prefill, prefill ${engine.prefillFixedMs.toFixed(2)} ms + x${engine.prefillScale.toFixed(2)}, handoff +${engine.handoffMs.toFixed(2)} ms, decode step +${engine.decodeFixedMs.toFixed(3)} ms +${engine.decodePerSeqMs.toFixed(3)} ms/sequence`);
    return { ...profile, engine };
  } finally {
    model.dispose();
  }
}

/** Time to load every layer of a handed-off sequence, fitted over two lengths. */
function measureTransfer(model: Gpt, reps: number): { fixedMs: number; msPerToken: number } {
  const at = (n: number): number => {
    const backing = filledBacking(model, n, 1);
    return median(timeN(reps, () => {
      const seq = model.attach(backing, { length: n });
      const t0 = performance.now();
      for (let l = 0; l < model.config.nLayer; l++) seq.loadLayer(l);
      const ms = performance.now() - t0;
      seq.release();
      return ms;
    }));
  };
  const small = Math.min(64, model.config.nPositions);
  const large = Math.min(768, model.config.nPositions);
  const a = at(small);
  const b = at(large);
  const msPerToken = Math.max(0, (b - a) / (large - small));
  return { fixedMs: Math.max(0, a - msPerToken * small), msPerToken };
}

/** Half the median round trip of a small message to a worker thread and back. */
async function measureHopMs(): Promise<number> {
  const worker = new Worker("const { parentPort } = require('node:worker_threads'); parentPort.on('message', (m) => parentPort.postMessage(m));", { eval: true });
  try {
    const trip = (): Promise<number> => new Promise((resolve) => {
      const t0 = performance.now();
      worker.once('message', () => resolve(performance.now() - t0));
      worker.postMessage({ type: 'ping', at: t0 });
    });
    for (let i = 0; i < 50; i++) await trip();
    const samples: number[] = [];
    for (let i = 0; i < 400; i++) samples.push(await trip());
    return median(samples) / 2;
  } finally {
    await worker.terminate();
  }
}

/**
 * An actor's step loop without the model call, as ServingActor runs it: a full event-loop turn
 * (setImmediate), the `step` message through the actor's port, and the step's `tokens` message to
 * the client; median over batches of 100 steps, ms per step.
 */
async function measureStepOverheadMs(): Promise<number> {
  const mailbox = new MessageChannel();
  const client = new MessageChannel();
  client.port2.on('message', () => {});
  try {
    const batchMs = (steps: number): Promise<number> => new Promise((resolve) => {
      let left = steps;
      const t0 = performance.now();
      const onStep = (): void => {
        client.port1.postMessage({ type: 'tokens', items: [{ requestId: 'profile', id: left, index: left, time: t0 }] });
        if (--left === 0) {
          mailbox.port2.off('message', onStep);
          resolve((performance.now() - t0) / steps);
          return;
        }
        setImmediate(() => mailbox.port1.postMessage({ type: 'step' }));
      };
      mailbox.port2.on('message', onStep);
      mailbox.port1.postMessage({ type: 'step' });
    });
    await batchMs(100);
    const samples: number[] = [];
    for (let i = 0; i < 15; i++) samples.push(await batchMs(100));
    return median(samples);
  } finally {
    mailbox.port1.close();
    client.port1.close();
  }
}

function timeN(n: number, f: () => number): number[] {
  f();
  return Array.from({ length: n }, f);
}

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)];
}

function mean(xs: number[]): number {
  return xs.reduce((a, b) => a + b, 0) / xs.length;
}

function ms2(xs: number[]): string {
  return xs.length === 0 ? '-' : median(xs).toFixed(2);
}
