#!/usr/bin/env node
// Builds the web remote: type-checks daemon/web (its own tsconfig: DOM, JSX), bundles
// daemon/web/src/main.tsx with esbuild into dist/web/assets/ (content-hashed names, cached for a
// year), copies daemon/web/public/ (icons, manifest), writes index.html, and prints the gzipped
// JavaScript size, failing above the 150 KB budget.
import { execFileSync } from 'node:child_process';
import { cpSync, mkdirSync, readFileSync, readdirSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { gzipSync } from 'node:zlib';
import { build } from 'esbuild';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const SRC = path.join(ROOT, 'daemon', 'web');
const OUT = path.join(ROOT, 'dist', 'web');
const BUDGET_GZIP_BYTES = 150 * 1024;

const require = createRequire(import.meta.url);
execFileSync(process.execPath, [require.resolve('typescript/bin/tsc'), '-p', path.join(SRC, 'tsconfig.json')], { stdio: 'inherit' });

rmSync(OUT, { recursive: true, force: true });
mkdirSync(OUT, { recursive: true });

const result = await build({
  absWorkingDir: ROOT,
  entryPoints: [path.join(SRC, 'src', 'main.tsx')],
  bundle: true,
  format: 'esm',
  // Phones a few years old: iOS 15 Safari, Chrome on Android 10.
  target: ['es2020', 'safari15', 'chrome90', 'firefox90'],
  jsx: 'automatic',
  jsxImportSource: 'preact',
  minify: true,
  legalComments: 'none',
  define: { 'process.env.NODE_ENV': '"production"' },
  outdir: OUT,
  entryNames: 'assets/app-[hash]',
  assetNames: 'assets/[name]-[hash]',
  metafile: true,
  logLevel: 'warning',
});

const outputs = Object.keys(result.metafile.outputs).map((p) => path.relative(OUT, path.resolve(ROOT, p)).split(path.sep).join('/'));
const js = outputs.filter((p) => p.endsWith('.js'));
const css = outputs.filter((p) => p.endsWith('.css'));
if (js.length !== 1 || css.length !== 1) throw new Error(`expected one script and one stylesheet, got ${outputs.join(', ')}`);

cpSync(path.join(SRC, 'public'), OUT, { recursive: true });
const html = readFileSync(path.join(SRC, 'index.html'), 'utf8').replace('%JS%', `/${js[0]}`).replace('%CSS%', `/${css[0]}`);
writeFileSync(path.join(OUT, 'index.html'), html);

// The budget counts every script the page can load, gzipped as the daemon serves it.
const files = (dir) => readdirSync(dir, { recursive: true }).map((f) => path.join(dir, String(f))).filter((f) => statSync(f).isFile());
const scripts = files(OUT).filter((f) => f.endsWith('.js'));
const gz = scripts.reduce((n, f) => n + gzipSync(readFileSync(f), { level: 9 }).length, 0);
const raw = scripts.reduce((n, f) => n + statSync(f).size, 0);
const cssGz = gzipSync(readFileSync(path.join(OUT, css[0]))).length;
const kb = (n) => `${(n / 1024).toFixed(1)} KB`;
console.log(`web remote: JavaScript ${kb(gz)} gzipped (${kb(raw)} raw, budget ${kb(BUDGET_GZIP_BYTES)}), CSS ${kb(cssGz)} gzipped → dist/web`);
if (gz > BUDGET_GZIP_BYTES) {
  console.error(`web remote: JavaScript over budget by ${kb(gz - BUDGET_GZIP_BYTES)}`);
  process.exit(1);
}
