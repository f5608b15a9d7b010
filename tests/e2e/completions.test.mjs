// /v1/completions, /v1/models, health and version, on cria's demo model.
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { DEMO_MODEL, asciiToken, parseSse, post, startServer } from './harness.mjs';

let server;
let client;
const force = (ch) => ({ [asciiToken(ch)]: 100 });

before(async () => {
  server = await startServer(['--ctx-size', '512']);
  client = server.client();
});
after(async () => { await server?.stop(); });

describe('/v1/completions', () => {
  test('a text_completion object', async () => {
    const res = await client.completions.create({ model: DEMO_MODEL, prompt: 'Once upon a time', max_tokens: 5, logit_bias: force('a') });
    assert.match(res.id, /^cmpl-/);
    assert.equal(res.object, 'text_completion');
    assert.equal(res.model, DEMO_MODEL);
    assert.equal(res.choices.length, 1);
    assert.equal(res.choices[0].text, 'aaaaa');
    assert.equal(res.choices[0].index, 0);
    assert.equal(res.choices[0].finish_reason, 'length');
    assert.equal(res.choices[0].logprobs, null);
    assert.equal(res.usage.completion_tokens, 5);
    assert.ok(res.usage.prompt_tokens > 1);
  });

  test('max_tokens defaults to 16', async () => {
    const res = await client.completions.create({ model: DEMO_MODEL, prompt: 'Hi', logit_bias: force('b') });
    assert.equal(res.choices[0].text, 'b'.repeat(16));
  });

  test('echo returns the prompt before the completion', async () => {
    const res = await client.completions.create({ model: DEMO_MODEL, prompt: 'Say: ', max_tokens: 3, echo: true, logit_bias: force('c') });
    assert.equal(res.choices[0].text, 'Say: ccc');
  });

  test('prompt arrays give a choice per prompt (times n)', async () => {
    const res = await client.completions.create({ model: DEMO_MODEL, prompt: ['one', 'two'], max_tokens: 2, n: 2, logit_bias: force('d') });
    assert.deepEqual(res.choices.map((c) => c.index), [0, 1, 2, 3]);
    for (const choice of res.choices) assert.equal(choice.text, 'dd');
    assert.equal(res.usage.completion_tokens, 8);
  });

  test('token-id prompts', async () => {
    const res = await client.completions.create({ model: DEMO_MODEL, prompt: [72, 105], max_tokens: 2, echo: true, logit_bias: force('e') });
    assert.equal(res.choices[0].text, 'Hiee');
  });

  test('legacy logprobs', async () => {
    const res = await client.completions.create({ model: DEMO_MODEL, prompt: 'x', max_tokens: 3, logprobs: 2, logit_bias: force('f') });
    const lp = res.choices[0].logprobs;
    assert.deepEqual(lp.tokens, ['f', 'f', 'f']);
    assert.deepEqual(lp.text_offset, [0, 1, 2]);
    assert.equal(lp.token_logprobs.length, 3);
    assert.equal(Object.keys(lp.top_logprobs[0]).length, 2);
  });

  test('streaming', async () => {
    const stream = await client.completions.create({
      model: DEMO_MODEL, prompt: 'Go', max_tokens: 4, stream: true, stream_options: { include_usage: true }, logit_bias: force('g'),
    });
    const chunks = [];
    for await (const chunk of stream) chunks.push(chunk);
    const id = chunks[0].id;
    assert.ok(chunks.every((c) => c.id === id && c.object === 'text_completion'));
    assert.equal(chunks.at(-1).usage.completion_tokens, 4);
    assert.deepEqual(chunks.at(-1).choices, []);
    const body = chunks.slice(0, -1);
    assert.equal(body.map((c) => c.choices[0].text).join(''), 'gggg');
    assert.equal(body.at(-1).choices[0].finish_reason, 'length');
    assert.ok(body.slice(0, -1).every((c) => c.choices[0].finish_reason === null));
    const raw = await post(`${server.baseURL}/completions`, { model: DEMO_MODEL, prompt: 'Go', max_tokens: 2, stream: true });
    assert.equal(parseSse(raw.text).at(-1), '[DONE]');
  });
});

describe('models, health and version', () => {
  test('GET /v1/models lists the served model', async () => {
    const page = await client.models.list();
    const ids = page.data.map((m) => m.id);
    assert.deepEqual(ids, [DEMO_MODEL]);
    assert.equal(page.data[0].object, 'model');
    assert.equal(page.data[0].owned_by, 'cria');
    assert.ok(Number.isInteger(page.data[0].created));
  });

  test('GET /v1/models/{model}', async () => {
    const model = await client.models.retrieve(DEMO_MODEL);
    assert.equal(model.id, DEMO_MODEL);
    assert.equal(model.object, 'model');
  });

  test('GET / and HEAD /', async () => {
    const get = await fetch(`${server.url}/`);
    assert.equal(get.status, 200);
    assert.match(await get.text(), /cria is running/);
    const head = await fetch(`${server.url}/`, { method: 'HEAD' });
    assert.equal(head.status, 200);
    assert.equal(await head.text(), '');
  });

  test('GET /api/version', async () => {
    const res = await fetch(`${server.url}/api/version`);
    assert.equal(res.status, 200);
    const body = await res.json();
    assert.match(body.version, /^\d+\.\d+\.\d+/);
  });

  test('the log says the default model has random weights', () => {
    assert.match(server.stderr(), /RANDOM-WEIGHT DEMO/);
  });
});
