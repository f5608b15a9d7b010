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
    input: 'Hi\nTell me more\n/clear\nAgain\n/bye\n',
  });
  // One prompt per line read, the last one answered by /bye.
  assert.equal(result.stdout.split('>>> ').length - 1, 5);
  assert.match(result.stdout, /conversation cleared/);
  // The second turn's prompt holds the first turn (question and answer); /clear forgets both.
  const turns = [...result.stderr.matchAll(/\[prompt (\d+) tokens, answer (\d+) tokens/g)].map((m) => [+m[1], +m[2]]);
  assert.equal(turns.length, 3);
  assert.ok(turns[1][0] > turns[0][0] + turns[0][1], JSON.stringify(turns));
  assert.ok(turns[2][0] < turns[1][0], JSON.stringify(turns));
});
