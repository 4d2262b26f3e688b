// Prints the model card's sample continuations: ten prompts, each continued with seeded sampling
// (temperature 0.8, top-k 40, seed = the prompt's index) for at most 200 tokens or until the
// model's end-of-text id. Usage: node packages/train/scripts/samples.mjs [MODEL]
import { generate, initBackend, loadModel, DEFAULT_MODEL } from '@baton/model';

const PROMPTS = [
  'It is a truth universally acknowledged', 'Mr. Darcy', 'She walked into the room and', '"My dear Emma," said', 'The weather was',
  'After dinner, the ladies', 'Captain Wentworth', 'I cannot help thinking that', 'Her mother', 'The next morning',
];
await initBackend('wasm');
const model = await loadModel(process.argv[2] ?? DEFAULT_MODEL);
for (const [i, prompt] of PROMPTS.entries()) {
  const r = generate(model, { promptIds: model.tokenizer.encode(prompt), maxTokens: 200, sampling: { temperature: 0.8, topK: 40 }, seed: i });
  console.log(JSON.stringify({ prompt, continuation: model.tokenizer.decode(r.ids), tokens: r.ids.length, stop: r.stopReason }));
}
model.dispose();
