/**
 * execExpression: MQE over the metrics oap-lite keeps (the continuous-profiling meters' metrics,
 * process scope), answered the way the OAP's MQE visitor and metrics query service answer:
 *
 * - `name` or `name{label='v', ...}`: a time series over the duration's points, ids the points'
 *   epoch ms, values as text (null where a point has no data). A single-value metric gives one
 *   series without labels (its label selector is ignored); a labeled one gives a series per
 *   label set seen in the duration, sorted like the OAP's label strings ("{uri=/a}"), with
 *   `metric.labels`. A selector's values are split on commas (any of them matches); several
 *   label names must all match; no match means no series.
 * - HOUR and DAY steps add up the minutes of each hour or day (sum and count, then the average),
 *   as the OAP's downsampled metrics hold them; SECOND has no data (metrics are per minute).
 * - The entity names a process (serviceName, normal, serviceInstanceName, processName); its ID is
 *   the process ID the OAP derives from them. Without them all the answer is empty: no series
 *   and type UNKNOWN for a single-value metric, no series for a labeled one (as the OAP answers).
 * - Errors are the OAP's texts in `error` with type UNKNOWN: syntax errors, and
 *   "Metric: [name] does not exist." for a metric oap-lite does not have.
 * - Any other valid expression (functions, arithmetic, top_n, ...) over known metrics is not
 *   evaluated: it gets the empty answer every other query oap-lite does not implement gets.
 */
import { durationPoints, durationToRange, type DurationInput } from '../core/duration';
import { instanceId, processId, serviceId } from '../core/ids';
import { metricsOf, MqeSyntaxError, parseMqe, type MqeLabel, type MqeNode } from '../query/mqe/parser';
import { avgValue, labelsKey } from '../storage/metrics';
import type { Storage } from '../storage/types';

export type ExpressionResultType = 'UNKNOWN' | 'SINGLE_VALUE' | 'TIME_SERIES_VALUES' | 'SORTED_LIST' | 'RECORD_LIST';

export interface MqeValue {
  id: string;
  value: string | null;
  owner: null;
  traceID: null;
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

/** The GraphQL Entity input (only the fields process-scope metrics use). */
export interface MqeEntity {
  serviceName?: string | null;
  normal?: boolean | null;
  serviceInstanceName?: string | null;
  processName?: string | null;
}

export interface MqeMetric {
  name: string;
  labeled: boolean;
}

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

export class MqeService {
  private readonly metrics: ReadonlyMap<string, MqeMetric>;

  constructor(
    private readonly storage: Storage,
    metrics: readonly MqeMetric[],
  ) {
    this.metrics = new Map(metrics.map((m) => [m.name, m]));
  }

  async execute(expression: string, entity: MqeEntity, duration: DurationInput): Promise<ExpressionResult> {
    let tree: MqeNode;
    try {
      tree = parseMqe(expression);
    } catch (err) {
      if (err instanceof MqeSyntaxError) return result('UNKNOWN', [], err.message);
      throw err;
    }
    let node = tree;
    while (node.kind === 'parens') node = node.expr;
    if (node.kind === 'metric') return this.metric(node.name, node.labels, entity, duration);
    const unknown = metricsOf(tree).find((m) => !this.metrics.has(m.name));
    if (unknown) return result('UNKNOWN', [], `Metric: [${unknown.name}] does not exist.`);
    return result('UNKNOWN');
  }

  private async metric(
    name: string,
    selector: MqeLabel[],
    entity: MqeEntity,
    duration: DurationInput,
  ): Promise<ExpressionResult> {
    const metric = this.metrics.get(name);
    if (!metric) return result('UNKNOWN', [], `Metric: [${name}] does not exist.`);
    const points = durationPoints(duration);
    const { serviceName, normal, serviceInstanceName, processName } = entity;
    if (serviceName == null || normal == null || serviceInstanceName == null || processName == null) {
      // Entity.isValid() fails: the OAP reads nothing
      return metric.labeled ? result('TIME_SERIES_VALUES') : result('UNKNOWN');
    }
    const entityId = processId(instanceId(serviceId(serviceName, normal), serviceInstanceName), processName);
    // Metrics are kept per minute: a SECOND point never holds one (the OAP looks for second buckets).
    const records =
      duration.step === 'SECOND'
        ? []
        : await this.storage.meters.queryMetricValues(name, entityId, durationToRange(duration));

    /** label-set key → per point: [summation, count] */
    const series = new Map<string, { labels: Record<string, string>; sums: Array<[number, number] | undefined> }>();
    for (const r of records) {
      const at = pointIndex(points, r.timeBucket);
      if (at < 0) continue;
      const key = metric.labeled ? labelsKey(r.labels) : '';
      let s = series.get(key);
      if (!s) {
        s = { labels: r.labels, sums: new Array<[number, number] | undefined>(points.length) };
        series.set(key, s);
      }
      const cell = s.sums[at];
      if (cell) {
        cell[0] += r.summation;
        cell[1] += r.count;
      } else {
        s.sums[at] = [r.summation, r.count];
      }
    }
    const toValues = (sums: Array<[number, number] | undefined>): MqeValue[] =>
      points.map((p, i) => {
        const cell = sums[i];
        return {
          id: String(p),
          value: cell ? formatMqeValue(avgValue(cell[0], cell[1])) : null,
          owner: null,
          traceID: null,
        };
      });

    if (!metric.labeled) {
      const sums = series.get('')?.sums ?? new Array<[number, number] | undefined>(points.length);
      return result('TIME_SERIES_VALUES', [{ metric: { labels: [] }, values: toValues(sums) }]);
    }
    const chosen = [...series.values()].filter((s) => matches(s.labels, selector));
    chosen.sort((a, b) => {
      const x = dataLabelText(a.labels);
      const y = dataLabelText(b.labels);
      return x < y ? -1 : x > y ? 1 : 0;
    });
    return result(
      'TIME_SERIES_VALUES',
      chosen.map((s) => ({
        metric: {
          labels: Object.entries(s.labels)
            .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))
            .map(([key, value]) => ({ key, value })),
        },
        values: toValues(s.sums),
      })),
    );
  }
}

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
