#!/usr/bin/env node
// `npm test`: every test file under test/ (suffix .test.ts) with node's test runner and tsx.
// Files run in parallel, each on its own fresh PostgreSQL database (dropped afterwards); the files under
// test/pglite/ run the same suites on the embedded PGlite.
import { readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { spawn } from 'node:child_process';
import net from 'node:net';

const args = process.argv.slice(2);
const only = args.includes('--only') ? args[args.indexOf('--only') + 1] : null;
const filters = args.filter((a, i) => !a.startsWith('--') && args[i - 1] !== '--only');

function collect(dir) {
  const out = [];
  for (const name of readdirSync(dir)) {
    const p = join(dir, name);
    if (statSync(p).isDirectory()) out.push(...collect(p));
    else if (name.endsWith('.test.ts')) out.push(p);
  }
  return out;
}

let files = collect('test').sort();
if (only === 'pglite') files = files.filter((f) => f.startsWith(join('test', 'pglite')));
if (only === 'pg') files = files.filter((f) => !f.startsWith(join('test', 'pglite')));
if (filters.length) files = files.filter((f) => filters.some((x) => f.includes(x)));

const pgUp = await new Promise((resolve) => {
  const s = net.connect({ host: '127.0.0.1', port: 5432 }, () => (s.end(), resolve(true)));
  s.on('error', () => resolve(false));
});
if (!pgUp && only !== 'pglite') {
  console.error('PostgreSQL no responde en 127.0.0.1:5432; los tests lo necesitan (pg_ctlcluster ... main start).');
  process.exit(1);
}

const child = spawn(
  process.execPath,
  ['--import', 'tsx', '--test', '--test-concurrency=3', '--test-timeout=300000', '--test-force-exit', ...files],
  { stdio: 'inherit', env: { ...process.env, NODE_ENV: 'test' } },
);
child.on('exit', (code, signal) => process.exit(code ?? (signal ? 1 : 0)));
