/**
 * Makes two backends' answers comparable: generated IDs become their symbolic names, times
 * become "<time>", flame-tree element IDs become the symbol path they stand for, and lists are
 * put in one order (the query protocol does not promise one for the lists compared here).
 * Structure, null versus empty, enum values, texts and other numbers are kept as they are.
 */
import type { Answer } from './scenario';

export type Json = null | boolean | number | string | Json[] | { [key: string]: Json };

/** Epoch milliseconds between 2001 and 2286: timestamps, never counts in these answers. */
const isEpochMs = (n: number) => Number.isInteger(n) && n >= 1e12 && n < 1e13;
const HASH = /^[0-9a-f]{64}$/;
const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;
/** Minute time buckets and "2026-12-07 1530"-style durations. */
const TIME_TEXT = /^(\d{12}|\d{4}-\d{2}-\d{2}[ T]\d{2}:?\d{2}(:?\d{2}(\.\d+)?)?Z?)$/;

/** The keys that carry times whatever their value looks like. */
const TIME_KEYS = new Set([
  'currentTimestamp',
  'lastTriggerTimestamp',
  'createTime',
  'taskStartTime',
  'startTime',
  'endTime',
  'timestamp',
  'updateTime',
  'lastUpdateTime',
]);

const compareJson = (a: Json, b: Json) => {
  const x = JSON.stringify(a);
  const y = JSON.stringify(b);
  return x < y ? -1 : x > y ? 1 : 0;
};

/** Replaces every known ID by "<name>", inside longer strings too (JSON arguments, messages). */
const replaceIds = (text: string, byValue: Array<[string, string]>): string => {
  let out = text;
  for (const [value, name] of byValue) if (value && out.includes(value)) out = out.split(value).join(`<${name}>`);
  return out;
};

/** A flame tree's element IDs are per-backend counters: each becomes its root-to-node symbol path. */
const normalizeTree = (elements: Array<Record<string, Json>>): Array<Record<string, Json>> => {
  const byId = new Map(elements.map((e) => [String(e.id), e]));
  const path = (id: Json | undefined, depth = 0): string => {
    const e = byId.get(String(id));
    if (!e || depth > 512) return '';
    const parent = e.parentId === null || e.parentId === undefined ? '' : path(e.parentId, depth + 1);
    return parent ? `${parent};${String(e.symbol)}` : String(e.symbol);
  };
  return elements.map((e) => ({
    ...e,
    id: path(e.id),
    parentId:
      e.parentId === null || e.parentId === undefined || !byId.has(String(e.parentId)) ? null : path(e.parentId),
  }));
};

export const normalizeAnswer = (answer: Answer, ids: Record<string, string>): Json => {
  // Longest first, so an ID that contains another is replaced whole.
  const byValue = Object.entries(ids)
    .filter(([, v]) => v)
    .map(([name, value]) => [value, name] as [string, string])
    .sort((a, b) => b[0].length - a[0].length);
  const walk = (value: unknown, key: string): Json => {
    if (value === null || value === undefined) return null;
    if (typeof value === 'number') return isEpochMs(value) || (TIME_KEYS.has(key) && value > 0) ? '<time>' : value;
    if (typeof value === 'boolean') return value;
    if (typeof value === 'string') {
      const text = replaceIds(value, byValue);
      if (text !== value) return text;
      if (/^\d+$/.test(text) && isEpochMs(Number(text))) return '<time>';
      if (TIME_TEXT.test(text) || (TIME_KEYS.has(key) && /^\d+$/.test(text))) return '<time>';
      // The server's UTC offset depends on the machine, its format does not.
      if (key === 'timezone' && /^[+-]\d{4}$/.test(text)) return '<+hhmm>';
      if (HASH.test(text)) return '<sha256>';
      if (UUID.test(text)) return '<uuid>';
      if (text.startsWith('{') || text.startsWith('[')) {
        try {
          return { json: walk(JSON.parse(text), key) };
        } catch {
          return text;
        }
      }
      return text;
    }
    if (Array.isArray(value)) {
      let items = value as Array<Record<string, Json>>;
      if (
        items.length > 0 &&
        items.every((e) => e && typeof e === 'object' && 'id' in e && 'parentId' in e && 'symbol' in e)
      ) {
        items = normalizeTree(items);
      }
      return items.map((v) => walk(v, key)).sort(compareJson);
    }
    if (typeof value === 'object') {
      const out: Record<string, Json> = {};
      for (const k of Object.keys(value as object).sort()) out[k] = walk((value as Record<string, unknown>)[k], k);
      return out;
    }
    return String(value);
  };
  if ('errors' in answer) return { errors: answer.errors.map((m) => walk(normalizeError(m), '') as string).sort() };
  return { data: walk(answer.data, '') };
};

/**
 * graphql-java wraps a resolver's exception as "Exception while fetching data (/path) : text";
 * the CLI prefixes "oap-lite refused the request: ". Both keep only the text.
 */
export const normalizeError = (message: string): string =>
  message
    .replace(/^oap-lite refused the request: /, '')
    .replace(/^Exception while fetching data \([^)]*\) : /, '')
    .trim();

export const normalizeRun = (answers: Record<string, Answer>, ids: Record<string, string>): Record<string, Json> =>
  Object.fromEntries(
    Object.keys(answers)
      .sort()
      .map((k) => [k, normalizeAnswer(answers[k]!, ids)]),
  );
