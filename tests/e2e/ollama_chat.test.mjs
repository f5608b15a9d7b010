// Ollama's generation API (/api/chat, /api/generate) and model loading through the official
// `ollama` npm client: NDJSON streaming and single answers, the Modelfile's defaults (SYSTEM,
// PARAMETER num_predict / temperature / num_ctx) for both APIs, /api/generate's context round
// trip, format (JSON Schema, validated with ajv), tools, think, keep_alive unloading and
// `cria stop`. Uses the shared tiny Qwen3 model (random weights); skipped when ../shared is absent.
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import Ajv2020 from 'ajv/dist/2020.js';
import { Ollama } from 'ollama';
import { DEMO_MODEL, post, runCria, sharedDir, startServer, sharedSkip } from './harness.mjs';

const shared = sharedDir();
const gguf = shared ? path.join(shared, 'models', 'tiny-qwen3.Q8_0.gguf') : null;
const skip = sharedSkip(gguf && existsSync(gguf) ? false : '../shared/models/tiny-qwen3.Q8_0.gguf is absent; skipped');
const dir = mkdtempSync(path.join(os.tmpdir(), 'cria-e2e-ollama-chat-'));
const env = { CRIA_MODELS: path.join(dir, 'models') };
const NUM_PREDICT = 5;
let server;
let ollama;

const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));
const loadedNames = async () => (await ollama.ps()).models.map((m) => m.name);

before(async () => {
  if (skip) return;
  writeFileSync(path.join(dir, 'Modelfile'),
    `FROM ${gguf}\nPARAMETER num_ctx 1024\nPARAMETER temperature 0\nPARAMETER num_predict ${NUM_PREDICT}\nSYSTEM """You are terse."""\n`);
  runCria(['create', 'tq', '-f', path.join(dir, 'Modelfile')], { env });
  writeFileSync(path.join(dir, 'Modelfile.plain'), `FROM ${gguf}\nPARAMETER num_ctx 1024\n`);
  runCria(['create', 'plain', '-f', path.join(dir, 'Modelfile.plain')], { env });
  runCria(['cp', 'tq', 'gpt-3.5-turbo'], { env });
  // A Jinja TEMPLATE that writes only the contents, and a MESSAGE history.
  writeFileSync(path.join(dir, 'Modelfile.custom'),
    `FROM ${gguf}\nTEMPLATE """{% for m in messages %}{{ m.content }}{% endfor %}"""\n`);
  runCria(['create', 'bare', '-f', path.join(dir, 'Modelfile.custom')], { env });
  writeFileSync(path.join(dir, 'Modelfile.history'),
    `FROM plain\nMESSAGE user "What is two plus two?"\nMESSAGE assistant "Four."\n`);
  runCria(['create', 'history', '-f', path.join(dir, 'Modelfile.history')], { env });
  server = await startServer([], { env });
  ollama = new Ollama({ host: server.url });
});
after(async () => {
  await server?.stop();
  rmSync(dir, { recursive: true, force: true });
});

const hello = [{ role: 'user', content: 'Hello' }];

describe('/api/chat and /api/generate', { skip }, () => {
  test('chat without streaming: one object with the stats', async () => {
    const res = await ollama.chat({ model: 'tq', messages: hello, stream: false });
    assert.equal(res.model, 'tq');
    assert.ok(!Number.isNaN(Date.parse(res.created_at)));
    assert.equal(res.message.role, 'assistant');
    assert.equal(typeof res.message.content, 'string');
    assert.equal(res.done, true);
    assert.ok(['stop', 'length'].includes(res.done_reason));
    // PARAMETER num_predict bounds the answer.
    assert.ok(res.eval_count >= 1 && res.eval_count <= NUM_PREDICT, `eval_count ${res.eval_count}`);
    assert.ok(res.prompt_eval_count > 0);
    for (const key of ['total_duration', 'load_duration', 'prompt_eval_duration', 'eval_duration']) {
      assert.ok(Number.isInteger(res[key]) && res[key] >= 0, key);
    }
    assert.ok(res.total_duration >= res.eval_duration);
  });

  test('chat streaming: done:false chunks, then the final object; same text as unstreamed', async () => {
    const parts = [];
    for await (const part of await ollama.chat({ model: 'tq', messages: hello, stream: true })) parts.push(part);
    assert.ok(parts.length >= 2);
    const last = parts.at(-1);
    assert.equal(last.done, true);
    assert.ok(Number.isInteger(last.eval_count) && last.eval_count <= NUM_PREDICT);
    for (const part of parts.slice(0, -1)) {
      assert.equal(part.done, false);
      assert.equal(part.model, 'tq');
      assert.equal(part.message.role, 'assistant');
    }
    const streamed = parts.map((p) => p.message.content).join('');
    // PARAMETER temperature 0: greedy, so both answers are the same.
    const whole = await ollama.chat({ model: 'tq', messages: hello, stream: false });
    assert.equal(streamed, whole.message.content);
    // Request options override the Modelfile's.
    const short = await ollama.chat({ model: 'tq', messages: hello, stream: false, options: { num_predict: 1 } });
    assert.equal(short.eval_count, 1);
  });

  test('the Modelfile SYSTEM prompt is applied, unless the conversation has its own', async () => {
    const withSystem = await ollama.chat({ model: 'tq', messages: hello, stream: false, options: { num_predict: 1 } });
    const plain = await ollama.chat({ model: 'plain', messages: hello, stream: false, options: { num_predict: 1 } });
    const own = await ollama.chat({
      model: 'tq', messages: [{ role: 'system', content: 'x' }, ...hello], stream: false, options: { num_predict: 1 },
    });
    assert.ok(withSystem.prompt_eval_count > plain.prompt_eval_count);
    assert.ok(own.prompt_eval_count < withSystem.prompt_eval_count);
  });

  test('the Modelfile TEMPLATE and MESSAGE history shape the prompt', async () => {
    const opts = { stream: false, options: { num_predict: 1 } };
    const plain = await ollama.chat({ model: 'plain', messages: hello, ...opts });
    const bare = await ollama.chat({ model: 'bare', messages: hello, ...opts });
    const history = await ollama.chat({ model: 'history', messages: hello, ...opts });
    assert.ok(bare.prompt_eval_count <= 2, `the bare template renders only "Hello": ${bare.prompt_eval_count}`);
    assert.ok(history.prompt_eval_count > plain.prompt_eval_count + 8);
  });

  test('OpenAI requests take the Modelfile defaults they omit (system, num_predict, temperature)', async () => {
    const client = server.client();
    const a = await client.chat.completions.create({ model: 'gpt-3.5-turbo', messages: hello });
    const b = await client.chat.completions.create({ model: 'gpt-3.5-turbo', messages: hello });
    assert.ok(a.usage.completion_tokens <= NUM_PREDICT, `completion_tokens ${a.usage.completion_tokens}`);
    assert.equal(a.choices[0].message.content, b.choices[0].message.content);  // temperature 0
    // Ollama's sampler defaults add a repeat penalty; OpenAI's do not.
    const native = await ollama.chat({ model: 'gpt-3.5-turbo', messages: hello, stream: false, options: { repeat_penalty: 1 } });
    assert.equal(a.usage.prompt_tokens, native.prompt_eval_count);  // the same SYSTEM prompt
    assert.equal(a.choices[0].message.content, native.message.content);
    // A field the request sets wins over the Modelfile.
    const one = await client.chat.completions.create({ model: 'gpt-3.5-turbo:latest', messages: hello, max_tokens: 1 });
    assert.equal(one.usage.completion_tokens, 1);
    const models = (await client.models.list()).data.map((m) => m.id);
    for (const name of [DEMO_MODEL, 'tq', 'plain', 'gpt-3.5-turbo']) assert.ok(models.includes(name), name);
  });

  test('generate: context round trip, raw prompts, streaming', async () => {
    const first = await ollama.generate({ model: 'tq', prompt: 'Hello', stream: false, options: { num_predict: 3 } });
    assert.equal(typeof first.response, 'string');
    assert.ok(Array.isArray(first.context));
    assert.equal(first.context.length, first.prompt_eval_count + first.eval_count);
    const second = await ollama.generate({ model: 'tq', prompt: 'More', context: first.context, stream: false, options: { num_predict: 2 } });
    assert.ok(second.prompt_eval_count > first.context.length);
    assert.deepEqual(second.context.slice(0, first.context.length), first.context);
    const raw = await ollama.generate({ model: 'tq', prompt: 'abc', raw: true, stream: false, options: { num_predict: 1 } });
    assert.ok(raw.prompt_eval_count < first.prompt_eval_count, 'raw prompts skip the template and SYSTEM');
    const parts = [];
    for await (const part of await ollama.generate({ model: 'tq', prompt: 'Hello', stream: true, options: { num_predict: 3 } })) parts.push(part);
    assert.equal(parts.at(-1).done, true);
    assert.deepEqual(parts.at(-1).context, first.context);  // greedy: the same answer
    assert.equal(parts.map((p) => p.response).join(''), first.response);
  });

  test('format: a JSON Schema constrains the answer', async () => {
    const schema = {
      type: 'object',
      properties: { color: { enum: ['red', 'green'] }, ok: { type: 'boolean' } },
      required: ['color', 'ok'],
      additionalProperties: false,
    };
    const validate = new Ajv2020({ strict: false }).compile(schema);
    let finished = 0;
    for (const seed of [1, 2, 3]) {
      const res = await ollama.chat({
        model: 'plain', messages: hello, format: schema, stream: false, options: { seed, temperature: 1, num_predict: 48 },
      });
      if (res.done_reason !== 'stop') continue;
      finished++;
      const value = JSON.parse(res.message.content);
      assert.ok(validate(value), `${res.message.content}: ${JSON.stringify(validate.errors)}`);
    }
    assert.ok(finished > 0, 'no answer finished within num_predict');
    const generated = await ollama.generate({ model: 'plain', prompt: 'JSON please', format: schema, stream: false, options: { seed: 4, num_predict: 48 } });
    if (generated.done_reason === 'stop') assert.ok(validate(JSON.parse(generated.response)), generated.response);
    const bad = await post(`${server.url}/api/chat`, { model: 'plain', messages: hello, format: 'yaml' });
    assert.equal(bad.status, 400);
    assert.match(bad.json.error, /format/);
  });

  test('tools: accepted, and the history with object arguments renders', async () => {
    const tools = [{
      type: 'function',
      function: { name: 'get_weather', description: 'Weather of a city', parameters: { type: 'object', properties: { city: { type: 'string' } }, required: ['city'] } },
    }];
    const messages = [
      { role: 'user', content: 'Weather in Paris?' },
      { role: 'assistant', content: '', tool_calls: [{ function: { name: 'get_weather', arguments: { city: 'Paris' } } }] },
      { role: 'tool', content: '{"temp": 20}', tool_name: 'get_weather' },
    ];
    const res = await ollama.chat({ model: 'tq', messages, tools, stream: false, options: { num_predict: 4 } });
    assert.equal(res.done, true);
    const without = await ollama.chat({ model: 'tq', messages: messages.slice(0, 1), stream: false, options: { num_predict: 1 } });
    const withTools = await ollama.chat({ model: 'tq', messages: messages.slice(0, 1), tools, stream: false, options: { num_predict: 1 } });
    assert.ok(withTools.prompt_eval_count > without.prompt_eval_count, 'the tools reach the template');
    for (const call of res.message.tool_calls ?? []) {
      assert.equal(typeof call.function.name, 'string');
      assert.equal(typeof call.function.arguments, 'object');
    }
  });

  test('think: accepted for a thinking template, refused for one without', async () => {
    const res = await ollama.chat({ model: 'tq', messages: hello, think: true, stream: false, options: { num_predict: 4 } });
    assert.equal(res.done, true);
    if (res.message.thinking !== undefined) assert.equal(typeof res.message.thinking, 'string');
    assert.ok(!res.message.content.includes('<think>'));
    const off = await ollama.chat({ model: 'tq', messages: hello, think: false, stream: false, options: { num_predict: 1 } });
    assert.ok(off.prompt_eval_count > res.prompt_eval_count, 'think:false closes an empty think block in the prompt');
    await assert.rejects(ollama.chat({ model: DEMO_MODEL, messages: hello, think: true, stream: false }),
      (err) => err.status_code === 400 && /does not support thinking/.test(err.error));
  });

  test('show reports the template\'s capabilities', async () => {
    const shown = await ollama.show({ model: 'tq' });
    assert.deepEqual(shown.capabilities, ['completion', 'tools', 'thinking']);
  });

  test('errors are Ollama-shaped', async () => {
    await assert.rejects(ollama.chat({ model: 'nope', messages: hello, stream: false }),
      (err) => err.status_code === 404 && err.error === 'model "nope" not found, try pulling it first');
    for (const [body, pattern] of [
      [{ model: 'tq', prompt: 'x', suffix: 'y' }, /"tq" does not support insert/],
      [{ model: 'tq', prompt: 'x', template: '{{ if .Prompt }}' }, /template: .*line 1/],
      [{ model: 'tq', prompt: 'x', keep_alive: 'soon' }, /keep_alive/],
      [{ model: 'tq', prompt: 'x', options: { temperature: 'hot' } }, /temperature/],
      [{ prompt: 'x' }, /model is required/],
    ]) {
      const res = await post(`${server.url}/api/generate`, body);
      assert.equal(res.status, 400, JSON.stringify(body));
      assert.match(res.json.error, pattern);
    }
  });

  test('loading: empty prompts load, keep_alive unloads, num_ctx reloads, cria stop', async () => {
    const loaded = await ollama.generate({ model: 'plain', prompt: '', keep_alive: '1s' });
    assert.equal(loaded.done, true);
    assert.equal(loaded.done_reason, 'load');
    const ps = (await ollama.ps()).models.find((m) => m.name === 'plain');
    assert.ok(ps, 'plain is loaded');
    assert.ok(Date.parse(ps.expires_at) > Date.now() - 1000);
    assert.equal(ps.context_length, 1024);
    await sleep(2500);
    assert.ok(!(await loadedNames()).includes('plain'), 'keep_alive 1s unloaded it');

    await ollama.chat({ model: 'plain', messages: hello, keep_alive: 0, stream: false, options: { num_predict: 1 } });
    assert.ok(!(await loadedNames()).includes('plain'), 'keep_alive 0 unloads after the request');

    await ollama.generate({ model: 'plain', prompt: '', options: { num_ctx: 256 } });
    assert.equal((await ollama.ps()).models.find((m) => m.name === 'plain').context_length, 256);
    await ollama.generate({ model: 'plain', prompt: '' });
    assert.equal((await ollama.ps()).models.find((m) => m.name === 'plain').context_length, 1024);

    const listed = runCria(['ps'], { env: { ...env, CRIA_HOST: server.url } });
    assert.match(listed.stdout, /^plain\s/m);
    runCria(['stop', 'plain'], { env: { ...env, CRIA_HOST: server.url } });
    assert.ok(!(await loadedNames()).includes('plain'), 'cria stop unloaded it');
    const unloaded = await ollama.generate({ model: 'tq', prompt: '', keep_alive: 0 });
    assert.equal(unloaded.done_reason, 'unload');
  });
});

describe('CRIA_KEEP_ALIVE and CRIA_MAX_LOADED_MODELS', { skip }, () => {
  test('one model at a time, unloaded a second after its last request', async () => {
    const limited = await startServer([], { env: { ...env, CRIA_KEEP_ALIVE: '1s', CRIA_MAX_LOADED_MODELS: '1' } });
    try {
      const client = new Ollama({ host: limited.url });
      const names = async () => (await client.ps()).models.map((m) => m.name);
      await client.chat({ model: 'tq', messages: hello, stream: false, options: { num_predict: 1 } });
      assert.ok((await names()).includes('tq'));
      await client.chat({ model: 'plain', messages: hello, stream: false, options: { num_predict: 1 } });
      assert.deepEqual(await names(), ['plain'], 'the least recently used model made room');
      await sleep(2500);
      assert.deepEqual(await names(), []);
    } finally {
      await limited.stop();
    }
  });
});
