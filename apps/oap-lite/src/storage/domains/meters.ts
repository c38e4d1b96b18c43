/** Meter values: per-minute sums and counts of the avg meter functions. */
import type { TimeRange } from './profiling-data';

/**
 * One minute of one metric for one entity (and, for a labeled metric, one label set), as the
 * OAP's avg meter functions keep it (AvgFunction, AvgLabeledFunction): the sum and the number of
 * the values accepted in that minute. The metric's value is derived when read:
 * summation / count, in integers, and at least 1 when summation > 0 (see storage/metrics.ts).
 */
export interface MetricValueRecord {
  /** The metric name, e.g. "continuous_profiling_process_cpu". */
  metric: string;
  /** The entity the metric is about; for process-scope metrics the process ID. */
  entityId: string;
  /** The entity's service ID (kept as the OAP does, for service-wide reads). */
  serviceId: string;
  /** Epoch ms of the first millisecond of the minute (a multiple of 60 000). */
  timeBucket: number;
  /** The series' labels for a labeled metric, e.g. {uri: "/a"}; {} for a single-value metric. */
  labels: Record<string, string>;
  /** Non-negative safe integers; count >= 1. */
  summation: number;
  count: number;
}

export interface MeterStore {
  /**
   * Adds every record's summation and count to the stored record with the same
   * (metric, entityId, timeBucket, labels), or stores it when there is none (records of one batch
   * with the same key add up too; serviceId takes the new value). Each addition is atomic, so
   * concurrent writers (several oap-lite nodes sharing one Elasticsearch) never lose one. A batch
   * with an invalid record is refused before anything is written.
   */
  addMetricValues(records: MetricValueRecord[]): Promise<void>;
  /**
   * The stored records of one metric and entity whose timeBucket is within the range (inclusive),
   * ordered by timeBucket; records of one minute (several label sets) in no particular order.
   */
  queryMetricValues(metric: string, entityId: string, range: TimeRange): Promise<MetricValueRecord[]>;
  /** TTL: deletes the values whose timeBucket is before `before`; returns how many. */
  deleteExpired(before: number): Promise<number>;
}
