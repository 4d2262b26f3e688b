/**
 * Workloads: seeded request sets — arrival times from a Poisson or gamma process and prompt/output
 * lengths from a named mix — and their rescaling to any request rate.
 *
 * Invariants: the same options always give the same requests; a workload is generated at a nominal
 * rate of 1 req/s and `atRate` only rescales time, so every rate (and every mode) of one bench run
 * sees exactly the same prompts in the same order; every prompt + output fits `maxContext`.
 *
 * Lengths are sized for baton-tiny (byte vocabulary, 1024 positions) on two shared CPU cores; see
 * {@link MIXES} for the numbers.
 */
import { createRng, type Rng } from '@baton/model';
import { WorkloadError } from './bench-errors.js';

/** Named length mixes shaped like the papers' workloads. */
export type MixName = 'chat' | 'summarize' | 'generate' | 'multiturn';

/** Inter-arrival process: Poisson, or gamma with a coefficient of variation (cv > 1 = bursty). */
export type ArrivalProcess = { kind: 'poisson' } | { kind: 'gamma'; cv: number };

/** One request of a workload. */
export interface BenchRequest {
  /** Position in the workload (0-based). */
  index: number;
  /** Arrival time relative to the start of the run, ms. */
  arrivalMs: number;
  /** Prompt token ids (byte vocabulary). */
  promptIds: number[];
  /** Output tokens to generate (baton-tiny never stops early, so this is the output length). */
  maxTokens: number;
}

/** A request set with its nominal rate (requests/s) at the recorded arrival times. */
export interface Workload {
  name: string;
  nominalRate: number;
  requests: BenchRequest[];
}

/** Options of {@link generateWorkload}. */
export interface WorkloadOptions {
  mix: MixName;
  count: number;
  seed: number;
  arrival?: ArrivalProcess;
  /** Longest prompt + output allowed (the model's context). Default 1024. */
  maxContext?: number;
}

/** A clipped log-normal length: median, spread (sigma of ln), and bounds. */
interface LengthDist {
  median: number;
  sigma: number;
  min: number;
  max: number;
}

/** Token-length mixes (prompt, output) — medians and bounds in tokens. */
export const MIXES: Readonly<Record<Exclude<MixName, 'multiturn'>, { prompt: LengthDist; output: LengthDist }>> = {
  chat: { prompt: { median: 256, sigma: 0.5, min: 64, max: 512 }, output: { median: 64, sigma: 0.4, min: 16, max: 128 } },
  summarize: { prompt: { median: 640, sigma: 0.25, min: 384, max: 896 }, output: { median: 24, sigma: 0.4, min: 8, max: 48 } },
  generate: { prompt: { median: 32, sigma: 0.5, min: 8, max: 96 }, output: { median: 192, sigma: 0.3, min: 96, max: 320 } },
};

/** Multi-turn conversations: a shared system prefix, then turns whose prompts grow. */
const MULTITURN = {
  systemTokens: 96,
  user: { median: 96, sigma: 0.4, min: 32, max: 160 },
  output: { median: 48, sigma: 0.4, min: 24, max: 96 },
  turns: 4,
  /** Conversations open at once; turns of one conversation arrive `concurrent` requests apart. */
  concurrent: 4,
} as const;

/** Generates a workload at a nominal rate of 1 request/s. */
export function generateWorkload(opts: WorkloadOptions): Workload {
  if (!Number.isSafeInteger(opts.count) || opts.count < 1) throw new WorkloadError('count', `must be a positive integer, got ${opts.count}`);
  const maxContext = opts.maxContext ?? 1024;
  const arrival = opts.arrival ?? { kind: 'poisson' };
  const arrivals = arrivalTimes(opts.count, arrival, createRng(opts.seed ^ 0x51ed27));
  const rng = createRng(opts.seed ^ 0x2545f491);
  const shapes = opts.mix === 'multiturn' ? multiturnShapes(opts.count, rng) : independentShapes(opts.mix, opts.count, rng);
  const requests = shapes.map((s, index) => ({ index, arrivalMs: arrivals[index], ...fit(s, maxContext) }));
  const name = arrival.kind === 'poisson' ? `${opts.mix}/poisson` : `${opts.mix}/gamma(cv=${arrival.cv})`;
  return { name, nominalRate: 1, requests };
}

/** The same requests with arrival times rescaled so the workload runs at `rate` requests/s. */
export function atRate(workload: Workload, rate: number): BenchRequest[] {
  if (!(Number.isFinite(rate) && rate > 0)) throw new WorkloadError('rate', `must be a positive number, got ${rate}`);
  const k = workload.nominalRate / rate;
  return workload.requests.map((r) => ({ ...r, arrivalMs: r.arrivalMs * k }));
}

/** `count` arrival times (ms) at a mean of one request per second, starting at 0. */
export function arrivalTimes(count: number, process: ArrivalProcess, rng: Rng): number[] {
  if (process.kind === 'gamma' && !(Number.isFinite(process.cv) && process.cv > 0)) {
    throw new WorkloadError('cv', `must be a positive number, got ${process.cv}`);
  }
  const gap = process.kind === 'poisson' ? (): number => -Math.log(1 - rng.next()) * 1000 : gammaGaps(process.cv, rng);
  const out: number[] = [0];
  for (let i = 1; i < count; i++) out.push(out[i - 1] + gap());
  return out;
}

/** Gamma inter-arrival gaps with mean 1000 ms and the given coefficient of variation. */
function gammaGaps(cv: number, rng: Rng): () => number {
  const shape = 1 / (cv * cv);
  const scale = 1000 / shape;
  return () => sampleGamma(shape, rng) * scale;
}

/** Gamma(shape, 1) by Marsaglia–Tsang (with the u^(1/k) boost for shape < 1). */
function sampleGamma(shape: number, rng: Rng): number {
  if (shape < 1) return sampleGamma(shape + 1, rng) * Math.pow(1 - rng.next(), 1 / shape);
  const d = shape - 1 / 3;
  const c = 1 / Math.sqrt(9 * d);
  for (;;) {
    const x = normal(rng);
    const v = (1 + c * x) ** 3;
    if (v <= 0) continue;
    const u = 1 - rng.next();
    if (Math.log(u) < 0.5 * x * x + d - d * v + d * Math.log(v)) return d * v;
  }
}

function normal(rng: Rng): number {
  const u = 1 - rng.next();
  return Math.sqrt(-2 * Math.log(u)) * Math.cos(2 * Math.PI * rng.next());
}

function drawLength(d: LengthDist, rng: Rng): number {
  const v = Math.round(d.median * Math.exp(d.sigma * normal(rng)));
  return Math.min(d.max, Math.max(d.min, v));
}

function randomTokens(n: number, rng: Rng): number[] {
  return Array.from({ length: n }, () => Math.floor(rng.next() * 256));
}

interface Shape {
  promptIds: number[];
  maxTokens: number;
}

function independentShapes(mix: Exclude<MixName, 'multiturn'>, count: number, rng: Rng): Shape[] {
  const m = MIXES[mix];
  if (m === undefined) throw new WorkloadError('mix', `unknown mix "${String(mix)}"`);
  return Array.from({ length: count }, () => {
    const promptIds = randomTokens(drawLength(m.prompt, rng), rng);
    return { promptIds, maxTokens: drawLength(m.output, rng) };
  });
}

/**
 * Conversations in groups of `concurrent`: request i belongs to conversation (i mod concurrent) of
 * its group and is turn floor(i / concurrent) of it. Turn k's prompt = turn k-1's prompt + an
 * assistant reply of turn k-1's output length + new user text, so it shares turn k-1's prompt as a
 * prefix (a prefix-cache hit once turn k-1 has been prefilled).
 */
function multiturnShapes(count: number, rng: Rng): Shape[] {
  const { concurrent, turns } = MULTITURN;
  const perGroup = concurrent * turns;
  const out: Shape[] = [];
  let open: Shape[] = [];
  for (let i = 0; i < count; i++) {
    const j = i % perGroup;
    const conv = j % concurrent;
    if (j === 0) open = [];
    const prev = open[conv];
    const user = randomTokens(drawLength(MULTITURN.user, rng), rng);
    const promptIds = prev === undefined
      ? [...randomTokens(MULTITURN.systemTokens, rng), ...user]
      : [...prev.promptIds, ...randomTokens(prev.maxTokens, rng), ...user];
    const shape = { promptIds, maxTokens: drawLength(MULTITURN.output, rng) };
    open[conv] = shape;
    out.push(shape);
  }
  return out;
}

/** Cuts the prompt's end (its start, and so any shared prefix, stays) so prompt + output fits the context. */
function fit(s: Shape, maxContext: number): Shape {
  const maxTokens = Math.min(s.maxTokens, maxContext - 1);
  const room = maxContext - maxTokens;
  return s.promptIds.length <= room ? s : { promptIds: s.promptIds.slice(0, room), maxTokens };
}
