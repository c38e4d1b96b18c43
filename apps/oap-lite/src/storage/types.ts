/**
 * The storage boundary of oap-lite: one small interface per domain (storage/domains/), and
 * `Storage`, which holds one store of each. Every backend (embedded SQLite, Elasticsearch)
 * implements each domain in its own file and passes the same behaviour suites
 * (storage/testing/, test code only). Records mirror the Java OAP's storage models
 * (process_traffic, ebpf_profiling_task, ebpf_profiling_schedule, ebpf_profiling_data, the avg
 * meter functions' metrics, ...).
 *
 * All times are epoch milliseconds unless a name says otherwise.
 */
import type { ContinuousPolicyStore } from './domains/continuous-policies';
import type { MetadataStore } from './domains/metadata';
import type { MeterStore } from './domains/meters';
import type { NetworkStore } from './domains/network';
import type { ProfilingDataStore } from './domains/profiling-data';
import type { TaskStore } from './domains/tasks';
import type { UiTemplateStore } from './domains/ui-templates';
import type { StorageHealth } from './write-health';

export type * from './domains/continuous-policies';
export type * from './domains/metadata';
export type * from './domains/meters';
export type * from './domains/network';
export type * from './domains/profiling-data';
export type { StorageHealth } from './write-health';
export type * from './domains/tasks';
export type * from './domains/ui-templates';

export interface Storage {
  readonly metadata: MetadataStore;
  /** eBPF profiling tasks and schedules. */
  readonly tasks: TaskStore;
  readonly profilingData: ProfilingDataStore;
  readonly policies: ContinuousPolicyStore;
  readonly uiTemplates: UiTemplateStore;
  readonly meters: MeterStore;
  /** Network profiling relations, sampled traces and attached events. */
  readonly network: NetworkStore;

  /** Creates tables/indices; waits for the backend. Must be called before anything else. */
  init(): Promise<void>;
  close(): Promise<void>;
  /** Whether the backend answers and can store writes now (for /healthcheck and checkHealth). */
  health(): Promise<StorageHealth>;
  /**
   * TTL: deletes profiling data and schedules older than `recordsBefore`, tasks created
   * before it, processes/instances/services not seen since `metricsBefore`, and metric values
   * whose timeBucket is before `metricsBefore` (the OAP's metrics TTL covers metadata and metrics).
   * Service labels, policies and UI templates stay. Returns how many rows/documents went.
   */
  deleteExpired(recordsBefore: number, metricsBefore: number): Promise<number>;
}
