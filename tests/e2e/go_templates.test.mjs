// Ollama Go templates in Modelfiles: a model created with a Go TEMPLATE chats through /api/chat,
// /api/generate and /v1/chat/completions with exactly the prompt Ollama renders (checked by its
// token count), `cria show --template` names the syntax, and a template that does not parse is
// refused at `cria create` and /api/create with the line; /api/generate takes a template of its
// own and `suffix` for fill-in-the-middle. Uses the shared tiny Qwen3 model and
// the shared Go templates; skipped when ../shared is absent.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import { Ollama } from 'ollama';
import { CRIA_BIN, CRIA_HOME, post, runCria, sharedDir, sharedSkip, startServer } from './harness.mjs';

const shared = sharedDir();
const gguf = shared ? path.join(shared, 'models', 'tiny-qwen3.Q8_0.gguf') : null;
const templates = shared ? path.join(shared, 'golden', 'gotemplates') : null;
const skip = sharedSkip(gguf && existsSync(gguf) && existsSync(templates)
  ? false : '../shared/models/tiny-qwen3.Q8_0.gguf or ../shared/golden/gotemplates is absent; skipped');
const dir = mkdtempSync(path.join(os.tmpdir(), 'cria-e2e-gotmpl-'));
const env = { CRIA_MODELS: path.join(dir, 'models') };
let server;
let ollama;

// The number of tokens the model reads for a text (special tokens parsed, as in prompts).
function tokenCount(text) {
  const file = path.join(dir, 'count.txt');
  writeFileSync(file, text);
  const out = runCria(['tokenize', '-m', gguf, '-f', file, '--no-add-special'], { env }).stdout;
  return out.trim().split(/\s+/).length;
}

function golden(name) {
  return readFileSync(path.join(templates, name), 'utf8');
}

function createFromModelfile(name, modelfile) {
  writeFileSync(path.join(dir, `${name}.Modelfile`), modelfile);
  return spawnSync(CRIA_BIN, ['create', name, '-f', path.join(dir, `${name}.Modelfile`)], {
    env: { ...process.env, CRIA_HOME, ...env }, encoding: 'utf8', timeout: 120_000,
  });
}

before(async () => {
  if (skip) return;
  // chatml names .Messages (rendered once); exec-mistral-prompt is a legacy .Prompt template.
  for (const [name, file] of [['gochat', 'chatml.gotmpl'], ['golegacy', 'exec-mistral-prompt.gotmpl'],
    ['gofim', 'exec-suffix.gotmpl']]) {
    const created = createFromModelfile(name,
      `FROM ${gguf}\nPARAMETER temperature 0\nTEMPLATE """${golden(file)}"""\n`);
    assert.equal(created.status, 0, created.stderr);
  }
  server = await startServer([], { env });
  ollama = new Ollama({ host: server.url });
});
after(async () => {
  await server?.stop();
  rmSync(dir, { recursive: true, force: true });
});

describe('Go templates', { skip }, () => {
  test('cria show --template prints the template and names its syntax', () => {
    const shown = runCria(['show', 'gochat', '--template'], { env });
    assert.equal(shown.stdout, `${golden('chatml.gotmpl')}\n`);
    assert.match(shown.stderr, /template syntax: go/);
    const info = JSON.parse(runCria(['show', 'gochat', '--json'], { env }).stdout);
    assert.equal(info.template_syntax, 'go');
  });

  test('/api/chat renders the conversation as Ollama does', async () => {
    const expected = tokenCount(golden('chatml__system-user-assistant-user.txt'));
    const messages = JSON.parse(golden('chatml__system-user-assistant-user.json')).messages;
    const reply = await ollama.chat({ model: 'gochat', messages, options: { num_predict: 4 } });
    assert.equal(reply.done, true);
    assert.equal(reply.prompt_eval_count, expected);
    assert.ok(reply.eval_count > 0);
    let streamed = 0;
    for await (const part of await ollama.chat({ model: 'gochat', messages, stream: true, options: { num_predict: 4 } })) {
      if (part.done) streamed = part.prompt_eval_count;
    }
    assert.equal(streamed, expected);
  });

  test('/v1/chat/completions renders the same prompt through the openai client', async () => {
    const expected = tokenCount(golden('chatml__user.txt'));
    const completion = await server.client().chat.completions.create({
      model: 'gochat', messages: [{ role: 'user', content: 'Hello, how are you?' }], max_tokens: 4,
    });
    assert.equal(completion.usage.prompt_tokens, expected);
    assert.ok(completion.choices[0].finish_reason);
  });

  test('a legacy .Prompt template renders per turn on /api/chat and /api/generate', async () => {
    const messages = JSON.parse(golden('exec-mistral-prompt__user-assistant-user.json')).messages;
    const chat = await ollama.chat({ model: 'golegacy', messages, options: { num_predict: 2 } });
    assert.equal(chat.prompt_eval_count, tokenCount(golden('exec-mistral-prompt__user-assistant-user.txt')));
    const generated = await ollama.generate({ model: 'golegacy', prompt: 'Hello friend!', options: { num_predict: 2 } });
    assert.equal(generated.prompt_eval_count, tokenCount('[INST] Hello friend![/INST] '));
  });

  test('/api/generate takes a template of its own and fills in the middle with suffix', async () => {
    const template = golden('exec-suffix.gotmpl');
    const fim = await ollama.generate({
      model: 'gochat', prompt: 'def add(', suffix: 'return x', template, options: { num_predict: 2 },
    });
    assert.equal(fim.prompt_eval_count, tokenCount(golden('exec-suffix__prompt-suffix.txt')));
    const plain = await ollama.generate({ model: 'gochat', prompt: 'hello', template, options: { num_predict: 2 } });
    assert.equal(plain.prompt_eval_count, tokenCount('hello'));
    // A model whose own template places .Suffix reports (and does) insert.
    assert.ok((await ollama.show({ model: 'gofim' })).capabilities.includes('insert'));
    const own = await ollama.generate({ model: 'gofim', prompt: 'def add(', suffix: 'return x', options: { num_predict: 2 } });
    assert.equal(own.prompt_eval_count, fim.prompt_eval_count);
    // chatml places no .Suffix: as Ollama, the model "does not support insert".
    assert.ok(!(await ollama.show({ model: 'gochat' })).capabilities.includes('insert'));
    const refused = await post(`${server.url}/api/generate`, { model: 'gochat', prompt: 'a', suffix: 'b', stream: false });
    assert.equal(refused.status, 400);
    assert.match(refused.json.error, /does not support insert/);
    const broken = await post(`${server.url}/api/generate`, { model: 'gochat', prompt: 'a', template: '{{ if .Prompt }}', stream: false });
    assert.equal(broken.status, 400);
    assert.match(broken.json.error, /template: .*line 1/);
  });

  test('a template that does not parse is refused at create, naming the line', async () => {
    const broken = 'line one\n{{ range .Messages }}{{ .Content }}\n{{ if .System }}';
    const created = createFromModelfile('broken', `FROM ${gguf}\nTEMPLATE """${broken}"""\n`);
    assert.notEqual(created.status, 0);
    assert.match(created.stderr, /TEMPLATE \(go syntax\) does not parse: template: .*line \d+/);
    const res = await post(`${server.url}/api/create`, { model: 'broken', from: 'gochat', template: broken, stream: false });
    assert.equal(res.status, 400, res.text);
    assert.match(res.json.error, /line \d+/);
    const { models } = await ollama.list();
    assert.ok(!models.some((m) => m.name.startsWith('broken')));
  });
});
