// Regressions of an outside attack campaign: request bodies that used to cost quadratic CPU,
// HTTP framing edge cases, and what a client may and may not reach through the server.
import assert from 'node:assert/strict';
import http from 'node:http';
import { after, before, describe, test } from 'node:test';
import { existsSync } from 'node:fs';
import path from 'node:path';
import { DEMO_MODEL, post, sharedDir, sharedSkip, startServer } from './harness.mjs';

let server;

before(async () => { server = await startServer(); });
after(async () => { await server?.stop(); });

// A body of about `bytes` bytes whose `field` is an object of many small keys.
function manyKeys(bytes) {
  const keys = {};
  for (let i = 0, size = 0; size < bytes; ++i) {
    keys[String(i)] = 1;
    size += String(i).length + 5;
  }
  return keys;
}

describe('request bodies parse in linear time', () => {
  const bias = manyKeys(2_000_000);
  const cases = [
    ['/v1/chat/completions', { model: DEMO_MODEL, messages: [{ role: 'user', content: 'hi' }], max_tokens: 1, logit_bias: bias }, 400],
    ['/v1/completions', { model: DEMO_MODEL, prompt: 'hi', max_tokens: 1, logit_bias: bias }, 400],
    ['/api/chat', { model: DEMO_MODEL, messages: [{ role: 'user', content: 'hi' }], stream: false, options: { num_predict: 1 }, extra: bias }, 200],
    ['/api/generate', { model: DEMO_MODEL, prompt: 'hi', stream: false, options: { num_predict: 1 }, extra: bias }, 200],
    ['/v1/responses', { model: DEMO_MODEL, input: 'hi', max_output_tokens: 16, metadata: bias }, 400],
  ];
  for (const [path, body, status] of cases) {
    test(`${path}: a 2 MB object of ${Object.keys(bias).length} keys is answered at once`, async () => {
      const started = Date.now();
      const res = await post(`${server.url}${path}`, body);
      const seconds = (Date.now() - started) / 1000;
      assert.equal(res.status, status, res.text.slice(0, 300));
      // Quadratic parsing took over a minute for this body; linear parsing takes milliseconds.
      assert.ok(seconds < 10, `took ${seconds} s`);
    });
  }

  test('a body nested deeper than 256 levels is a 400 in each API\'s shape', async () => {
    const deep = '['.repeat(100_000) + ']'.repeat(100_000);
    const body = `{"model":"${DEMO_MODEL}","messages":[{"role":"user","content":"hi"}],"x":${deep}}`;
    const openai = await post(`${server.url}/v1/chat/completions`, body);
    assert.equal(openai.status, 400);
    assert.equal(openai.json.error.type, 'invalid_request_error');
    const ollama = await post(`${server.url}/api/chat`, body);
    assert.equal(ollama.status, 400);
    assert.match(ollama.json.error, /nests deeper than 256 levels/);
  });
});

describe('serving beyond loopback', () => {
  // GET with a chosen Host header (fetch does not let one set it).
  function getWithHost(url, host) {
    const { hostname, port } = new URL(url);
    return new Promise((resolve, reject) => {
      const req = http.get({ host: hostname === '0.0.0.0' ? '127.0.0.1' : hostname, port, path: '/api/version', headers: { Host: host } }, (res) => {
        res.resume();
        res.on('end', () => resolve(res.statusCode));
      });
      req.on('error', reject);
    });
  }

  test('without CRIA_API_KEY and CRIA_ALLOWED_HOSTS the server warns at start, and has no Host check', async () => {
    const open = await startServer([], { env: { CRIA_HOST: '0.0.0.0:0' } });
    try {
      assert.match(open.stderr(), /WITHOUT CRIA_API_KEY/);
      assert.match(open.stderr(), /set CRIA_ALLOWED_HOSTS/);
      assert.equal(await getWithHost(open.url, 'anything.example'), 200);
    } finally {
      await open.stop();
    }
  });

  test('CRIA_ALLOWED_HOSTS keeps the Host check on beyond loopback', async () => {
    const guarded = await startServer([], { env: { CRIA_HOST: '0.0.0.0:0', CRIA_API_KEY: 'k', CRIA_ALLOWED_HOSTS: 'box.lan' } });
    try {
      assert.doesNotMatch(guarded.stderr(), /WITHOUT CRIA_API_KEY|set CRIA_ALLOWED_HOSTS/);
      assert.equal(await getWithHost(guarded.url, 'box.lan:11434'), 401);  // past the Host check
      assert.equal(await getWithHost(guarded.url, '192.168.7.7:11434'), 401);
      assert.equal(await getWithHost(guarded.url, 'rebound.evil.example'), 403);
    } finally {
      await guarded.stop();
    }
  });
});

describe('grammar compilation stays near-linear', () => {
  const shared = sharedDir();
  const gguf = shared ? path.join(shared, 'models', 'tiny-qwen3.Q8_0.gguf') : null;
  const skip = sharedSkip(gguf && existsSync(gguf) ? false : '../shared/models/tiny-qwen3.Q8_0.gguf is absent; skipped');
  let qwen;
  before(async () => { if (!skip) qwen = await startServer(['--model', `q=${gguf}`]); });
  after(async () => { await qwen?.stop(); });

  const enumRequest = (n, value = (i) => `v${i}`) => ({
    model: 'q', messages: [{ role: 'user', content: 'pick' }], max_tokens: 4,
    response_format: { type: 'json_schema', json_schema: { name: 'e', schema: { type: 'string', enum: Array.from({ length: n }, (_, i) => value(i)) } } },
  });

  test('an enum of 100,000 values is answered at once, and again from the cache', { skip }, async () => {
    for (const round of ['first', 'cached']) {
      const started = Date.now();
      const res = await post(`${qwen.url}/v1/chat/completions`, enumRequest(100_000));
      const seconds = (Date.now() - started) / 1000;
      assert.equal(res.status, 200, res.text.slice(0, 300));
      // It took 8 s on the Qwen vocabulary (44 s on a slower machine) before enums were tries.
      assert.ok(seconds < 5, `${round}: ${seconds} s`);
      const [choice] = res.json.choices;
      if (choice.finish_reason === 'stop') assert.match(JSON.parse(choice.message.content), /^v\d+$/);
      // Cut short by max_tokens: a prefix of some value (or all of it, before the end of the answer),
      // possibly after whitespace the schema allows.
      else assert.match(choice.message.content, /^\s*("(v\d*"?)?)?$/);
    }
  });

  test('a schema beyond the grammar limit is a 400 saying so, at once', { skip }, async () => {
    const started = Date.now();
    const res = await post(`${qwen.url}/v1/chat/completions`, enumRequest(200_000, (i) => `item-${i}-of-a-long-list`));
    assert.equal(res.status, 400, res.text.slice(0, 300));
    assert.equal(res.json.error.param, 'response_format.json_schema.schema');
    assert.match(res.json.error.message, /too large a grammar/);
    assert.ok(Date.now() - started < 10_000);
  });
});
