/**
 * The official `openai` npm client against a real Baton server on a loopback port: completions and
 * chat, streamed and not, models; greedy output is the same streamed or not, and matches the
 * engine's own output for the same prompt.
 */
import OpenAI from 'openai';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { renderChatPrompt } from '@baton/server';
import { startServer, type RunningServer } from './server-fixture.js';

let running: RunningServer;
let client: OpenAI;

beforeAll(async () => {
  running = await startServer();
  client = new OpenAI({ baseURL: `${running.url}/v1`, apiKey: 'unused', maxRetries: 0 });
});
afterAll(async () => {
  await running?.server.close();
});

describe('openai client: completions', () => {
  it('returns a completion object with usage', async () => {
    const c = await client.completions.create({ model: 'baton-tiny', prompt: 'Once upon a time', max_tokens: 8, temperature: 0 });
    expect(c.object).toBe('text_completion');
    expect(c.model).toBe('baton-tiny');
    expect(c.choices).toHaveLength(1);
    expect(c.choices[0].finish_reason).toBe('length');
    expect(c.usage).toEqual({ prompt_tokens: 16, completion_tokens: 8, total_tokens: 24 });
    const direct = await running.server.engine.generate({ prompt: 'Once upon a time', maxTokens: 8, temperature: 0 }).result;
    expect(c.choices[0].text).toBe(direct.text);
  });

  it('streams chunks whose text equals the non-streamed greedy text', async () => {
    const body = { model: 'baton-tiny', prompt: [72, 101, 108, 108, 111], max_tokens: 12, temperature: 0 };
    const whole = await client.completions.create(body);
    const stream = await client.completions.create({ ...body, stream: true, stream_options: { include_usage: true } });
    let text = '';
    const finishes: Array<string | null> = [];
    let usage: OpenAI.CompletionUsage | undefined;
    for await (const chunk of stream) {
      for (const choice of chunk.choices) {
        text += choice.text;
        finishes.push(choice.finish_reason);
      }
      usage = chunk.usage ?? usage;
    }
    expect(text).toBe(whole.choices[0].text);
    expect(finishes.at(-1)).toBe('length');
    expect(usage).toEqual({ prompt_tokens: 5, completion_tokens: 12, total_tokens: 17 });
  });

  it('cuts at a stop string, in both forms', async () => {
    const probe = await client.completions.create({ model: 'baton-tiny', prompt: 'abc', max_tokens: 12, temperature: 0 });
    const stop = probe.choices[0].text.slice(3, 5);
    const expected = probe.choices[0].text.slice(0, probe.choices[0].text.indexOf(stop));
    const whole = await client.completions.create({ model: 'baton-tiny', prompt: 'abc', max_tokens: 12, temperature: 0, stop });
    expect(whole.choices[0].text).toBe(expected);
    expect(whole.choices[0].finish_reason).toBe('stop');
    const stream = await client.completions.create({ model: 'baton-tiny', prompt: 'abc', max_tokens: 12, temperature: 0, stop: [stop], stream: true });
    let text = '';
    for await (const chunk of stream) text += chunk.choices[0]?.text ?? '';
    expect(text).toBe(expected);
  });

  it('samples reproducibly with a seed', async () => {
    const body = { model: 'baton-tiny', prompt: 'seeded', max_tokens: 10, temperature: 1, top_p: 0.9, seed: 1234 } as const;
    const a = await client.completions.create(body);
    const b = await client.completions.create(body);
    expect(a.choices[0].text).toBe(b.choices[0].text);
  });
});

describe('openai client: chat', () => {
  const messages = [
    { role: 'system', content: 'You are terse.' },
    { role: 'user', content: 'Hello' },
  ] as const;

  it('returns a chat completion rendered with the chat template', async () => {
    const c = await client.chat.completions.create({ model: 'baton-tiny', messages: [...messages], max_tokens: 6, temperature: 0 });
    expect(c.object).toBe('chat.completion');
    expect(c.choices[0].message.role).toBe('assistant');
    const prompt = renderChatPrompt([...messages]);
    expect(prompt).toBe('<|system|>\nYou are terse.<|end|>\n<|user|>\nHello<|end|>\n<|assistant|>\n');
    expect(c.usage?.prompt_tokens).toBe(prompt.length);
    const direct = await running.server.engine.generate({ prompt, maxTokens: 6, temperature: 0, stop: ['<|end|>'] }).result;
    expect(c.choices[0].message.content).toBe(direct.text);
  });

  it('streams a role delta, content deltas, then the finish reason', async () => {
    const whole = await client.chat.completions.create({ model: 'baton-tiny', messages: [...messages], max_completion_tokens: 9, temperature: 0 });
    const stream = await client.chat.completions.create({ model: 'baton-tiny', messages: [...messages], max_completion_tokens: 9, temperature: 0, stream: true });
    const chunks: OpenAI.ChatCompletionChunk[] = [];
    for await (const chunk of stream) chunks.push(chunk);
    expect(chunks[0].choices[0].delta.role).toBe('assistant');
    expect(chunks.map((c) => c.choices[0].delta.content ?? '').join('')).toBe(whole.choices[0].message.content);
    expect(chunks.at(-1)?.choices[0].finish_reason).toBe(whole.choices[0].finish_reason);
  });
});

describe('openai client: models and errors', () => {
  it('lists the served model', async () => {
    const models = await client.models.list();
    expect(models.data.map((m) => m.id)).toEqual(['baton-tiny']);
  });

  it('raises BadRequestError naming the field', async () => {
    const error = await client.completions.create({ model: 'baton-tiny', prompt: 'x', max_tokens: -1 }).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(OpenAI.BadRequestError);
    expect((error as InstanceType<typeof OpenAI.BadRequestError>).param).toBe('max_tokens');
  });
});
