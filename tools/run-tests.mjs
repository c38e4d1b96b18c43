#!/usr/bin/env node
// Runs a project's *.test.ts files with node's own test runner under tsx.
// Node 20's --test takes no globs, so the file list is found here.
import { spawnSync } from 'node:child_process';
import { readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';

const roots = process.argv.slice(2).filter((a) => !a.startsWith('--'));
const passThrough = process.argv.slice(2).filter((a) => a.startsWith('--'));
const files = [];
const walk = (dir) => {
  let entries;
  try {
    entries = readdirSync(dir);
  } catch {
    return;
  }
  for (const name of entries) {
    if (name === 'node_modules' || name === 'dist') continue;
    const path = join(dir, name);
    if (statSync(path).isDirectory()) walk(path);
    else if (name.endsWith('.test.ts')) files.push(path);
  }
};
for (const root of roots.length ? roots : ['src']) walk(root);
files.sort();
if (files.length === 0) {
  console.error('run-tests: no *.test.ts files found under', roots.join(', '));
  process.exit(1);
}
// The spec reporter repeats every failure at the very end, so the tail of a long CI log says
// what failed (TAP, the default off a terminal, leaves it in the middle).
const reporter = passThrough.some((a) => a.startsWith('--test-reporter')) ? [] : ['--test-reporter=spec'];
const result = spawnSync(
  process.execPath,
  ['--import', 'tsx', '--test', '--test-concurrency=1', ...reporter, ...passThrough, ...files],
  { stdio: 'inherit' },
);
process.exit(result.status ?? 1);
