// `cria run` in a real terminal: tmux gives it a pseudo-terminal, keys are typed into it and the
// screen is read back. A stored alias is run; line editing, history, multi-line input,
// commands, Ctrl-C (during an answer and at the prompt) and a conversation longer than the
// context are checked on what the screen shows. Without tmux the tests skip with a message.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import { CRIA_BIN, DEMO_MODEL, DEMO_MODEL_PATH, runCria } from './harness.mjs';

const tmuxMissing = spawnSync('tmux', ['-V']).error ? 'tmux is not installed (scripts/setup.sh installs it); skipped' : false;
const ARTIFACTS = process.env.CRIA_E2E_ARTIFACTS || path.resolve(path.dirname(CRIA_BIN), 'e2e-artifacts');
const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

describe('cria run in a terminal', { skip: tmuxMissing }, () => {
  const home = mkdtempSync(path.join(os.tmpdir(), 'cria-terminal-'));
  const socket = path.join(home, 'tmux.sock');
  const session = 'cria';
  const tmux = (...args) => {
    const result = spawnSync('tmux', ['-S', socket, ...args], { encoding: 'utf8' });
    if (result.status !== 0) throw new Error(`tmux ${args.join(' ')}: ${result.stderr}`);
    return result.stdout;
  };
  // The whole screen and its scrollback, as text.
  const screen = () => tmux('capture-pane', '-p', '-J', '-S', '-10000', '-t', session);
  const type = (...keys) => tmux('send-keys', '-t', session, ...keys);
  const typeText = (text) => tmux('send-keys', '-t', session, '-l', text);
  const enter = (text) => {
    typeText(text);
    type('Enter');
  };
  async function until(check, message, timeout = 20_000) {
    const start = Date.now();
    for (;;) {
      const text = screen();
      if (check(text)) return text;
      if (Date.now() - start > timeout) throw new Error(`${message}; the screen:\n${text}`);
      await sleep(25);
    }
  }
  const count = (text, needle) => text.split(needle).length - 1;
  // Answers shown with their statistics (the last line of each block; "prompt eval rate" aside).
  const answersOn = (text) => count(text, '\neval rate:');
  // The screen's last line that is not empty.
  const lastLine = (text) => text.trimEnd().split('\n').at(-1);
  const atPrompt = (text) => lastLine(text) === '>>>';

  before(async () => {
    // A stored model and an alias of it, in a home of the test's own.
    runCria(['run', DEMO_MODEL, 'warm up', '--max-tokens', '1']);
    const modelfile = path.join(home, 'Modelfile');
    writeFileSync(modelfile, `FROM ${DEMO_MODEL_PATH}\nPARAMETER num_predict 12\nSYSTEM Be brief.\n`);
    const env = { CRIA_HOME: home };
    runCria(['create', 'talker', '-f', modelfile], { env });
    runCria(['cp', 'talker', 'gpt-3.5-turbo'], { env });
    tmux('new-session', '-d', '-s', session, '-x', '160', '-y', '50',
      `env CRIA_HOME=${home} ${CRIA_BIN} run gpt-3.5-turbo --verbose; echo "[cria exited with $?]"; sleep 600`);
    await until(atPrompt, 'no prompt came');
  });

  after(() => {
    spawnSync('tmux', ['-S', socket, 'kill-server']);
    rmSync(home, { recursive: true, force: true });
  });

  test('a stored alias answers, with the statistics --verbose asks for', async () => {
    enter('Hello');
    const text = await until((t) => /eval rate: +[\d.]+ tokens\/s\n>>>\s*$/.test(t), 'no answer with statistics');
    for (const field of ['total duration:', 'load duration:', 'prompt eval count:', 'prompt eval duration:',
      'prompt eval rate:', 'eval count:', 'eval duration:']) {
      assert.ok(text.includes(field), `${field} is missing`);
    }
    // The Modelfile's num_predict applies to the alias: at most 12 tokens.
    const evalCount = Number(text.match(/\neval count: +(\d+) token\(s\)/)[1]);
    assert.ok(evalCount >= 1 && evalCount <= 12, `eval count ${evalCount}`);
  });

  test('/set parameter and /show work, and unknown commands are not sent to the model', async () => {
    enter('/set parameter temperature 0');
    await until((t) => t.includes("Set parameter 'temperature' to '0'."), 'the parameter was not set');
    enter('/show parameters');
    await until((t) => /temperature +0(\.0)?\n/.test(t) && /num_predict +12\n/.test(t), '/show parameters');
    enter('/show system');
    await until((t) => t.includes('\nBe brief.\n'), '/show system');
    enter('/show info');
    await until((t) => /architecture +llama/.test(t) && /context length +\d+/.test(t), '/show info');
    enter('/frobnicate');
    await until((t) => t.includes("Unknown command '/frobnicate'"), 'an unknown command');
  });

  test('the up arrow recalls the previous line', async () => {
    enter('/set parameter seed 7');
    await until((t) => count(t, "Set parameter 'seed' to '7'.") === 1, 'the seed was not set');
    type('Up');
    await until((t) => lastLine(t) === '>>> /set parameter seed 7', 'the line was not recalled');
    type('Enter');
    await until((t) => count(t, "Set parameter 'seed' to '7'.") === 2, 'the recalled line did not run');
  });

  test('""" input arrives as one message', async () => {
    const before = answersOn(screen());
    enter('"""first line');
    await until((t) => lastLine(t) === '...', 'no continuation prompt');
    enter('second line"""');
    await until((t) => answersOn(t) === before + 1 && atPrompt(t), 'no answer to the block');
    // One answer: the two lines went as one message. /save shows it in the stored conversation.
    enter('/save saved-chat');
    await until((t) => t.includes("Created the model 'saved-chat'."), '/save');
    const shown = runCria(['show', 'saved-chat', '--modelfile'], { env: { CRIA_HOME: home } }).stdout;
    assert.match(shown, /MESSAGE user """first line\nsecond line"""/);
    assert.equal(count(shown, 'MESSAGE user'), 2, shown);
  });

  test('Ctrl-C stops an answer and returns to the prompt; at the prompt it says how to leave', async () => {
    enter('/set parameter num_predict 100000');
    await until((t) => t.includes("Set parameter 'num_predict' to '100000'."), 'num_predict');
    const answers = answersOn(screen());
    enter('Tell me a very long story');
    await sleep(300);
    type('C-c');
    const stoppedAt = Date.now();
    await until(atPrompt, 'Ctrl-C did not bring the prompt back', 5000);
    const tookMs = Date.now() - stoppedAt;
    console.log(`terminal: the prompt was back ${tookMs} ms after Ctrl-C`);
    // A stopped answer prints no statistics, and the program is still running.
    assert.equal(answersOn(screen()), answers);
    assert.ok(!screen().includes('[cria exited'), 'Ctrl-C ended the program');

    typeText('half a line');
    type('C-c');
    await until((t) => t.includes('Use Ctrl-D or /bye to leave.') && atPrompt(t), 'no hint at the prompt');
    enter('/set parameter num_predict 12');
    await until((t) => t.includes("Set parameter 'num_predict' to '12'."), 'num_predict back');
  });

  test('a conversation longer than the context keeps answering, and says so once', async () => {
    enter('/set parameter num_ctx 128');
    await until((t) => t.includes("Set parameter 'num_ctx' to '128'."), 'num_ctx');
    enter('/clear');
    await until((t) => t.includes('Cleared the conversation.'), '/clear');
    const answers = answersOn(screen());
    for (let i = 1; i <= 12; ++i) {
      enter(`Message number ${i} of a conversation that keeps growing`);
      await until((t) => answersOn(t) === answers + i && atPrompt(t), `message ${i} got no answer`);
    }
    const text = screen();
    assert.equal(count(text, 'its oldest messages are left out'), 1, 'the note shows once');
    assert.ok(!/cria run: .*context/.test(text), 'a message was refused');
  });

  test('/bye leaves, and the history is there in the next session', async () => {
    enter('/bye');
    await until((t) => t.includes('[cria exited with 0]'), '/bye did not end cria run');
    assert.ok(existsSync(path.join(home, 'history')), 'no history file');
    const capture = screen();
    mkdirSync(ARTIFACTS, { recursive: true });
    writeFileSync(path.join(ARTIFACTS, 'cria-run-terminal.txt'), capture);
    console.log(`terminal: the screen of the session: ${path.join(ARTIFACTS, 'cria-run-terminal.txt')}`);

    tmux('respawn-pane', '-k', '-t', session, `env CRIA_HOME=${home} ${CRIA_BIN} run gpt-3.5-turbo`);
    tmux('clear-history', '-t', session);
    await until(atPrompt, 'the second session gave no prompt');
    type('Up');
    await until((t) => lastLine(t) === '>>> /bye', 'the last session\'s lines are not in the history');
    type('Up');
    await until((t) => lastLine(t) === '>>> /set parameter num_ctx 128' || lastLine(t).startsWith('>>> Message number 12'),
      'the line before it is not in the history');
    type('C-u');
    enter('/bye');
  });
});
