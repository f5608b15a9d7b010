// Time to first token of a long conversation's next turn, with and without cria's prompt cache.
//
//   node bench/prompt_cache.mjs --model PATH.gguf [--tokens 2000] [--chat] [--threads 2]
//
// Builds a conversation of about --tokens prompt tokens (text from ../shared/data/war-and-peace.txt
// when present, else generated sentences), asks for its first answer, then sends the next turn
// (the whole history plus the answer and a new question) twice: to the same server, whose slot
// still holds the history (cache), and to a freshly started server (no cache). With --chat the
// turns go through /v1/chat/completions and the model's template; otherwise the conversation is
// one text prompt on /v1/completions (for models without a chat template).
import { spawn } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';

const here = path.dirname(fileURLToPath(import.meta.url));
const repo = path.resolve(here, '..');
const { default: OpenAI } = await import(path.join(repo, 'tests/e2e/node_modules/openai/index.mjs'));

const { values: args } = parseArgs({
  options: {
    model: { type: 'string' },
    tokens: { type: 'string', default: '2000' },
    chat: { type: 'boolean', default: false },
    threads: { type: 'string', default: '2' },
  },
});
if (!args.model) {
  console.error('usage: node bench/prompt_cache.mjs --model PATH.gguf [--tokens 2000] [--chat]');
  process.exit(2);
}
const cria = process.env.CRIA_BIN || path.join(repo, 'build', 'cria');
const wantedTokens = Number(args.tokens);

function corpusText() {
  const corpus = path.resolve(repo, '..', 'shared', 'data', 'war-and-peace.txt');
  if (existsSync(corpus)) return readFileSync(corpus, 'utf8').slice(20000);
  let text = '';
  for (let i = 0; text.length < 200000; i++) text += `Sentence number ${i} tells of a river, a town and a road. `;
  return text;
}

async function startServer() {
  const proc = spawn(cria, ['serve', '--model', `bench=${args.model}`, '--threads', args.threads, '--ctx-size', String(wantedTokens + 1024)], {
    env: { ...process.env, CRIA_HOST: '127.0.0.1:0', CRIA_NUM_PARALLEL: '1' },
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  const url = await new Promise((resolve, reject) => {
    let out = '';
    proc.stdout.on('data', (d) => {
      out += d;
      const m = out.match(/listening on (http:\/\/\S+)/);
      if (m) resolve(m[1]);
    });
    proc.on('exit', (code) => reject(new Error(`cria serve exited with ${code}`)));
  });
  return { proc, client: new OpenAI({ baseURL: `${url}/v1`, apiKey: 'cria', maxRetries: 0, timeout: 600_000 }) };
}

// Streams one turn; returns the milliseconds to the first chunk with text, the text and usage.
async function turn(client, history) {
  const start = performance.now();
  let first = null;
  let text = '';
  let usage = null;
  const common = { model: 'bench', max_tokens: 16, temperature: 0, stream: true, stream_options: { include_usage: true } };
  const stream = args.chat
    ? await client.chat.completions.create({ ...common, messages: history })
    : await client.completions.create({ ...common, prompt: history.map((m) => `${m.role}: ${m.content}\n`).join('') + 'assistant:' });
  for await (const chunk of stream) {
    if (chunk.usage) usage = chunk.usage;
    const piece = args.chat ? chunk.choices[0]?.delta?.content : chunk.choices[0]?.text;
    // The role chunk comes before any token: the first token is the first text (or the end).
    if (first === null && (piece || chunk.choices[0]?.finish_reason)) first = performance.now() - start;
    if (piece) text += piece;
  }
  return { ms: first, text, usage };
}

// A history whose prompt comes to about wantedTokens tokens: grown by paragraphs, measured with
// the server's own usage figures.
async function buildHistory(client) {
  const corpus = corpusText();
  let chars = wantedTokens * 3;
  for (let attempt = 0; attempt < 6; attempt++) {
    const body = corpus.slice(0, chars);
    const history = [
      { role: 'system', content: 'You are a careful reader.' },
      { role: 'user', content: `Here is a passage:\n${body.slice(0, chars / 2)}` },
      { role: 'assistant', content: 'I have read it.' },
      { role: 'user', content: `And the rest:\n${body.slice(chars / 2)}\nWhat happens?` },
    ];
    const measured = await client.completions.create({ model: 'bench', prompt: history.map((m) => m.content).join('\n'), max_tokens: 1 });
    const tokens = measured.usage.prompt_tokens;
    if (Math.abs(tokens - wantedTokens) < wantedTokens * 0.05) return history;
    chars = Math.round(chars * wantedTokens / tokens);
  }
  throw new Error('could not size the conversation');
}

const warm = await startServer();
const history = await buildHistory(warm.client);
const first = await turn(warm.client, history);
const next = [...history, { role: 'assistant', content: first.text || 'Nothing.' }, { role: 'user', content: 'Say more about the second part.' }];
const cached = await turn(warm.client, next);
warm.proc.kill('SIGTERM');

const cold = await startServer();
const uncached = await turn(cold.client, next);
cold.proc.kill('SIGTERM');

console.log(`model ${args.model}`);
console.log(`first turn: ${first.usage.prompt_tokens} prompt tokens, first token after ${first.ms.toFixed(0)} ms`);
console.log(`next turn:  ${cached.usage.prompt_tokens} prompt tokens`);
console.log(`  with the prompt cache:    first token after ${cached.ms.toFixed(0)} ms`);
console.log(`  without (fresh server):   first token after ${uncached.ms.toFixed(0)} ms`);
console.log(`  speed-up: ${(uncached.ms / cached.ms).toFixed(1)}x`);
