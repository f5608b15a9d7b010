// The Responses API through the official openai client (and the Vercel AI SDK's Responses
// provider): create, stream, retrieve, delete and
// input items on the demo model; conversations continued with previous_response_id (the prompt
// cache reuses the earlier turns); stored responses surviving a restart; and on the shared tiny
// Qwen3 model (random weights, real chat template with tools) a function-call round trip and
// text.format json_schema answers that validate. The Qwen3 part skips when ../shared is absent.
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import Ajv2020 from 'ajv/dist/2020.js';
import OpenAI from 'openai';
import { createOpenAI } from '@ai-sdk/openai';
import { generateText, streamText } from 'ai';
import { DEMO_MODEL, DEMO_MODEL_PATH, sharedDir, sharedSkip, startServer } from './harness.mjs';

// The output text of a response, from its message items.
function messageText(response) {
  return response.output
    .filter((item) => item.type === 'message')
    .flatMap((item) => item.content)
    .filter((part) => part.type === 'output_text')
    .map((part) => part.text)
    .join('');
}

describe('Responses API on the demo model', () => {
  let server;
  let client;
  before(async () => {
    server = await startServer();
    client = server.client();
  });
  after(async () => {
    await server?.stop();
  });

  test('create, retrieve, input items and delete', async () => {
    const response = await client.responses.create({
      model: DEMO_MODEL, input: 'Hello there', instructions: 'Be brief.', max_output_tokens: 8,
      metadata: { case: 'create' },
    });
    assert.match(response.id, /^resp_/);
    assert.equal(response.object, 'response');
    assert.ok(['completed', 'incomplete'].includes(response.status));
    if (response.status === 'incomplete') {
      assert.equal(response.incomplete_details.reason, 'max_output_tokens');
    }
    assert.equal(response.model, DEMO_MODEL);
    assert.equal(response.instructions, 'Be brief.');
    assert.equal(response.max_output_tokens, 8);
    assert.deepEqual(response.metadata, { case: 'create' });
    assert.equal(response.store, true);
    assert.ok(response.output.length >= 1);
    assert.equal(response.output_text, messageText(response));
    assert.ok(response.usage.input_tokens > 0);
    assert.ok(response.usage.output_tokens >= 1 && response.usage.output_tokens <= 8);
    assert.equal(response.usage.total_tokens, response.usage.input_tokens + response.usage.output_tokens);

    const stored = await client.responses.retrieve(response.id);
    assert.equal(stored.id, response.id);
    assert.equal(stored.output_text, response.output_text);
    assert.deepEqual(stored.usage, response.usage);

    const items = await client.responses.inputItems.list(response.id);
    assert.equal(items.data.length, 1);
    assert.equal(items.data[0].type, 'message');
    assert.equal(items.data[0].role, 'user');
    assert.deepEqual(items.data[0].content, [{ type: 'input_text', text: 'Hello there' }]);

    await client.responses.delete(response.id);
    await assert.rejects(client.responses.retrieve(response.id), (error) => {
      assert.equal(error.status, 404);
      assert.equal(error.code, 'response_not_found');
      return true;
    });
    await assert.rejects(client.responses.delete(response.id), { status: 404 });
  });

  test('input items paginate', async () => {
    const input = ['one', 'two', 'three', 'four', 'five'].map((text) => ({ role: 'user', content: text }));
    const response = await client.responses.create({ model: DEMO_MODEL, input, max_output_tokens: 2 });
    const texts = [];
    for await (const item of client.responses.inputItems.list(response.id, { limit: 2, order: 'asc' })) {
      texts.push(item.content[0].text);
    }
    assert.deepEqual(texts, ['one', 'two', 'three', 'four', 'five']);
    const newest = await client.responses.inputItems.list(response.id, { limit: 2 });
    assert.deepEqual(newest.data.map((item) => item.content[0].text), ['five', 'four']);
    assert.equal(newest.has_more, true);
  });

  test('streaming: the event sequence, and the streamed response is the stored one', async () => {
    const stream = client.responses.stream({ model: DEMO_MODEL, input: 'Tell me a story', max_output_tokens: 12 });
    const types = [];
    let sequence = 0;
    let deltas = '';
    let last = null;
    for await (const event of stream) {
      last = event;
      assert.equal(event.sequence_number, sequence++);
      types.push(event.type);
      if (event.type === 'response.output_text.delta') deltas += event.delta;
    }
    const final = await stream.finalResponse();
    assert.equal(types[0], 'response.created');
    assert.equal(types[1], 'response.in_progress');
    assert.ok(['response.completed', 'response.incomplete'].includes(types.at(-1)));
    const expected = ['response.output_item.added', 'response.content_part.added'];
    assert.deepEqual(types.slice(2, 4), expected);
    const tail = ['response.output_text.done', 'response.content_part.done', 'response.output_item.done'];
    assert.deepEqual(types.slice(-4, -1), tail);
    assert.ok(types.slice(4, -4).every((type) => type === 'response.output_text.delta'));
    assert.equal(messageText(final), deltas);

    const stored = await client.responses.retrieve(final.id);
    assert.equal(stored.output_text, deltas);
    // The closing event carries the finished response (the client's snapshot is updated only by
    // response.completed).
    assert.equal(last.response.id, final.id);
    assert.deepEqual(stored.output, last.response.output);
    assert.equal(stored.status, last.response.status);
  });

  test('store: false responses are not kept', async () => {
    const response = await client.responses.create({ model: DEMO_MODEL, input: 'x', max_output_tokens: 2, store: false });
    assert.equal(response.store, false);
    await assert.rejects(client.responses.retrieve(response.id), { status: 404 });
    await assert.rejects(
      client.responses.create({ model: DEMO_MODEL, input: 'y', previous_response_id: response.id }),
      (error) => error.status === 404 && error.param === 'previous_response_id',
    );
  });

  test('previous_response_id continues the conversation and reuses the prompt cache', async () => {
    const first = await client.responses.create({
      model: DEMO_MODEL, input: 'The first turn of a conversation that is long enough to cache.', max_output_tokens: 6,
    });
    const second = await client.responses.create({
      model: DEMO_MODEL, input: 'And the second.', previous_response_id: first.id, max_output_tokens: 6,
    });
    assert.equal(second.previous_response_id, first.id);
    // The prompt holds the first turn (input and answer) and the new input.
    assert.ok(second.usage.input_tokens > first.usage.input_tokens + first.usage.output_tokens);
    assert.ok(second.usage.input_tokens_details.cached_tokens >= first.usage.input_tokens - 8,
      `cached ${second.usage.input_tokens_details.cached_tokens} of ${first.usage.input_tokens}`);
    const third = await client.responses.create({
      model: DEMO_MODEL, input: 'A third.', previous_response_id: second.id, max_output_tokens: 2,
    });
    assert.ok(third.usage.input_tokens > second.usage.input_tokens);
    // Only this turn's input is listed as its input items.
    const items = await client.responses.inputItems.list(third.id);
    assert.deepEqual(items.data.map((item) => item.content[0].text), ['A third.']);
  });

  test('errors in OpenAI shape', async () => {
    await assert.rejects(
      client.responses.create({ model: DEMO_MODEL, input: 'x', previous_response_id: 'resp_unknown' }),
      (error) => error.status === 404 && error.code === 'response_not_found',
    );
    await assert.rejects(
      client.responses.create({ model: DEMO_MODEL, input: 'x', tools: [{ type: 'web_search' }] }),
      (error) => error.status === 400 && error.param === 'tools[0].type',
    );
    await assert.rejects(
      client.responses.create({ model: DEMO_MODEL, input: 'x', temperature: 'hot' }),
      (error) => error.status === 400 && error.param === 'temperature',
    );
    await assert.rejects(
      client.responses.create({ model: DEMO_MODEL, input: [{ role: 'user', content: [{ type: 'input_image', image_url: 'data:,' }] }] }),
      (error) => error.status === 400 && error.param === 'input[0].content[0].type',
    );
    await assert.rejects(
      client.responses.create({ model: 'no-such-model', input: 'x' }),
      (error) => error.status === 404 && error.code === 'model_not_found',
    );
  });
});

describe('the Vercel AI SDK\'s OpenAI Responses provider', () => {
  let server;
  let provider;
  before(async () => {
    server = await startServer();
    provider = createOpenAI({ baseURL: server.baseURL, apiKey: 'cria' });
  });
  after(async () => {
    await server?.stop();
  });

  test('generateText', async () => {
    const result = await generateText({
      model: provider.responses(DEMO_MODEL), system: 'Be brief.', prompt: 'Hello', maxOutputTokens: 6,
    });
    assert.ok(['stop', 'length'].includes(result.finishReason), result.finishReason);
    assert.ok(result.usage.outputTokens >= 1 && result.usage.outputTokens <= 6);
    assert.ok(result.usage.inputTokens > 0);
    assert.match(result.response.id, /^resp_/);
    const stored = await server.client().responses.retrieve(result.response.id);
    assert.equal(stored.output_text, result.text);
  });

  test('streamText', async () => {
    const result = streamText({ model: provider.responses(DEMO_MODEL), prompt: 'Tell me a story', maxOutputTokens: 8 });
    let streamed = '';
    for await (const piece of result.textStream) streamed += piece;
    assert.equal(streamed, await result.text);
    assert.ok(['stop', 'length'].includes(await result.finishReason));
    const usage = await result.usage;
    assert.ok(usage.outputTokens >= 1 && usage.outputTokens <= 8);
  });
});

test('stored responses survive a restart', async () => {
  const home = mkdtempSync(path.join(os.tmpdir(), 'cria-responses-'));
  const args = ['--model', `${DEMO_MODEL}=${DEMO_MODEL_PATH}`];
  try {
    let server = await startServer(args, { env: { CRIA_HOME: home } });
    const first = await server.client().responses.create({ model: DEMO_MODEL, input: 'Remember me', max_output_tokens: 4 });
    await server.stop();
    server = await startServer(args, { env: { CRIA_HOME: home } });
    try {
      const client = server.client();
      const stored = await client.responses.retrieve(first.id);
      assert.equal(stored.output_text, first.output_text);
      const next = await client.responses.create({
        model: DEMO_MODEL, input: 'Still there?', previous_response_id: first.id, max_output_tokens: 2,
      });
      assert.ok(next.usage.input_tokens > first.usage.input_tokens);
    } finally {
      await server.stop();
    }
  } finally {
    rmSync(home, { recursive: true, force: true });
  }
});

const shared = sharedDir();
const qwenPath = shared ? path.join(shared, 'models', 'tiny-qwen3.Q8_0.gguf') : null;
const qwenSkip = sharedSkip(qwenPath && existsSync(qwenPath) ? false : '../shared/models/tiny-qwen3.Q8_0.gguf is absent; skipped');

describe('Responses API on tiny Qwen3 (tools, structured output)', { skip: qwenSkip }, () => {
  const MODEL = 'tiny-qwen3';
  // Random weights rarely close a string or an object among ~150k tokens: a bias towards the
  // closers ('"' 1, ',' 11, ':' 25, ']' 60, '}' 92) and the end of turn (151645) lets answers
  // finish; the grammar still decides what is allowed.
  const closers = { 1: 6, 11: 4, 25: 6, 60: 6, 92: 6 };
  const toolBias = { ...closers, 151645: 8 };
  const weatherTool = {
    type: 'function',
    name: 'get_weather',
    description: 'Weather for a city',
    parameters: {
      type: 'object',
      properties: { city: { type: 'string', maxLength: 8 }, unit: { enum: ['c', 'f'] } },
      required: ['city', 'unit'],
      additionalProperties: false,
    },
  };
  let server;
  let client;
  before(async () => {
    server = await startServer(['--model', `${MODEL}=${qwenPath}`]);
    client = new OpenAI({ baseURL: server.baseURL, apiKey: 'cria', maxRetries: 0, timeout: 120_000 });
  });
  after(async () => {
    await server?.stop();
  });

  test('function_call, then function_call_output with previous_response_id', async () => {
    const validate = new Ajv2020({ strict: false }).compile(weatherTool.parameters);
    let call = null;
    let first = null;
    for (let seed = 0; seed < 24 && !call; ++seed) {
      const response = await client.responses.create({
        model: MODEL, input: 'Weather in Paris?', tools: [weatherTool], tool_choice: 'required',
        parallel_tool_calls: false, max_output_tokens: 64, seed, logit_bias: toolBias,
      });
      if (response.status !== 'completed') continue;
      const calls = response.output.filter((item) => item.type === 'function_call');
      assert.equal(calls.length, 1, JSON.stringify(response.output));
      first = response;
      call = calls[0];
    }
    assert.ok(call, 'no seed finished its forced call within 64 tokens');
    assert.equal(call.name, 'get_weather');
    assert.match(call.call_id, /\S/);
    assert.equal(call.status, 'completed');
    assert.ok(validate(JSON.parse(call.arguments)), call.arguments);

    const second = await client.responses.create({
      model: MODEL, previous_response_id: first.id, tools: [weatherTool],
      input: [{ type: 'function_call_output', call_id: call.call_id, output: '{"temp": 21}' }],
      max_output_tokens: 8, seed: 1,
    });
    assert.ok(['completed', 'incomplete'].includes(second.status));
    assert.ok(second.usage.input_tokens > first.usage.input_tokens);
    assert.ok(second.usage.input_tokens_details.cached_tokens > 0);
    const items = await client.responses.inputItems.list(second.id);
    assert.equal(items.data[0].type, 'function_call_output');
    assert.equal(items.data[0].call_id, call.call_id);
  });

  test('text.format json_schema answers validate', async () => {
    const schema = {
      type: 'object',
      properties: { name: { type: 'string', maxLength: 6 }, age: { type: 'integer', minimum: 0, maximum: 120 } },
      required: ['name', 'age'],
      additionalProperties: false,
    };
    const validate = new Ajv2020({ strict: false }).compile(schema);
    let completed = 0;
    for (let seed = 0; seed < 12; ++seed) {
      const response = await client.responses.create({
        model: MODEL, input: 'A person as JSON', max_output_tokens: 48, seed, logit_bias: closers,
        text: { format: { type: 'json_schema', name: 'person', schema, strict: true } },
      });
      assert.equal(response.text.format.type, 'json_schema');
      if (response.status !== 'completed') continue;
      ++completed;
      assert.ok(validate(JSON.parse(response.output_text)), response.output_text);
    }
    console.log(`text.format json_schema: ${completed}/12 answers finished within 48 tokens, all valid`);
    assert.ok(completed > 0);
  });
});
