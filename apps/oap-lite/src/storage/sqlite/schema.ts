/**
 * SQLite schema of oap-lite, as an ordered list of migrations. `migrations[i]` takes a database
 * at version i to version i + 1; the version is kept in the `schema_version` table. Never edit a
 * released migration: append a new one.
 *
 * Profiling data is the bulk: stack frame lists are interned in `stacks` (keyed by the sha1 of
 * their canonical JSON, hex; the hash function and canonical form must never change, since the
 * analysis relies on one `stacks` row per distinct frame list) and schedule ids in `profiling_series`, so a stored record is a few
 * integers plus its stackIdList. `profiling_data` is a WITHOUT ROWID table clustered on
 * (series_id, upload_time, stack_id_list): the key of the OAP's replace-on-rewrite rule, and the
 * (schedule, upload time) index that every analysis query scans.
 *
 * `metric_values` holds the per-minute sums and counts of the avg meter functions, one row per
 * (metric, entity, minute, label set); writes add to an existing row (see addMetricValues).
 */
export const migrations: readonly string[] = [
  /* 0 -> 1 */ `
  CREATE TABLE services (
    id TEXT PRIMARY KEY,
    name TEXT NOT NULL,
    short_name TEXT NOT NULL,
    grp TEXT NOT NULL,
    normal INTEGER NOT NULL,
    layers_json TEXT NOT NULL,
    last_seen INTEGER NOT NULL
  );
  CREATE TABLE instances (
    id TEXT PRIMARY KEY,
    service_id TEXT NOT NULL,
    name TEXT NOT NULL,
    layer TEXT NOT NULL,
    attributes_json TEXT NOT NULL,
    last_seen INTEGER NOT NULL
  );
  CREATE INDEX instances_service ON instances (service_id, last_seen);
  CREATE TABLE processes (
    id TEXT PRIMARY KEY,
    name TEXT NOT NULL,
    service_id TEXT NOT NULL,
    service_name TEXT NOT NULL,
    instance_id TEXT NOT NULL,
    instance_name TEXT NOT NULL,
    layer TEXT NOT NULL,
    agent_id TEXT NOT NULL,
    detect_type TEXT NOT NULL,
    labels_json TEXT NOT NULL,
    properties_json TEXT NOT NULL,
    profiling_supported INTEGER NOT NULL,
    first_seen INTEGER NOT NULL,
    last_seen INTEGER NOT NULL
  );
  CREATE INDEX processes_service ON processes (service_id, last_seen);
  CREATE INDEX processes_instance ON processes (instance_id, last_seen);
  CREATE INDEX processes_agent ON processes (agent_id, last_seen);
  CREATE INDEX processes_last_seen ON processes (last_seen);
  CREATE TABLE service_labels (
    service_id TEXT NOT NULL,
    label TEXT NOT NULL,
    PRIMARY KEY (service_id, label)
  ) WITHOUT ROWID;
  CREATE TABLE tasks (
    task_id TEXT NOT NULL,
    create_time INTEGER NOT NULL,
    service_id TEXT NOT NULL,
    instance_id TEXT NOT NULL,
    process_labels_json TEXT NOT NULL,
    start_time INTEGER NOT NULL,
    trigger_type TEXT NOT NULL,
    target_type TEXT NOT NULL,
    fixed_trigger_duration INTEGER NOT NULL,
    last_update_time INTEGER NOT NULL,
    extension_config_json TEXT NOT NULL,
    continuous_profiling_json TEXT NOT NULL,
    PRIMARY KEY (task_id, create_time)
  );
  CREATE INDEX tasks_service ON tasks (service_id, create_time);
  CREATE INDEX tasks_update ON tasks (last_update_time);
  CREATE INDEX tasks_create ON tasks (create_time);
  CREATE TABLE schedules (
    schedule_id TEXT PRIMARY KEY,
    task_id TEXT NOT NULL,
    process_id TEXT NOT NULL,
    start_time INTEGER NOT NULL,
    end_time INTEGER NOT NULL
  );
  CREATE INDEX schedules_task ON schedules (task_id);
  CREATE TABLE stacks (
    id INTEGER PRIMARY KEY,
    hash TEXT NOT NULL UNIQUE,
    frames_json TEXT NOT NULL
  );
  CREATE TABLE profiling_series (
    id INTEGER PRIMARY KEY,
    schedule_id TEXT NOT NULL UNIQUE,
    task_id TEXT NOT NULL
  );
  CREATE TABLE profiling_data (
    series_id INTEGER NOT NULL,
    upload_time INTEGER NOT NULL,
    stack_id_list TEXT NOT NULL,
    stack_ref INTEGER NOT NULL,
    target_type INTEGER NOT NULL,
    cnt INTEGER NOT NULL,
    dur INTEGER NOT NULL,
    PRIMARY KEY (series_id, upload_time, stack_id_list)
  ) WITHOUT ROWID;
  CREATE TABLE policies (
    service_id TEXT PRIMARY KEY,
    uuid TEXT NOT NULL,
    configuration_json TEXT NOT NULL,
    update_time INTEGER NOT NULL
  );
  CREATE TABLE ui_templates (
    id TEXT PRIMARY KEY,
    configuration TEXT NOT NULL,
    activated INTEGER NOT NULL,
    disabled INTEGER NOT NULL,
    update_time INTEGER NOT NULL
  );
  `,
  /* 1 -> 2 */ `
  CREATE TABLE metric_values (
    metric TEXT NOT NULL,
    entity_id TEXT NOT NULL,
    time_bucket INTEGER NOT NULL,
    labels TEXT NOT NULL,
    service_id TEXT NOT NULL,
    summation INTEGER NOT NULL,
    cnt INTEGER NOT NULL,
    PRIMARY KEY (metric, entity_id, time_bucket, labels)
  ) WITHOUT ROWID;
  CREATE INDEX metric_values_time ON metric_values (time_bucket);
  `,
  /* 2 -> 3: network profiling */ `
  CREATE TABLE process_relations (
    side TEXT NOT NULL,
    entity_id TEXT NOT NULL,
    time_bucket INTEGER NOT NULL,
    instance_id TEXT NOT NULL,
    service_id TEXT NOT NULL,
    source_process_id TEXT NOT NULL,
    dest_process_id TEXT NOT NULL,
    component_id INTEGER NOT NULL,
    PRIMARY KEY (instance_id, time_bucket, side, entity_id)
  ) WITHOUT ROWID;
  CREATE INDEX process_relations_time ON process_relations (time_bucket);
  CREATE TABLE sampled_traces (
    tbl TEXT NOT NULL,
    entity_id TEXT NOT NULL,
    trace_id TEXT NOT NULL,
    time_second INTEGER NOT NULL,
    service_id TEXT NOT NULL,
    instance_id TEXT NOT NULL,
    statement TEXT NOT NULL,
    latency INTEGER NOT NULL,
    timestamp INTEGER NOT NULL,
    PRIMARY KEY (tbl, entity_id, trace_id, time_second)
  ) WITHOUT ROWID;
  CREATE INDEX sampled_traces_latency ON sampled_traces (tbl, entity_id, latency);
  CREATE INDEX sampled_traces_time ON sampled_traces (timestamp);
  CREATE TABLE span_attached_events (
    id INTEGER PRIMARY KEY,
    trace_ref_type TEXT NOT NULL,
    related_trace_id TEXT NOT NULL,
    trace_segment_id TEXT NOT NULL,
    trace_span_id TEXT NOT NULL,
    event TEXT NOT NULL,
    start_second INTEGER NOT NULL,
    start_nanos INTEGER NOT NULL,
    end_second INTEGER NOT NULL,
    end_nanos INTEGER NOT NULL,
    data_binary BLOB NOT NULL,
    timestamp INTEGER NOT NULL
  );
  CREATE INDEX span_attached_events_trace ON span_attached_events (related_trace_id);
  CREATE INDEX span_attached_events_time ON span_attached_events (timestamp);
  `,
];

export const SCHEMA_VERSION = migrations.length;
