/**
 * execExpression: MQE over the metrics and records oap-lite keeps, answered the way the OAP's MQE
 * visitor and metrics query service answer:
 *
 * - `name` or `name{label='v', ...}`: a time series over the duration's points, ids the points'
 *   epoch ms, values as text (null where a point has no data). A single-value metric gives one
 *   series without labels (its label selector is ignored); a labeled one gives a series per
 *   label set seen in the duration, sorted like the OAP's label strings ("{uri=/a}"), with
 *   `metric.labels`. A selector's values are split on commas (any of them matches); several
 *   label names must all match; no match means no series.
 * - Values by meter function: avg (the mean of the accepted values), SUM_PER_MIN (their sum in a
 *   minute; an hour's sum over 60, a day's over 1440) and histogram percentiles (series labelled
 *   `p`, see percentileValues).
 * - HOUR and DAY steps add up the minutes of each hour or day, as the OAP's downsampled metrics
 *   hold them; SECOND has no data (metrics are per minute).
 * - The entity names a process (serviceName, normal, serviceInstanceName, processName), or for
 *   process relation metrics a relation (the same plus destServiceName, destNormal,
 *   destServiceInstanceName, destProcessName); IDs are those the OAP derives from them. Without
 *   them all the answer is empty: no series and type UNKNOWN for a single-value metric, no series
 *   for a labeled one (as the OAP answers).
 * - Arithmetic (+ - * / %) between series and numbers, as the dashboards use it (`x/1024`); series
 *   pair up by label set, a series without labels goes with every one. A point without data
 *   stays without data.
 * - Records (the sampled traces): `top_n(record, N, des|asc)` lists the relation's N records with
 *   the largest (smallest) latency in the duration: `id` the URI, `value` the latency, `traceID`
 *   the trace id (the UI shows `id` as the name). The bare record name is read as top_n(record, 50, des); the OAP
 *   refuses it, which breaks the stock HTTP Requests widgets that use it.
 * - Errors are the OAP's texts in `error` with type UNKNOWN: syntax errors, and
 *   "Metric: [name] does not exist." for a metric oap-lite does not have.
 * - Any other valid expression (other functions, ...) over known metrics is not evaluated: it
 *   gets the empty answer every other query oap-lite does not implement gets.
 */
import { durationPoints, durationToRange, type DurationInput } from '../core/duration';
import { instanceId, processId, serviceId } from '../core/ids';
import { MqeSyntaxError, metricsOf, parseMqe, type MqeLabel, type MqeNode } from '../query/mqe/parser';
import { avgValue, labelsKey } from '../storage/metrics';
import type { MetricValueRecord, SampledTraceTable, Storage } from '../storage/types';

export type ExpressionResultType = 'UNKNOWN' | 'SINGLE_VALUE' | 'TIME_SERIES_VALUES' | 'SORTED_LIST' | 'RECORD_LIST';

export interface MqeValue {
  id: string | null;
  value: string | null;
  owner: null;
  traceID: string | null;
}

export interface MqeValues {
  metric: { labels: Array<{ key: string; value: string }> };
  values: MqeValue[];
}

export interface ExpressionResult {
  type: ExpressionResultType;
  results: MqeValues[];
  error: string | null;
}

/** The GraphQL Entity input (the fields process and process relation scopes use). */
export interface MqeEntity {
  serviceName?: string | null;
  normal?: boolean | null;
  serviceInstanceName?: string | null;
  processName?: string | null;
  destServiceName?: string | null;
  destNormal?: boolean | null;
  destServiceInstanceName?: string | null;
  destProcessName?: string | null;
}

export interface MqeMetric {
  name: string;
  labeled: boolean;
  /** The meter function, which decides how stored sums read (default avg). */
  fn?: 'avg' | 'sumPerMin' | 'percentile';
  /** The entity scope (default process). */
  scope?: 'process' | 'processRelation';
  /** Percentile metrics: the percentiles answered (label `p`). */
  percentiles?: readonly number[];
}

/** The bare record name reads this many records (the stock templates' widgets set topN 50). */
export const DEFAULT_RECORDS_TOP_N = 50;

const result = (type: ExpressionResultType, results: MqeValues[] = [], error: string | null = null) => ({
  type,
  results,
  error,
});

/**
 * Java's DecimalFormat as MQE uses it: no grouping, at most three decimals, rounded half-even
 * on the double's exact value (toFixed rounds the exact value too; only exact ties differ).
 */
export const formatMqeValue = (v: number): string => {
  if (Number.isInteger(v)) return v.toFixed(0);
  if (!Number.isFinite(v)) return Number.isNaN(v) ? 'NaN' : v > 0 ? '∞' : '-∞';
  let fixed = v.toFixed(3);
  if (/\.\d{3}50{16}$/.test(v.toFixed(20))) {
    // an exact tie: toFixed went away from zero, half-even keeps an even last digit
    const down = v.toFixed(4).slice(0, -1);
    if (Number(down[down.length - 1]) % 2 === 0) fixed = down;
  }
  return fixed.replace(/\.?0+$/, '');
};

/** The OAP's DataLabel text of a label set, "{name=value,...}" (what labeled series sort by). */
const dataLabelText = (labels: Record<string, string>): string =>
  `{${Object.entries(labels)
    .map(([k, v]) => `${k}=${v}`)
    .join(',')}}`;

const byName = ([a]: [string, string], [b]: [string, string]) => (a < b ? -1 : a > b ? 1 : 0);

interface Series {
  labels: Record<string, string>;
  values: Array<number | null>;
}

/** What a sub-expression evaluates to. */
type Evaluated =
  | { kind: 'scalar'; value: number }
  | { kind: 'series'; series: Series[]; points: number[]; labeled: boolean }
  | { kind: 'records'; values: MqeValue[] }
  /** An answer decided before any evaluation (an invalid entity, something not evaluated). */
  | { kind: 'answer'; result: ExpressionResult };

class MqeError extends Error {}

/** Minutes in a point of each step (SUM_PER_MIN divides by it). */
const STEP_MINUTES: Record<string, number> = { MINUTE: 1, HOUR: 60, DAY: 1440, SECOND: 1 };

export class MqeService {
  private readonly metrics: ReadonlyMap<string, MqeMetric>;
  private readonly records: ReadonlySet<string>;

  constructor(
    private readonly storage: Storage,
    metrics: readonly MqeMetric[],
    /** Record tables MQE reads (sampled traces). */
    records: readonly SampledTraceTable[] = [],
  ) {
    this.metrics = new Map(metrics.map((m) => [m.name, m]));
    this.records = new Set(records);
  }

  async execute(expression: string, entity: MqeEntity, duration: DurationInput): Promise<ExpressionResult> {
    let tree: MqeNode;
    try {
      tree = parseMqe(expression);
    } catch (err) {
      if (err instanceof MqeSyntaxError) return result('UNKNOWN', [], err.message);
      throw err;
    }
    const unknown = metricsOf(tree).find((m) => !this.metrics.has(m.name) && !this.records.has(m.name));
    if (unknown) return result('UNKNOWN', [], `Metric: [${unknown.name}] does not exist.`);
    let evaluated: Evaluated;
    try {
      evaluated = await this.evaluate(tree, entity, duration);
    } catch (err) {
      if (err instanceof MqeError) return result('UNKNOWN', [], err.message);
      throw err;
    }
    switch (evaluated.kind) {
      case 'answer':
        return evaluated.result;
      case 'scalar':
        return result('SINGLE_VALUE', [
          {
            metric: { labels: [] },
            values: [{ id: null, value: formatMqeValue(evaluated.value), owner: null, traceID: null }],
          },
        ]);
      case 'records':
        return result('RECORD_LIST', [{ metric: { labels: [] }, values: evaluated.values }]);
      case 'series':
        return result(
          'TIME_SERIES_VALUES',
          evaluated.series.map((s) => ({
            metric: {
              labels: evaluated.labeled
                ? Object.entries(s.labels)
                    .sort(byName)
                    .map(([key, value]) => ({ key, value }))
                : [],
            },
            values: evaluated.points.map((p, i) => {
              const v = s.values[i];
              return { id: String(p), value: v == null ? null : formatMqeValue(v), owner: null, traceID: null };
            }),
          })),
        );
    }
  }

  private async evaluate(node: MqeNode, entity: MqeEntity, duration: DurationInput): Promise<Evaluated> {
    switch (node.kind) {
      case 'parens':
        return this.evaluate(node.expr, entity, duration);
      case 'scalar':
        return { kind: 'scalar', value: node.value };
      case 'metric':
        if (this.records.has(node.name)) {
          return this.readRecords(node.name as SampledTraceTable, DEFAULT_RECORDS_TOP_N, 'des', entity, duration);
        }
        return this.metric(node.name, node.labels, entity, duration);
      case 'binary': {
        const left = await this.evaluate(node.left, entity, duration);
        if (left.kind === 'answer') return left;
        const right = await this.evaluate(node.right, entity, duration);
        if (right.kind === 'answer') return right;
        return binary(node.op, left, right);
      }
      case 'call': {
        const [target] = node.args;
        if (node.fn === 'top_n' && node.topN && target?.kind === 'metric' && this.records.has(target.name)) {
          return this.readRecords(target.name as SampledTraceTable, node.topN.n, node.topN.order, entity, duration);
        }
        return { kind: 'answer', result: result('UNKNOWN') };
      }
    }
  }

  private async readRecords(
    table: SampledTraceTable,
    topN: number,
    order: 'asc' | 'des',
    entity: MqeEntity,
    duration: DurationInput,
  ): Promise<Evaluated> {
    const relation = relationIdOf(entity);
    if (relation === null) return { kind: 'records', values: [] };
    const records = await this.storage.network.querySampledTraces(
      table,
      relation,
      durationToRange(duration),
      topN,
      order === 'asc' ? 'ASC' : 'DES',
    );
    return {
      kind: 'records',
      // as the OAP's records answer: id the record's name (the URI), traceID its trace
      values: records.map((r) => ({ id: r.statement, value: String(r.latency), owner: null, traceID: r.traceId })),
    };
  }

  private async metric(
    name: string,
    selector: MqeLabel[],
    entity: MqeEntity,
    duration: DurationInput,
  ): Promise<Evaluated> {
    const metric = this.metrics.get(name)!;
    const labeled = metric.labeled || metric.fn === 'percentile';
    const points = durationPoints(duration);
    const entityId = metric.scope === 'processRelation' ? relationIdOf(entity) : processIdOf(entity);
    if (entityId === null) {
      // Entity.isValid() fails: the OAP reads nothing
      return { kind: 'answer', result: labeled ? result('TIME_SERIES_VALUES') : result('UNKNOWN') };
    }
    // Metrics are kept per minute: a SECOND point never holds one (the OAP looks for second buckets).
    const records =
      duration.step === 'SECOND'
        ? []
        : await this.storage.meters.queryMetricValues(name, entityId, durationToRange(duration));

    if (metric.fn === 'percentile') {
      const series = percentileSeries(records, points, metric.percentiles ?? []);
      return { kind: 'series', series: sortSeries(series.filter((s) => matches(s.labels, selector))), points, labeled };
    }

    /** label-set key → per point: [summation, count] */
    const sums = new Map<string, { labels: Record<string, string>; cells: Array<[number, number] | undefined> }>();
    for (const r of records) {
      const at = pointIndex(points, r.timeBucket);
      if (at < 0) continue;
      const key = labeled ? labelsKey(r.labels) : '';
      let s = sums.get(key);
      if (!s) {
        s = { labels: r.labels, cells: new Array<[number, number] | undefined>(points.length) };
        sums.set(key, s);
      }
      const cell = s.cells[at];
      if (cell) {
        cell[0] += r.summation;
        cell[1] += r.count;
      } else {
        s.cells[at] = [r.summation, r.count];
      }
    }
    const minutes = STEP_MINUTES[duration.step] ?? 1;
    const valueOf = (cell: [number, number] | undefined): number | null => {
      if (!cell) return null;
      return metric.fn === 'sumPerMin' ? Math.trunc(cell[0] / minutes) : avgValue(cell[0], cell[1]);
    };
    if (!labeled) {
      const cells = sums.get('')?.cells ?? new Array<[number, number] | undefined>(points.length);
      return {
        kind: 'series',
        series: [{ labels: {}, values: points.map((_, i) => valueOf(cells[i])) }],
        points,
        labeled,
      };
    }
    const series = [...sums.values()]
      .filter((s) => matches(s.labels, selector))
      .map((s) => ({ labels: s.labels, values: points.map((_, i) => valueOf(s.cells[i])) }));
    return { kind: 'series', series: sortSeries(series), points, labeled };
  }
}

const processIdOf = (e: MqeEntity): string | null => {
  if (e.serviceName == null || e.normal == null || e.serviceInstanceName == null || e.processName == null) return null;
  return processId(instanceId(serviceId(e.serviceName, e.normal), e.serviceInstanceName), e.processName);
};

/** The process relation entity id `<process>-<dest process>`, or null when the entity lacks a part. */
export const relationIdOf = (e: MqeEntity): string | null => {
  const source = processIdOf(e);
  const dest = processIdOf({
    serviceName: e.destServiceName,
    normal: e.destNormal,
    serviceInstanceName: e.destServiceInstanceName,
    processName: e.destProcessName,
  });
  return source === null || dest === null ? null : `${source}-${dest}`;
};

const sortSeries = (series: Series[]): Series[] =>
  series.sort((a, b) => {
    const x = dataLabelText(a.labels);
    const y = dataLabelText(b.labels);
    return x < y ? -1 : x > y ? 1 : 0;
  });

/**
 * The OAP's AvgHistogramPercentileFunction over the stored buckets (label `le`): per point each
 * bucket's mean count (summations and counts of its minutes added), then for each p the first
 * bucket, by bound, whose running count reaches round(total × p / 100); the value is its bound.
 */
const percentileSeries = (
  records: readonly MetricValueRecord[],
  points: readonly number[],
  percentiles: readonly number[],
): Series[] => {
  const buckets = new Array<Map<number, [number, number]> | undefined>(points.length);
  for (const r of records) {
    const at = pointIndex(points, r.timeBucket);
    if (at < 0) continue;
    const le = Number(r.labels.le ?? 0);
    const map = (buckets[at] ??= new Map());
    const cell = map.get(le);
    if (cell) {
      cell[0] += r.summation;
      cell[1] += r.count;
    } else {
      map.set(le, [r.summation, r.count]);
    }
  }
  const values = percentiles.map(() => new Array<number | null>(points.length).fill(null));
  buckets.forEach((map, i) => {
    if (!map) return;
    const sorted = [...map.entries()].sort(([a], [b]) => a - b).map(([le, [s, c]]) => [le, avgValue(s, c)] as const);
    const total = sorted.reduce((n, [, v]) => n + v, 0);
    percentiles.forEach((p, j) => {
      const roof = Math.round((total * p) / 100);
      let count = 0;
      for (const [le, v] of sorted) {
        count += v;
        if (count >= roof) {
          values[j]![i] = le;
          break;
        }
      }
    });
  });
  return percentiles.map((p, j) => ({ labels: { p: String(p) }, values: values[j]! }));
};

const OPS: Record<string, (a: number, b: number) => number> = {
  '+': (a, b) => a + b,
  '-': (a, b) => a - b,
  '*': (a, b) => a * b,
  '/': (a, b) => a / b,
  '%': (a, b) => a % b,
};

/** Arithmetic between numbers and series (series pair up by label set, a label-less one with each). */
const binary = (op: string, left: Evaluated, right: Evaluated): Evaluated => {
  const fn = OPS[op];
  if (!fn) return { kind: 'answer', result: result('UNKNOWN') };
  if (left.kind === 'scalar' && right.kind === 'scalar') return { kind: 'scalar', value: fn(left.value, right.value) };
  if (left.kind === 'records' || right.kind === 'records') {
    throw new MqeError('Unsupported binary operation: records take no arithmetic.');
  }
  const apply = (a: number | null, b: number | null) => (a == null || b == null ? null : fn(a, b));
  if (left.kind === 'series' && right.kind === 'scalar') {
    return {
      ...left,
      series: left.series.map((s) => ({ labels: s.labels, values: s.values.map((v) => apply(v, right.value)) })),
    };
  }
  if (left.kind === 'scalar' && right.kind === 'series') {
    return {
      ...right,
      series: right.series.map((s) => ({ labels: s.labels, values: s.values.map((v) => apply(left.value, v)) })),
    };
  }
  if (left.kind !== 'series' || right.kind !== 'series') return { kind: 'answer', result: result('UNKNOWN') };
  const pair = (a: Series, b: Series): Series => ({
    labels: Object.keys(a.labels).length > 0 ? a.labels : b.labels,
    values: a.values.map((v, i) => apply(v, b.values[i] ?? null)),
  });
  let series: Series[];
  if (right.series.length === 1 && Object.keys(right.series[0]!.labels).length === 0) {
    series = left.series.map((s) => pair(s, right.series[0]!));
  } else if (left.series.length === 1 && Object.keys(left.series[0]!.labels).length === 0) {
    series = right.series.map((s) => pair(left.series[0]!, s));
  } else {
    const byKey = new Map(right.series.map((s) => [labelsKey(s.labels), s]));
    series = left.series.flatMap((s) => {
      const other = byKey.get(labelsKey(s.labels));
      return other ? [pair(s, other)] : [];
    });
  }
  return { kind: 'series', series, points: left.points, labeled: left.labeled || right.labeled };
};

/** Index of the point whose step holds t (points ascending), -1 before the first. */
const pointIndex = (points: readonly number[], t: number): number => {
  let lo = 0;
  let hi = points.length - 1;
  if (t < points[0]!) return -1;
  while (lo < hi) {
    const mid = (lo + hi + 1) >> 1;
    if (points[mid]! <= t) lo = mid;
    else hi = mid - 1;
  }
  return lo;
};

/**
 * The OAP's label conditions: a selector value is a comma-separated list (trimmed, empty parts
 * dropped) any of which may match; selectors with blank values are ignored; every named label
 * must match. `_` names the label of unlabeled keys, which these metrics do not have.
 */
const matches = (labels: Record<string, string>, selector: readonly MqeLabel[]): boolean => {
  const wanted = new Map<string, Set<string>>();
  for (const { name, value } of selector) {
    if (value.trim() === '') continue;
    const parts = value
      .split(',')
      .map((v) => v.trim())
      .filter((v) => v !== '');
    if (parts.length === 0) continue;
    const set = wanted.get(name) ?? new Set<string>();
    for (const v of parts) set.add(v);
    wanted.set(name, set);
  }
  for (const [name, values] of wanted) {
    if (name === '_' || !Object.hasOwn(labels, name) || !values.has(labels[name]!)) return false;
  }
  return true;
};
