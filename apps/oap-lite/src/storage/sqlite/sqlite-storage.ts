/**
 * The embedded storage of oap-lite: one SQLite file (WAL, synchronous=NORMAL) through
 * better-sqlite3. better-sqlite3 is synchronous, so every method runs to completion without
 * interleaving; the async signatures are the interface's.
 */
import Database from 'better-sqlite3';
import { createHash } from 'node:crypto';
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { labelsFromKey, labelsKey, mergeMetricValues } from '../metrics';
import { assertValidProfilingRecord, canonicalFramesJson } from '../profiling';
import type {
  AggregatedStack,
  ContinuousPolicyRecord,
  DetectType,
  InstanceRecord,
  MetricValueRecord,
  ProcessFilter,
  ProcessRecord,
  ProfilingDataRecord,
  ScheduleRecord,
  ServiceRecord,
  StackFrame,
  Storage,
  TargetType,
  TaskFilter,
  TaskRecord,
  TimeRange,
  TriggerType,
  UiTemplateRecord,
} from '../types';
import { migrations } from './schema';

export interface SqliteStorageOptions {
  /** Directory of the database file; created when missing. */
  dataDir: string;
  fileName?: string;
}

type Row = Record<string, unknown>;
type Stmt = Database.Statement<unknown[], Row>;

const TARGET_CODE: Record<TargetType, number> = { ON_CPU: 0, OFF_CPU: 1, NETWORK: 2 };
/** Entries kept in the in-memory stack cache (and symbol table) before both are reset. */
const STACK_CACHE_LIMIT = 200_000;
const SYMBOL_CACHE_LIMIT = 1_000_000;
/** Entries kept in the stack hints (see SqliteStorage.stackHints) before they are dropped. */
const STACK_HINT_LIMIT = 100_000;
/** profiling_data rows per multi-row INSERT, and the columns of one row. */
const DATA_ROWS_PER_INSERT = 50;
const DATA_COLUMNS = 7;

/** Frames as (symbol number * 2 + 1 for a kernel frame), and the stacks.id they were stored as. */
interface StackHint {
  codes: Int32Array;
  stackId: number;
}
/** Bound parameters per statement when expanding id lists. */
const CHUNK = 500;

const parseJson = <T>(text: unknown, fallback: T): T => {
  if (typeof text !== 'string' || text === '') return fallback;
  try {
    return JSON.parse(text) as T;
  } catch {
    return fallback;
  }
};
const num = (v: unknown): number => Number(v);
const str = (v: unknown): string => (v === null || v === undefined ? '' : String(v));

function chunks<T>(items: readonly T[], size = CHUNK): T[][] {
  const out: T[][] = [];
  for (let i = 0; i < items.length; i += size) out.push(items.slice(i, i + size));
  return out;
}
const placeholders = (n: number): string => new Array<string>(n).fill('?').join(',');

function toService(r: Row): ServiceRecord {
  return {
    id: str(r.id),
    name: str(r.name),
    shortName: str(r.short_name),
    group: str(r.grp),
    normal: num(r.normal) !== 0,
    layers: parseJson<string[]>(r.layers_json, []),
    lastSeen: num(r.last_seen),
  };
}
function toInstance(r: Row): InstanceRecord {
  return {
    id: str(r.id),
    serviceId: str(r.service_id),
    name: str(r.name),
    layer: str(r.layer),
    attributes: parseJson<Array<{ name: string; value: string }>>(r.attributes_json, []),
    lastSeen: num(r.last_seen),
  };
}
function toProcess(r: Row): ProcessRecord {
  return {
    id: str(r.id),
    name: str(r.name),
    serviceId: str(r.service_id),
    serviceName: str(r.service_name),
    instanceId: str(r.instance_id),
    instanceName: str(r.instance_name),
    layer: str(r.layer),
    agentId: str(r.agent_id),
    detectType: str(r.detect_type) as DetectType,
    labels: parseJson<string[]>(r.labels_json, []),
    properties: parseJson<Record<string, string>>(r.properties_json, {}),
    profilingSupported: num(r.profiling_supported) !== 0,
    firstSeen: num(r.first_seen),
    lastSeen: num(r.last_seen),
  };
}
function toTask(r: Row): TaskRecord {
  return {
    taskId: str(r.task_id),
    serviceId: str(r.service_id),
    instanceId: str(r.instance_id),
    processLabels: parseJson<string[]>(r.process_labels_json, []),
    startTime: num(r.start_time),
    triggerType: str(r.trigger_type) as TriggerType,
    targetType: str(r.target_type) as TargetType,
    fixedTriggerDuration: num(r.fixed_trigger_duration),
    createTime: num(r.create_time),
    lastUpdateTime: num(r.last_update_time),
    extensionConfigJson: str(r.extension_config_json),
    continuousProfilingJson: str(r.continuous_profiling_json),
  };
}
function toSchedule(r: Row): ScheduleRecord {
  return {
    scheduleId: str(r.schedule_id),
    taskId: str(r.task_id),
    processId: str(r.process_id),
    startTime: num(r.start_time),
    endTime: num(r.end_time),
  };
}
function toTemplate(r: Row): UiTemplateRecord {
  return {
    id: str(r.id),
    configuration: str(r.configuration),
    activated: num(r.activated) !== 0,
    disabled: num(r.disabled) !== 0,
    updateTime: num(r.update_time),
  };
}

export class SqliteStorage implements Storage {
  readonly path: string;
  private readonly dataDir: string;
  private db: Database.Database | null = null;
  private closed = false;
  private readonly stmtCache = new Map<string, Stmt>();
  /**
   * Write-path cache: a compact key of a frame list (see stackKey) → stacks.id, for committed
   * rows only. A hit skips the canonical JSON, the sha1 and the lookup.
   */
  private readonly stackIds = new Map<string, number>();
  /** symbol → small number, used only to build stackKey (process-local, never stored). */
  private readonly symbolIds = new Map<string, number>();
  /** The symbol table the other way round: number → symbol. */
  private readonly symbolNames: string[] = [];
  /**
   * Fast path before stackKey: profiling_series.id → stackIdList → the frames last stored under
   * that stackIdList and their stacks.id. A stack id of the kernel names the same frames again and
   * again, so comparing the frames with the hint's (string equality, no hashing) usually settles
   * the stack; a mismatch falls back to stackKey. Committed rows only, like stackIds.
   */
  private readonly stackHints = new Map<number, Map<string, StackHint>>();
  private stackHintCount = 0;
  /** scheduleId → profiling_series.id (only committed rows). */
  private readonly seriesIds = new Map<string, number>();
  private writeBatch:
    | ((records: readonly ProfilingDataRecord[]) => {
        stacks: Map<string, number>;
        series: Map<string, number>;
        hints: Array<[number, string, StackHint]>;
      })
    | null = null;

  constructor(options: SqliteStorageOptions) {
    this.dataDir = options.dataDir;
    this.path = join(options.dataDir, options.fileName ?? 'oap-lite.db');
  }

  // ---------------------------------------------------------------- lifecycle

  async init(): Promise<void> {
    if (this.closed) throw new Error('SqliteStorage: init() after close()');
    if (this.db) return;
    mkdirSync(this.dataDir, { recursive: true });
    const db = new Database(this.path);
    try {
      db.pragma('journal_mode = WAL');
      db.pragma('synchronous = NORMAL');
      db.pragma('temp_store = MEMORY');
      db.pragma('cache_size = -32000');
      db.pragma('busy_timeout = 5000');
      this.migrate(db);
    } catch (err) {
      db.close();
      throw err;
    }
    this.db = db;
    this.prepareWriter(db);
  }

  private migrate(db: Database.Database): void {
    db.exec('CREATE TABLE IF NOT EXISTS schema_version (version INTEGER NOT NULL)');
    db.transaction(() => {
      const row = db.prepare('SELECT MAX(version) AS v FROM schema_version').get() as { v: number | null };
      const current = row.v ?? 0;
      if (current > migrations.length) {
        throw new Error(
          `SqliteStorage: ${this.path} has schema version ${current}, newer than this build (${migrations.length})`,
        );
      }
      for (let v = current; v < migrations.length; v++) db.exec(migrations[v]!);
      if (current < migrations.length) {
        db.prepare('DELETE FROM schema_version').run();
        db.prepare('INSERT INTO schema_version (version) VALUES (?)').run(migrations.length);
      }
    }).immediate();
  }

  async close(): Promise<void> {
    this.closed = true;
    const db = this.db;
    this.db = null;
    this.stmtCache.clear();
    this.writeBatch = null;
    if (db && db.open) {
      try {
        db.pragma('optimize');
      } catch {
        /* best effort */
      }
      db.close();
    }
  }

  private get conn(): Database.Database {
    if (!this.db) throw new Error(this.closed ? 'SqliteStorage is closed' : 'SqliteStorage: call init() first');
    return this.db;
  }

  /** A prepared statement, compiled once per SQL text. */
  private stmt(sql: string): Stmt {
    let s = this.stmtCache.get(sql);
    if (!s) {
      if (this.stmtCache.size >= 256) this.stmtCache.clear();
      s = this.conn.prepare(sql) as Stmt;
      this.stmtCache.set(sql, s);
    }
    return s;
  }

  // ---------------------------------------------------------------- services / instances

  async upsertService(service: ServiceRecord): Promise<void> {
    const db = this.conn;
    db.transaction(() => {
      const old = this.stmt('SELECT layers_json, last_seen FROM services WHERE id = ?').get(service.id);
      const layers: string[] = old ? parseJson<string[]>(old.layers_json, []) : [];
      for (const l of service.layers) if (!layers.includes(l)) layers.push(l);
      const lastSeen = old ? Math.max(num(old.last_seen), service.lastSeen) : service.lastSeen;
      this.stmt(
        `INSERT INTO services (id, name, short_name, grp, normal, layers_json, last_seen)
         VALUES (?, ?, ?, ?, ?, ?, ?)
         ON CONFLICT(id) DO UPDATE SET name = excluded.name, short_name = excluded.short_name,
           grp = excluded.grp, normal = excluded.normal, layers_json = excluded.layers_json,
           last_seen = excluded.last_seen`,
      ).run(
        service.id,
        service.name,
        service.shortName,
        service.group,
        service.normal ? 1 : 0,
        JSON.stringify(layers),
        lastSeen,
      );
    })();
  }

  async listServices(layer?: string): Promise<ServiceRecord[]> {
    const rows =
      layer === undefined
        ? this.stmt('SELECT * FROM services ORDER BY name, id').all()
        : this.stmt(
            `SELECT * FROM services
             WHERE EXISTS (SELECT 1 FROM json_each(services.layers_json) WHERE value = ?)
             ORDER BY name, id`,
          ).all(layer);
    return rows.map(toService);
  }

  async getService(id: string): Promise<ServiceRecord | null> {
    const r = this.stmt('SELECT * FROM services WHERE id = ?').get(id);
    return r ? toService(r) : null;
  }

  async upsertInstance(instance: InstanceRecord): Promise<void> {
    this.stmt(
      `INSERT INTO instances (id, service_id, name, layer, attributes_json, last_seen)
       VALUES (?, ?, ?, ?, ?, ?)
       ON CONFLICT(id) DO UPDATE SET service_id = excluded.service_id, name = excluded.name,
         layer = excluded.layer, attributes_json = excluded.attributes_json,
         last_seen = MAX(last_seen, excluded.last_seen)`,
    ).run(
      instance.id,
      instance.serviceId,
      instance.name,
      instance.layer,
      JSON.stringify(instance.attributes ?? []),
      instance.lastSeen,
    );
  }

  async listInstances(serviceId: string, seenSince?: number): Promise<InstanceRecord[]> {
    const rows =
      seenSince === undefined
        ? this.stmt('SELECT * FROM instances WHERE service_id = ? ORDER BY name, id').all(serviceId)
        : this.stmt('SELECT * FROM instances WHERE service_id = ? AND last_seen >= ? ORDER BY name, id').all(
            serviceId,
            seenSince,
          );
    return rows.map(toInstance);
  }

  async getInstance(id: string): Promise<InstanceRecord | null> {
    const r = this.stmt('SELECT * FROM instances WHERE id = ?').get(id);
    return r ? toInstance(r) : null;
  }

  // ---------------------------------------------------------------- processes

  async upsertProcesses(processes: ProcessRecord[]): Promise<void> {
    if (processes.length === 0) return;
    const db = this.conn;
    const insert = this.stmt(
      `INSERT INTO processes (id, name, service_id, service_name, instance_id, instance_name, layer,
         agent_id, detect_type, labels_json, properties_json, profiling_supported, first_seen, last_seen)
       VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
       ON CONFLICT(id) DO UPDATE SET name = excluded.name, service_id = excluded.service_id,
         service_name = excluded.service_name, instance_id = excluded.instance_id,
         instance_name = excluded.instance_name, layer = excluded.layer, agent_id = excluded.agent_id,
         detect_type = excluded.detect_type, labels_json = excluded.labels_json,
         properties_json = excluded.properties_json, profiling_supported = excluded.profiling_supported,
         first_seen = MIN(first_seen, excluded.first_seen), last_seen = excluded.last_seen`,
    );
    db.transaction(() => {
      for (const p of processes) {
        insert.run(
          p.id,
          p.name,
          p.serviceId,
          p.serviceName,
          p.instanceId,
          p.instanceName,
          p.layer,
          p.agentId,
          p.detectType,
          JSON.stringify(p.labels ?? []),
          JSON.stringify(p.properties ?? {}),
          p.profilingSupported ? 1 : 0,
          p.firstSeen,
          p.lastSeen,
        );
      }
    })();
  }

  private processWhere(filter: ProcessFilter): { where: string; params: unknown[] } {
    const conds: string[] = [];
    const params: unknown[] = [];
    if (filter.serviceId !== undefined) {
      conds.push('service_id = ?');
      params.push(filter.serviceId);
    }
    if (filter.instanceId !== undefined) {
      conds.push('instance_id = ?');
      params.push(filter.instanceId);
    }
    if (filter.agentId !== undefined) {
      conds.push('agent_id = ?');
      params.push(filter.agentId);
    }
    if (filter.seenSince !== undefined) {
      conds.push('last_seen >= ?');
      params.push(filter.seenSince);
    }
    if (filter.seenUntil !== undefined) {
      conds.push('last_seen <= ? AND first_seen <= ?');
      params.push(filter.seenUntil, filter.seenUntil);
    }
    if (filter.profilingSupported !== undefined) {
      conds.push('profiling_supported = ?');
      params.push(filter.profilingSupported ? 1 : 0);
    }
    return { where: conds.length ? `WHERE ${conds.join(' AND ')}` : '', params };
  }

  async listProcesses(filter: ProcessFilter): Promise<ProcessRecord[]> {
    const { where, params } = this.processWhere(filter);
    return this.stmt(`SELECT * FROM processes ${where} ORDER BY name, id`)
      .all(...params)
      .map(toProcess);
  }

  async countProcesses(filter: ProcessFilter): Promise<number> {
    const { where, params } = this.processWhere(filter);
    const r = this.stmt(`SELECT COUNT(*) AS n FROM processes ${where}`).get(...params);
    return num(r?.n ?? 0);
  }

  async getProcess(id: string): Promise<ProcessRecord | null> {
    const r = this.stmt('SELECT * FROM processes WHERE id = ?').get(id);
    return r ? toProcess(r) : null;
  }

  async getProcesses(ids: string[]): Promise<ProcessRecord[]> {
    const unique = [...new Set(ids)];
    const out: ProcessRecord[] = [];
    for (const part of chunks(unique)) {
      const rows = this.stmt(`SELECT * FROM processes WHERE id IN (${placeholders(part.length)})`).all(...part);
      for (const r of rows) out.push(toProcess(r));
    }
    return out;
  }

  async addServiceLabels(serviceId: string, labels: string[]): Promise<void> {
    if (labels.length === 0) return;
    const insert = this.stmt('INSERT OR IGNORE INTO service_labels (service_id, label) VALUES (?, ?)');
    this.conn.transaction(() => {
      for (const l of labels) insert.run(serviceId, l);
    })();
  }

  async listServiceLabels(serviceId: string): Promise<string[]> {
    return this.stmt('SELECT label FROM service_labels WHERE service_id = ? ORDER BY label')
      .all(serviceId)
      .map((r) => str(r.label));
  }

  // ---------------------------------------------------------------- tasks and schedules

  async saveTask(task: TaskRecord): Promise<void> {
    this.stmt(
      `INSERT OR REPLACE INTO tasks (task_id, create_time, service_id, instance_id, process_labels_json,
         start_time, trigger_type, target_type, fixed_trigger_duration, last_update_time,
         extension_config_json, continuous_profiling_json)
       VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
    ).run(
      task.taskId,
      task.createTime,
      task.serviceId,
      task.instanceId ?? '',
      JSON.stringify(task.processLabels ?? []),
      task.startTime,
      task.triggerType,
      task.targetType,
      task.fixedTriggerDuration,
      task.lastUpdateTime,
      task.extensionConfigJson ?? '',
      task.continuousProfilingJson ?? '',
    );
  }

  async queryTasks(filter: TaskFilter): Promise<TaskRecord[]> {
    const conds: string[] = [];
    const params: unknown[] = [];
    if (filter.serviceId !== undefined) {
      conds.push('service_id = ?');
      params.push(filter.serviceId);
    }
    if (filter.serviceIds && filter.serviceIds.length > 0) {
      conds.push(`service_id IN (SELECT value FROM json_each(?))`);
      params.push(JSON.stringify(filter.serviceIds));
    }
    if (filter.instanceId !== undefined) {
      conds.push('instance_id = ?');
      params.push(filter.instanceId);
    }
    if (filter.targetTypes && filter.targetTypes.length > 0) {
      conds.push(`target_type IN (${placeholders(filter.targetTypes.length)})`);
      params.push(...filter.targetTypes);
    }
    if (filter.triggerType !== undefined) {
      conds.push('trigger_type = ?');
      params.push(filter.triggerType);
    }
    if (filter.startTimeFrom) {
      conds.push('start_time >= ?');
      params.push(filter.startTimeFrom);
    }
    if (filter.startTimeTo) {
      conds.push('start_time <= ?');
      params.push(filter.startTimeTo);
    }
    if (filter.updatedAfter !== undefined) {
      conds.push('last_update_time > ?');
      params.push(filter.updatedAfter);
    }
    const where = conds.length ? `WHERE ${conds.join(' AND ')}` : '';
    return this.stmt(`SELECT * FROM tasks ${where} ORDER BY create_time DESC, task_id`)
      .all(...params)
      .map(toTask);
  }

  async getTaskRecords(taskId: string): Promise<TaskRecord[]> {
    return this.stmt('SELECT * FROM tasks WHERE task_id = ? ORDER BY create_time DESC').all(taskId).map(toTask);
  }

  async upsertSchedule(schedule: ScheduleRecord): Promise<void> {
    this.stmt(
      `INSERT INTO schedules (schedule_id, task_id, process_id, start_time, end_time)
       VALUES (?, ?, ?, ?, ?)
       ON CONFLICT(schedule_id) DO UPDATE SET end_time = MAX(end_time, excluded.end_time)`,
    ).run(schedule.scheduleId, schedule.taskId, schedule.processId, schedule.startTime, schedule.endTime);
  }

  async querySchedules(taskId: string): Promise<ScheduleRecord[]> {
    return this.stmt('SELECT * FROM schedules WHERE task_id = ? ORDER BY start_time, schedule_id')
      .all(taskId)
      .map(toSchedule);
  }

  // ---------------------------------------------------------------- profiling data

  private prepareWriter(db: Database.Database): void {
    const findStack = db.prepare('SELECT id FROM stacks WHERE hash = ?').pluck();
    const insertStack = db.prepare('INSERT INTO stacks (hash, frames_json) VALUES (?, ?) RETURNING id').pluck();
    const findSeries = db.prepare('SELECT id FROM profiling_series WHERE schedule_id = ?').pluck();
    const insertSeries = db
      .prepare('INSERT INTO profiling_series (schedule_id, task_id) VALUES (?, ?) RETURNING id')
      .pluck();
    const insertSql = (rows: number) =>
      `INSERT OR REPLACE INTO profiling_data (series_id, upload_time, stack_id_list, stack_ref, target_type, cnt, dur)
       VALUES ${new Array<string>(rows).fill('(?, ?, ?, ?, ?, ?, ?)').join(', ')}`;
    // Rows go in groups of DATA_ROWS_PER_INSERT (one statement call per group, rows applied in
    // order, so a later duplicate key still replaces an earlier one); the rest one by one.
    const insertGroup = db.prepare(insertSql(DATA_ROWS_PER_INSERT));
    const insertOne = db.prepare(insertSql(1));
    const group: unknown[] = new Array(DATA_ROWS_PER_INSERT * DATA_COLUMNS);
    const tx = db.transaction((records: readonly ProfilingDataRecord[]) => {
      const newStacks = new Map<string, number>();
      const newSeries = new Map<string, number>();
      const newHints: Array<[number, string, StackHint]> = [];
      let at = 0;
      for (const r of records) {
        let seriesId = this.seriesIds.get(r.scheduleId) ?? newSeries.get(r.scheduleId);
        if (seriesId === undefined) {
          seriesId =
            (findSeries.get(r.scheduleId) as number | undefined) ??
            (insertSeries.get(r.scheduleId, r.taskId) as number);
          newSeries.set(r.scheduleId, seriesId);
        }
        const hint = this.stackHints.get(seriesId)?.get(r.stackIdList);
        let stackId = hint && this.hintMatches(hint, r.frames) ? hint.stackId : undefined;
        if (stackId === undefined) {
          const k = this.stackKey(r.frames);
          stackId = this.stackIds.get(k) ?? newStacks.get(k);
          if (stackId === undefined) {
            const json = canonicalFramesJson(r.frames);
            const hash = createHash('sha1').update(json).digest('hex');
            stackId = (findStack.get(hash) as number | undefined) ?? (insertStack.get(hash, json) as number);
            newStacks.set(k, stackId);
          }
          newHints.push([seriesId, r.stackIdList, this.newHint(r.frames, stackId)]);
        }
        group[at++] = seriesId;
        group[at++] = r.uploadTime;
        group[at++] = r.stackIdList;
        group[at++] = stackId;
        group[at++] = TARGET_CODE[r.targetType];
        group[at++] = r.count;
        group[at++] = r.duration;
        if (at === group.length) {
          insertGroup.run(group);
          at = 0;
        }
      }
      for (let i = 0; i < at; i += DATA_COLUMNS) insertOne.run(group.slice(i, i + DATA_COLUMNS));
      return { stacks: newStacks, series: newSeries, hints: newHints };
    });
    this.writeBatch = (records) => tx.immediate(records);
  }

  /** The symbol's number in the symbol table (see stackKey), added when new. */
  private symbolId(symbol: string): number {
    let id = this.symbolIds.get(symbol);
    if (id === undefined) {
      id = this.symbolNames.length;
      this.symbolIds.set(symbol, id);
      this.symbolNames.push(symbol);
    }
    return id;
  }

  /**
   * An injective key of a frame list: per frame, "K" or "U" then the symbol's number in base 36
   * (digits and lower-case letters, so the capitals separate frames unambiguously).
   */
  private stackKey(frames: readonly StackFrame[]): string {
    let key = '';
    for (let i = 0; i < frames.length; i++) {
      const f = frames[i]!;
      key += (f.stackType === 'KERNEL_SPACE' ? 'K' : 'U') + this.symbolId(f.symbol).toString(36);
    }
    return key;
  }

  /** A hint for frames whose symbols are all in the symbol table (stackKey has just run on them). */
  private newHint(frames: readonly StackFrame[], stackId: number): StackHint {
    const codes = new Int32Array(frames.length);
    for (let i = 0; i < frames.length; i++) {
      const f = frames[i]!;
      codes[i] = this.symbolIds.get(f.symbol)! * 2 + (f.stackType === 'KERNEL_SPACE' ? 1 : 0);
    }
    return { codes, stackId };
  }

  /** Whether the hint's frame list equals `frames` (compares the strings themselves, no hashing). */
  private hintMatches(hint: StackHint, frames: readonly StackFrame[]): boolean {
    const codes = hint.codes;
    if (codes.length !== frames.length) return false;
    for (let i = 0; i < codes.length; i++) {
      const f = frames[i]!;
      const code = codes[i]!;
      if ((code & 1) !== (f.stackType === 'KERNEL_SPACE' ? 1 : 0) || this.symbolNames[code >> 1] !== f.symbol) {
        return false;
      }
    }
    return true;
  }

  private resetStackCache(): void {
    this.stackIds.clear();
    this.symbolIds.clear();
    this.symbolNames.length = 0;
    this.stackHints.clear();
    this.stackHintCount = 0;
  }

  async writeProfilingData(records: ProfilingDataRecord[]): Promise<void> {
    if (!Array.isArray(records)) throw new TypeError('writeProfilingData: records must be an array');
    for (let i = 0; i < records.length; i++) assertValidProfilingRecord(records[i], i);
    if (records.length === 0) return;
    const writeBatch = this.writeBatch;
    if (!writeBatch) throw new Error(this.closed ? 'SqliteStorage is closed' : 'SqliteStorage: call init() first');
    // Ids created inside the transaction only enter the caches once it has committed.
    const { stacks, series, hints } = writeBatch(records);
    if (this.stackIds.size + stacks.size > STACK_CACHE_LIMIT || this.symbolIds.size > SYMBOL_CACHE_LIMIT) {
      // Keys and hints of this batch use the current symbol numbers: drop them with the rest.
      this.resetStackCache();
    } else {
      for (const [k, v] of stacks) this.stackIds.set(k, v);
      if (this.stackHintCount + hints.length > STACK_HINT_LIMIT) {
        this.stackHints.clear();
        this.stackHintCount = 0;
      }
      for (const [seriesId, stackIdList, hint] of hints) {
        let bySeries = this.stackHints.get(seriesId);
        if (!bySeries) this.stackHints.set(seriesId, (bySeries = new Map()));
        if (!bySeries.has(stackIdList)) this.stackHintCount++;
        bySeries.set(stackIdList, hint);
      }
    }
    for (const [k, v] of series) this.seriesIds.set(k, v);
  }

  async queryProfilingStacks(
    scheduleIds: string[],
    ranges: TimeRange[],
    aggregate: 'COUNT' | 'DURATION',
  ): Promise<AggregatedStack[]> {
    const valid = ranges.filter((r) => Number.isFinite(r.start) && Number.isFinite(r.end) && r.start <= r.end);
    if (scheduleIds.length === 0 || valid.length === 0) return [];
    const series: number[] = [];
    for (const part of chunks([...new Set(scheduleIds)])) {
      const ids = this.stmt(`SELECT id FROM profiling_series WHERE schedule_id IN (${placeholders(part.length)})`)
        .all(...part)
        .map((r) => num(r.id));
      series.push(...ids);
    }
    if (series.length === 0) return [];
    if (series.length > CHUNK) {
      // Dedupe must see all schedules at once; a temp table keeps the statement small.
      return this.queryStacksViaTemp(series, valid, aggregate);
    }
    const lo = Math.min(...valid.map((r) => r.start));
    const hi = Math.max(...valid.map((r) => r.end));
    const value = aggregate === 'COUNT' ? 'cnt' : `CASE WHEN target_type = ${TARGET_CODE.ON_CPU} THEN cnt ELSE dur END`;
    const rangeSql = valid.map(() => '(upload_time BETWEEN ? AND ?)').join(' OR ');
    const sql = `
      SELECT s.frames_json AS frames, t.total AS total FROM (
        SELECT stack_ref, SUM(v) AS total, MIN(upload_time) AS first FROM (
          SELECT DISTINCT upload_time, ${value} AS v, stack_ref FROM profiling_data
          WHERE series_id IN (${placeholders(series.length)})
            AND upload_time BETWEEN ? AND ?
            AND (${rangeSql})
        ) GROUP BY stack_ref
      ) t JOIN stacks s ON s.id = t.stack_ref
      ORDER BY t.first, t.stack_ref`;
    const params: number[] = [...series, lo, hi];
    for (const r of valid) params.push(r.start, r.end);
    return this.stmt(sql)
      .raw()
      .all(...params)
      .map((row) => {
        const [frames, total] = row as unknown as [string, number];
        return { frames: JSON.parse(frames) as StackFrame[], value: total };
      });
  }

  private queryStacksViaTemp(
    series: number[],
    ranges: TimeRange[],
    aggregate: 'COUNT' | 'DURATION',
  ): AggregatedStack[] {
    const db = this.conn;
    const value = aggregate === 'COUNT' ? 'cnt' : `CASE WHEN target_type = ${TARGET_CODE.ON_CPU} THEN cnt ELSE dur END`;
    db.exec(
      'CREATE TEMP TABLE IF NOT EXISTS q_series (id INTEGER PRIMARY KEY); CREATE TEMP TABLE IF NOT EXISTS q_ranges (s INTEGER, e INTEGER)',
    );
    return db.transaction(() => {
      db.exec('DELETE FROM q_series; DELETE FROM q_ranges');
      const insS = db.prepare('INSERT OR IGNORE INTO q_series (id) VALUES (?)');
      for (const id of series) insS.run(id);
      const insR = db.prepare('INSERT INTO q_ranges (s, e) VALUES (?, ?)');
      for (const r of ranges) insR.run(r.start, r.end);
      const rows = db
        .prepare(
          `SELECT s.frames_json AS frames, t.total AS total FROM (
             SELECT stack_ref, SUM(v) AS total, MIN(upload_time) AS first FROM (
               SELECT DISTINCT d.upload_time, ${value} AS v, d.stack_ref FROM q_series q
               JOIN profiling_data d ON d.series_id = q.id
               WHERE EXISTS (SELECT 1 FROM q_ranges r WHERE d.upload_time BETWEEN r.s AND r.e)
             ) GROUP BY stack_ref
           ) t JOIN stacks s ON s.id = t.stack_ref
           ORDER BY t.first, t.stack_ref`,
        )
        .raw()
        .all() as Array<[string, number]>;
      db.exec('DELETE FROM q_series; DELETE FROM q_ranges');
      return rows.map(([frames, total]) => ({ frames: JSON.parse(frames) as StackFrame[], value: total }));
    })();
  }

  // ---------------------------------------------------------------- continuous profiling, UI templates

  async savePolicy(policy: ContinuousPolicyRecord): Promise<void> {
    this.stmt(
      `INSERT OR REPLACE INTO policies (service_id, uuid, configuration_json, update_time) VALUES (?, ?, ?, ?)`,
    ).run(policy.serviceId, policy.uuid, policy.configurationJson, policy.updateTime);
  }

  async getPolicies(serviceIds: string[]): Promise<ContinuousPolicyRecord[]> {
    const out: ContinuousPolicyRecord[] = [];
    for (const part of chunks([...new Set(serviceIds)])) {
      const rows = this.stmt(
        `SELECT * FROM policies WHERE service_id IN (${placeholders(part.length)}) ORDER BY service_id`,
      ).all(...part);
      for (const r of rows) {
        out.push({
          serviceId: str(r.service_id),
          uuid: str(r.uuid),
          configurationJson: str(r.configuration_json),
          updateTime: num(r.update_time),
        });
      }
    }
    return out;
  }

  async saveUiTemplate(template: UiTemplateRecord): Promise<void> {
    this.stmt(
      `INSERT OR REPLACE INTO ui_templates (id, configuration, activated, disabled, update_time) VALUES (?, ?, ?, ?, ?)`,
    ).run(
      template.id,
      template.configuration,
      template.activated ? 1 : 0,
      template.disabled ? 1 : 0,
      template.updateTime,
    );
  }

  async getUiTemplate(id: string): Promise<UiTemplateRecord | null> {
    const r = this.stmt('SELECT * FROM ui_templates WHERE id = ?').get(id);
    return r ? toTemplate(r) : null;
  }

  async listUiTemplates(includeDisabled: boolean): Promise<UiTemplateRecord[]> {
    const rows = includeDisabled
      ? this.stmt('SELECT * FROM ui_templates ORDER BY id').all()
      : this.stmt('SELECT * FROM ui_templates WHERE disabled = 0 ORDER BY id').all();
    return rows.map(toTemplate);
  }

  // ---------------------------------------------------------------- metrics

  async addMetricValues(records: MetricValueRecord[]): Promise<void> {
    const merged = mergeMetricValues(records);
    if (merged.length === 0) return;
    const add = this.stmt(
      `INSERT INTO metric_values (metric, entity_id, time_bucket, labels, service_id, summation, cnt)
       VALUES (?, ?, ?, ?, ?, ?, ?)
       ON CONFLICT (metric, entity_id, time_bucket, labels) DO UPDATE SET
         service_id = excluded.service_id,
         summation = summation + excluded.summation,
         cnt = cnt + excluded.cnt`,
    );
    this.conn.transaction(() => {
      for (const r of merged) {
        add.run(r.metric, r.entityId, r.timeBucket, labelsKey(r.labels), r.serviceId, r.summation, r.count);
      }
    })();
  }

  async queryMetricValues(metric: string, entityId: string, range: TimeRange): Promise<MetricValueRecord[]> {
    return this.stmt(
      `SELECT * FROM metric_values WHERE metric = ? AND entity_id = ? AND time_bucket BETWEEN ? AND ?
       ORDER BY time_bucket, labels`,
    )
      .all(metric, entityId, range.start, range.end)
      .map((r) => ({
        metric: str(r.metric),
        entityId: str(r.entity_id),
        serviceId: str(r.service_id),
        timeBucket: num(r.time_bucket),
        labels: labelsFromKey(str(r.labels)),
        summation: num(r.summation),
        count: num(r.cnt),
      }));
  }

  // ---------------------------------------------------------------- TTL

  async deleteExpired(recordsBefore: number, metricsBefore: number): Promise<number> {
    const db = this.conn;
    let dataDeleted = 0;
    const total = db
      .transaction(() => {
        let n = 0;
        const delData = this.stmt('DELETE FROM profiling_data WHERE series_id = ? AND upload_time < ?');
        for (const r of this.stmt('SELECT id FROM profiling_series').all()) {
          dataDeleted += delData.run(r.id, recordsBefore).changes;
        }
        n += dataDeleted;
        n += this.stmt('DELETE FROM schedules WHERE end_time < ?').run(recordsBefore).changes;
        n += this.stmt('DELETE FROM tasks WHERE create_time < ?').run(recordsBefore).changes;
        n += this.stmt('DELETE FROM processes WHERE last_seen < ?').run(metricsBefore).changes;
        n += this.stmt('DELETE FROM instances WHERE last_seen < ?').run(metricsBefore).changes;
        n += this.stmt('DELETE FROM services WHERE last_seen < ?').run(metricsBefore).changes;
        n += this.stmt('DELETE FROM metric_values WHERE time_bucket < ?').run(metricsBefore).changes;
        if (dataDeleted > 0) {
          // Interned rows no stored record uses any more (internal, not counted).
          this.stmt('DELETE FROM stacks WHERE id NOT IN (SELECT stack_ref FROM profiling_data)').run();
          this.stmt('DELETE FROM profiling_series WHERE id NOT IN (SELECT series_id FROM profiling_data)').run();
        }
        return n;
      })
      .immediate();
    if (dataDeleted > 0) {
      this.resetStackCache();
      this.seriesIds.clear();
    }
    return total;
  }
}
