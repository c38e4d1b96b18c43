/** The Java OAP's recorded, normalized answers (data written by `npm run conformance:java -- --record`). */
import { readFileSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { loadAllowedDifferences } from './diff';
import type { Json } from './normalize';

/** Above this size an answer part that is an allowed difference anyway is not kept (the dashboards: 2 MB). */
const LARGEST_ALLOWED_VALUE = 4096;

/** Replaces large values at allowed-difference paths ("data.getAllTemplates") by a note. */
const dropLargeAllowed = (answers: Record<string, Json>): Record<string, Json> => {
  const out = structuredClone(answers);
  for (const allowed of loadAllowedDifferences()) {
    if (!allowed.path || /\[/.test(allowed.path)) continue;
    const keys = allowed.path.split('.');
    let parent = out[allowed.step] as Record<string, Json> | undefined;
    for (const key of keys.slice(0, -1)) parent = parent?.[key] as Record<string, Json> | undefined;
    const last = keys[keys.length - 1]!;
    if (parent && typeof parent === 'object' && JSON.stringify(parent[last] ?? null).length > LARGEST_ALLOWED_VALUE) {
      parent[last] = `<not recorded: an allowed difference (${allowed.reason.slice(0, 60)}...)>`;
    }
  }
  return out;
};

export const FIXTURE_FILE = join(dirname(fileURLToPath(import.meta.url)), 'fixtures', 'java-oap-10.1.0.json');

export interface Fixture {
  recordedWith: string;
  answers: Record<string, Json>;
}

export const writeFixture = (answers: Record<string, Json>, file = FIXTURE_FILE): void => {
  const fixture: Fixture = {
    recordedWith:
      'Apache SkyWalking OAP 10.1.0 (Maven Central jars) on Elasticsearch 8.19.21, by e2e/src/conformance/main.ts',
    answers: dropLargeAllowed(answers),
  };
  writeFileSync(file, `${JSON.stringify(fixture, null, 2)}\n`);
};

export const readFixture = (file = FIXTURE_FILE): Fixture => JSON.parse(readFileSync(file, 'utf8')) as Fixture;
