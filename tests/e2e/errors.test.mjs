// Every error case of the API: the status, and an OpenAI error object whose param names the field.
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import OpenAI from 'openai';
import { DEMO_MODEL, post, startServer } from './harness.mjs';

let server;
let client;
const hello = [{ role: 'user', content: 'Hello!' }];
const CONTEXT = 128;
const BODY_CAP = 65536;

before(async () => {
  server = await startServer(['--ctx-size', String(CONTEXT), '--max-body-bytes', String(BODY_CAP)]);
  client = server.client();
});
after(async () => { await server?.stop(); });

// Calls the client and returns the APIError it must throw.
async function rejection(promise) {
  try {
    await promise;
  } catch (err) {
    assert.ok(err instanceof OpenAI.APIError, `expected an APIError, got ${err}`);
    return err;
  }
  assert.fail('the request should have failed');
}

function assertErrorBody(json, { type = 'invalid_request_error', param, code } = {}) {
  assert.ok(json && json.error, `no error object in ${JSON.stringify(json)}`);
  assert.equal(typeof json.error.message, 'string');
  assert.ok(json.error.message.length > 0);
  assert.equal(json.error.type, type);
  assert.ok('param' in json.error && 'code' in json.error);
  if (param !== undefined) assert.equal(json.error.param, param);
  if (code !== undefined) assert.equal(json.error.code, code);
}

describe('400 invalid requests', () => {
  test('malformed JSON', async () => {
    for (const body of ['{', 'not json', '[1, 2]', '']) {
      const res = await post(`${server.baseURL}/chat/completions`, body);
      assert.equal(res.status, 400, body);
      assertErrorBody(res.json, { param: null });
    }
  });

  test('wrong types name the field', async () => {
    const cases = {
      temperature: 'hot', max_tokens: '10', n: 'two', stream: 'yes', stop: 5, seed: 'x',
      logprobs: 1, logit_bias: [1], top_p: {}, messages: 'hi', user: 3,
    };
    for (const [field, value] of Object.entries(cases)) {
      const err = await rejection(client.chat.completions.create({ model: DEMO_MODEL, messages: hello, [field]: value }));
      assert.equal(err.status, 400, field);
      assert.equal(err.param, field);
      assert.equal(err.type, 'invalid_request_error');
    }
  });

  test('out-of-range values name the field', async () => {
    const cases = [
      ['temperature', 2.5], ['temperature', -1], ['top_p', 1.5], ['max_tokens', 0], ['n', 0], ['n', 1000],
      ['presence_penalty', 3], ['frequency_penalty', -3], ['top_k', -1], ['min_p', 2], ['repeat_penalty', 0],
      ['stop', ['a', 'b', 'c', 'd', 'e']], ['logit_bias', { 5: 101 }], ['logit_bias', { abc: 1 }],
      ['logit_bias', { 99999999: 1 }],
    ];
    for (const [field, value] of cases) {
      const err = await rejection(client.chat.completions.create({ model: DEMO_MODEL, messages: hello, [field]: value }));
      assert.equal(err.status, 400, `${field}=${JSON.stringify(value)}`);
      assert.equal(err.param, field, `${field}=${JSON.stringify(value)}: ${err.message}`);
    }
    const top = await rejection(client.chat.completions.create({ model: DEMO_MODEL, messages: hello, logprobs: true, top_logprobs: 21 }));
    assert.equal(top.param, 'top_logprobs');
  });

  test('missing and malformed messages', async () => {
    let res = await post(`${server.baseURL}/chat/completions`, { model: DEMO_MODEL });
    assert.equal(res.status, 400);
    assertErrorBody(res.json, { param: 'messages' });
    res = await post(`${server.baseURL}/chat/completions`, { messages: hello });
    assert.equal(res.status, 400);
    assertErrorBody(res.json, { param: 'model' });
    res = await post(`${server.baseURL}/chat/completions`, { model: DEMO_MODEL, messages: [{ role: 'wizard', content: 'x' }] });
    assertErrorBody(res.json, { param: 'messages[0].role' });
    res = await post(`${server.baseURL}/chat/completions`, {
      model: DEMO_MODEL, messages: [{ role: 'user', content: [{ type: 'image_url', image_url: { url: 'http://x/y.png' } }] }],
    });
    assert.equal(res.status, 400);
    assertErrorBody(res.json, { param: 'messages[0].content[0].type' });
  });

  test('stream_options without stream', async () => {
    const err = await rejection(client.chat.completions.create({
      model: DEMO_MODEL, messages: hello, stream_options: { include_usage: true },
    }));
    assert.equal(err.param, 'stream_options');
  });

  test('a streaming request that is invalid gets a plain JSON error, not a stream', async () => {
    const res = await post(`${server.baseURL}/chat/completions`, { model: DEMO_MODEL, messages: hello, stream: true, temperature: 9 });
    assert.equal(res.status, 400);
    assert.match(res.headers.get('content-type'), /application\/json/);
    assertErrorBody(res.json, { param: 'temperature' });
  });

  test('a prompt longer than the context is context_length_exceeded', async () => {
    const long = 'word '.repeat(CONTEXT * 2);
    const err = await rejection(client.chat.completions.create({ model: DEMO_MODEL, messages: [{ role: 'user', content: long }] }));
    assert.equal(err.status, 400);
    assert.equal(err.code, 'context_length_exceeded');
    assert.equal(err.param, 'messages');
    const streamed = await post(`${server.baseURL}/chat/completions`, { model: DEMO_MODEL, messages: [{ role: 'user', content: long }], stream: true });
    assert.equal(streamed.status, 400);
    assertErrorBody(streamed.json, { code: 'context_length_exceeded' });
    const legacy = await post(`${server.baseURL}/completions`, { model: DEMO_MODEL, prompt: long });
    assert.equal(legacy.status, 400);
    assertErrorBody(legacy.json, { code: 'context_length_exceeded', param: 'prompt' });
  });

  test('completions: suffix is rejected clearly', async () => {
    const err = await rejection(client.completions.create({ model: DEMO_MODEL, prompt: 'def f(', suffix: 'return x' }));
    assert.equal(err.status, 400);
    assert.equal(err.param, 'suffix');
    assert.match(err.message, /not supported/);
  });

  test('completions: token ids outside the vocabulary', async () => {
    const err = await rejection(client.completions.create({ model: DEMO_MODEL, prompt: [1, 2, 99999999] }));
    assert.equal(err.status, 400);
    assert.equal(err.param, 'prompt');
  });
});

describe('404 and 413', () => {
  test('unknown model is 404 model_not_found, streaming or not', async () => {
    const err = await rejection(client.chat.completions.create({ model: 'no-such-model', messages: hello }));
    assert.equal(err.status, 404);
    assert.equal(err.code, 'model_not_found');
    assert.equal(err.param, 'model');
    const streamed = await rejection(client.chat.completions.create({ model: 'no-such-model', messages: hello, stream: true }));
    assert.equal(streamed.status, 404);
    const legacy = await rejection(client.completions.create({ model: 'no-such-model', prompt: 'x' }));
    assert.equal(legacy.status, 404);
    const card = await rejection(client.models.retrieve('no-such-model'));
    assert.equal(card.status, 404);
    assert.equal(card.code, 'model_not_found');
  });

  test('unknown path is a JSON 404', async () => {
    const res = await fetch(`${server.url}/v1/nothing-here`);
    assert.equal(res.status, 404);
    assertErrorBody(await res.json());
  });

  test('a body over the cap is 413', async () => {
    const big = JSON.stringify({ model: DEMO_MODEL, messages: [{ role: 'user', content: 'x'.repeat(BODY_CAP * 2) }] });
    const res = await post(`${server.baseURL}/chat/completions`, big);
    assert.equal(res.status, 413);
    assertErrorBody(res.json, { code: 'request_too_large' });
    // The server is fine afterwards.
    const ok = await client.chat.completions.create({ model: DEMO_MODEL, messages: hello, max_tokens: 1 });
    assert.equal(ok.choices.length, 1);
  });
});
