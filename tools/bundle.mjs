#!/usr/bin/env node
// Bundles one program into a single ESM file. Native addons stay external: they are
// loaded from node_modules (better-sqlite3) or from libs/libbpf-ts/build at run time.
// --split: code behind a dynamic import() goes to chunks/ next to the output (loaded only when
// the import runs), e.g. rover's Kubernetes client, which host mode never needs.
import { basename, dirname, extname } from 'node:path';
import { build } from 'esbuild';

const args = process.argv.slice(2);
const split = args.includes('--split');
const [entry, outfile] = args.filter((a) => a !== '--split');
if (!entry || !outfile) {
  console.error('usage: bundle.mjs <entry.ts> <outfile.js> [--split]');
  process.exit(2);
}
const output = split
  ? {
      entryPoints: { [basename(outfile, extname(outfile))]: entry },
      outdir: dirname(outfile),
      splitting: true,
      chunkNames: 'chunks/[name]-[hash]',
    }
  : { entryPoints: [entry], outfile };
await build({
  ...output,
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
