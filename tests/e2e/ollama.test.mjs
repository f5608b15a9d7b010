// The model store through the official `ollama` npm client and the OpenAI client: a model built
// from a Modelfile (num_ctx, parameters, system prompt), copied to an OpenAI model name, listed,
// shown, chatted with through /v1/chat/completions, created and deleted over /api. Uses the shared
// tiny Qwen3 model; skipped when ../shared is absent.
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import { Ollama } from 'ollama';
import { DEMO_MODEL, post, runCria, sharedDir, startServer, sharedSkip } from './harness.mjs';

const shared = sharedDir();
const gguf = shared ? path.join(shared, 'models', 'tiny-qwen3.Q8_0.gguf') : null;
const skip = sharedSkip(gguf && existsSync(gguf) ? false : '../shared/models/tiny-qwen3.Q8_0.gguf is absent; skipped');
// A store of its own, so the other test files keep serving what they expect.
const dir = mkdtempSync(path.join(os.tmpdir(), 'cria-e2e-store-'));
const env = { CRIA_MODELS: path.join(dir, 'models') };
let server;
let ollama;

before(async () => {
  if (skip) return;
  writeFileSync(path.join(dir, 'Modelfile'),
    `FROM ${gguf}\nPARAMETER num_ctx 1024\nPARAMETER temperature 0.3\nPARAMETER stop "<|im_end|>"\nSYSTEM """You are terse."""\n`);
  const created = runCria(['create', 'tq', '-f', path.join(dir, 'Modelfile')], { env });
  assert.match(created.stderr, /success/);
  runCria(['cp', 'tq', 'gpt-3.5-turbo'], { env });
  server = await startServer([], { env });
  ollama = new Ollama({ host: server.url });
});
after(async () => {
  await server?.stop();
  rmSync(dir, { recursive: true, force: true });
});

describe('model store through the ollama client', { skip }, () => {
  test('list shows both names with one digest', async () => {
    const { models } = await ollama.list();
    const names = models.map((m) => m.name).sort();
    // The demo model is served beside the store's models (no --model given): listed too.
    assert.deepEqual(names, [`${DEMO_MODEL}:latest`, 'gpt-3.5-turbo:latest', 'tq:latest']);
    const byName = Object.fromEntries(models.map((m) => [m.name, m]));
    assert.equal(byName['tq:latest'].digest, byName['gpt-3.5-turbo:latest'].digest);
    assert.equal(byName['tq:latest'].details.family, 'qwen3');
  });

  test('show reports the Modelfile parameters and system prompt', async () => {
    const shown = await ollama.show({ model: 'gpt-3.5-turbo' });
    assert.match(shown.parameters, /num_ctx\s+1024/);
    assert.match(shown.parameters, /stop\s+"<\|im_end\|>"/);
    assert.equal(shown.system, 'You are terse.');
    assert.match(shown.modelfile, /PARAMETER temperature 0.3/);
    await assert.rejects(ollama.show({ model: 'no-such-model' }), (err) => err.status_code === 404);
  });

  test('the copied name chats through /v1/chat/completions with the Modelfile context', async () => {
    const client = server.client();
    const completion = await client.chat.completions.create({
      model: 'gpt-3.5-turbo',
      messages: [{ role: 'user', content: 'Hello' }],
      max_tokens: 4,
    });
    assert.equal(completion.model, 'gpt-3.5-turbo');
    assert.equal(completion.choices[0].finish_reason, 'length');
    // num_ctx 1024 from the Modelfile bounds the prompt.
    await assert.rejects(client.chat.completions.create({
      model: 'gpt-3.5-turbo',
      messages: [{ role: 'user', content: 'word '.repeat(1500) }],
      max_tokens: 4,
    }), (err) => err.status === 400);
    const { models } = await ollama.ps();
    assert.ok(models.some((m) => m.name === 'gpt-3.5-turbo'));
    const ps = runCria(['ps'], { env: { ...env, CRIA_HOST: server.url } });
    assert.match(ps.stdout, /^gpt-3\.5-turbo\s/m);
  });

  test('create, copy and delete over the API', async () => {
    const progress = [];
    for await (const part of await ollama.create({
      model: 'viaapi', from: 'tq', parameters: { num_ctx: 512 }, system: 'Other.', stream: true,
    })) {
      progress.push(part.status);
    }
    assert.equal(progress.at(-1), 'success');
    const shown = await ollama.show({ model: 'viaapi' });
    assert.match(shown.parameters, /num_ctx\s+512/);
    assert.match(shown.parameters, /temperature\s+0.3/);
    assert.equal(shown.system, 'Other.');
    await ollama.copy({ source: 'viaapi', destination: 'user/alias:v1' });
    await ollama.delete({ model: 'viaapi' });
    const { models } = await ollama.list();
    assert.deepEqual(models.map((m) => m.name).sort(),
      [`${DEMO_MODEL}:latest`, 'gpt-3.5-turbo:latest', 'tq:latest', 'user/alias:v1']);
    await ollama.delete({ model: 'user/alias:v1' });
    await assert.rejects(ollama.delete({ model: 'user/alias:v1' }), (err) => err.status_code === 404);
  });

  test('create from a FIFO is refused at once instead of hanging a worker', async () => {
    const fifo = path.join(dir, 'model.fifo');
    execFileSync('mkfifo', [fifo]);
    const started = Date.now();
    const res = await post(`${server.url}/api/create`, { model: 'fromfifo', from: fifo, stream: false });
    assert.equal(res.status, 400, res.text);
    assert.match(res.json.error, /not a regular file/);
    assert.ok(Date.now() - started < 10_000);
  });
});
