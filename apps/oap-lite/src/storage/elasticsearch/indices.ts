/**
 * Index layout of the Elasticsearch backend, modelled on the Java OAP's (storage-elasticsearch-plugin):
 *
 * - every name is prefixed with `<namespace>_` (the OAP's default namespace is "sw", lower-cased);
 * - metadata lives in plain, non-time-bucketed indices named after the OAP models
 *   (`service_traffic`, `instance_traffic`, `process_traffic`, `service_label`,
 *   `ebpf_profiling_task`, `ebpf_profiling_schedule`), and management data (UI templates and
 *   continuous profiling policies) is merged into one `management` index with a
 *   `management_table` column, as the OAP does;
 * - profiling records go to daily indices `records-all-YYYYMMDD` (UTC day of the upload time),
 *   created on first write from the composable index template `records-all` (which also adds the
 *   alias `records-all`), and carry a `record_table` column as the OAP's merged records index does.
 *   The interned stacks used by a day's records are stored in the same daily index
 *   (`record_table: ebpf_profiling_stack`), so TTL is deleting whole daily indices.
 * - metric values go to daily indices `metrics-all-YYYYMMDD` (UTC day of the minute) made from the
 *   template `metrics-all` (alias `metrics-all`), one document per (metric, minute, entity) with a
 *   `metric_table` column and the avg functions' columns, as the OAP's merged metrics index has:
 *   `summation`, `count` and `value` for single-value metrics, `datatable_summation`,
 *   `datatable_count` and `datatable_value` (label set → number) for labeled ones.
 *
 * Every mapping is explicit and `dynamic: strict`: no dynamic text fields, and a document with an
 * unknown field is refused instead of silently widening the mapping.
 */
import type { estypes } from '@elastic/elasticsearch';

export const RECORD_TABLE_DATA = 'ebpf_profiling_data';
export const RECORD_TABLE_STACK = 'ebpf_profiling_stack';
export const MANAGEMENT_UI_TEMPLATE = 'ui_template';
export const MANAGEMENT_POLICY = 'continuous_profiling_policy';
export const RECORD_TABLE_SPAN_ATTACHED_EVENT = 'span_attached_event_record';
export const METRIC_TABLE_RELATION: Record<'CLIENT' | 'SERVER', string> = {
  CLIENT: 'process_relation_client_side',
  SERVER: 'process_relation_server_side',
};

const keyword = { type: 'keyword' } as const;
const long = { type: 'long' } as const;
const bool = { type: 'boolean' } as const;
/** Kept in _source only: not searchable, no doc values. */
const stored = { type: 'object', enabled: false } as const;
const storedText = { type: 'keyword', index: false, doc_values: false } as const;

type Properties = Record<string, estypes.MappingProperty>;

export interface IndexDef {
  /** Logical (model) name, without the namespace prefix. */
  model: string;
  properties: Properties;
}

export const METADATA_INDICES: readonly IndexDef[] = [
  {
    model: 'service_traffic',
    properties: {
      id: keyword,
      service_traffic_name: keyword,
      short_name: keyword,
      service_group: keyword,
      normal: bool,
      layers: keyword,
      last_ping: long,
    },
  },
  {
    model: 'instance_traffic',
    properties: {
      id: keyword,
      service_id: keyword,
      instance_traffic_name: keyword,
      layer: keyword,
      properties: stored,
      last_ping: long,
    },
  },
  {
    model: 'process_traffic',
    properties: {
      id: keyword,
      name: keyword,
      service_id: keyword,
      service_name: keyword,
      instance_id: keyword,
      instance_name: keyword,
      layer: keyword,
      agent_id: keyword,
      detect_type: keyword,
      labels: keyword,
      properties: stored,
      profiling_support_status: bool,
      first_ping: long,
      last_ping: long,
    },
  },
  { model: 'service_label', properties: { service_id: keyword, label: keyword } },
  {
    model: 'ebpf_profiling_task',
    properties: {
      logical_id: keyword,
      service_id: keyword,
      instance_id: keyword,
      process_labels: keyword,
      start_time: long,
      trigger_type: keyword,
      target_type: keyword,
      fixed_trigger_duration: long,
      create_time: long,
      last_update_time: long,
      extension_config_json: storedText,
      continuous_profiling_json: storedText,
    },
  },
  {
    model: 'ebpf_profiling_schedule',
    properties: {
      ebpf_profiling_schedule_id: keyword,
      task_id: keyword,
      process_id: keyword,
      start_time: long,
      end_time: long,
    },
  },
  {
    model: 'management',
    properties: {
      management_table: keyword,
      // ui_template
      template_id: keyword,
      configuration: storedText,
      activated: bool,
      disabled: bool,
      update_time: long,
      // continuous_profiling_policy
      service_id: keyword,
      uuid: keyword,
      configuration_json: storedText,
    },
  },
];

/** Mapping of the daily `records-all-YYYYMMDD` indices (profiling data and the stacks they use). */
export const RECORDS_PROPERTIES: Properties = {
  record_table: keyword,
  schedule_id: keyword,
  task_id: keyword,
  stack_id: keyword,
  target_type: keyword,
  upload_time: long,
  time_bucket: long,
  stack_hash: keyword,
  dump_count: long,
  duration: long,
  /** What a record adds to a DURATION aggregate (core/targets: durationAggregate): duration, or the count. */
  duration_value: long,
  /**
   * The analyzer's dedupe keys "stackHash:uploadTime:value" for COUNT and DURATION: records equal
   * in (uploadTime, value, frames) count once, so a key seen n times is a correction of (n-1)·value.
   */
  dedupe_count: keyword,
  dedupe_duration: keyword,
  frames: stored,
  // sampled_{slow,status_4xx,status_5xx}_trace_record (network profiling)
  entity_id: keyword,
  service_id: keyword,
  instance_id: keyword,
  trace_id: keyword,
  statement: storedText,
  latency: long,
  timestamp: long,
  // span_attached_event_record
  trace_ref_type: keyword,
  related_trace_id: keyword,
  trace_segment_id: keyword,
  trace_span_id: keyword,
  event: storedText,
  start_time_second: long,
  start_time_nanos: long,
  end_time_second: long,
  end_time_nanos: long,
  /** The received SpanAttachedEvent, base64. */
  data_binary: storedText,
};

/** Mapping of the daily `metrics-all-YYYYMMDD` indices. */
export const METRICS_PROPERTIES: Properties = {
  metric_table: keyword,
  entity_id: keyword,
  service_id: keyword,
  /** The OAP's minute time bucket yyyyMMddHHmm (UTC here). */
  time_bucket: long,
  summation: long,
  count: long,
  value: long,
  /** Labeled metrics: label-set key (storage/metrics.ts labelsKey) → number. */
  datatable_summation: stored,
  datatable_count: stored,
  datatable_value: stored,
  // process_relation_client_side / process_relation_server_side (network profiling)
  instance_id: keyword,
  side: keyword,
  source_process_id: keyword,
  dest_process_id: keyword,
  component_id: long,
};

export interface IndexNames {
  prefix: string;
  metadata: (model: string) => string;
  /** The daily records index for a UTC day "YYYYMMDD". */
  recordsDay: (day: string) => string;
  /** Wildcard over every daily records index. */
  recordsPattern: string;
  recordsAlias: string;
  recordsTemplate: string;
  /** The daily metrics index for a UTC day "YYYYMMDD". */
  metricsDay: (day: string) => string;
  metricsPattern: string;
  metricsAlias: string;
  metricsTemplate: string;
  /** Every concrete non-time-bucketed index. */
  allMetadata: string[];
}

/** The OAP rule: an empty namespace means "sw"; names are lower-case. */
export const indexNames = (namespace: string): IndexNames => {
  const ns = (namespace || 'sw').toLowerCase();
  const prefix = `${ns}_`;
  return {
    prefix,
    metadata: (model) => prefix + model,
    recordsDay: (day) => `${prefix}records-all-${day}`,
    recordsPattern: `${prefix}records-all-*`,
    recordsAlias: `${prefix}records-all`,
    recordsTemplate: `${prefix}records-all`,
    metricsDay: (day) => `${prefix}metrics-all-${day}`,
    metricsPattern: `${prefix}metrics-all-*`,
    metricsAlias: `${prefix}metrics-all`,
    metricsTemplate: `${prefix}metrics-all`,
    allMetadata: METADATA_INDICES.map((d) => prefix + d.model),
  };
};

/** UTC day "YYYYMMDD" of an epoch-ms time. Throws a RangeError for times a Date cannot hold. */
export const utcDay = (t: number): string => {
  const iso = new Date(t).toISOString(); // RangeError when out of range
  return iso.slice(0, 4) + iso.slice(5, 7) + iso.slice(8, 10);
};

/** The OAP's second-precision time bucket yyyyMMddHHmmss (UTC here). */
export const secondTimeBucket = (t: number): number => {
  const iso = new Date(t).toISOString();
  return Number(
    iso.slice(0, 4) + iso.slice(5, 7) + iso.slice(8, 10) + iso.slice(11, 13) + iso.slice(14, 16) + iso.slice(17, 19),
  );
};

/** The OAP's minute time bucket yyyyMMddHHmm (UTC here) of an epoch-ms time. */
export const minuteTimeBucket = (t: number): number => Math.floor(secondTimeBucket(t) / 100);

/** Epoch ms of the start of a UTC minute time bucket yyyyMMddHHmm. */
export const minuteTimeBucketStart = (bucket: number): number => {
  const d = String(bucket);
  return Date.UTC(+d.slice(0, 4), +d.slice(4, 6) - 1, +d.slice(6, 8), +d.slice(8, 10), +d.slice(10, 12));
};

/** [start, end] epoch-ms of a UTC day "YYYYMMDD". */
export const dayBounds = (day: string): { start: number; end: number } => {
  const start = Date.UTC(Number(day.slice(0, 4)), Number(day.slice(4, 6)) - 1, Number(day.slice(6, 8)));
  return { start, end: start + 86_400_000 - 1 };
};

const typeOf = (p: estypes.MappingProperty | undefined): string | undefined =>
  p ? ((p as { type?: string }).type ?? ('properties' in p ? 'object' : undefined)) : undefined;

/**
 * Compares an existing index mapping with the one this build needs. Returns a description of the
 * first incompatible field, or null; `missing` lists fields that can simply be added.
 */
export const compareMapping = (
  existing: Properties | undefined,
  wanted: Properties,
): { conflict: string | null; missing: Properties } => {
  const missing: Properties = {};
  for (const [field, want] of Object.entries(wanted)) {
    const have = existing?.[field];
    if (!have) {
      missing[field] = want;
      continue;
    }
    const haveType = typeOf(have);
    const wantType = typeOf(want);
    if (haveType !== wantType) {
      return { conflict: `field "${field}" is mapped as ${haveType}, oap-lite needs ${wantType}`, missing };
    }
    if (
      wantType === 'object' &&
      (want as { enabled?: boolean }).enabled === false &&
      (have as { enabled?: boolean }).enabled !== false
    ) {
      return {
        conflict: `field "${field}" is an indexed object, oap-lite needs a stored-only object (enabled: false)`,
        missing,
      };
    }
  }
  return { conflict: null, missing };
};
