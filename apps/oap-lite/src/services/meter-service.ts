/**
 * Meters reported through MeterReportService, analysed the way the Java OAP's meter receiver
 * (MeterProcessor) and MAL analyzer treat them, for the rules of its
 * meter-analyzer-config/continuous-profiling.yaml, the only ones oap-lite has:
 *
 *   expSuffix: process(['service'], ['instance'], ['process_name'], 'layer')
 *   continuous_profiling_<name>: rover_con_p_<name>.avg([service, instance, process_name, layer(, uri)])(.multiply(k))
 *
 * For one input (a MeterDataCollection, or a whole collect stream):
 * 1. service, instance and timestamp are the last non-empty ones its MeterData carry (the
 *    protocol sets them on the first); every sample gets labels `service` and `instance`;
 * 2. per rule, samples of the meter are grouped by the rule's labels (a missing label counts as
 *    ""), each group's values are averaged and multiplied;
 * 3. each group value becomes a long as MAL's Analyzer does (<= 0 → 0, < 1 → 1, else rounded);
 * 4. the group's process (service, instance, process_name; names cut to 70 characters as the
 *    OAP's NamingControl does) is the entity; the value is accepted once into its minute
 *    (timestamp's minute): summation += value, count += 1. Labeled rules keep one sum and count
 *    per label set (uri).
 *
 * Meters without a rule are ignored, as the OAP ignores samples no rule reads. Where the OAP would
 * drop a whole input in its logs (no service/instance/timestamp, a label named like one it adds,
 * a label twice) or store nonsense (values that are not finite numbers), oap-lite refuses the
 * input with an InvalidMeterError instead.
 */
import { instanceId, processId, serviceId } from '../core/ids';
import { MAX_TIME_BUCKET, MINUTE_MS } from '../storage/metrics';
import type { MetricValueRecord, Storage } from '../storage/types';
import { MAX_INSTANCE_NAME, MAX_SERVICE_NAME } from './metadata-service';
import { toMeterLong } from './meter-long';
import type { NetworkMeterAnalyzer, NetworkSample } from './network-meter-analyzer';

export interface MeterRule {
  /** Sample (meter) name the rule reads. */
  meter: string;
  /** Name of the metric it produces (the file's metricPrefix + "_" + the rule name). */
  metric: string;
  multiply: number;
  /** Aggregation labels beyond the process entity's; non-empty makes a labeled metric. */
  extraLabels: readonly string[];
}

/** The rules of the OAP's meter-analyzer-config/continuous-profiling.yaml. */
export const CONTINUOUS_PROFILING_RULES: readonly MeterRule[] = [
  { meter: 'rover_con_p_process_cpu', metric: 'continuous_profiling_process_cpu', multiply: 10_000, extraLabels: [] },
  {
    meter: 'rover_con_p_process_thread_count',
    metric: 'continuous_profiling_process_thread_count',
    multiply: 1,
    extraLabels: [],
  },
  { meter: 'rover_con_p_system_load', metric: 'continuous_profiling_system_load', multiply: 100, extraLabels: [] },
  {
    meter: 'rover_con_p_http_error_rate',
    metric: 'continuous_profiling_http_error_rate',
    multiply: 100,
    extraLabels: ['uri'],
  },
  {
    meter: 'rover_con_p_http_avg_response_time',
    metric: 'continuous_profiling_http_avg_response_time',
    multiply: 1,
    extraLabels: ['uri'],
  },
];

/** The labels of the rules' process entity (service and instance are added from the input). */
const ENTITY_LABELS = ['service', 'instance', 'process_name', 'layer'] as const;

/** One MeterData that carries a meter (MeterData without one are skipped, as the OAP does). */
export interface MeterInput {
  kind: 'singleValue' | 'histogram';
  name: string;
  labels: ReadonlyArray<{ name: string; value: string }>;
  /** singleValue: the value. */
  value?: number;
  /** histogram: the buckets (lower bound, count, or negative infinity). */
  buckets?: ReadonlyArray<{ bucket: number; count: number; isNegativeInfinity: boolean }>;
  service: string;
  serviceInstance: string;
  /** Epoch ms; 0 when not set. */
  timestamp: number;
}

export class InvalidMeterError extends Error {
  override name = 'InvalidMeterError';
}

interface Sample {
  labels: Map<string, string>;
  value: number;
}

export { toMeterLong };

const cut = (name: string, max: number): string => (name.length > max ? name.slice(0, max) : name);

/** The `le` label of a histogram bucket's sample (no rule groups by it, so only its presence matters). */
const bucketLabel = (b: { bucket: number; isNegativeInfinity: boolean }): string =>
  b.isNegativeInfinity ? '-9223372036854775808' : String(b.bucket);

/** A network meter's samples: the value, or one per histogram bucket with its `le`. */
const addNetworkSamples = (out: NetworkSample[], m: MeterInput, labels: Map<string, string>): void => {
  if (m.kind === 'singleValue') {
    const value = m.value ?? 0;
    if (!Number.isFinite(value)) throw new InvalidMeterError(`meter "${m.name}" has the value ${value}`);
    out.push({ name: m.name, labels, value });
    return;
  }
  for (const b of m.buckets ?? []) {
    if (!Number.isFinite(b.count)) throw new InvalidMeterError(`meter "${m.name}" has the bucket count ${b.count}`);
    // agent histograms are not cumulative, and their bounds are taken as they are (MeterProcessor)
    const le = b.isNegativeInfinity ? '-9223372036854775808' : String(Math.trunc(b.bucket));
    out.push({ name: m.name, labels, value: b.count, le });
  }
};

export class MeterService {
  private readonly rules: ReadonlyMap<string, MeterRule>;

  constructor(
    private readonly storage: Storage,
    rules: readonly MeterRule[] = CONTINUOUS_PROFILING_RULES,
    /** The network profiling rules (rover_net_p_* meters), when oap-lite analyses them. */
    private readonly network: NetworkMeterAnalyzer | null = null,
  ) {
    this.rules = new Map(rules.map((r) => [r.meter, r]));
  }

  /** The metrics the rules produce, and whether they are labeled. */
  metrics(): Array<{ name: string; labeled: boolean }> {
    return [...this.rules.values()].map((r) => ({ name: r.metric, labeled: r.extraLabels.length > 0 }));
  }

  /**
   * The metric values one input yields (one accepted value per entity, metric and label set).
   * Throws an InvalidMeterError, naming the problem, for an input the OAP would not analyse.
   */
  analyse(input: readonly MeterInput[]): MetricValueRecord[] {
    if (input.length === 0) return [];
    let service = '';
    let instance = '';
    let timestamp = 0;
    for (const m of input) {
      if (m.service) service = m.service;
      if (m.serviceInstance) instance = m.serviceInstance;
      if (m.timestamp > 0) timestamp = m.timestamp;
    }
    if (!service || !instance || !timestamp) {
      const missing = [!service && 'service', !instance && 'serviceInstance', !timestamp && 'timestamp'].filter(
        Boolean,
      );
      throw new InvalidMeterError(
        `meter data without ${missing.join(', ')}: set them on the first MeterData of a collect stream ` +
          `(or on a MeterData of each MeterDataCollection)`,
      );
    }
    if (!Number.isSafeInteger(timestamp) || timestamp > MAX_TIME_BUCKET + MINUTE_MS - 1) {
      throw new InvalidMeterError(`meter timestamp ${timestamp} is not a time oap-lite can store (epoch ms)`);
    }

    const samples = new Map<string, Sample[]>();
    const networkSamples: NetworkSample[] = [];
    for (const m of input) {
      const labels = new Map<string, string>();
      for (const l of m.labels) {
        if (labels.has(l.name)) throw new InvalidMeterError(`meter "${m.name}" has the label "${l.name}" twice`);
        labels.set(l.name, l.value);
      }
      const added = m.kind === 'histogram' ? ['service', 'instance', 'le'] : ['service', 'instance'];
      for (const name of added) {
        if (labels.has(name)) {
          throw new InvalidMeterError(
            `meter "${m.name}" has a label named "${name}", which the backend sets itself (the OAP drops such input)`,
          );
        }
      }
      labels.set('service', service);
      labels.set('instance', instance);
      const rule = this.rules.get(m.name);
      if (!rule) {
        if (this.network?.reads(m.name)) addNetworkSamples(networkSamples, m, labels);
        continue; // otherwise no rule reads it
      }
      const list = samples.get(m.name) ?? [];
      samples.set(m.name, list);
      if (m.kind === 'singleValue') {
        const value = m.value ?? 0;
        if (!Number.isFinite(value)) throw new InvalidMeterError(`meter "${m.name}" has the value ${value}`);
        list.push({ labels, value });
      } else {
        for (const b of m.buckets ?? []) {
          list.push({ labels: new Map([...labels, ['le', bucketLabel(b)]]), value: b.count });
        }
      }
    }

    const timeBucket = Math.floor(timestamp / MINUTE_MS) * MINUTE_MS;
    const out: MetricValueRecord[] = this.network
      ? this.network.analyse(
          networkSamples,
          cut(service, MAX_SERVICE_NAME),
          cut(instance, MAX_INSTANCE_NAME),
          timestamp,
        )
      : [];
    for (const [meter, list] of samples) {
      const rule = this.rules.get(meter)!;
      const by = [...ENTITY_LABELS, ...rule.extraLabels];
      const groups = new Map<string, { values: string[]; sum: number; n: number }>();
      for (const s of list) {
        const values = by.map((k) => s.labels.get(k) ?? '');
        const key = JSON.stringify(values);
        const g = groups.get(key) ?? { values, sum: 0, n: 0 };
        g.sum += s.value;
        g.n += 1;
        groups.set(key, g);
      }
      for (const g of groups.values()) {
        const value = toMeterLong((g.sum / g.n) * rule.multiply);
        if (!Number.isSafeInteger(value)) {
          throw new InvalidMeterError(`meter "${meter}": the value ${value} is too large to store`);
        }
        const [svc, inst, processName] = g.values as [string, string, string];
        const svcId = serviceId(cut(svc, MAX_SERVICE_NAME));
        const labels: Record<string, string> = {};
        rule.extraLabels.forEach((name, i) => (labels[name] = g.values[ENTITY_LABELS.length + i]!));
        out.push({
          metric: rule.metric,
          entityId: processId(instanceId(svcId, cut(inst, MAX_INSTANCE_NAME)), processName),
          serviceId: svcId,
          timeBucket,
          labels,
          summation: value,
          count: 1,
        });
      }
    }
    return out;
  }

  /** Stores analysed values in one write (and the relations and virtual processes they imply). */
  async store(values: MetricValueRecord[]): Promise<void> {
    if (values.length > 0) await this.storage.meters.addMetricValues(values);
    await this.network?.flush();
  }

  /** Analyses every input, then stores all their values in one write (nothing when one is invalid). */
  async ingest(inputs: ReadonlyArray<readonly MeterInput[]>): Promise<number> {
    const values = inputs.flatMap((input) => this.analyse(input));
    await this.store(values);
    return values.length;
  }
}
