// The chat page that `cria serve` gives browsers at GET /, in a real browser: Debian's Chromium
// driven by playwright-core. Two models are served (the demo model and "thinker", the demo
// model with a template that opens a <think> block, so that its answers are reasoning); the
// page sends messages and streams answers, stops a long one (and the server stops generating),
// switches models, shows reasoning folded, renders markdown without letting it run script,
// sends images as image_url parts, keeps conversations across reloads, asks for the API key of
// a server started with CRIA_API_KEY, and never requests anything from another origin. A
// screenshot of a conversation is saved under the build directory (the path is printed).
//
// Without /usr/bin/chromium (or CRIA_CHROMIUM) or playwright-core the tests skip with a message;
// with CRIA_REQUIRE_BROWSER=1 (set by .ci/run) they fail instead.
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import zlib from 'node:zlib';
import { CRIA_BIN, DEMO_MODEL, DEMO_MODEL_PATH, post, startServer } from './harness.mjs';

const CHROMIUM = process.env.CRIA_CHROMIUM || '/usr/bin/chromium';
// The machine has no network: without the background-networking switches Chromium's own
// connections (updates, sync, field trials) hang.
const CHROMIUM_ARGS = [
  '--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
  '--disable-background-networking', '--disable-component-update', '--disable-sync',
];

async function loadPlaywright() {
  try {
    return (await import('playwright-core')).chromium;
  } catch {
    return null;
  }
}
const chromium = await loadPlaywright();
const missing = !existsSync(CHROMIUM)
  ? `${CHROMIUM} is missing (scripts/setup.sh installs Debian's chromium)`
  : !chromium ? 'playwright-core is not installed (run `npm ci` in tests/e2e)' : null;
if (missing && process.env.CRIA_REQUIRE_BROWSER === '1') {
  throw new Error(`CRIA_REQUIRE_BROWSER=1 but ${missing}`);
}
if (missing) console.log(`page: skipped: ${missing}`);

const THINKER = 'thinker';
// Earlier answers get an empty thinking block; a new answer starts inside an open one, so
// everything the model writes is reasoning (the way QwQ's template works).
const THINKER_TEMPLATE = "{%- for message in messages %}<|{{ message.role }}|>\n"
  + "{% if message.role == 'assistant' %}<think>\n</think>\n{% endif %}{{ message.content }}\n"
  + '{% endfor %}{% if add_generation_prompt %}<|assistant|>\n<think>\n{% endif %}';
const KEY = 'page-test-key-4815162342';
// The demo vocabulary's token for 'Q': biased up, the model says nothing else until max_tokens.
const Q_TOKEN = '81';
const ARTIFACTS = process.env.CRIA_E2E_ARTIFACTS
  || path.join(path.dirname(path.resolve(CRIA_BIN)), 'e2e-artifacts');

// A solid-colour RGB PNG.
function png(width, height, [r, g, b]) {
  const chunk = (type, data) => {
    const length = Buffer.alloc(4);
    length.writeUInt32BE(data.length);
    const body = Buffer.concat([Buffer.from(type, 'ascii'), data]);
    const crc = Buffer.alloc(4);
    crc.writeUInt32BE(zlib.crc32(body));
    return Buffer.concat([length, body, crc]);
  };
  const header = Buffer.alloc(13);
  header.writeUInt32BE(width, 0);
  header.writeUInt32BE(height, 4);
  header[8] = 8;  // bits per channel
  header[9] = 2;  // RGB
  const stride = width * 3 + 1;
  const rows = Buffer.alloc(stride * height);
  for (let y = 0; y < height; y++) {
    for (let x = 0; x < width; x++) rows.set([r, g, b], y * stride + 1 + x * 3);
  }
  return Buffer.concat([
    Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]),
    chunk('IHDR', header), chunk('IDAT', zlib.deflateSync(rows)), chunk('IEND', Buffer.alloc(0)),
  ]);
}

const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

// Polls `check` until it is true; the milliseconds it took, or throws `message`.
async function until(check, message, timeout = 15_000) {
  const start = Date.now();
  while (!(await check())) {
    if (Date.now() - start > timeout) throw new Error(message);
    await sleep(20);
  }
  return Date.now() - start;
}

async function runningChoices(url) {
  const text = await (await fetch(`${url}/metrics`)).text();
  const match = text.match(/^cria_requests_running (\d+)$/m);
  assert.ok(match, 'cria_requests_running is missing from /metrics');
  return Number(match[1]);
}

describe('the chat page in Chromium', { skip: missing ? `${missing}; skipped` : false }, () => {
  let server;
  let keyServer;
  let context;
  const temporary = [];
  // Everything every page did, checked at the end.
  const requested = [];
  const pageErrors = [];
  const policyViolations = [];
  const alerts = [];
  let page;

  async function openPage(url) {
    const opened = await context.newPage();
    opened.setDefaultTimeout(30_000);
    opened.on('request', (request) => requested.push(request.url()));
    opened.on('pageerror', (error) => pageErrors.push(error.message));
    opened.on('console', (message) => {
      if (/Content Security Policy/i.test(message.text())) policyViolations.push(message.text());
    });
    opened.on('dialog', async (dialog) => {
      if (dialog.type() === 'confirm') return dialog.accept();
      alerts.push(`${dialog.type()}: ${dialog.message()}`);
      return dialog.dismiss();
    });
    const response = await opened.goto(url);
    return { page: opened, response };
  }

  const textarea = () => page.getByRole('textbox', { name: 'Message', exact: true });
  const sendButton = () => page.getByRole('button', { name: 'Send', exact: true });
  const modelPicker = () => page.getByLabel('Model', { exact: true });
  const conversationList = () => page.getByRole('navigation', { name: 'Conversations' });
  const conversationTitles = () => conversationList().locator('li button.open').allTextContents();

  // Types `text` into the message box and sends it with Enter; returns the request the page
  // made, its JSON body and the locator of the answer.
  async function sendMessage(text) {
    const answers = page.locator('[data-role="assistant"]');
    const count = await answers.count();
    await textarea().fill(text);
    const sent = page.waitForRequest((r) => r.method() === 'POST' && r.url().endsWith('/v1/chat/completions'));
    await textarea().press('Enter');
    const request = await sent;
    return { request, body: JSON.parse(request.postData()), answer: answers.nth(count) };
  }

  // The answer is over when the Send button is back (it is hidden while one streams).
  async function answered(answer) {
    await sendButton().waitFor({ state: 'visible' });
    return answer.locator('.stats').innerText();
  }

  async function setSettings(values) {
    await page.getByRole('button', { name: 'Settings' }).click();
    const dialog = page.getByRole('dialog', { name: 'Settings' });
    for (const [label, value] of Object.entries(values)) await dialog.getByLabel(label).fill(value);
    await dialog.getByRole('button', { name: 'Save' }).click();
    await dialog.waitFor({ state: 'detached' });
  }

  async function newChat() {
    await page.locator('#new-chat').click();
    await until(async () => (await page.locator('[data-role]').count()) === 0, 'New chat did not empty the page');
  }

  before(async () => {
    // The demo model's file is made by the first `cria serve` without --model.
    if (!existsSync(DEMO_MODEL_PATH)) await (await startServer()).stop();
    const home = mkdtempSync(path.join(os.tmpdir(), 'cria-page-'));
    const keyHome = mkdtempSync(path.join(os.tmpdir(), 'cria-page-key-'));
    const profile = mkdtempSync(path.join(os.tmpdir(), 'cria-chromium-'));
    temporary.push(home, keyHome, profile);
    // A long context, so that an answer forced to repeat one token runs for seconds.
    server = await startServer(['--ctx-size', '16384', '--model', `${DEMO_MODEL}=${DEMO_MODEL_PATH}`],
      { env: { CRIA_HOME: home } });
    // The server opens no file a request names: the weights go up as a blob, as Ollama's clients send them.
    const bytes = readFileSync(DEMO_MODEL_PATH);
    const digest = `sha256:${createHash('sha256').update(bytes).digest('hex')}`;
    const upload = await fetch(`${server.url}/api/blobs/${digest}`, { method: 'POST', body: bytes });
    assert.equal(upload.status, 201, await upload.text());
    const created = await post(`${server.url}/api/create`,
      { model: THINKER, files: { 'demo.gguf': digest }, template: THINKER_TEMPLATE, stream: false });
    assert.equal(created.status, 200, created.text);
    keyServer = await startServer(['--model', `${DEMO_MODEL}=${DEMO_MODEL_PATH}`],
      { env: { CRIA_HOME: keyHome, CRIA_API_KEY: KEY } });
    context = await chromium.launchPersistentContext(profile, {
      executablePath: CHROMIUM, headless: true, args: CHROMIUM_ARGS, viewport: { width: 1280, height: 800 },
    });
    await context.grantPermissions(['clipboard-read', 'clipboard-write'], { origin: server.url });
  });

  after(async () => {
    await context?.close();
    await server?.stop();
    await keyServer?.stop();
    for (const dir of temporary) rmSync(dir, { recursive: true, force: true });
  });

  test('browsers get the page, with a strict security policy; curl still gets the status line', async () => {
    const plain = await fetch(server.url);
    assert.equal(await plain.text(), 'cria is running');
    assert.match(plain.headers.get('vary') ?? '', /Accept/);

    let response;
    ({ page, response } = await openPage(server.url));
    assert.equal(response.status(), 200);
    assert.match(response.headers()['content-type'], /^text\/html/);
    assert.match(response.headers()['content-security-policy'], /default-src 'self'/);
    assert.match(response.headers()['content-security-policy'], /script-src 'self'(;|$)/);
    assert.equal(await page.locator('textarea').count(), 1, 'the message box is the one textarea');
    await until(async () => (await modelPicker().locator('option').count()) === 2, 'the model picker never listed both models');
    assert.deepEqual(await modelPicker().locator('option').allTextContents(), [DEMO_MODEL, THINKER]);
  });

  test('a message gets a streamed answer with its token counts, and the next one carries the conversation', async () => {
    await setSettings({ 'Max tokens': '40', Temperature: '0.8' });
    const first = await sendMessage('Hello');
    assert.equal(first.body.model, DEMO_MODEL);
    assert.equal(first.body.stream, true);
    assert.deepEqual(first.body.stream_options, { include_usage: true });
    assert.equal(first.body.max_tokens, 40);
    assert.equal(first.body.temperature, 0.8);
    assert.deepEqual(first.body.messages, [{ role: 'user', content: 'Hello' }]);
    assert.equal(await page.locator('[data-role="user"] .body').first().innerText(), 'Hello');
    const stats = await answered(first.answer);

    // The counts shown are those of the stream's usage chunk.
    const chunks = (await (await first.request.response()).body()).toString('utf8').split('\n')
      .filter((line) => line.startsWith('data: {')).map((line) => JSON.parse(line.slice(6)));
    const usage = chunks.find((chunk) => chunk.usage)?.usage;
    assert.ok(usage, 'the stream has no usage chunk');
    assert.ok(stats.startsWith(`${DEMO_MODEL} · ${usage.completion_tokens} tokens · `), stats);
    assert.match(stats, /[\d.]+ tokens\/s/);
    assert.ok(stats.includes(`prompt ${usage.prompt_tokens} tokens`), stats);
    // The streamed text is on the page (rendered as markdown, so compared by its ASCII letters and
    // digits: playwright hands over the raw stream with its non-ASCII text mangled).
    const streamed = chunks.map((chunk) => chunk.choices?.[0]?.delta?.content ?? '').join('');
    const letters = (text) => text.replace(/[^A-Za-z0-9]/g, '');
    assert.ok(letters(streamed).length > 0, `the model wrote no letters: ${JSON.stringify(streamed)}`);
    const shown = letters(await first.answer.locator('.body').innerText());
    assert.ok(shown.length > 0 && letters(streamed).includes(shown.slice(0, 6)), `${shown} is not ${streamed}`);

    const second = await sendMessage('Tell me more');
    await answered(second.answer);
    const history = second.body.messages;
    assert.equal(history.length, 3);
    assert.deepEqual(history[0], { role: 'user', content: 'Hello' });
    assert.equal(history[1].role, 'assistant');
    assert.ok(history[1].content.length > 0);
    assert.deepEqual(history[2], { role: 'user', content: 'Tell me more' });
    assert.deepEqual(await conversationTitles(), ['Hello']);
  });

  test('Stop ends a long answer, and the server stops generating it', async () => {
    await newChat();
    await setSettings({ 'Max tokens': '16000', 'Extra request fields': JSON.stringify({ logit_bias: { [Q_TOKEN]: 100 } }) });
    const { body, answer } = await sendMessage('Say Q for ever');
    assert.deepEqual(body.logit_bias, { [Q_TOKEN]: 100 });
    const stop = page.getByRole('button', { name: 'Stop' });
    // The answer appears while it is generated, and grows.
    await until(async () => (await answer.innerText()).includes('QQQQQQQQ'), 'no streamed text appeared');
    const early = (await answer.innerText()).length;
    await until(async () => (await answer.innerText()).length > early + 50, 'the streamed answer did not grow');
    assert.ok(await stop.isVisible(), 'the Stop button is not shown while the answer streams');
    assert.ok(await runningChoices(server.url) >= 1, 'the server is not generating');

    await stop.click();
    const ms = await until(async () => (await runningChoices(server.url)) === 0,
      'the server still generates 5 s after Stop', 5000);
    console.log(`page: the server stopped generating ${ms} ms after Stop`);
    const stats = await answered(answer);
    assert.match(stats, /stopped/);
    const kept = (await answer.locator('.body').innerText()).trim();
    assert.match(kept, /^Q+$/);
    assert.ok(kept.length < 16000, 'the whole answer was generated');
    await until(async () => /client closed the connection; generation stopped/.test(server.stderr()),
      'the server did not log the cancellation');
    await setSettings({ 'Max tokens': '40', 'Extra request fields': '' });
  });

  test('the model picker switches models, and reasoning is shown folded', async () => {
    await newChat();
    await modelPicker().selectOption(THINKER);
    const { body, answer } = await sendMessage('Think first');
    assert.equal(body.model, THINKER);
    const stats = await answered(answer);
    assert.ok(stats.startsWith(`${THINKER} · `), stats);
    const reasoning = answer.locator('details');
    assert.equal(await reasoning.count(), 1, 'no reasoning block');
    assert.equal(await reasoning.getAttribute('open'), null, 'the reasoning is not folded');
    const thought = reasoning.locator('.reasoning-text');
    assert.equal(await thought.isVisible(), false);
    await reasoning.locator('summary').click();
    assert.ok(await thought.isVisible());
    assert.ok((await thought.innerText()).trim().length > 0, 'the reasoning is empty');

    // Each conversation keeps its model.
    await conversationList().getByRole('button', { name: 'Hello', exact: true }).click();
    assert.equal(await modelPicker().inputValue(), DEMO_MODEL);
    await conversationList().getByRole('button', { name: 'Think first', exact: true }).click();
    assert.equal(await modelPicker().inputValue(), THINKER);
  });

  test("a model's markdown is rendered, and nothing in it can run script", async () => {
    await newChat();
    await modelPicker().selectOption(DEMO_MODEL);
    // A JSON schema with one allowed value makes the model write exactly this (in quotes).
    // Greedy decoding: the JSON grammar lets whitespace precede the value, and a sampled "\n\t"
    // there would make the answer an indented code block.
    const hostile = '**bold** and `code` [click](javascript:alert(1)) <img src=x onerror=alert(2)> <script>alert(3)</script>';
    const format = { type: 'json_schema', json_schema: { name: 'page', schema: { enum: [hostile] } } };
    await setSettings({ 'Extra request fields': JSON.stringify({ response_format: format, max_tokens: 300, temperature: 0 }) });
    const { answer } = await sendMessage('Show me some markdown');
    await answered(answer);
    const body = answer.locator('.body');
    assert.equal(await body.locator('strong').innerText(), 'bold');
    assert.equal(await body.locator('code').innerText(), 'code');
    const link = body.getByText('click', { exact: true });
    assert.equal(await link.count(), 1);
    const href = await link.getAttribute('href');
    assert.ok(!href || !/^\s*javascript:/i.test(href), `a javascript: link survived: ${href}`);
    // Raw HTML is shown as the text it is.
    const text = await body.innerText();
    assert.ok(text.includes('<img src=x onerror=alert(2)>'), text);
    assert.ok(text.includes('<script>alert(3)</script>'), text);
    const unsafe = await body.evaluate((node) => [...node.querySelectorAll('*')]
      .filter((el) => ['SCRIPT', 'IMG', 'IFRAME'].includes(el.tagName)
        || [...el.attributes].some((a) => a.name.startsWith('on')))
      .map((el) => el.outerHTML));
    assert.deepEqual(unsafe, []);
    await setSettings({ 'Extra request fields': '' });
  });

  test('code blocks of a saved conversation render with a working copy button', async () => {
    // A conversation as an earlier session of the page stored it.
    const code = 'for i in range(3):\n    print(i)';
    await page.evaluate((source) => {
      const chats = JSON.parse(localStorage.getItem('cria.chats.v1'));
      chats.unshift({
        id: 'saved', title: 'Saved code', model: 'cria-demo', system: '', created: Date.now(), updated: Date.now(),
        messages: [
          { role: 'user', content: 'Show a loop' },
          { role: 'assistant', content: `Here it is:\n\n\`\`\`python\n${source}\n\`\`\`\n`, model: 'cria-demo', stats: null },
        ],
      });
      localStorage.setItem('cria.chats.v1', JSON.stringify(chats));
      localStorage.setItem('cria.current-chat', 'saved');
    }, code);
    await page.reload();
    const answer = page.locator('[data-role="assistant"]');
    await answer.locator('pre code').waitFor();
    assert.equal((await answer.locator('pre code').innerText()).trimEnd(), code);
    assert.equal(await answer.locator('.code-language').innerText(), 'python');
    await answer.getByRole('button', { name: 'Copy code' }).click();
    await answer.getByRole('button', { name: 'Copy code' }).filter({ hasText: 'Copied' }).waitFor();
    assert.equal((await page.evaluate(() => navigator.clipboard.readText())).trimEnd(), code);
  });

  test('conversations survive a reload, and can be renamed and deleted', async () => {
    await page.reload();
    await until(async () => (await conversationTitles()).length === 5, 'the conversations did not come back');
    assert.deepEqual(await conversationTitles(),
      ['Saved code', 'Show me some markdown', 'Think first', 'Say Q for ever', 'Hello']);
    await conversationList().getByRole('button', { name: 'Hello', exact: true }).click();
    assert.deepEqual(await page.locator('[data-role="user"] .body').allInnerTexts(), ['Hello', 'Tell me more']);
    assert.equal(await page.locator('[data-role="assistant"] .stats').count(), 2);

    const hello = conversationList().getByRole('listitem').filter({ hasText: 'Hello' });
    await hello.getByRole('button', { name: 'Rename' }).click();
    const title = conversationList().getByLabel('Conversation title');
    await title.fill('Greetings');
    await title.press('Enter');
    const markdown = conversationList().getByRole('listitem').filter({ hasText: 'Show me some markdown' });
    await markdown.getByRole('button', { name: 'Delete', exact: true }).click();

    await page.reload();
    await until(async () => (await conversationTitles()).length === 4, 'the deletion did not last');
    assert.deepEqual(await conversationTitles(), ['Saved code', 'Think first', 'Say Q for ever', 'Greetings']);
    await conversationList().getByRole('button', { name: 'Greetings', exact: true }).click();
    assert.deepEqual(await page.locator('[data-role="user"] .body').allInnerTexts(), ['Hello', 'Tell me more']);
    await page.locator('[data-role="assistant"] .stats').nth(1).waitFor();

    mkdirSync(ARTIFACTS, { recursive: true });
    const shot = path.join(ARTIFACTS, 'chat-page.png');
    await page.screenshot({ path: shot });
    console.log(`page: screenshot of a conversation: ${shot}`);
  });

  test('an attached image is sent as an image_url part, and a refusal is shown', async () => {
    await newChat();
    const image = png(24, 16, [40, 120, 200]);
    await page.locator('input[type="file"]').setInputFiles({ name: 'blue.png', mimeType: 'image/png', buffer: image });
    await page.getByRole('img', { name: 'attachment 1' }).waitFor();
    const { request, body, answer } = await sendMessage('What is in this picture?');
    const dataUrl = `data:image/png;base64,${image.toString('base64')}`;
    assert.deepEqual(body.messages, [{
      role: 'user',
      content: [
        { type: 'text', text: 'What is in this picture?' },
        { type: 'image_url', image_url: { url: dataUrl } },
      ],
    }]);
    const shown = await page.locator('[data-role="user"] img').getAttribute('src');
    assert.equal(shown, dataUrl);
    // The demo model cannot see: the server's 400 and its message are on the page.
    const response = await request.response();
    assert.equal(response.status(), 400);
    const { error } = await response.json();
    const alert = answer.getByRole('alert');
    await alert.waitFor();
    assert.equal(await alert.innerText(), `The server answered 400: ${error.message}`);
  });

  test('a server with CRIA_API_KEY: the page loads without the key, asks for it and sends it', async () => {
    const { page: keyed, response } = await openPage(keyServer.url);
    page = keyed;
    assert.equal(response.status(), 200);
    const assets = [];
    page.on('response', (r) => assets.push({ url: r.url(), status: r.status(), authorization: r.request().headers().authorization }));
    const dialog = page.getByRole('dialog', { name: 'API key' });
    await dialog.waitFor();
    await dialog.getByLabel('Key', { exact: true }).fill('not-the-key');
    await dialog.getByRole('button', { name: 'Use this key' }).click();
    await dialog.getByText(/refused this key/).waitFor();
    await dialog.getByLabel('Key', { exact: true }).fill(KEY);
    await dialog.getByRole('button', { name: 'Use this key' }).click();
    await dialog.waitFor({ state: 'hidden' });
    await until(async () => (await modelPicker().locator('option').allTextContents()).includes(DEMO_MODEL),
      'the models were not listed with the key');

    await setSettings({ 'Max tokens': '16' });
    const { request, answer } = await sendMessage('Hi');
    assert.equal(request.headers().authorization, `Bearer ${KEY}`);
    const stats = await answered(answer);
    assert.match(stats, /tokens\/s/);
    assert.equal(await answer.getByRole('alert').count(), 0);

    // The key is kept: a reload asks for nothing.
    await page.reload();
    await until(async () => (await modelPicker().locator('option').allTextContents()).includes(DEMO_MODEL),
      'the kept key was not used after a reload');
    assert.equal(await dialog.isVisible(), false);
    const files = assets.filter((a) => new URL(a.url).pathname.startsWith('/web/') || new URL(a.url).pathname === '/');
    assert.ok(files.length >= 3, JSON.stringify(files));
    for (const file of files) {
      assert.ok([200, 304].includes(file.status), JSON.stringify(file));
      assert.equal(file.authorization, undefined, `${file.url} was requested with the key`);
    }
  });

  test('no request left the server, the page broke no rule of its policy, and nothing raised', () => {
    const origins = [new URL(server.url).origin, new URL(keyServer.url).origin];
    assert.ok(requested.length > 10, `only ${requested.length} requests were seen`);
    const foreign = requested.filter((url) => !/^(data|blob):/.test(url) && !origins.includes(new URL(url).origin));
    assert.deepEqual(foreign, []);
    assert.deepEqual(policyViolations, []);
    assert.deepEqual(pageErrors, []);
    assert.deepEqual(alerts, []);
  });
});
