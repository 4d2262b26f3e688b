/**
 * Conversation workload for context-caching benchmarks: sessions of 3–8 turns arriving as a
 * Poisson process; each turn is a new user message, the model's reply length and a think time
 * before the next turn. The prompts are built while the run goes (closed loop): turn k's prompt =
 * the conversation so far (every earlier prompt and the tokens the model really answered) + turn
 * k's message — see {@link nextPrompt}. Unlike the open-loop `multiturn` mix, a cached
 * conversation then matches the KV a serving instance actually computed, output included.
 * Sessions share prefixes across sessions the way chat deployments do: each one starts with one
 * of `systemPrompts` system prompts (several apps or assistants behind one endpoint).
 * {@link conversationTrace} writes the same sessions as a Mooncake-format trace (open loop, with
 * synthetic replies) whose hash ids carry that prefix sharing.
 *
 * A `heavy` share of sessions can send messages several times as long (skewed session lengths:
 * the load a session brings varies several-fold, as when some users paste documents).
 *
 * Invariants: the same options always give the same sessions; a session's last turn still fits
 * `maxContext` with the longest replies (turns that would not fit are cut off at generation).
 */
import { createRng, type Rng } from '@baton/model';
import { WorkloadError } from './bench-errors.js';
import { workloadToTrace, type TraceEntry } from './trace.js';
import { arrivalTimes, type BenchRequest } from './workload.js';

/** One turn: the user's new message, the reply length and the pause after the reply. */
export interface ConversationTurn {
  userIds: number[];
  maxTokens: number;
  /** Think time after this turn's reply before the next turn is sent, ms. */
  thinkMs: number;
}

/** One conversation. */
export interface ConversationSession {
  id: string;
  /** When its first turn arrives, relative to the start of the run, ms. */
  arrivalMs: number;
  /** The system prompt it starts with (one of the workload's `systems`, shared with other sessions). */
  systemIds: number[];
  turns: ConversationTurn[];
}

/** Options of {@link generateConversations}. */
export interface ConversationOptions {
  sessions: number;
  seed: number;
  /** Session arrivals per second (Poisson). */
  sessionRate: number;
  /** Mean think time between turns, ms (exponential). Default 1000. */
  meanThinkMs?: number;
  /** Longest prompt + output (the model's context). Default 1024. */
  maxContext?: number;
  /** Length of each system prompt, tokens. Default 32. */
  systemTokens?: number;
  /** Distinct system prompts; each session starts with one, drawn uniformly. Default 1. */
  systemPrompts?: number;
  /**
   * Skewed sessions: a `share` of the sessions (drawn per session) send messages `scale` times as
   * long (long documents pasted into a chat), so their conversations grow that much faster.
   * Default none (share 0).
   */
  heavy?: { share: number; scale: number };
}

/** A conversation workload: the system prompts sessions start with, and the sessions. */
export interface ConversationWorkload {
  systems: number[][];
  sessions: ConversationSession[];
}

const TURNS = { min: 3, max: 8 } as const;
const USER = { min: 24, max: 72 } as const;
const REPLY = { min: 12, max: 32 } as const;

/** Generates `sessions` seeded conversations. */
export function generateConversations(opts: ConversationOptions): ConversationWorkload {
  if (!Number.isSafeInteger(opts.sessions) || opts.sessions < 1) throw new WorkloadError('sessions', `must be a positive integer, got ${opts.sessions}`);
  if (!(Number.isFinite(opts.sessionRate) && opts.sessionRate > 0)) throw new WorkloadError('sessionRate', `must be a positive number, got ${opts.sessionRate}`);
  const maxContext = opts.maxContext ?? 1024;
  const meanThink = opts.meanThinkMs ?? 1000;
  const rng = createRng(opts.seed ^ 0x6c0ffee);
  const systemPrompts = opts.systemPrompts ?? 1;
  if (!Number.isSafeInteger(systemPrompts) || systemPrompts < 1) throw new WorkloadError('systemPrompts', `must be a positive integer, got ${systemPrompts}`);
  const heavy = opts.heavy ?? { share: 0, scale: 1 };
  if (!(heavy.share >= 0 && heavy.share <= 1)) throw new WorkloadError('heavy.share', `must be in [0, 1], got ${heavy.share}`);
  if (!(Number.isFinite(heavy.scale) && heavy.scale >= 1)) throw new WorkloadError('heavy.scale', `must be a number >= 1, got ${heavy.scale}`);
  // NOTE: its own stream, so a workload without heavy sessions is the same as before they existed.
  const heavyRng = createRng(opts.seed ^ 0x4ea7);
  const systems = Array.from({ length: systemPrompts }, () => tokens(opts.systemTokens ?? 32, rng));
  const arrivals = arrivalTimes(opts.sessions, { kind: 'poisson' }, createRng(opts.seed ^ 0x5e55)).map((t) => t / opts.sessionRate);
  const sessions = arrivals.map((arrivalMs, s): ConversationSession => {
    const systemIds = systems[Math.floor(rng.next() * systems.length)];
    const count = between(TURNS.min, TURNS.max, rng);
    const scale = heavy.share > 0 && heavyRng.next() < heavy.share ? heavy.scale : 1;
    const turns: ConversationTurn[] = [];
    let length = systemIds.length;
    // NOTE: `rng` is drawn exactly as without heavy sessions (a heavy message is the plain one
    // extended from `heavyRng`, and the plain lengths decide when `rng` stops), so the other
    // sessions do not change with the share.
    let plainLength = length;
    for (let t = 0; t < count; t++) {
      const plain = tokens(between(USER.min, USER.max, rng), rng);
      const maxTokens = between(REPLY.min, REPLY.max, rng);
      // NOTE: a turn that could overflow the context with the longest reply ends the session there.
      if (plainLength + plain.length + maxTokens > maxContext) break;
      plainLength += plain.length + maxTokens;
      const thinkMs = -Math.log(1 - rng.next()) * meanThink;
      const userIds = scale === 1 ? plain : [...plain, ...tokens(Math.round(plain.length * (scale - 1)), heavyRng)];
      if (turns.length < t || length + userIds.length + maxTokens > maxContext) continue;
      length += userIds.length + maxTokens;
      turns.push({ userIds, maxTokens, thinkMs });
    }
    return { id: `session-${s}`, arrivalMs, systemIds, turns };
  });
  return { systems, sessions };
}

/** Options of {@link conversationTrace}. */
export interface ConversationTraceOptions {
  /** Baton tokens per hash id (the KV block size the trace will be replayed at). Default 16. */
  blockTokens?: number;
  /** Tokens per hash id in the written trace (Mooncake's blocks are 512). Default 512. */
  traceBlockTokens?: number;
  /** Time a turn is assumed to take before its think time starts, ms (open loop). Default 500. */
  serviceMs?: number;
}

/**
 * The sessions as a Mooncake-format trace: one entry per turn, open loop (turn k at the session's
 * arrival + k x (serviceMs + think times so far)), replies replaced by seeded synthetic tokens of
 * each turn's `maxTokens`. Hash ids name chained blocks of `blockTokens` tokens, lengths are
 * scaled by traceBlockTokens / blockTokens, so a replay at `blockTokens` per hash id gets the
 * prompts' lengths and prefix sharing back. Entries are in timestamp order.
 */
export function conversationTrace(workload: ConversationWorkload, opts: ConversationTraceOptions = {}): TraceEntry[] {
  const blockTokens = opts.blockTokens ?? 16;
  const scale = (opts.traceBlockTokens ?? 512) / blockTokens;
  const serviceMs = opts.serviceMs ?? 500;
  const requests: BenchRequest[] = [];
  workload.sessions.forEach((s, si) => {
    const rng = createRng(0x7ace ^ si);
    let history = s.systemIds;
    let at = s.arrivalMs;
    for (const turn of s.turns) {
      const promptIds = nextPrompt(history, turn);
      requests.push({ index: requests.length, arrivalMs: at, promptIds, maxTokens: turn.maxTokens });
      history = [...promptIds, ...tokens(turn.maxTokens, rng)];
      at += serviceMs + turn.thinkMs;
    }
  });
  requests.sort((a, b) => a.arrivalMs - b.arrivalMs || a.index - b.index);
  return workloadToTrace({ name: 'conversations', nominalRate: 1, requests }, { blockTokens }).map((e) => ({
    ...e, input_length: e.input_length * scale, output_length: e.output_length * scale,
  }));
}

/** Turn k's prompt: the conversation so far (`history`: system prompt, earlier prompts' messages and replies) + its message. */
export function nextPrompt(history: readonly number[], turn: ConversationTurn): number[] {
  return [...history, ...turn.userIds];
}

function between(lo: number, hi: number, rng: Rng): number {
  return lo + Math.floor(rng.next() * (hi - lo + 1));
}

function tokens(n: number, rng: Rng): number[] {
  // NOTE: printable bytes, like a chat transcript in the byte vocabulary.
  return Array.from({ length: n }, () => 32 + Math.floor(rng.next() * 95));
}
