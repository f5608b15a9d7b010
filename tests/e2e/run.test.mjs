// `cria run MODEL [PROMPT]` on the demo model: one answer and exit, or a chat on stdin.
import assert from 'node:assert/strict';
import { before, test } from 'node:test';
import { DEMO_MODEL, DEMO_MODEL_PATH, runCria } from './harness.mjs';

before(() => {
  // `cria run cria-demo` makes the demo model when it is missing, like `cria serve` does.
  runCria(['run', DEMO_MODEL, 'warm up', '--max-tokens', '1']);
});

test('with a prompt: prints the answer and exits', () => {
  const a = runCria(['run', DEMO_MODEL_PATH, 'Hello there', '--max-tokens', '12', '--seed', '4']);
  const b = runCria(['run', DEMO_MODEL_PATH, 'Hello there', '--max-tokens', '12', '--seed', '4']);
  assert.ok(a.stdout.length > 1);
  assert.ok(a.stdout.endsWith('\n'));
  assert.equal(a.stdout, b.stdout, 'a seeded answer repeats');
});

test('without a prompt: a multi-turn chat read from stdin', () => {
  const result = runCria(['run', DEMO_MODEL_PATH, '--max-tokens', '6', '--seed', '1', '--verbose'], {
    input: 'Hi\nTell me more\n/save piped-chat\n/clear\nAgain\n/save piped-after-clear\n/bye\n',
  });
  // One prompt per line read, the last one answered by /bye.
  assert.equal(result.stdout.split('>>> ').length - 1, 7);
  assert.match(result.stdout, /Cleared the conversation/);
  // Ollama's statistics after each of the three answers.
  assert.equal([...result.stderr.matchAll(/^eval count: +\d+ token\(s\)$/gm)].length, 3, result.stderr);
  assert.equal([...result.stderr.matchAll(/^prompt eval rate: +[\d.]+ tokens\/s$/gm)].length, 3);
  // The conversation holds both turns (questions and answers); /clear forgets them.
  const before = runCria(['show', 'piped-chat', '--modelfile']).stdout;
  assert.deepEqual([...before.matchAll(/^MESSAGE (\w+)/gm)].map((m) => m[1]), ['user', 'assistant', 'user', 'assistant']);
  assert.match(before, /MESSAGE user Hi\n/);
  assert.match(before, /MESSAGE user Tell me more\n/);
  const after = runCria(['show', 'piped-after-clear', '--modelfile']).stdout;
  assert.deepEqual([...after.matchAll(/^MESSAGE (\w+)/gm)].map((m) => m[1]), ['user', 'assistant']);
  runCria(['rm', 'piped-chat', 'piped-after-clear']);
});

test('model output cannot reach the terminal as control characters', () => {
  // The demo model's vocabulary has a token for every byte, so a long random answer holds
  // control bytes: they must arrive escaped (^[ for ESC, \u009b for CSI), never raw.
  const result = runCria(['run', DEMO_MODEL_PATH, 'Hi', '--max-tokens', '400', '--seed', '3']);
  assert.ok(!/[\x00-\x08\x0b-\x1f\x7f\u0080-\u009f]/.test(result.stdout), JSON.stringify(result.stdout));
  assert.match(result.stdout, /\^[@A-Z[\\\]^_?]|\\u00[89]/, 'the answer held no control character to escape');
});
