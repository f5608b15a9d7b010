// Access control, health and metrics of a real `cria serve` with CRIA_API_KEY set: the official
// openai client with the right and a wrong key, Ollama's error shape, CORS preflights, the Host
// check against DNS rebinding, /health without a key and /metrics in Prometheus' text format.
import assert from 'node:assert/strict';
import http from 'node:http';
import { after, before, describe, test } from 'node:test';
import OpenAI from 'openai';
import { DEMO_MODEL, startServer } from './harness.mjs';

const KEY = 'e2e-test-key-0123456789';
let server;
let port;

before(async () => {
  server = await startServer([], { env: { CRIA_API_KEY: KEY, CRIA_ORIGINS: 'https://app.example.com' } });
  port = Number(new URL(server.url).port);
});
after(async () => { await server?.stop(); });

// A raw request (node's fetch decides Host and Origin itself; this does not).
function request(method, path, headers = {}) {
  return new Promise((resolve, reject) => {
    const req = http.request({ host: '127.0.0.1', port, method, path, headers }, (res) => {
      let text = '';
      res.setEncoding('utf8');
      res.on('data', (d) => { text += d; });
      res.on('end', () => {
        let json = null;
        try { json = JSON.parse(text); } catch { /* not JSON */ }
        resolve({ status: res.statusCode, headers: res.headers, text, json });
      });
    });
    req.on('error', reject);
    req.end();
  });
}

const auth = { authorization: `Bearer ${KEY}` };

describe('API key', () => {
  test('the openai client with the right key', async () => {
    const client = server.client({ apiKey: KEY });
    const models = await client.models.list();
    assert.ok(models.data.some((m) => m.id === DEMO_MODEL));
    const completion = await client.chat.completions.create({
      model: DEMO_MODEL, messages: [{ role: 'user', content: 'Hi' }], max_tokens: 3,
    });
    assert.equal(completion.object, 'chat.completion');
    const stream = await client.chat.completions.create({
      model: DEMO_MODEL, messages: [{ role: 'user', content: 'Hi' }], max_tokens: 3, stream: true,
    });
    let chunks = 0;
    for await (const chunk of stream) { assert.equal(chunk.object, 'chat.completion.chunk'); chunks++; }
    assert.ok(chunks > 0);
  });

  test('the openai client with a wrong key gets an AuthenticationError', async () => {
    for (const apiKey of ['wrong-key', `${KEY}x`, KEY.slice(0, -1)]) {
      const client = server.client({ apiKey });
      await assert.rejects(client.models.list(), (err) => {
        assert.ok(err instanceof OpenAI.AuthenticationError, `got ${err}`);
        assert.equal(err.status, 401);
        assert.equal(err.code, 'invalid_api_key');
        assert.equal(err.type, 'invalid_request_error');
        return true;
      });
      await assert.rejects(
        client.chat.completions.create({ model: DEMO_MODEL, messages: [{ role: 'user', content: 'Hi' }] }),
        OpenAI.AuthenticationError,
      );
    }
  });

  test('no key at all: 401 in the OpenAI shape under /v1, Ollama shape under /api', async () => {
    const openai = await request('GET', '/v1/models');
    assert.equal(openai.status, 401);
    assert.deepEqual(Object.keys(openai.json.error).sort(), ['code', 'message', 'param', 'type']);
    assert.equal(openai.json.error.param, null);
    const ollama = await request('GET', '/api/tags');
    assert.equal(ollama.status, 401);
    assert.deepEqual(Object.keys(ollama.json), ['error']);
    assert.equal(typeof ollama.json.error, 'string');
    const ok = await request('GET', '/api/tags', auth);
    assert.equal(ok.status, 200);
  });
});

describe('health and liveness', () => {
  test('/health and / need no key', async () => {
    const health = await request('GET', '/health');
    assert.equal(health.status, 200);
    assert.deepEqual(health.json, { status: 'ok' });
    const root = await request('GET', '/');
    assert.equal(root.status, 200);
    const head = await request('HEAD', '/');
    assert.equal(head.status, 200);
  });
});

describe('CORS', () => {
  test('a loopback page gets its preflight answered', async () => {
    const res = await request('OPTIONS', '/v1/chat/completions', {
      origin: 'http://localhost:5173',
      'access-control-request-method': 'POST',
      'access-control-request-headers': 'authorization,content-type,x-stainless-os,x-stainless-lang',
    });
    assert.equal(res.status, 204);
    assert.equal(res.headers['access-control-allow-origin'], 'http://localhost:5173');
    assert.match(res.headers['access-control-allow-methods'], /POST/);
    assert.equal(res.headers['access-control-allow-headers'],
      'authorization, content-type, x-stainless-os, x-stainless-lang');
    assert.match(res.headers.vary, /Origin/);
  });

  test('a configured origin is allowed, with its host', async () => {
    const res = await request('GET', '/v1/models',
      { ...auth, origin: 'https://app.example.com', host: 'app.example.com' });
    assert.equal(res.status, 200);
    assert.equal(res.headers['access-control-allow-origin'], 'https://app.example.com');
  });

  test('a foreign page is refused without CORS headers', async () => {
    const preflight = await request('OPTIONS', '/v1/chat/completions', {
      origin: 'https://evil.example', 'access-control-request-method': 'POST',
    });
    assert.equal(preflight.status, 403);
    assert.equal(preflight.headers['access-control-allow-origin'], undefined);
    const simple = await request('GET', '/api/tags', { ...auth, origin: 'https://evil.example' });
    assert.equal(simple.status, 403);
    assert.equal(simple.headers['access-control-allow-origin'], undefined);
  });
});

describe('Host check (loopback listener)', () => {
  test('a foreign Host name is refused', async () => {
    const res = await request('GET', '/v1/models', { ...auth, host: 'evil.example' });
    assert.equal(res.status, 403);
    assert.equal(res.json.error.code, 'host_not_allowed');
    const ollama = await request('GET', '/api/tags', { ...auth, host: `evil.example:${port}` });
    assert.equal(ollama.status, 403);
    assert.equal(typeof ollama.json.error, 'string');
    const loopback = await request('GET', '/v1/models', { ...auth, host: `localhost:${port}` });
    assert.equal(loopback.status, 200);
  });
});

describe('metrics', () => {
  test('/metrics needs the key and counts requests', async () => {
    assert.equal((await request('GET', '/metrics')).status, 401);
    await request('GET', '/v1/models', auth);
    await request('GET', '/no/such/path', auth);
    // A request is counted just after its answer is written, which the client may see first.
    let res;
    for (let attempt = 0; attempt < 20; attempt++) {
      res = await request('GET', '/metrics', auth);
      if (/^cria_requests_total\{endpoint="other",status="404"\} /m.test(res.text)) break;
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
    assert.equal(res.status, 200);
    assert.match(res.headers['content-type'], /^text\/plain; version=0\.0\.4/);
    const text = res.text;
    for (const name of ['cria_requests_total', 'cria_prompt_tokens_total', 'cria_generated_tokens_total',
      'cria_queue_depth', 'cria_requests_running', 'cria_models_loaded']) {
      assert.match(text, new RegExp(`^# TYPE ${name} (counter|gauge)$`, 'm'), name);
    }
    for (const name of ['cria_time_to_first_token_seconds', 'cria_generation_tokens_per_second']) {
      assert.match(text, new RegExp(`^# TYPE ${name} histogram$`, 'm'), name);
      assert.match(text, new RegExp(`^${name}_bucket\\{le="\\+Inf"\\} \\d+$`, 'm'), name);
      assert.match(text, new RegExp(`^${name}_count \\d+$`, 'm'), name);
    }
    const count = (endpoint, status) => {
      const match = text.match(new RegExp(`^cria_requests_total\\{endpoint="${endpoint}",status="${status}"\\} (\\d+)$`, 'm'));
      return match ? Number(match[1]) : 0;
    };
    assert.ok(count('/v1/models', 200) >= 2, text);
    assert.ok(count('/v1/models', 401) >= 1, text);
    assert.ok(count('/v1/models', 403) >= 1, text);
    assert.ok(count('/metrics', 401) >= 1, text);
    assert.ok(count('other', 404) >= 1, text);
    assert.ok(count('/v1/chat/completions', 200) >= 2, text);
    const loaded = text.match(/^cria_models_loaded (\d+)$/m);
    assert.ok(loaded && Number(loaded[1]) >= 1, text);
  });
});
