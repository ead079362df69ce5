#!/usr/bin/env node
// `npm run build`: the service compiled to dist/server.js (an ESM bundle for Node, plus the chunks it loads on
// first use, with source maps and esbuild's metafile), its runtime files beside it, then the panel when the
// project has one.
// Packages that read files next to their own code (native addons, wasm, static assets, fonts) or start
// worker threads stay external and are loaded from node_modules at run time.
import { build } from 'esbuild';
import { cpSync, mkdirSync, readdirSync, rmSync, writeFileSync, existsSync, readFileSync } from 'node:fs';
import { spawnSync } from 'node:child_process';
import { dirname, join, relative, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const ROOT = join(dirname(fileURLToPath(import.meta.url)), '..');
const args = process.argv.slice(2);
// --outdir <dir>: build elsewhere (the tests do, so that they never race on dist/); --no-panel: service only.
const OUT = args.includes('--outdir') ? resolve(args[args.indexOf('--outdir') + 1]) : join(ROOT, 'dist');
const PANEL = !args.includes('--no-panel');

export const EXTERNAL = [
  'bcrypt', // native addon
  'pg-native', // optional native driver pg tries to load; not installed
  '@electric-sql/pglite', // wasm and data files beside its code
  'pino', // starts transports in worker threads by file name
  'thread-stream',
  '@fastify/swagger-ui', // serves its static files from its package directory
  '@fastify/static',
  'pdfkit', // reads its font metrics from its package directory
  'fontkit',
];

rmSync(OUT, { recursive: true, force: true });
mkdirSync(OUT, { recursive: true });
const result = await build({
  entryPoints: { server: join(ROOT, 'src/server.ts') },
  outdir: OUT,
  bundle: true,
  // Code behind a dynamic import() (PGlite's driver, Redis, mail, PDF) goes into chunks beside server.js, read
  // and parsed only when first used: unsplit, all of it was source the process parsed and kept at start, and
  // an external package that a lazily used module imports (PGlite, under drizzle-orm/pglite) was loaded at
  // start even on PostgreSQL. Chunks sit in dist/ itself, so import.meta.url is dist/ in every one of them.
  splitting: true,
  chunkNames: '[name]-[hash]',
  platform: 'node',
  format: 'esm',
  target: 'node20.19',
  sourcemap: true,
  metafile: true,
  // Minified: the bundle's source stays in the heap for the life of the process, and a single non-ASCII
  // character in a dependency's comment makes V8 keep all of it as UTF-16 (7.7 MB instead of ~1.5 MB).
  // Names are kept (frameworks and error messages read function and class names); the source map maps back.
  minify: true,
  keepNames: true,
  charset: 'ascii',
  legalComments: 'none',
  external: EXTERNAL,
  // CommonJS dependencies inside an ESM bundle still call require() for Node's built-ins.
  banner: { js: "import { createRequire as __phCreateRequire } from 'node:module'; const require = __phCreateRequire(import.meta.url);" },
  logLevel: 'warning',
});
writeFileSync(join(OUT, 'meta.json'), JSON.stringify(result.metafile));
// Files the code reads at run time, relative to its own module (portal/kit.ts, checkout/routes.ts): in the
// bundle every module is dist/server.js, so each module's assets/ lands in dist/assets (names must not collide).
const ASSET_DIRS = ['src/modules/portal/assets', 'src/modules/checkout/assets'];
const seen = new Map();
for (const dir of ASSET_DIRS) {
  for (const name of readdirSync(join(ROOT, dir))) {
    if (seen.has(name)) throw new Error(`${dir}/${name} choca con ${seen.get(name)}/${name} en dist/assets`);
    seen.set(name, dir);
  }
  cpSync(join(ROOT, dir), join(OUT, 'assets'), { recursive: true });
}

const pkg = JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8'));
if (PANEL && pkg.scripts?.['build:panel'] && existsSync(join(ROOT, 'web'))) {
  const r = spawnSync('npm', ['run', 'build:panel', '--if-present'], { cwd: ROOT, stdio: 'inherit' });
  if (r.status !== 0) process.exit(r.status ?? 1);
}
const kb = Object.values(result.metafile.outputs).reduce((n, o) => n + o.bytes, 0) / 1024;
const chunks = Object.keys(result.metafile.outputs).filter((o) => o.endsWith('.js') && !o.endsWith('/server.js')).length;
process.stdout.write(`${relative(ROOT, join(OUT, 'server.js'))} y ${chunks} chunks: ${Object.keys(result.metafile.inputs).length} módulos, ${Math.round(kb)} KB (con los source maps)\n`);
