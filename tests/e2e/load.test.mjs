// Load over loopback on the demo model: streaming clients in growing numbers, every answer
// checked, total throughput reported; then a burst beyond the queue limit, which must get
// immediate 503s while the server stays healthy.
//
// Durations are short by default so the suite stays quick; CRIA_E2E_LOAD_SECONDS sets the
// length of the 32-client run (the acceptance run uses 60).
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { after, before, describe, test } from 'node:test';
import { DEMO_MODEL, post, startServer } from './harness.mjs';

const LONG_SECONDS = Number(process.env.CRIA_E2E_LOAD_SECONDS || 8);
const SHORT_SECONDS = Math.min(LONG_SECONDS, Number(process.env.CRIA_E2E_LOAD_STEP_SECONDS || 4));
const messages = [{ role: 'user', content: 'Tell me something about the sea.' }];

// One client: streams answers back to back until `deadline`; returns its counts.
async function streamingClient(client, deadline, seed) {
  const counts = { requests: 0, tokens: 0, errors: [] };
  while (Date.now() < deadline) {
    try {
      const stream = await client.chat.completions.create({
        model: DEMO_MODEL,
        messages,
        max_tokens: 32,
        seed: seed + counts.requests,
        stream: true,
        stream_options: { include_usage: true },
      });
      let finish = null;
      let usage = null;
      for await (const chunk of stream) {
        if (chunk.usage) usage = chunk.usage;
        for (const choice of chunk.choices) finish = choice.finish_reason ?? finish;
      }
      if (!finish) throw new Error('a stream ended without a finish_reason');
      if (!usage) throw new Error('a stream ended without its usage chunk');
      counts.requests += 1;
      counts.tokens += usage.completion_tokens;
    } catch (err) {
      counts.errors.push(String(err));
    }
  }
  return counts;
}

async function runClients(server, n, seconds) {
  const deadline = Date.now() + seconds * 1000;
  const started = Date.now();
  const results = await Promise.all(
    Array.from({ length: n }, (_, i) => streamingClient(server.client({ timeout: 120_000 }), deadline, 1000 * i)),
  );
  const elapsed = (Date.now() - started) / 1000;
  const total = results.reduce(
    (sum, r) => ({ requests: sum.requests + r.requests, tokens: sum.tokens + r.tokens, errors: sum.errors.concat(r.errors) }),
    { requests: 0, tokens: 0, errors: [] },
  );
  return { ...total, elapsed, perClient: results.map((r) => r.requests) };
}

describe('load', () => {
  let server;
  before(async () => {
    server = await startServer([], { env: { CRIA_NUM_PARALLEL: '32' } });
  });
  after(async () => server?.stop());

  test('1, 4, 16 and 32 streaming clients: all answered, throughput reported', async () => {
    const rows = [];
    for (const n of [1, 4, 16, 32]) {
      const seconds = n === 32 ? LONG_SECONDS : SHORT_SECONDS;
      const result = await runClients(server, n, seconds);
      assert.deepEqual(result.errors, [], `${n} clients: errors`);
      // Every client got answers: nobody starved while the others streamed.
      for (const done of result.perClient) assert.ok(done >= 1, `${n} clients: a client got no answer`);
      rows.push({ clients: n, seconds: result.elapsed.toFixed(1), requests: result.requests, tokens: result.tokens, 'tokens/s': (result.tokens / result.elapsed).toFixed(1) });
    }
    console.log('load: total generated tokens per second by concurrent streaming clients');
    console.table(rows);
    const health = await fetch(`${server.url}/health`);
    assert.equal(health.status, 200);
  });
});

// Resident memory of a process, in bytes.
function residentBytes(pid) {
  const match = readFileSync(`/proc/${pid}/status`, 'utf8').match(/^VmRSS:\s+(\d+) kB/m);
  return match ? Number(match[1]) * 1024 : NaN;
}

// The chat completions the server counted as answered (200).
async function answeredChats(server) {
  const text = await (await fetch(`${server.url}/metrics`)).text();
  const match = text.match(/^cria_requests_total\{endpoint="\/v1\/chat\/completions",status="200"\} (\d+)$/m);
  return match ? Number(match[1]) : 0;
}

// A client that starts a stream and hangs up after a few chunks, over and over.
async function leavingClient(url, deadline, seed) {
  let left = 0;
  while (Date.now() < deadline) {
    const controller = new AbortController();
    try {
      const res = await fetch(`${url}/v1/chat/completions`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ model: DEMO_MODEL, messages, max_tokens: 200, seed: seed + left, stream: true }),
        signal: controller.signal,
      });
      const reader = res.body.getReader();
      for (let i = 0; i < 1 + (left % 3); ++i) await reader.read();
    } catch { /* aborted */ }
    controller.abort();
    left += 1;
  }
  return left;
}

describe('load with clients that leave', () => {
  let server;
  before(async () => {
    server = await startServer([], { env: { CRIA_NUM_PARALLEL: '32' } });
  });
  after(async () => server?.stop());

  test('32 streaming clients, a third hanging up mid-stream: no errors, counted, memory stable', async () => {
    const rounds = [];
    for (let round = 0; round < 3; ++round) {
      const before = await answeredChats(server);
      const deadline = Date.now() + SHORT_SECONDS * 1000;
      const staying = Array.from({ length: 21 }, (_, i) => streamingClient(server.client({ timeout: 120_000 }), deadline, 5000 * round + 100 * i));
      const leaving = Array.from({ length: 11 }, (_, i) => leavingClient(server.url, deadline, 7000 * round + 100 * i));
      const [stayed, left] = await Promise.all([Promise.all(staying), Promise.all(leaving)]);
      const errors = stayed.flatMap((c) => c.errors);
      assert.deepEqual(errors, [], `round ${round}: errors of clients that stayed`);
      const completed = stayed.reduce((sum, c) => sum + c.requests, 0);
      const hungUp = left.reduce((sum, n) => sum + n, 0);
      // Every finished and every abandoned stream was answered 200 and counted once.
      const counted = (await answeredChats(server)) - before;
      assert.ok(counted >= completed, `round ${round}: ${counted} counted, ${completed} completed`);
      assert.ok(counted <= completed + hungUp, `round ${round}: ${counted} counted of ${completed + hungUp} started`);
      // Generation winds down: the running gauge returns to 0.
      const start = Date.now();
      while (!/^cria_requests_running 0$/m.test(await (await fetch(`${server.url}/metrics`)).text())) {
        assert.ok(Date.now() - start < 5000, `round ${round}: requests still running 5 s after the clients left`);
        await new Promise((r) => setTimeout(r, 20));
      }
      rounds.push({ round, completed, 'hung up': hungUp, counted, 'resident MB': (residentBytes(server.proc.pid) / 2 ** 20).toFixed(1) });
    }
    console.log('load with clients that leave: per round');
    console.table(rounds);
    // The first round warms every buffer; later rounds must not keep growing.
    const first = Number(rounds[0]['resident MB']);
    const last = Number(rounds.at(-1)['resident MB']);
    if (process.env.CRIA_E2E_SANITIZED) {
      // AddressSanitizer holds freed memory in quarantine (256 MB by default) to catch uses after
      // free, so resident memory grows by design; leaks are its own report at exit.
      console.log('load: resident memory not compared: the server runs under AddressSanitizer');
    } else {
      assert.ok(last <= first * 1.15 + 16, `resident memory grew from ${first} MB to ${last} MB`);
    }
  });
});

describe('backpressure', () => {
  let server;
  before(async () => {
    server = await startServer([], { env: { CRIA_NUM_PARALLEL: '2', CRIA_MAX_QUEUE: '4' } });
  });
  after(async () => server?.stop());

  test('a burst beyond the queue gets immediate 503s and the server stays healthy', async () => {
    // Long answers (one token forced) keep the two slots and the queue full during the burst.
    const body = { model: DEMO_MODEL, messages, max_tokens: 1500, logit_bias: { 81: 100 } };
    const started = Date.now();
    const answers = await Promise.all(
      Array.from({ length: 40 }, async () => {
        const t0 = Date.now();
        const res = await post(`${server.baseURL}/chat/completions`, body);
        return { ...res, ms: Date.now() - t0 };
      }),
    );
    const ok = answers.filter((a) => a.status === 200);
    const busy = answers.filter((a) => a.status === 503);
    assert.equal(ok.length + busy.length, answers.length, `unexpected statuses: ${answers.map((a) => a.status)}`);
    assert.ok(busy.length >= 20, `only ${busy.length} of 40 were refused`);
    assert.ok(ok.length >= 2, 'the running requests were answered');
    for (const refused of busy) {
      assert.equal(refused.json.error.type, 'server_error');
      assert.equal(refused.json.error.code, 'server_busy');
      assert.equal(refused.headers.get('retry-after'), '1');
      // Refused at once, not after waiting for the model.
      assert.ok(refused.ms < 2000, `a refusal took ${refused.ms} ms`);
    }
    for (const answer of ok) assert.equal(answer.json.choices[0].message.content.length > 0, true);
    console.log(`backpressure: ${ok.length} answered, ${busy.length} refused with 503 in ${Date.now() - started} ms`);
    const health = await fetch(`${server.url}/health`);
    assert.equal(health.status, 200);
    const after = await post(`${server.baseURL}/chat/completions`, { model: DEMO_MODEL, messages, max_tokens: 4 });
    assert.equal(after.status, 200);
  });

  test('Ollama streaming requests past the queue get 503 in Ollama\'s shape before any line', async () => {
    const body = { model: DEMO_MODEL, messages, options: { num_predict: 1500, temperature: 0 } };
    const answers = await Promise.all(Array.from({ length: 30 }, () => post(`${server.url}/api/chat`, body)));
    const busy = answers.filter((a) => a.status === 503);
    assert.ok(busy.length >= 10, `only ${busy.length} of 30 were refused: ${answers.map((a) => a.status)}`);
    for (const refused of busy) {
      assert.equal(typeof refused.json.error, 'string');
      assert.equal(refused.headers.get('retry-after'), '1');
    }
    for (const answer of answers.filter((a) => a.status !== 503)) {
      assert.equal(answer.status, 200);
      const lines = answer.text.trim().split('\n').map((line) => JSON.parse(line));
      assert.equal(lines.at(-1).done, true);
    }
  });
});

describe('cancellation', () => {
  let server;
  before(async () => {
    server = await startServer([], { env: { CRIA_NUM_PARALLEL: '1' } });
  });
  after(async () => server?.stop());

  // Milliseconds from now until /metrics shows no running choice (at most 5 s).
  async function msUntilIdle() {
    const start = Date.now();
    while (Date.now() - start < 5000) {
      const text = await (await fetch(`${server.url}/metrics`)).text();
      if (/^cria_requests_running 0$/m.test(text)) return Date.now() - start;
      await new Promise((r) => setTimeout(r, 10));
    }
    return Infinity;
  }
  const endless = { model: DEMO_MODEL, messages, max_tokens: 3000, logit_bias: { 81: 100 } };

  test('a streaming client that disconnects frees its sequence within 1 s', async () => {
    const controller = new AbortController();
    const res = await fetch(`${server.baseURL}/chat/completions`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ ...endless, stream: true }),
      signal: controller.signal,
    });
    const reader = res.body.getReader();
    await reader.read();  // generation is under way
    assert.ok(!/^cria_requests_running 0$/m.test(await (await fetch(`${server.url}/metrics`)).text()));
    controller.abort();
    const ms = await msUntilIdle();
    console.log(`cancellation: streaming slot free ${ms} ms after the disconnect`);
    assert.ok(ms < 1000, `the slot was still busy ${ms} ms after the disconnect`);
  });

  test('a non-streaming client that disconnects frees its sequence within 1 s', async () => {
    const controller = new AbortController();
    const pending = fetch(`${server.baseURL}/chat/completions`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify(endless),
      signal: controller.signal,
    }).catch((err) => err);
    const start = Date.now();
    while (/^cria_requests_running 0$/m.test(await (await fetch(`${server.url}/metrics`)).text())) {
      assert.ok(Date.now() - start < 5000, 'the request never started');
      await new Promise((r) => setTimeout(r, 10));
    }
    controller.abort();
    await pending;
    const ms = await msUntilIdle();
    console.log(`cancellation: non-streaming slot free ${ms} ms after the disconnect`);
    assert.ok(ms < 1000, `the slot was still busy ${ms} ms after the disconnect`);
    // The model serves the next request at once.
    const next = await post(`${server.baseURL}/chat/completions`, { model: DEMO_MODEL, messages, max_tokens: 4 });
    assert.equal(next.status, 200);
  });
});
