/**
 * Helpers every backend uses for metric values (MetricValueRecord): validation before anything is
 * written, the canonical key of a label set, merging a batch, and the OAP's avg value.
 */
import type { MetricValueRecord } from './types';

export const MINUTE_MS = 60_000;
/** Time buckets end with year 9999 (the OAP's yyyyMMddHHmm buckets have four year digits). */
export const MAX_TIME_BUCKET = Date.UTC(10000, 0, 1) - MINUTE_MS;

export class InvalidMetricValueError extends Error {
  override name = 'InvalidMetricValueError';
}

const isCount = (n: unknown, min: number): boolean => typeof n === 'number' && Number.isSafeInteger(n) && n >= min;

/** Throws an InvalidMetricValueError naming the first thing wrong with the record. */
export const assertValidMetricValue = (r: MetricValueRecord, where = 'metric value'): void => {
  const fail = (what: string) => {
    throw new InvalidMetricValueError(`${where}: ${what}`);
  };
  if (typeof r.metric !== 'string' || r.metric === '') fail('metric name is empty');
  if (typeof r.entityId !== 'string' || r.entityId === '') fail(`${r.metric}: entityId is empty`);
  if (typeof r.serviceId !== 'string') fail(`${r.metric}: serviceId is not a string`);
  if (!isCount(r.timeBucket, 0) || r.timeBucket > MAX_TIME_BUCKET || r.timeBucket % MINUTE_MS !== 0) {
    fail(`${r.metric}: timeBucket ${String(r.timeBucket)} is not the start of a minute (epoch ms)`);
  }
  if (!r.labels || typeof r.labels !== 'object' || Array.isArray(r.labels))
    fail(`${r.metric}: labels is not an object`);
  for (const [name, value] of Object.entries(r.labels)) {
    if (name === '' || typeof value !== 'string')
      fail(`${r.metric}: label ${JSON.stringify(name)} is not a string pair`);
  }
  if (!isCount(r.summation, 0))
    fail(`${r.metric}: summation ${String(r.summation)} is not a non-negative safe integer`);
  if (!isCount(r.count, 1)) fail(`${r.metric}: count ${String(r.count)} is not a positive safe integer`);
};

/** Order-independent text key of a label set: "" for none, else JSON of the [name, value] pairs sorted by name. */
export const labelsKey = (labels: Record<string, string>): string => {
  const names = Object.keys(labels);
  if (names.length === 0) return '';
  names.sort();
  return JSON.stringify(names.map((n) => [n, labels[n]]));
};

export const labelsFromKey = (key: string): Record<string, string> =>
  key === '' ? {} : Object.fromEntries(JSON.parse(key) as Array<[string, string]>);

/** Key of one stored record: metric, entity, minute and label set. */
export const metricValueKey = (r: MetricValueRecord): string =>
  JSON.stringify([r.metric, r.entityId, r.timeBucket, labelsKey(r.labels)]);

/**
 * Validates a batch and adds up records with the same key (serviceId: the last one's), so a
 * backend writes each stored record once. Throws before returning anything when one is invalid.
 */
export const mergeMetricValues = (records: readonly MetricValueRecord[]): MetricValueRecord[] => {
  records.forEach((r, i) => assertValidMetricValue(r, `metric value [${i}]`));
  const merged = new Map<string, MetricValueRecord>();
  for (const r of records) {
    const key = metricValueKey(r);
    const known = merged.get(key);
    if (known) {
      known.summation += r.summation;
      known.count += r.count;
      known.serviceId = r.serviceId;
    } else {
      merged.set(key, { ...r, labels: { ...r.labels } });
    }
  }
  return [...merged.values()];
};

/**
 * The OAP's avg (AvgFunction.calculate): summation / count in integer arithmetic, and 1 rather
 * than 0 once anything positive was accepted. 0 for count 0.
 */
export const avgValue = (summation: number, count: number): number => {
  if (count <= 0) return 0;
  const result =
    summation <= 2 ** 52 && count <= 2 ** 52
      ? Math.trunc(summation / count)
      : Number(BigInt(Math.trunc(summation)) / BigInt(Math.trunc(count)));
  return result === 0 && summation > 0 ? 1 : result;
};
