// Details Ollama and OpenAI clients rely on: `--model` files listed like stored models
// (/api/tags, /api/show, /api/ps), created_at on every NDJSON line, Ollama-shaped 404s, chunked
// request bodies, chat_template_kwargs, legacy `functions`, tool calls cut by max_tokens,
// Ollama's trimming of long conversations, and `cria serve` refusing a port in use. Uses the
// shared tiny Qwen3 model (random weights); skipped when ../shared is absent.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import http from 'node:http';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import { Ollama } from 'ollama';
import { CRIA_BIN, CRIA_HOME, post, sharedDir, sharedSkip, startServer } from './harness.mjs';

const shared = sharedDir();
const gguf = shared ? path.join(shared, 'models', 'tiny-qwen3.Q8_0.gguf') : null;
const skip = sharedSkip(gguf && existsSync(gguf) ? false : '../shared/models/tiny-qwen3.Q8_0.gguf is absent; skipped');
const MODEL = 'tiny';
const CTX = 256;
const dir = mkdtempSync(path.join(os.tmpdir(), 'cria-e2e-dropin-'));
const env = { CRIA_MODELS: path.join(dir, 'models') };
let server;
let ollama;

before(async () => {
  if (skip) return;
  server = await startServer(['--threads', '1', '--ctx-size', String(CTX), '--model', `${MODEL}=${gguf}`], { env });
  ollama = new Ollama({ host: server.url });
});
after(async () => {
  await server?.stop();
  rmSync(dir, { recursive: true, force: true });
});

// The NDJSON lines of a body.
const ndjson = (text) => text.trim().split('\n').map((line) => JSON.parse(line));

// Sends `body` in pieces without a Content-Length (Transfer-Encoding: chunked).
function postChunked(url, body) {
  return new Promise((resolve, reject) => {
    const req = http.request(url, { method: 'POST', headers: { 'content-type': 'application/json' } }, (res) => {
      let text = '';
      res.setEncoding('utf8');
      res.on('data', (d) => { text += d; });
      res.on('end', () => resolve({ status: res.statusCode, headers: res.headers, text }));
    });
    req.on('error', reject);
    const json = JSON.stringify(body);
    const third = Math.ceil(json.length / 3);
    for (let i = 0; i < json.length; i += third) req.write(json.slice(i, i + third));
    req.end();
  });
}

function freePort() {
  return new Promise((resolve) => {
    const probe = net.createServer();
    probe.listen(0, '127.0.0.1', () => {
      const { port } = probe.address();
      probe.close(() => resolve(port));
    });
  });
}

describe('Ollama drop-in details', { skip }, () => {
  test('a --model file is listed, shown and reported loaded like a stored model', async () => {
    const { models } = await ollama.list();
    const listed = models.find((m) => m.name === `${MODEL}:latest`);
    assert.ok(listed, JSON.stringify(models));
    assert.match(listed.digest, /^[0-9a-f]{64}$/);
    assert.ok(listed.size > 0);
    assert.equal(listed.details.family, 'qwen3');
    assert.equal(listed.details.format, 'gguf');
    assert.ok(listed.details.parameter_size.length > 0);
    assert.ok(!Number.isNaN(Date.parse(listed.modified_at)));

    const shown = await ollama.show({ model: MODEL });
    assert.equal(shown.details.family, 'qwen3');
    assert.ok(shown.template.includes('im_start'));
    assert.ok(shown.capabilities.includes('completion'));
    assert.equal(shown.modified_at, listed.modified_at);

    await ollama.generate({ model: MODEL, prompt: 'Hi', options: { num_predict: 1 } });
    const loaded = (await ollama.ps()).models.find((m) => m.name === MODEL);
    assert.ok(loaded);
    assert.equal(loaded.digest, listed.digest);
    assert.equal(loaded.details.family, 'qwen3');
    assert.equal(loaded.details.parameter_size, listed.details.parameter_size);
  });

  test('every streamed line has its own created_at', async () => {
    const res = await post(`${server.url}/api/chat`, {
      model: MODEL, messages: [{ role: 'user', content: 'Hello' }], options: { num_predict: 12, temperature: 0 },
    });
    assert.equal(res.status, 200);
    const lines = ndjson(res.text);
    assert.ok(lines.length >= 3, res.text);
    const times = lines.map((l) => l.created_at);
    for (const t of times) assert.ok(!Number.isNaN(Date.parse(t)), t);
    assert.ok(new Set(times).size > 1, `one shared created_at: ${times[0]}`);
    assert.deepEqual([...times].sort(), times, 'created_at goes forward');

    const generated = ndjson((await post(`${server.url}/api/generate`, {
      model: MODEL, prompt: 'Hello', options: { num_predict: 6 },
    })).text);
    assert.ok(generated.every((l) => typeof l.created_at === 'string'));

    // A pull that fails still streams lines, each with its time.
    const pulled = await post(`${server.url}/api/pull`, { model: 'localhost:1/a/b', insecure: true });
    const pullLines = ndjson(pulled.text);
    assert.ok(pullLines.length >= 1);
    assert.ok(pullLines.every((l) => typeof l.created_at === 'string'), pulled.text);
  });

  test('an unknown /api path is a 404 in Ollama\'s error shape', async () => {
    for (const [method, route] of [['GET', '/api/nope'], ['POST', '/api/nope']]) {
      const res = await fetch(`${server.url}${route}`, { method, body: method === 'POST' ? '{}' : undefined });
      assert.equal(res.status, 404);
      const body = await res.json();
      assert.equal(typeof body.error, 'string', JSON.stringify(body));
    }
    const openai = await (await fetch(`${server.url}/v1/nope`)).json();
    assert.equal(openai.error.code, 'unknown_url');
  });

  test('chunked request bodies are accepted', async () => {
    const chat = await postChunked(`${server.url}/api/chat`, {
      model: MODEL, messages: [{ role: 'user', content: 'Hi' }], stream: false, options: { num_predict: 2 },
    });
    assert.equal(chat.status, 200, chat.text);
    assert.equal(JSON.parse(chat.text).done, true);
    const completion = await postChunked(`${server.baseURL}/chat/completions`, {
      model: MODEL, messages: [{ role: 'user', content: 'Hi' }], max_tokens: 2,
    });
    assert.equal(completion.status, 200, completion.text);
    assert.equal(JSON.parse(completion.text).object, 'chat.completion');
  });

  test('chat_template_kwargs reach the template, and must be an object', async () => {
    const client = server.client();
    const messages = [{ role: 'user', content: 'Hi' }];
    const plain = await client.chat.completions.create({ model: MODEL, messages, max_tokens: 1 });
    // Qwen3's template closes an empty <think> block in the prompt when thinking is off.
    const off = await client.chat.completions.create({
      model: MODEL, messages, max_tokens: 1, chat_template_kwargs: { enable_thinking: false },
    });
    assert.ok(off.usage.prompt_tokens > plain.usage.prompt_tokens,
      `${off.usage.prompt_tokens} <= ${plain.usage.prompt_tokens}`);
    const bad = await post(`${server.baseURL}/chat/completions`, { model: MODEL, messages, chat_template_kwargs: 'no' });
    assert.equal(bad.status, 400);
    assert.equal(bad.json.error.param, 'chat_template_kwargs');
    const completion = await post(`${server.baseURL}/completions`, {
      model: MODEL, prompt: 'Hi', max_tokens: 1, chat_template_kwargs: { enable_thinking: false },
    });
    assert.equal(completion.status, 200, completion.text);
    const badCompletion = await post(`${server.baseURL}/completions`, { model: MODEL, prompt: 'Hi', chat_template_kwargs: [1] });
    assert.equal(badCompletion.status, 400);
    assert.equal(badCompletion.json.error.param, 'chat_template_kwargs');
  });

  test('legacy functions / function_call become tools / tool_choice', async () => {
    const res = await post(`${server.baseURL}/chat/completions`, {
      model: MODEL,
      messages: [{ role: 'user', content: 'Add 1 and 2' }],
      functions: [{ name: 'add', parameters: { type: 'object', properties: { a: { type: 'integer' } }, required: ['a'] } }],
      function_call: { name: 'add' },
      max_tokens: 40,
      seed: 1,
    });
    assert.equal(res.status, 200, res.text);
    const { message } = res.json.choices[0];
    assert.equal(message.tool_calls?.[0]?.function?.name, 'add', JSON.stringify(message));
    const none = await post(`${server.baseURL}/chat/completions`, {
      model: MODEL, messages: [{ role: 'user', content: 'Hi' }], functions: [{ name: 'add' }], function_call: 'sometimes',
    });
    assert.equal(none.status, 400);
    assert.equal(none.json.error.param, 'function_call');
  });

  test('a tool call cut by max_tokens leaks no markup into content', async () => {
    const body = {
      model: MODEL,
      messages: [{ role: 'user', content: 'Add 1 and 2' }],
      tools: [{ type: 'function', function: { name: 'add', parameters: { type: 'object', properties: { a: { type: 'integer' } } } } }],
      tool_choice: 'required',
      // The tiny model spells the call nearly byte by byte: the name is complete by then.
      max_tokens: 30,
    };
    let cutWithCall = 0;
    for (const seed of [1, 2, 3, 4]) {
      const whole = await post(`${server.baseURL}/chat/completions`, { ...body, seed });
      assert.equal(whole.status, 200, whole.text);
      const { message, finish_reason: finish } = whole.json.choices[0];
      assert.ok(!(message.content ?? '').includes('<tool_call>'), JSON.stringify(message));
      if (finish === 'length' && message.tool_calls) {
        assert.equal(message.tool_calls[0].function.name, 'add');
        cutWithCall++;
      }
    }
    assert.ok(cutWithCall >= 1, 'no answer was cut inside its call');
    // Streamed, the same.
    const stream = await server.client().chat.completions.create({ ...body, seed: 1, stream: true });
    let content = '';
    let name = '';
    for await (const chunk of stream) {
      const delta = chunk.choices[0]?.delta ?? {};
      content += delta.content ?? '';
      name += delta.tool_calls?.[0]?.function?.name ?? '';
    }
    assert.ok(!content.includes('<tool_call>'));
    assert.equal(name, 'add');
  });

  test('/api/chat trims a conversation longer than the context; /v1 refuses it', async () => {
    const long = 'The quick brown fox jumps over the lazy dog. '.repeat(6);
    const messages = [{ role: 'system', content: 'Be brief.' }];
    for (let i = 0; i < 12; i++) {
      messages.push({ role: 'user', content: `${i}: ${long}` }, { role: 'assistant', content: 'Noted.' });
    }
    messages.push({ role: 'user', content: 'Summarize.' });
    const res = await ollama.chat({ model: MODEL, messages, stream: false, options: { num_predict: 1 } });
    assert.equal(res.done, true);
    assert.ok(res.prompt_eval_count < CTX, `${res.prompt_eval_count}`);
    assert.match(server.stderr(), /left out the \d+ oldest messages/);

    const refused = await post(`${server.baseURL}/chat/completions`, { model: MODEL, messages, max_tokens: 1 });
    assert.equal(refused.status, 400);
    assert.equal(refused.json.error.code, 'context_length_exceeded');

    // /api/generate: the oldest tokens of `context` go first.
    const context = Array(CTX + 50).fill(9707);
    const generated = await ollama.generate({ model: MODEL, prompt: 'Hi', context, stream: false, options: { num_predict: 1 } });
    assert.equal(generated.done, true);
    assert.ok(generated.prompt_eval_count < CTX);
  });

  test('a second server on a busy port fails; CRIA_HOST=PORT means 127.0.0.1:PORT', async () => {
    const busy = new URL(server.url);
    const second = spawnSync(CRIA_BIN, ['serve', '--model', `${MODEL}=${gguf}`], {
      env: { ...process.env, CRIA_HOME, ...env, CRIA_HOST: `${busy.hostname}:${busy.port}` },
      encoding: 'utf8',
      timeout: 60_000,
    });
    assert.notEqual(second.status, 0, second.stdout);
    assert.match(second.stderr, /address already in use/);

    const port = await freePort();
    const own = await startServer(['--model', `${MODEL}=${gguf}`], { env: { ...env, CRIA_HOST: String(port) } });
    try {
      assert.equal(own.url, `http://127.0.0.1:${port}`);
    } finally {
      await own.stop();
    }
  });
});
