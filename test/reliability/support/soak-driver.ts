/**
 * The soak's mixed, seeded requests and the client that drives them: text and token-id prompts of
 * many lengths, greedy and sampled, stop strings and stop ids, and every way a client goes away —
 * a signal aborted before the call, an abort after some tokens, an abort after a delay, a consumer
 * that stops iterating — plus a few invalid requests. Each request is classified when it settles;
 * one that does not settle within `settleTimeoutMs` is counted as lost (there must be none).
 */
import { InvalidRequestError, OverloadedError, RequestAbortedError, type Engine, type GenerateRequest } from '@baton/engine';
import { createRng, type Rng } from './seeded-rng.js';

/** How a soak client treats its request. */
export type ClientBehaviour = 'complete' | 'abort-before' | 'abort-after-tokens' | 'abort-after-delay' | 'stop-iterating' | 'invalid';

/** How a request ended. */
export type SoakOutcome = 'length' | 'stop' | 'abort' | 'left' | 'invalid' | 'overloaded' | 'error' | 'lost';

/** One planned request. */
export interface SoakRequest {
  request: GenerateRequest;
  behaviour: ClientBehaviour;
  /** Tokens (abort-after-tokens, stop-iterating) or ms (abort-after-delay) before leaving. */
  after: number;
}

/** Tallies of a soak run. */
export interface SoakTally {
  outcomes: Record<SoakOutcome, number>;
  behaviours: Record<ClientBehaviour, number>;
  /** Requests whose streamed ids differ from their result's ids (duplicated or missing tokens). */
  streamMismatches: string[];
  /** Error messages of 'error' outcomes (first few). */
  errors: string[];
  /** Completed greedy requests, for a reference check: prompt ids and output ids. */
  greedy: Array<{ prompt: number[]; maxTokens: number; ids: number[] }>;
}

const WORDS = ['the', 'relay', 'baton', 'prefill', 'decode', 'cache', 'token', 'worker', 'thread', 'block', 'a', 'of', 'and'];

/** Plans request `i` of a soak seeded by `rng`. */
export function planRequest(i: number, rng: Rng): SoakRequest {
  const long = rng.chance(0.1);
  const len = long ? rng.int(120, 400) : rng.int(1, 60);
  const text = rng.chance(0.5);
  const prompt = text ? Array.from({ length: Math.ceil(len / 5) }, () => rng.pick(WORDS)).join(' ') : Array.from({ length: len }, () => rng.int(0, 255));
  const greedy = rng.chance(0.6);
  const request: GenerateRequest = {
    id: `soak-${i}`,
    prompt,
    maxTokens: rng.chance(0.1) ? 1 : rng.int(2, 48),
    ...(greedy ? {} : { temperature: 0.8, topP: 0.95, seed: rng.int(0, 2 ** 31) }),
    ...(rng.chance(0.1) ? { stop: rng.chance(0.5) ? [' the', 'e'] : [rng.int(0, 255)] } : {}),
  };
  const r = rng.next();
  const behaviour: ClientBehaviour =
    r < 0.68 ? 'complete' : r < 0.71 ? 'abort-before' : r < 0.83 ? 'abort-after-tokens' : r < 0.9 ? 'abort-after-delay' : r < 0.98 ? 'stop-iterating' : 'invalid';
  if (behaviour === 'invalid') request.maxTokens = rng.pick([0, -1, 1.5, 1e12]);
  return { request, behaviour, after: behaviour === 'abort-after-delay' ? rng.int(0, 40) : rng.int(0, 8) };
}

/** An empty tally. */
export function emptyTally(): SoakTally {
  const outcomes = { length: 0, stop: 0, abort: 0, left: 0, invalid: 0, overloaded: 0, error: 0, lost: 0 };
  const behaviours = { complete: 0, 'abort-before': 0, 'abort-after-tokens': 0, 'abort-after-delay': 0, 'stop-iterating': 0, invalid: 0 };
  return { outcomes, behaviours, streamMismatches: [], errors: [], greedy: [] };
}

/** Runs `count` planned requests, `concurrency` at a time, into one tally. */
export async function runSoak(engine: Engine, o: { count: number; concurrency: number; seed: number; settleTimeoutMs: number }): Promise<SoakTally> {
  const rng = createRng(o.seed);
  const plans = Array.from({ length: o.count }, (_, i) => planRequest(i, rng));
  const tally = emptyTally();
  let next = 0;
  const client = async (): Promise<void> => {
    while (next < plans.length) {
      const plan = plans[next++];
      tally.behaviours[plan.behaviour] += 1;
      tally.outcomes[await withDeadline(runOne(engine, plan, tally), o.settleTimeoutMs)] += 1;
    }
  };
  await Promise.all(Array.from({ length: o.concurrency }, client));
  return tally;
}

async function withDeadline(p: Promise<SoakOutcome>, ms: number): Promise<SoakOutcome> {
  let timer: NodeJS.Timeout | undefined;
  const lost = new Promise<SoakOutcome>((resolve) => (timer = setTimeout(() => resolve('lost'), ms)));
  try {
    return await Promise.race([p, lost]);
  } finally {
    clearTimeout(timer);
  }
}

async function runOne(engine: Engine, plan: SoakRequest, tally: SoakTally): Promise<SoakOutcome> {
  const controller = new AbortController();
  if (plan.behaviour === 'abort-before') controller.abort();
  let timer: NodeJS.Timeout | null = null;
  try {
    const g = engine.generate({ ...plan.request, signal: controller.signal });
    if (plan.behaviour === 'abort-after-delay') timer = setTimeout(() => controller.abort(), plan.after);
    const streamed: number[] = [];
    for await (const ev of g) {
      if (ev.type !== 'token') continue;
      streamed.push(ev.id);
      if (plan.behaviour === 'abort-after-tokens' && streamed.length > plan.after) controller.abort();
      if (plan.behaviour === 'stop-iterating' && streamed.length > plan.after) break;
    }
    const result = await g.result;
    if (result.finishReason === 'error') tally.errors.push(result.error?.message ?? '?');
    if (result.finishReason === 'length' || result.finishReason === 'stop') {
      if (streamed.join() !== result.ids.join()) tally.streamMismatches.push(plan.request.id ?? '?');
      const r = plan.request;
      if (r.temperature === undefined && r.stop === undefined && Array.isArray(r.prompt)) tally.greedy.push({ prompt: [...r.prompt], maxTokens: r.maxTokens ?? 0, ids: result.ids });
    }
    return result.finishReason;
  } catch (e) {
    if (e instanceof InvalidRequestError) return 'invalid';
    if (e instanceof OverloadedError) return 'overloaded';
    // NOTE: a consumer that stops iterating early makes `result` reject with RequestAbortedError.
    if (e instanceof RequestAbortedError && plan.behaviour === 'stop-iterating') return 'left';
    tally.errors.push(e instanceof Error ? `${e.name}: ${e.message}` : String(e));
    return 'error';
  } finally {
    if (timer !== null) clearTimeout(timer);
  }
}
