// The server on models with real vocabularies and their real chat templates: the shared tiny
// Qwen3 model, and a Llama 3 twin (the shared one, or one made here with `cria make-model` from
// the Llama 3 vocabulary and its chat template). Skipped when ../shared is absent.
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import { CRIA_HOME, runCria, sharedDir, startServer, sharedSkip } from './harness.mjs';

const shared = sharedDir();
const skip = sharedSkip(shared ? false : '../shared is absent (set CRIA_SHARED); skipped');
let server;
let client;
const models = [];

before(async () => {
  if (!shared) return;
  const qwen = path.join(shared, 'models', 'tiny-qwen3.Q8_0.gguf');
  if (existsSync(qwen)) models.push(['tiny-qwen3', qwen]);
  let llama = path.join(shared, 'models', 'tiny-llama3.Q8_0.gguf');
  const vocab = path.join(shared, 'golden', 'vocab', 'ggml-vocab-llama-bpe.gguf');
  if (!existsSync(llama) && existsSync(vocab)) {
    llama = path.join(CRIA_HOME, 'tiny-llama3.Q8_0.gguf');
    if (!existsSync(llama)) {
      runCria(['make-model', '--shape', 'tiny', '--type', 'Q8_0', '--vocab-from', vocab, '--output', llama, '--seed', '7']);
    }
  }
  if (existsSync(llama)) models.push(['tiny-llama3', llama]);
  assert.ok(models.length > 0, 'no real-vocabulary model found in ../shared');
  server = await startServer(['--ctx-size', '2048', ...models.flatMap(([name, file]) => ['--model', `${name}=${file}`])]);
  client = server.client();
});
after(async () => { await server?.stop(); });

describe('real vocabularies and chat templates', { skip }, () => {
  test('/v1/models lists every model', async () => {
    const page = await client.models.list();
    assert.deepEqual(page.data.map((m) => m.id).sort(), models.map(([name]) => name).sort());
  });

  test('each model answers a chat, streaming and not', async () => {
    for (const [name] of models) {
      const messages = [
        { role: 'system', content: 'You are a helpful assistant.' },
        { role: 'user', content: 'What is the capital of France? Ünïcödé ✓' },
      ];
      const res = await client.chat.completions.create({ model: name, messages, max_tokens: 8, seed: 1 });
      assert.equal(res.model, name);
      assert.ok(['stop', 'length'].includes(res.choices[0].finish_reason));
      assert.ok(res.usage.prompt_tokens > 10, `${name}: the template should wrap the messages`);
      const stream = await client.chat.completions.create({
        model: name, messages, max_tokens: 8, seed: 1, stream: true, stream_options: { include_usage: true },
      });
      const chunks = [];
      for await (const chunk of stream) chunks.push(chunk);
      assert.equal(chunks[0].choices[0].delta.role, 'assistant');
      assert.deepEqual(chunks.at(-1).choices, []);
      const text = chunks.map((c) => c.choices[0]?.delta?.content ?? '').join('');
      assert.equal(text, res.choices[0].message.content, `${name}: same seed, same text`);
      assert.equal(chunks.at(-1).usage.prompt_tokens, res.usage.prompt_tokens);
    }
  });

  test('tools are passed to the template', async () => {
    const tools = [{
      type: 'function',
      function: {
        name: 'get_weather', description: 'Weather of a city',
        parameters: { type: 'object', properties: { city: { type: 'string' } }, required: ['city'] },
      },
    }];
    for (const [name] of models) {
      const messages = [{ role: 'user', content: 'Weather in Paris?' }];
      const plain = await client.chat.completions.create({ model: name, messages, max_tokens: 1 });
      const withTools = await client.chat.completions.create({ model: name, messages, max_tokens: 1, tools, tool_choice: 'auto' });
      assert.ok(withTools.usage.prompt_tokens > plain.usage.prompt_tokens + 10, name);
      // A whole tool round trip renders too.
      const followUp = await client.chat.completions.create({
        model: name, max_tokens: 4, tools,
        messages: [
          ...messages,
          { role: 'assistant', content: null, tool_calls: [{ id: 'call_1', type: 'function', function: { name: 'get_weather', arguments: '{"city":"Paris"}' } }] },
          { role: 'tool', tool_call_id: 'call_1', content: '{"temperature": 21}' },
        ],
      });
      assert.equal(followUp.choices.length, 1);
    }
  });

  test('logprobs carry real token text', async () => {
    for (const [name] of models) {
      const res = await client.chat.completions.create({
        model: name, messages: [{ role: 'user', content: 'Hi' }], max_tokens: 4, logprobs: true, top_logprobs: 2, seed: 3,
      });
      for (const entry of res.choices[0].logprobs.content) {
        assert.equal(typeof entry.token, 'string');
        assert.equal(entry.top_logprobs.length, 2);
      }
    }
  });
});
