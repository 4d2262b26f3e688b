// Measures the engine's LengthPredictor on a model's own outputs: prompts are the openings of
// held-out documents of a training file, each continued (seeded sampling) until the model's
// end-of-text id or --max-tokens; the predictor learns prequentially (each request is scored
// before it is learned from) with 200-token buckets. Prints accuracy next to the majority-bucket
// baseline. Usage: node packages/train/scripts/length-accuracy.mjs --data FILE [--model NAME|DIR]
//   [--requests N] [--max-tokens N] [--edges 200,400,600,800]
import { readFileSync } from 'node:fs';
import { parseArgs } from 'node:util';
import { LengthPredictor } from '@baton/engine';
import { generate, initBackend, loadModel, DEFAULT_MODEL } from '@baton/model';
import { splitDocuments } from '../dist/index.js';

const { values: v } = parseArgs({ options: { data: { type: 'string' }, model: { type: 'string' }, requests: { type: 'string' }, 'max-tokens': { type: 'string' }, edges: { type: 'string' } } });
const docs = splitDocuments(readFileSync(v.data, 'utf8'));
const held = docs.slice(Math.floor(docs.length * 0.95));
const n = Number(v.requests ?? 200);
const maxTokens = Number(v['max-tokens'] ?? 1000);
const edges = (v.edges ?? '200,400,600,800').split(',').map(Number);
await initBackend('wasm');
const model = await loadModel(v.model ?? DEFAULT_MODEL);
const predictor = new LengthPredictor({ bucketEdges: edges });
const lengths = [];
let stopped = 0;
for (let i = 0; i < n; i++) {
  const doc = held[Math.floor((i * held.length) / n)];
  // NOTE: the prompt is the document's first sentence or its first 40% (whichever is shorter), at least 8 bytes.
  const enc = model.tokenizer.encode(doc);
  const cut = Math.max(8, Math.min(Math.floor(enc.length * 0.4), (doc.search(/[.!?]\s/) + 2) || enc.length));
  const promptIds = enc.slice(0, Math.min(cut, 400));
  const r = generate(model, { promptIds, maxTokens, sampling: { temperature: 0.8, topK: 40 }, seed: i });
  if (r.stopReason === 'stop_id') stopped++;
  lengths.push(r.ids.length);
  predictor.learn(promptIds, r.ids.length);
  if ((i + 1) % 25 === 0) process.stderr.write(`${i + 1}/${n} accuracy so far ${predictor.stats().accuracy?.toFixed(3)}\n`);
}
const s = predictor.stats();
const support = s.buckets.map((b) => b.support);
const sorted = [...lengths].sort((a, b) => a - b);
console.log(JSON.stringify({
  requests: n, edges, accuracy: s.accuracy, majorityBaseline: Math.max(...support) / n,
  buckets: s.buckets.map((b) => ({ min: b.range.min, max: b.range.max, support: b.support, accuracy: b.accuracy })),
  stoppedByEndOfText: stopped, lengthP10: sorted[Math.floor(n * 0.1)], lengthP50: sorted[Math.floor(n * 0.5)], lengthP90: sorted[Math.floor(n * 0.9)],
}));
model.dispose();
