/**
 * Compares two normalized runs step by step and path by path, and separates the differences
 * that allowed-differences.json lists (each with its reason) from the rest.
 */
import { readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { Json } from './normalize';

export interface Difference {
  step: string;
  /** "data.listServices[0].layers"-style path; "" for the whole answer. */
  path: string;
  java: Json | undefined;
  lite: Json | undefined;
}

export interface AllowedDifference {
  /** The step name, exactly. */
  step: string;
  /** A path prefix; "" allows every difference of the step. */
  path: string;
  reason: string;
}

const HERE = dirname(fileURLToPath(import.meta.url));
export const ALLOWED_DIFFERENCES_FILE = join(HERE, 'allowed-differences.json');

export const loadAllowedDifferences = (file = ALLOWED_DIFFERENCES_FILE): AllowedDifference[] => {
  const list = JSON.parse(readFileSync(file, 'utf8')) as AllowedDifference[];
  for (const [i, d] of list.entries()) {
    if (typeof d.step !== 'string' || typeof d.path !== 'string' || typeof d.reason !== 'string' || !d.reason.trim()) {
      throw new Error(`${file}[${i}]: every entry needs step, path and a reason`);
    }
  }
  return list;
};

const isObject = (v: unknown): v is Record<string, Json> => typeof v === 'object' && v !== null && !Array.isArray(v);

/** Every leaf-level difference; lists of different lengths differ as a whole. */
export const diffJson = (step: string, java: Json | undefined, lite: Json | undefined, path = ''): Difference[] => {
  if (isObject(java) && isObject(lite)) {
    const keys = [...new Set([...Object.keys(java), ...Object.keys(lite)])].sort();
    return keys.flatMap((k) => diffJson(step, java[k], lite[k], path ? `${path}.${k}` : k));
  }
  if (Array.isArray(java) && Array.isArray(lite) && java.length === lite.length) {
    return java.flatMap((v, i) => diffJson(step, v, lite[i], `${path}[${i}]`));
  }
  return JSON.stringify(java) === JSON.stringify(lite) ? [] : [{ step, path, java, lite }];
};

export const isAllowed = (d: Difference, allowed: AllowedDifference[]): AllowedDifference | undefined =>
  allowed.find(
    (a) =>
      a.step === d.step &&
      (a.path === '' || d.path === a.path || d.path.startsWith(`${a.path}.`) || d.path.startsWith(`${a.path}[`)),
  );

export interface Comparison {
  differences: Difference[];
  allowed: Array<Difference & { reason: string }>;
  /** Allowed entries that matched nothing (stale entries are reported, so the list stays true). */
  unused: AllowedDifference[];
  steps: number;
}

export const compareRuns = (
  java: Record<string, Json>,
  lite: Record<string, Json>,
  allowed: AllowedDifference[],
): Comparison => {
  const steps = [...new Set([...Object.keys(java), ...Object.keys(lite)])].sort();
  const differences: Difference[] = [];
  const allowedHits: Comparison['allowed'] = [];
  const used = new Set<AllowedDifference>();
  for (const step of steps) {
    for (const d of diffJson(step, java[step], lite[step])) {
      const rule = isAllowed(d, allowed);
      if (rule) {
        used.add(rule);
        allowedHits.push({ ...d, reason: rule.reason });
      } else differences.push(d);
    }
  }
  return { differences, allowed: allowedHits, unused: allowed.filter((a) => !used.has(a)), steps: steps.length };
};

export const formatDifference = (d: Difference): string =>
  `${d.step} ${d.path || '(answer)'}: java ${JSON.stringify(d.java)?.slice(0, 300)} | oap-lite ${JSON.stringify(d.lite)?.slice(0, 300)}`;
