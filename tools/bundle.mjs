#!/usr/bin/env node
// Bundles one program into a single ESM file. Native addons stay external: they are
// loaded from node_modules (better-sqlite3) or from libs/libbpf-ts/build at run time.
import { build } from 'esbuild';

const [entry, outfile] = process.argv.slice(2);
if (!entry || !outfile) {
  console.error('usage: bundle.mjs <entry.ts> <outfile.js>');
  process.exit(2);
}
await build({
  entryPoints: [entry],
  outfile,
  bundle: true,
  platform: 'node',
  target: 'node20',
  format: 'esm',
  sourcemap: true,
  external: ['better-sqlite3', '*.node', 'pino-pretty'],
  // CommonJS dependencies call require() on builtins; give the ESM bundle one.
  banner: {
    js: "import { createRequire as __swliteCreateRequire } from 'node:module'; const require = __swliteCreateRequire(import.meta.url);",
  },
  logLevel: 'warning',
});
