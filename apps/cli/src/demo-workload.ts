/**
 * The demo's requests: a deterministic mix of prompt and output lengths (chat turns sharing a
 * system prompt, so the prefix cache gets hits; long "summarize this" prompts with short outputs;
 * short prompts with long outputs), a third arriving at once and the rest staggered. Invariant:
 * every request fits the context: prompt tokens + maxTokens <= `contextTokens`.
 */

/** One request of the demo. */
export interface DemoRequest {
  /** Display id (`r00`, `r01`, …). */
  id: string;
  /** The workload kind, shown in the tables. */
  kind: 'chat' | 'summarize' | 'generate' | 'short';
  prompt: string;
  maxTokens: number;
  /** When it arrives, after the demo starts. */
  delayMs: number;
  /** Sampling seed (the demo samples, so the byte soup varies). */
  seed: number;
}

/** Options of {@link demoWorkload}. */
export interface DemoWorkloadOptions {
  requests: number;
  /** The longest output any request asks for. */
  maxTokens: number;
  /** The model's context length. */
  contextTokens: number;
  /** Gap between staggered arrivals. */
  arrivalGapMs?: number;
}

// NOTE: longer than several 16-token KV blocks, so chat turns after the first reuse its blocks.
const SYSTEM =
  'You are Baton, a tiny model served by a relay of actors: prefill runs the prompt, decode streams tokens. Answer briefly. ';
const QUESTIONS = ['What is a KV cache?', 'Why split prefill and decode?', 'Explain TTFT.', 'What is TPOT?', 'Who holds the baton?'];
const DOCUMENT =
  'Disaggregated serving runs the prompt phase and the token phase on different workers. The prompt phase is compute bound; ' +
  'the token phase is bound by memory bandwidth. Moving the KV cache between them costs a transfer, but each phase gets its ' +
  'own batch size and parallelism, and decode no longer stalls behind long prompts. ';
const SHORT = ['Hi!', 'Once upon a time', 'Relay:', 'Go'];
const KINDS: readonly DemoRequest['kind'][] = ['chat', 'summarize', 'generate', 'chat', 'short', 'chat'];

/** Builds `requests` demo requests (same options, same requests). */
export function demoWorkload(o: DemoWorkloadOptions): DemoRequest[] {
  const gap = o.arrivalGapMs ?? 900;
  const atOnce = Math.ceil(o.requests / 3);
  return Array.from({ length: o.requests }, (_, i) => {
    const kind = KINDS[i % KINDS.length];
    const prompt = promptFor(kind, i);
    const wanted = kind === 'summarize' ? Math.ceil(o.maxTokens / 4) : kind === 'chat' ? Math.ceil(o.maxTokens / 2) : o.maxTokens;
    const room = o.contextTokens - new TextEncoder().encode(prompt).length;
    return {
      id: `r${String(i).padStart(2, '0')}`,
      kind,
      prompt,
      maxTokens: Math.max(1, Math.min(wanted, room)),
      delayMs: i < atOnce ? 0 : (i - atOnce + 1) * gap,
      seed: i + 1,
    };
  });
}

function promptFor(kind: DemoRequest['kind'], i: number): string {
  switch (kind) {
    case 'chat':
      return SYSTEM + QUESTIONS[i % QUESTIONS.length];
    case 'summarize':
      return 'Summarize: ' + DOCUMENT.repeat(1 + (i % 2));
    case 'generate':
      return 'Write a long story about relay runners.';
    case 'short':
      return SHORT[i % SHORT.length];
  }
}
