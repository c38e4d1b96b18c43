#!/usr/bin/env node
// Part of `npm run lint`: every workspace package's "main", "types" and "exports" entries name
// files that exist, and "exports" lists each public entry by name (no "./*" wildcard, which would
// make every source file public and the boundary rules of .dependency-cruiser.cjs moot).
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { dirname, join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const { workspaces } = JSON.parse(readFileSync(join(root, 'package.json'), 'utf8'));

/** The package folders the root's "workspaces" name ("libs/*" or a plain folder). */
const packageDirs = workspaces.flatMap((pattern) => {
  if (!pattern.endsWith('/*')) return [join(root, pattern)];
  const parent = join(root, pattern.slice(0, -2));
  return readdirSync(parent, { withFileTypes: true })
    .filter((e) => e.isDirectory())
    .map((e) => join(parent, e.name));
});

/** Every file path an "exports" value names, through condition objects and arrays. */
const exportTargets = (value) => {
  if (typeof value === 'string') return [value];
  if (Array.isArray(value)) return value.flatMap(exportTargets);
  if (value && typeof value === 'object') return Object.values(value).flatMap(exportTargets);
  return [];
};

const problems = [];
for (const dir of packageDirs) {
  const file = join(dir, 'package.json');
  if (!existsSync(file)) continue;
  const pkg = JSON.parse(readFileSync(file, 'utf8'));
  const where = relative(root, file);
  for (const field of ['main', 'types']) {
    if (pkg[field] && !existsSync(join(dir, pkg[field])))
      problems.push(`${where}: "${field}" names ${pkg[field]}, which does not exist`);
  }
  const exports = typeof pkg.exports === 'string' ? { '.': pkg.exports } : (pkg.exports ?? {});
  for (const [subpath, value] of Object.entries(exports)) {
    if (subpath.includes('*')) {
      problems.push(`${where}: exports "${subpath}" is a wildcard; list each public entry instead`);
      continue;
    }
    for (const target of exportTargets(value)) {
      if (!existsSync(join(dir, target)))
        problems.push(`${where}: exports "${subpath}" names ${target}, which does not exist`);
    }
  }
}

if (problems.length) {
  for (const p of problems) console.error(`check-package-entries: ${p}`);
  process.exit(1);
}
console.log(`check-package-entries: ${packageDirs.length} packages, every entry exists`);
