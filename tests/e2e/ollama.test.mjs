// The model store through the official `ollama` npm client and the OpenAI client: a model built
// from a Modelfile (num_ctx, parameters, system prompt), copied to an OpenAI model name, listed,
// shown, chatted with through /v1/chat/completions, created and deleted over /api. Uses the shared
// tiny Qwen3 model; skipped when ../shared is absent.
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import net from 'node:net';
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

  test('create over the API opens no server file: FROM names a model or an uploaded blob', async () => {
    // A FIFO (which used to hang a worker), a real GGUF, a file that is not a GGUF and a path
    // that does not exist all get one answer, so that a client learns nothing of the server's
    // files.
    const fifo = path.join(dir, 'model.fifo');
    execFileSync('mkfifo', [fifo]);
    const notGguf = path.join(dir, 'notes.txt');
    writeFileSync(notGguf, 'hello');
    const answers = [];
    for (const from of [fifo, gguf, notGguf, path.join(dir, 'missing.gguf'), '/etc/passwd']) {
      const started = Date.now();
      const res = await post(`${server.url}/api/create`, { model: 'fromfile', from, stream: false });
      assert.ok(Date.now() - started < 10_000);
      assert.equal(res.status, 404, res.text);
      answers.push(res.json.error.replace(from, 'PATH'));
    }
    assert.equal(new Set(answers).size, 1, answers.join('\n'));
    assert.match(answers[0], /no model of that name/);

    // The file as a blob, then `files`, as Ollama's clients do it.
    const bytes = readFileSync(gguf);
    const digest = `sha256:${createHash('sha256').update(bytes).digest('hex')}`;
    const upload = await fetch(`${server.url}/api/blobs/${digest}`, { method: 'POST', body: bytes });
    assert.equal(upload.status, 201);
    const head = await fetch(`${server.url}/api/blobs/${digest}`);
    assert.equal(head.status, 200);
    const created = await post(`${server.url}/api/create`, { model: 'fromblob', files: { 'tiny.gguf': digest }, stream: false });
    assert.equal(created.status, 200, created.text);
    const shown = await ollama.show({ model: 'fromblob' });
    assert.equal(shown.details.family, 'qwen3');
    await ollama.delete({ model: 'fromblob' });
  });

  test('a blob upload cut short is refused, also when the blob exists', async () => {
    const bytes = readFileSync(gguf);
    const digest = `sha256:${createHash('sha256').update(bytes).digest('hex')}`;
    const upload = await fetch(`${server.url}/api/blobs/${digest}`, { method: 'POST', body: bytes });
    assert.equal(upload.status, 201);
    const port = Number(new URL(server.url).port);
    for (let attempt = 0; attempt < 2; ++attempt) {
      const answer = await new Promise((resolve, reject) => {
        const socket = net.connect(port, '127.0.0.1', () => {
          socket.write(`POST /api/blobs/${digest} HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Length: ${bytes.length}\r\n\r\n`);
          socket.end(bytes.subarray(0, 1000));  // half of nothing: the body stops early
        });
        let text = '';
        socket.on('data', (d) => { text += d; });
        socket.on('end', () => resolve(text));
        socket.on('error', reject);
      });
      assert.match(answer, /^HTTP\/1\.1 400/, answer);
      assert.match(answer, /the upload ended early/);
    }
  });
});
