// Runs the end-to-end tests with node's test runner, or skips them (exit code 77, which ctest
// reports as skipped) with a message when the npm packages are not installed.
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const here = path.dirname(fileURLToPath(import.meta.url));
if (!existsSync(path.join(here, 'node_modules', 'openai'))) {
  console.log('e2e: skipped: tests/e2e/node_modules is missing (run `npm ci` in tests/e2e)');
  process.exit(77);
}
const bin = process.env.CRIA_BIN;
if (!bin || !existsSync(bin)) {
  console.log(`e2e: skipped: the cria binary is missing (CRIA_BIN=${bin})`);
  process.exit(77);
}
// One data directory for the whole run: the demo model is generated once and shared.
const home = mkdtempSync(path.join(os.tmpdir(), 'cria-e2e-'));
const files = process.argv.slice(2).length ? process.argv.slice(2) : [
  'chat.test.mjs', 'errors.test.mjs', 'completions.test.mjs', 'real_models.test.mjs', 'run.test.mjs', 'ollama.test.mjs', 'ollama_chat.test.mjs', 'structured.test.mjs', 'access.test.mjs', 'load.test.mjs', 'embeddings.test.mjs', 'responses.test.mjs', 'go_templates.test.mjs', 'ollama_dropin.test.mjs', 'hardening.test.mjs', 'terminal.test.mjs', 'page.test.mjs',
];
const result = spawnSync(process.execPath, ['--test', '--test-concurrency=1', ...files], {
  cwd: here,
  stdio: 'inherit',
  env: { ...process.env, CRIA_E2E_HOME: home },
});
rmSync(home, { recursive: true, force: true });
process.exit(result.status ?? 1);
