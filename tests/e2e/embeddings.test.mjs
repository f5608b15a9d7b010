// Embeddings end to end: /v1/embeddings through the official openai client (float and base64),
// /api/embed and /api/embeddings through the official ollama client, token-array inputs and
// errors over raw HTTP, and the shared goldens checked through the server. Uses the embedding
// models of ../shared/golden/embeddings and the tiny Qwen3 chat model; skipped without them.
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import { Ollama } from 'ollama';
import { post, runCria, sharedDir, startServer, sharedSkip } from './harness.mjs';

const shared = sharedDir();
const goldens = shared ? path.join(shared, 'golden', 'embeddings') : null;
const chatModel = shared ? path.join(shared, 'models', 'tiny-qwen3.Q8_0.gguf') : null;
const families = ['e-bert', 'e-nomic-bert', 'e-qwen3', 'e-gemma-embedding'];
const skip = sharedSkip(goldens && families.every((f) => existsSync(path.join(goldens, `${f}.gguf`))) &&
  existsSync(chatModel) ? false : 'the shared embedding goldens are absent; skipped');
const dir = mkdtempSync(path.join(os.tmpdir(), 'cria-e2e-embed-'));
const env = { CRIA_MODELS: path.join(dir, 'models') };
let server;
let ollama;
let client;

function norm(v) {
  return Math.sqrt(v.reduce((s, x) => s + x * x, 0));
}
function nmse(a, b) {
  let err = 0;
  let ref = 0;
  for (let i = 0; i < b.length; i += 1) {
    err += (a[i] - b[i]) ** 2;
    ref += b[i] ** 2;
  }
  return err / ref;
}
function readGolden(name) {
  const inputs = readFileSync(path.join(goldens, `${name}.inputs`), 'utf8').trim().split('\n')
    .map((line) => line.trim().split(/\s+/).map(Number));
  const bytes = readFileSync(path.join(goldens, `${name}.embeddings.f32`));
  const all = new Float32Array(bytes.buffer, bytes.byteOffset, bytes.length / 4);
  const width = all.length / inputs.length;
  const vectors = inputs.map((_, i) => Array.from(all.subarray(i * width, (i + 1) * width)));
  return { inputs, vectors };
}

before(async () => {
  if (skip) return;
  // One stored embedding model (for /api/show), the others as --model files.
  writeFileSync(path.join(dir, 'Modelfile'), `FROM ${path.join(goldens, 'e-bert.gguf')}\n`);
  runCria(['create', 'bert-embed', '-f', path.join(dir, 'Modelfile')], { env });
  server = await startServer([
    '--model', `nomic=${path.join(goldens, 'e-nomic-bert.gguf')}`,
    '--model', `qwen3-embed=${path.join(goldens, 'e-qwen3.gguf')}`,
    '--model', `gemma-embed=${path.join(goldens, 'e-gemma-embedding.gguf')}`,
    '--model', `chat=${chatModel}`,
  ], { env });
  ollama = new Ollama({ host: server.url });
  client = server.client();
});
after(async () => {
  await server?.stop();
  rmSync(dir, { recursive: true, force: true });
});

describe('/v1/embeddings through the openai client', { skip }, () => {
  test('a string in float and in base64 (the client default) gives the same unit vector', async () => {
    const asFloat = await client.embeddings.create({ model: 'bert-embed', input: 'hello world', encoding_format: 'float' });
    assert.equal(asFloat.object, 'list');
    assert.equal(asFloat.model, 'bert-embed');
    assert.equal(asFloat.data.length, 1);
    assert.equal(asFloat.data[0].object, 'embedding');
    assert.equal(asFloat.data[0].index, 0);
    const v = asFloat.data[0].embedding;
    assert.equal(v.length, 256);
    assert.ok(Math.abs(norm(v) - 1) < 1e-5);
    assert.ok(asFloat.usage.prompt_tokens >= 3, 'CLS, a word and SEP');
    assert.equal(asFloat.usage.total_tokens, asFloat.usage.prompt_tokens);

    const asBase64 = await client.embeddings.create({ model: 'bert-embed', input: 'hello world' });
    assert.equal(asBase64.data[0].embedding.length, 256);
    assert.deepEqual(Array.from(asBase64.data[0].embedding), v.map((x) => Math.fround(x)));

    const raw = await post(`${server.baseURL}/embeddings`, { model: 'bert-embed', input: 'hello world', encoding_format: 'base64' });
    assert.equal(typeof raw.json.data[0].embedding, 'string');
  });

  test('a batch keeps its order, and differs per input', async () => {
    const inputs = ['the first text', 'a second one', 'and the third', 'the first text'];
    const res = await client.embeddings.create({ model: 'nomic', input: inputs, encoding_format: 'float' });
    assert.deepEqual(res.data.map((d) => d.index), [0, 1, 2, 3]);
    assert.notDeepEqual(res.data[0].embedding, res.data[1].embedding);
    assert.ok(nmse(res.data[3].embedding, res.data[0].embedding) < 1e-10);
  });

  test('dimensions truncates and renormalizes', async () => {
    const full = await client.embeddings.create({ model: 'gemma-embed', input: 'matryoshka', encoding_format: 'float' });
    const cut = await client.embeddings.create({ model: 'gemma-embed', input: 'matryoshka', dimensions: 64, encoding_format: 'float' });
    const v = cut.data[0].embedding;
    assert.equal(v.length, 64);
    assert.ok(Math.abs(norm(v) - 1) < 1e-5);
    const head = full.data[0].embedding.slice(0, 64);
    const scale = norm(head);
    assert.ok(nmse(v, head.map((x) => x / scale)) < 1e-10);
  });

  test('token-array inputs match llama.cpp for every family', async () => {
    const names = { 'e-bert': 'bert-embed', 'e-nomic-bert': 'nomic', 'e-qwen3': 'qwen3-embed', 'e-gemma-embedding': 'gemma-embed' };
    for (const family of families) {
      const { inputs, vectors } = readGolden(family);
      const res = await post(`${server.baseURL}/embeddings`, { model: names[family], input: inputs, encoding_format: 'float' });
      assert.equal(res.status, 200, res.text);
      const limit = family === 'e-bert' || family === 'e-nomic-bert' ? 1e-4 : 3e-3;
      res.json.data.forEach((d, i) => assert.ok(nmse(d.embedding, vectors[i]) <= limit, `${family} input ${i}`));
      assert.equal(res.json.usage.prompt_tokens, inputs.reduce((s, x) => s + x.length, 0));
      // One input as a flat array of ids.
      const one = await post(`${server.baseURL}/embeddings`, { model: names[family], input: inputs[2], encoding_format: 'float' });
      assert.ok(nmse(one.json.data[0].embedding, vectors[2]) <= limit);
    }
  });

  test('a generation model embeds too (its last token)', async () => {
    const res = await client.embeddings.create({ model: 'chat', input: 'hello', encoding_format: 'float' });
    assert.equal(res.data[0].embedding.length, 64);
    assert.ok(Math.abs(norm(res.data[0].embedding) - 1) < 1e-5);
  });

  test('concurrent requests all succeed and agree', async () => {
    const runs = await Promise.all(Array.from({ length: 8 }, (_, i) =>
      client.embeddings.create({ model: 'bert-embed', input: ['same text', `other ${i}`], encoding_format: 'float' })));
    for (const r of runs) assert.ok(nmse(r.data[0].embedding, runs[0].data[0].embedding) < 1e-10);
  });
});

describe('/api/embed and /api/embeddings through the ollama client', { skip }, () => {
  test('embed returns unit vectors and Ollama\'s counters', async () => {
    const res = await ollama.embed({ model: 'bert-embed', input: ['why is the sky blue', 'why is grass green'] });
    assert.equal(res.model, 'bert-embed');
    assert.equal(res.embeddings.length, 2);
    for (const v of res.embeddings) {
      assert.equal(v.length, 256);
      assert.ok(Math.abs(norm(v) - 1) < 1e-5);
    }
    assert.ok(res.prompt_eval_count >= 6);
    assert.ok(res.total_duration > 0);
    assert.ok(res.load_duration >= 0);
    const single = await ollama.embed({ model: 'qwen3-embed', input: 'one text' });
    assert.equal(single.embeddings.length, 1);
  });

  test('the legacy embeddings endpoint returns the raw pooled vector', async () => {
    const legacy = await ollama.embeddings({ model: 'bert-embed', prompt: 'why is the sky blue' });
    const unit = await ollama.embed({ model: 'bert-embed', input: 'why is the sky blue' });
    assert.equal(legacy.embedding.length, 256);
    const n = norm(legacy.embedding);
    assert.ok(Math.abs(n - 1) > 1e-3, 'not normalized');
    assert.ok(nmse(legacy.embedding.map((x) => x / n), unit.embeddings[0]) < 1e-10);
  });

  test('truncate cuts an input longer than the context, or refuses it', async () => {
    const long = 'word '.repeat(700);
    const cut = await ollama.embed({ model: 'bert-embed', input: long });
    assert.equal(cut.prompt_eval_count, 512);
    const refused = await post(`${server.url}/api/embed`, { model: 'bert-embed', input: long, truncate: false });
    assert.equal(refused.status, 400);
    assert.match(refused.json.error, /input 0 .*context/);
    const openai = await post(`${server.baseURL}/embeddings`, { model: 'bert-embed', input: long });
    assert.equal(openai.status, 400);
    assert.equal(openai.json.error.param, 'input');
  });

  test('show lists the embedding capability and ps the loaded model', async () => {
    const shown = await ollama.show({ model: 'bert-embed' });
    assert.deepEqual(shown.capabilities, ['embedding']);
    const { models } = await ollama.ps();
    assert.ok(models.some((m) => m.name.startsWith('bert-embed')));
  });
});

describe('embedding errors in each API\'s shape', { skip }, () => {
  test('unknown model: 404', async () => {
    const openai = await post(`${server.baseURL}/embeddings`, { model: 'nope', input: 'x' });
    assert.equal(openai.status, 404);
    assert.equal(openai.json.error.code, 'model_not_found');
    const native = await post(`${server.url}/api/embed`, { model: 'nope', input: 'x' });
    assert.equal(native.status, 404);
    assert.equal(typeof native.json.error, 'string');
  });

  test('wrong input types and empty arrays: 400 naming the field', async () => {
    const cases = [
      { input: 5 }, { input: [] }, { input: [1, 'a'] }, { input: [[1, 2], {}] }, { input: '' }, { input: [-1] },
      { input: 'x', encoding_format: 'hex' }, { input: 'x', dimensions: 0 }, { input: 'x', dimensions: 100000 },
      { input: [999999] },
    ];
    for (const body of cases) {
      const res = await post(`${server.baseURL}/embeddings`, { model: 'bert-embed', ...body });
      assert.equal(res.status, 400, JSON.stringify(body));
      assert.equal(res.json.error.type, 'invalid_request_error');
      assert.ok(['input', 'encoding_format', 'dimensions'].includes(res.json.error.param), JSON.stringify(res.json));
    }
    for (const body of [{ input: [] }, { input: 7 }, { input: ['a', 3] }, { input: 'x', truncate: 'yes' }]) {
      const res = await post(`${server.url}/api/embed`, { model: 'bert-embed', ...body });
      assert.equal(res.status, 400, JSON.stringify(body));
      assert.equal(typeof res.json.error, 'string');
    }
  });

  test('an embedding model asked to chat or generate: 400', async () => {
    const chat = await post(`${server.baseURL}/chat/completions`, { model: 'bert-embed', messages: [{ role: 'user', content: 'hi' }] });
    assert.equal(chat.status, 400);
    assert.match(chat.json.error.message, /embedding model/);
    const native = await post(`${server.url}/api/chat`, { model: 'nomic', messages: [{ role: 'user', content: 'hi' }], stream: false });
    assert.equal(native.status, 400);
    assert.match(native.json.error, /does not support chat/);
    const generate = await post(`${server.url}/api/generate`, { model: 'nomic', prompt: 'hi', stream: false });
    assert.equal(generate.status, 400);
  });
});
