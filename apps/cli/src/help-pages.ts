/**
 * The help pages of the CLI's own commands (generate, logits, demo, serve): every option with its
 * value, meaning and default. Invariant: no import beyond command-help.ts, so `baton --help` and
 * `baton <command> --help` print without loading the model or the engine; the command tests check
 * that each page lists exactly the options its command parses and that the defaults shown are the
 * ones the code uses.
 */
import type { CommandHelp, OptionHelp } from './command-help.js';

/** Where the model comes from and what it runs on (generate, logits, serve). */
const MODEL_FLAGS: Record<'model' | 'backend', OptionHelp> = {
  model: { value: 'DIR|NAME', text: 'a GPT-2 checkpoint directory (config.json + model.safetensors) or a built-in model name', default: 'baton-austen' },
  backend: { value: 'wasm|cpu|webgpu|tensorflow', text: 'TensorFlow.js backend', default: '$BATON_BACKEND, else wasm' },
};

/** The engine's layout flags, with a command's default actor counts. */
function engineFlags(d: { mode: string; prefill: number; decode: number; colocated: number }): Record<string, OptionHelp> {
  return {
    mode: { value: 'single|disaggregated|colocated|chunked', text: 'serving mode: prefill and decode on separate actors (disaggregated), both on each actor (colocated, chunked: with chunked prefill), or one request at a time (single)', default: d.mode },
    prefill: { value: 'P', text: 'prefill actors, 1 to 64 (--mode disaggregated)', default: String(d.prefill) },
    decode: { value: 'D', text: 'decode actors, 1 to 64 (--mode disaggregated)', default: String(d.decode) },
    colocated: { value: 'N', text: 'actors that both prefill and decode, 1 to 64 (--mode colocated or chunked)', default: String(d.colocated) },
    placement: { value: 'thread|process', text: 'where the serving actors run: worker threads of this process, or one child process each', default: 'thread' },
    processes: { text: 'the same as --placement process' },
    elastic: { value: 'fixed|planner', text: 'planner: each instance can hold either role, and the planner flips instances between prefill and decode to keep --planner-ttft and --planner-tpot (--mode disaggregated)', default: 'fixed' },
    'planner-ttft': { value: 'MS', text: "the planner's time-to-first-token target in ms (required with --elastic planner)" },
    'planner-tpot': { value: 'MS', text: "the planner's time-per-output-token target in ms (required with --elastic planner)" },
  };
}

/** `baton generate`. */
export const GENERATE_HELP: CommandHelp = {
  name: 'generate',
  summary: 'generate text from a prompt, in this thread or through the serving engine',
  synopsis: '(--ids IDS | --prompt TEXT | --prompts-file FILE) --max-tokens N [options]',
  options: {
    ids: { value: '3,17,42', text: 'the prompt as comma-separated token ids (give one of --ids, --prompt, --prompts-file)' },
    prompt: { value: 'TEXT', text: "the prompt as text, tokenized by the model's tokenizer" },
    'prompts-file': { value: 'FILE', text: 'one prompt per line (blank lines skipped), all submitted at once to the engine; prints one JSON object per prompt, with its 0-based line number as index' },
    'max-tokens': { value: 'N', text: 'tokens to generate (0 is allowed without the engine)', required: true },
    temperature: { value: 'T', text: 'sampling temperature, >= 0; 0 is greedy', default: '0' },
    'top-k': { value: 'K', text: 'sample among the K most likely tokens; 0 turns it off', default: '0' },
    'top-p': { value: 'P', text: 'sample among the most likely tokens whose probabilities add up to P, in (0, 1]; 1 turns it off', default: '1' },
    seed: { value: 'S', text: 'seed of the sampler, an integer in [0, 4294967295]', default: '0' },
    'stop-ids': { value: 'IDS', text: 'comma-separated token ids that end the generation (the stop id is part of the output)' },
    json: { text: 'print one JSON object (ids, text, backend, promptIds, stopReason, elapsedMs; through the engine also mode, ttft_ms, tpot_ms) instead of streaming the text' },
    ...MODEL_FLAGS,
    ...engineFlags({ mode: 'none', prefill: 1, decode: 1, colocated: 2 }),
  },
  notes: [
    'Without --mode, generation runs in this thread on one model (the reference the engine must match); --mode, --prompts-file, --placement or --processes run it through the serving engine (disaggregated unless --mode says otherwise).',
    'Without --json the text is streamed as it is generated, with control bytes escaped as \\xNN so model output cannot drive the terminal (newlines and tabs are kept); --json has the exact text.',
  ],
};

/** `baton logits`. */
export const LOGITS_HELP: CommandHelp = {
  name: 'logits',
  summary: 'print the logits of every input position (one prefill pass) as JSON',
  notes: ['Prints {"logits": number[][]}: one row of vocabulary logits per input position.'],
  options: {
    ids: { value: '3,17,42', text: 'the input as comma-separated token ids', required: true },
    ...MODEL_FLAGS,
  },
};

/** `baton demo`. */
export const DEMO_HELP: CommandHelp = {
  name: 'demo',
  summary: 'run a mixed workload with a live view of every actor, then print a summary',
  options: {
    ...MODEL_FLAGS,
    ...engineFlags({ mode: 'disaggregated', prefill: 2, decode: 2, colocated: 2 }),
    requests: { value: 'N', text: 'requests in the workload, 1 to 200', default: '12' },
    'max-tokens': { value: 'N', text: 'longest output of a request, 1 to 512', default: '256' },
  },
  notes: [
    'The requests mix short and long prompts and outputs, arriving over the first seconds.',
    'On a terminal the view is redrawn in place; otherwise (a pipe, a CI log) it prints a few progress lines every second and one line per finished request.',
    'Ctrl-C aborts the requests still running (they are listed as aborted) and still prints the summary.',
  ],
};

/** `baton serve`. */
export const SERVE_HELP: CommandHelp = {
  name: 'serve',
  summary: 'serve the OpenAI-compatible HTTP API',
  options: {
    port: { value: 'PORT', text: 'TCP port, 0 to 65535 (0 picks a free one)', default: '8000' },
    host: { value: 'HOST', text: 'address to listen on; one beyond loopback needs --api-key or --insecure', default: '127.0.0.1' },
    ...MODEL_FLAGS,
    ...engineFlags({ mode: 'disaggregated', prefill: 1, decode: 1, colocated: 2 }),
    'shutdown-deadline-ms': { value: 'MS', text: 'on SIGINT/SIGTERM, how long running requests may finish before they are aborted', default: '10000' },
    'api-key': { value: 'KEY', text: 'require the header Authorization: Bearer KEY on every route but /health', default: '$BATON_API_KEY, else none' },
    insecure: { text: 'allow a --host beyond loopback without an API key' },
    'headers-timeout-ms': { value: 'MS', text: 'longest time a client may take to send the request headers', default: '10000' },
    'body-timeout-ms': { value: 'MS', text: 'longest time a client may take to send the whole request', default: '30000, or --headers-timeout-ms if larger' },
    'idle-timeout-ms': { value: 'MS', text: 'how long an idle keep-alive connection stays open', default: '5000' },
    'max-connections': { value: 'N', text: 'most open connections at once', default: '512' },
    nats: { value: 'URL', text: 'serve with the prefill and decode workers registered on this NATS broker (baton worker)', default: 'none: actors start here' },
    'listen-host': { value: 'H', text: 'with --nats: interface the actors\' sockets listen on (TCP), for workers on other hosts', default: 'local sockets' },
    'advertise-host': { value: 'H', text: 'with --nats: address workers on other hosts reach this one at (listens on 0.0.0.0 unless --listen-host)', default: 'none' },
  },
  notes: [
    'Routes: POST /v1/completions and /v1/chat/completions (streaming with "stream": true), GET /v1/models, /health and /metrics (Prometheus text).',
    'SIGINT or SIGTERM shuts down gracefully: new requests get 503, running ones may finish until --shutdown-deadline-ms, the rest are aborted, and the process exits 0. A second signal exits at once with status 1.',
  ],
};
