/** Sorts each page's errors into allowed (the UI's own, listed with a reason) and not, and prints them. */
import type { PageResult } from './crawl';

export interface AllowedError {
  /** Regular expression over the page name; every page when absent. */
  page?: string;
  /** Regular expression over the error text. */
  error: string;
  reason: string;
}

export interface JudgedPage {
  name: string;
  path: string;
  errors: string[];
  allowed: string[];
  ms: number;
}

export const parseAllowed = (json: unknown): AllowedError[] => {
  if (!Array.isArray(json)) throw new Error('allowed errors: expected a JSON array');
  return json.map((entry, i) => {
    const e = entry as Partial<AllowedError>;
    if (typeof e.error !== 'string' || typeof e.reason !== 'string' || !e.reason.trim()) {
      throw new Error(`allowed errors entry ${i}: needs "error" (a regular expression) and a "reason"`);
    }
    if (e.page !== undefined && typeof e.page !== 'string')
      throw new Error(`allowed errors entry ${i}: "page" must be a string`);
    new RegExp(e.error);
    if (e.page) new RegExp(e.page);
    return { page: e.page, error: e.error, reason: e.reason };
  });
};

export const judge = (results: PageResult[], allowed: AllowedError[]): JudgedPage[] =>
  results.map(({ visit, errors, ms }) => {
    const applies = allowed.filter((a) => !a.page || new RegExp(a.page).test(visit.name));
    const isAllowed = (e: string) => applies.some((a) => new RegExp(a.error).test(e));
    return {
      name: visit.name,
      path: visit.path,
      errors: errors.filter((e) => !isAllowed(e)),
      allowed: errors.filter(isAllowed),
      ms,
    };
  });

export const formatTable = (pages: JudgedPage[]): string => {
  const width = Math.max(4, ...pages.map((p) => p.name.length));
  const lines = [`${'page'.padEnd(width)}  errors  allowed  ms`, `${'-'.repeat(width)}  ------  -------  -----`];
  for (const p of pages) {
    lines.push(
      `${p.name.padEnd(width)}  ${String(p.errors.length).padStart(6)}  ${String(p.allowed.length).padStart(7)}  ${String(p.ms).padStart(5)}`,
    );
  }
  const failing = pages.filter((p) => p.errors.length > 0);
  for (const p of failing) {
    lines.push('', `${p.name} (${p.path}):`, ...p.errors.map((e) => `  ${e}`));
  }
  const withAllowed = pages.filter((p) => p.allowed.length > 0);
  if (withAllowed.length) {
    lines.push('', "allowed (the UI's own, see allowed-errors.json):");
    for (const p of withAllowed) lines.push(...p.allowed.map((e) => `  ${p.name}: ${e}`));
  }
  lines.push(
    '',
    `${pages.length} pages, ${failing.length} with errors (${failing.reduce((n, p) => n + p.errors.length, 0)} errors), ` +
      `${withAllowed.reduce((n, p) => n + p.allowed.length, 0)} allowed`,
  );
  return lines.join('\n');
};
