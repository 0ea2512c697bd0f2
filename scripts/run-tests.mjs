// Runs the compiled test files with node's built-in test runner.
// `node scripts/run-tests.mjs` runs everything; `unit` runs only what needs no root (test/ minus test/kernel, test/cli-kernel).
import { spawnSync } from 'node:child_process';
import { readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';

const root = new URL('..', import.meta.url).pathname;
const which = process.argv[2] ?? 'all';
const files = [];
const walk = (dir) => {
  for (const name of readdirSync(dir)) {
    const p = join(dir, name);
    if (statSync(p).isDirectory()) walk(p);
    else if (name.endsWith('.test.js')) files.push(p);
  }
};
walk(join(root, 'dist/test'));
const selected = files.filter((f) => which === 'all' || !f.includes('/kernel/')).sort();
// Kernel tests share the host's sysctls and CPU: run files one at a time so timings stay sane.
const r = spawnSync(process.execPath, ['--test', '--test-concurrency=1', '--test-reporter=spec', ...selected], {
  stdio: 'inherit',
});
process.exit(r.status ?? 1);
