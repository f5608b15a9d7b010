// /v1/chat/completions through the official openai client (and raw HTTP where the client hides
// the wire format), on cria's demo model: a random-weight model whose vocabulary starts with the
// 256 byte tokens, so logit_bias can force known text.
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { DEMO_MODEL, asciiToken, parseSse, post, startServer } from './harness.mjs';

let server;
let client;
const hello = [{ role: 'user', content: 'Hello!' }];
const force = (text) => Object.fromEntries([...new Set(text)].map((c) => [asciiToken(c), 100]));

before(async () => {
  server = await startServer(['--ctx-size', '1024']);
  client = server.client();
});
after(async () => { await server?.stop(); });

describe('non-streaming', () => {
  test('a chat.completion object with every field', async () => {
    const res = await client.chat.completions.create({ model: DEMO_MODEL, messages: hello, max_tokens: 8, user: 'u-1' });
    assert.match(res.id, /^chatcmpl-[A-Za-z0-9]{24}$/);
    assert.equal(res.object, 'chat.completion');
    assert.ok(Number.isInteger(res.created) && Math.abs(res.created - Date.now() / 1000) < 300);
    assert.equal(res.model, DEMO_MODEL);
    assert.match(res.system_fingerprint, /^fp_/);
    assert.equal(res.choices.length, 1);
    const [choice] = res.choices;
    assert.equal(choice.index, 0);
    assert.equal(choice.message.role, 'assistant');
    assert.equal(typeof choice.message.content, 'string');
    assert.equal(choice.logprobs, null);
    assert.ok(['stop', 'length'].includes(choice.finish_reason));
    assert.ok(res.usage.prompt_tokens > 0);
    assert.ok(res.usage.completion_tokens >= 1 && res.usage.completion_tokens <= 8);
    assert.equal(res.usage.total_tokens, res.usage.prompt_tokens + res.usage.completion_tokens);
  });

  test('ids are unique', async () => {
    const a = await client.chat.completions.create({ model: DEMO_MODEL, messages: hello, max_tokens: 1 });
    const b = await client.chat.completions.create({ model: DEMO_MODEL, messages: hello, max_tokens: 1 });
    assert.notEqual(a.id, b.id);
  });

  test('max_tokens ends with finish_reason length', async () => {
    const res = await client.chat.completions.create({
      model: DEMO_MODEL, messages: hello, max_tokens: 7, logit_bias: force('A'),
    });
    assert.equal(res.choices[0].message.content, 'AAAAAAA');
    assert.equal(res.choices[0].finish_reason, 'length');
    assert.equal(res.usage.completion_tokens, 7);
  });

  test('max_completion_tokens works like max_tokens', async () => {
    const res = await client.chat.completions.create({
      model: DEMO_MODEL, messages: hello, max_completion_tokens: 3, logit_bias: force('B'),
    });
    assert.equal(res.choices[0].message.content, 'BBB');
    assert.equal(res.choices[0].finish_reason, 'length');
  });

  test('logit_bias forces a token, and -100 bans one', async () => {
    const res = await client.chat.completions.create({
      model: DEMO_MODEL, messages: hello, max_tokens: 12, temperature: 1, logit_bias: { ...force('xy'), [asciiToken('y')]: -100 },
    });
    assert.equal(res.choices[0].message.content, 'x'.repeat(12));
  });

  test('stop string: generation ends before it and it is not returned', async () => {
    const res = await client.chat.completions.create({
      model: DEMO_MODEL, messages: hello, max_tokens: 60, seed: 3, logit_bias: force('xy'), stop: 'y',
    });
    assert.match(res.choices[0].message.content, /^x*$/);
    assert.equal(res.choices[0].finish_reason, 'stop');
  });

  test('stop strings match across token boundaries', async () => {
    for (const seed of [1, 2, 3, 4]) {
      const res = await client.chat.completions.create({
        model: DEMO_MODEL, messages: hello, max_tokens: 60, seed, logit_bias: force('xy'), stop: ['zz', 'xy'],
      });
      // Text before the first "xy" is some y's then some x's; the x that began "xy" is cut too.
      assert.match(res.choices[0].message.content, /^y*x*$/);
      assert.equal(res.choices[0].finish_reason, 'stop');
    }
  });

  test('seed: same seed and request give the same output, another seed another', async () => {
    const ask = (seed) => client.chat.completions.create({
      model: DEMO_MODEL, messages: hello, max_tokens: 24, temperature: 1, seed,
    });
    const first = await ask(1234);
    // Other work in between (and at the same time) must not change a seeded answer.
    const [second] = await Promise.all([ask(1234), ask(99), client.chat.completions.create({
      model: DEMO_MODEL, messages: [{ role: 'user', content: 'something else' }], max_tokens: 16,
    })]);
    assert.equal(second.choices[0].message.content, first.choices[0].message.content);
    assert.equal(second.usage.completion_tokens, first.usage.completion_tokens);
    const other = await ask(4321);
    assert.notEqual(other.choices[0].message.content, first.choices[0].message.content);
  });

  test('n=3 gives three independent choices', async () => {
    const res = await client.chat.completions.create({
      model: DEMO_MODEL, messages: hello, max_tokens: 16, n: 3, seed: 5,
    });
    assert.deepEqual(res.choices.map((c) => c.index), [0, 1, 2]);
    for (const choice of res.choices) {
      assert.equal(choice.message.role, 'assistant');
      assert.ok(['stop', 'length'].includes(choice.finish_reason));
    }
    const texts = new Set(res.choices.map((c) => c.message.content));
    assert.ok(texts.size >= 2, `choices should differ: ${JSON.stringify([...texts])}`);
    assert.ok(res.usage.completion_tokens >= 3);
  });

  test('logprobs with top_logprobs', async () => {
    const res = await client.chat.completions.create({
      model: DEMO_MODEL, messages: hello, max_tokens: 5, logprobs: true, top_logprobs: 3, logit_bias: force('A'),
    });
    const entries = res.choices[0].logprobs.content;
    assert.equal(entries.length, 5);
    for (const entry of entries) {
      assert.equal(entry.token, 'A');
      assert.deepEqual(entry.bytes, [65]);
      assert.ok(entry.logprob <= 0 && entry.logprob > -0.01, `forced token logprob ${entry.logprob}`);
      assert.equal(entry.top_logprobs.length, 3);
      assert.equal(entry.top_logprobs[0].token, 'A');
      for (let i = 1; i < 3; ++i) assert.ok(entry.top_logprobs[i - 1].logprob >= entry.top_logprobs[i].logprob);
      for (const alt of entry.top_logprobs) assert.ok(Array.isArray(alt.bytes));
    }
  });

  test('logprobs without bias report the sampled tokens', async () => {
    const res = await client.chat.completions.create({
      model: DEMO_MODEL, messages: hello, max_tokens: 6, logprobs: true, seed: 11,
    });
    const content = res.choices[0].message.content;
    const finish_reason = res.choices[0].finish_reason;
    const entries = res.choices[0].logprobs.content;
    // The end-of-turn token is not text: it has no entry.
    const expected = finish_reason === 'length' ? res.usage.completion_tokens : res.usage.completion_tokens - 1;
    assert.equal(entries.length, expected);
    for (const entry of entries) {
      assert.ok(entry.logprob <= 0);
      assert.deepEqual(entry.top_logprobs, []);
    }
    const fromBytes = Buffer.from(entries.flatMap((e) => e.bytes)).toString('utf8');
    assert.equal(fromBytes, content);
  });

  test('content-part arrays, system and developer messages, and extra sampling fields', async () => {
    const res = await client.chat.completions.create({
      model: DEMO_MODEL,
      messages: [
        { role: 'system', content: 'Be brief.' },
        { role: 'developer', content: [{ type: 'text', text: 'Answer in English.' }] },
        { role: 'user', content: [{ type: 'text', text: 'Hi ' }, { type: 'text', text: 'there' }] },
      ],
      max_tokens: 4,
      top_p: 0.9,
      top_k: 20,
      min_p: 0.05,
      repeat_penalty: 1.1,
      presence_penalty: 0.5,
      frequency_penalty: 0.5,
      response_format: { type: 'json_object' },
      tools: [{ type: 'function', function: { name: 'get_time', parameters: { type: 'object', properties: {} } } }],
      tool_choice: 'auto',
      some_unknown_field: { ignored: true },
    });
    assert.equal(res.object, 'chat.completion');
    // Tools go into the prompt, so the same conversation without them is shorter.
    const without = await client.chat.completions.create({
      model: DEMO_MODEL,
      messages: [
        { role: 'system', content: 'Be brief.' },
        { role: 'developer', content: [{ type: 'text', text: 'Answer in English.' }] },
        { role: 'user', content: [{ type: 'text', text: 'Hi ' }, { type: 'text', text: 'there' }] },
      ],
      max_tokens: 1,
    });
    assert.ok(res.usage.prompt_tokens > without.usage.prompt_tokens);
  });

  test('several clients at once are all answered correctly', async () => {
    const letters = ['A', 'B', 'C', 'D', 'E'];
    const results = await Promise.all(letters.map((letter) => client.chat.completions.create({
      model: DEMO_MODEL, messages: hello, max_tokens: 6, logit_bias: force(letter),
    })));
    results.forEach((res, i) => assert.equal(res.choices[0].message.content, letters[i].repeat(6)));
  });
});

describe('streaming', () => {
  async function collect(params) {
    const stream = await client.chat.completions.create({ model: DEMO_MODEL, messages: hello, stream: true, ...params });
    const chunks = [];
    for await (const chunk of stream) chunks.push(chunk);
    return chunks;
  }

  test('chunk order and fields, with include_usage', async () => {
    const chunks = await collect({ max_tokens: 5, logit_bias: force('Q'), stream_options: { include_usage: true } });
    assert.ok(chunks.length >= 4);
    const { id, created } = chunks[0];
    assert.match(id, /^chatcmpl-/);
    for (const chunk of chunks) {
      assert.equal(chunk.id, id);
      assert.equal(chunk.created, created);
      assert.equal(chunk.object, 'chat.completion.chunk');
      assert.equal(chunk.model, DEMO_MODEL);
    }
    const usageChunk = chunks.at(-1);
    assert.deepEqual(usageChunk.choices, []);
    assert.equal(usageChunk.usage.completion_tokens, 5);
    assert.equal(usageChunk.usage.total_tokens, usageChunk.usage.prompt_tokens + 5);
    const body = chunks.slice(0, -1);
    for (const chunk of body) assert.equal(chunk.usage, null);
    assert.equal(body[0].choices[0].delta.role, 'assistant');
    for (const chunk of body.slice(1)) assert.equal(chunk.choices[0].delta.role, undefined);
    const last = body.at(-1).choices[0];
    assert.deepEqual(last.delta, {});
    assert.equal(last.finish_reason, 'length');
    for (const chunk of body.slice(0, -1)) assert.equal(chunk.choices[0].finish_reason, null);
    assert.equal(body.map((c) => c.choices[0].delta.content ?? '').join(''), 'QQQQQ');
    // Content arrives as tokens are produced: one delta per forced token.
    assert.equal(body.filter((c) => c.choices[0].delta.content).length, 5);
  });

  test('without include_usage there is no usage field and no usage chunk', async () => {
    const chunks = await collect({ max_tokens: 3 });
    for (const chunk of chunks) {
      assert.equal('usage' in chunk, false);
      assert.equal(chunk.choices.length, 1);
    }
  });

  test('raw wire format: event-stream framing ending in [DONE]', async () => {
    const res = await post(`${server.baseURL}/chat/completions`, {
      model: DEMO_MODEL, messages: hello, max_tokens: 3, stream: true, stream_options: { include_usage: true },
    });
    assert.equal(res.status, 200);
    assert.match(res.headers.get('content-type'), /^text\/event-stream/);
    const events = parseSse(res.text);
    assert.equal(events.at(-1), '[DONE]');
    const payloads = events.slice(0, -1).map((e) => JSON.parse(e));
    assert.deepEqual(payloads.at(-1).choices, []);
    assert.ok(payloads.slice(0, -1).every((p) => p.usage === null));
  });

  test('n=3 streams every choice with its own role and finish chunks', async () => {
    const chunks = await collect({ max_tokens: 4, n: 3, logit_bias: force('Z'), stream_options: { include_usage: true } });
    for (const index of [0, 1, 2]) {
      const mine = chunks.filter((c) => c.choices.length && c.choices[0].index === index);
      assert.equal(mine[0].choices[0].delta.role, 'assistant');
      assert.ok(mine.slice(1).every((c) => c.choices[0].delta.role === undefined));
      assert.equal(mine.at(-1).choices[0].finish_reason, 'length');
      assert.equal(mine.map((c) => c.choices[0].delta.content ?? '').join(''), 'ZZZZ');
    }
    assert.equal(chunks.at(-1).usage.completion_tokens, 12);
  });

  test('streamed text equals the non-streamed text and never splits a UTF-8 character', async () => {
    // Bytes C3 and A9 form "é" only in that order; a split character would show as U+FFFD.
    const params = { max_tokens: 40, seed: 21, logit_bias: { 195: 100, 169: 100 } };
    const whole = await client.chat.completions.create({ model: DEMO_MODEL, messages: hello, ...params });
    const chunks = await collect(params);
    const streamed = chunks.map((c) => c.choices[0]?.delta?.content ?? '').join('');
    assert.equal(streamed, whole.choices[0].message.content);
    assert.ok(streamed.includes('é'), streamed);
  });

  test('stop strings in a stream', async () => {
    const chunks = await collect({ max_tokens: 60, seed: 9, logit_bias: force('xy'), stop: ['y'] });
    const text = chunks.map((c) => c.choices[0]?.delta?.content ?? '').join('');
    assert.match(text, /^x*$/);
    assert.equal(chunks.at(-1).choices[0].finish_reason, 'stop');
  });

  test('logprobs in a stream', async () => {
    const chunks = await collect({ max_tokens: 4, logprobs: true, top_logprobs: 2, logit_bias: force('K') });
    const entries = chunks.flatMap((c) => c.choices[0]?.logprobs?.content ?? []);
    assert.equal(entries.length, 4);
    for (const entry of entries) {
      assert.equal(entry.token, 'K');
      assert.equal(entry.top_logprobs.length, 2);
    }
  });

  test('a client that disconnects stops its generation', async () => {
    const controller = new AbortController();
    const stream = await client.chat.completions.create(
      { model: DEMO_MODEL, messages: hello, stream: true, logit_bias: force('W') },
      { signal: controller.signal },
    );
    let seen = 0;
    try {
      for await (const chunk of stream) {
        if (chunk.choices[0]?.delta?.content && ++seen === 3) controller.abort();
      }
    } catch (err) {
      assert.equal(err.name, 'APIUserAbortError');
    }
    // The server notices and frees the model: a new request is answered right away, and the
    // log says the abandoned generation stopped early (it would otherwise run to the context end).
    const deadline = Date.now() + 10_000;
    while (!/client closed the connection/.test(server.stderr()) && Date.now() < deadline) {
      await new Promise((r) => setTimeout(r, 50));
    }
    assert.match(server.stderr(), /client closed the connection; generation stopped/);
    const res = await client.chat.completions.create({ model: DEMO_MODEL, messages: hello, max_tokens: 2, logit_bias: force('V') });
    assert.equal(res.choices[0].message.content, 'VV');
  });
});
