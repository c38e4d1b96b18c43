/**
 * Continuous profiling, with upstream rover's behaviour (pkg/profiling/continuous):
 *
 * - policies: every policy interval the services of the reported processes are sent to
 *   `queryPolicies` with the UUID held for each; a ContinuousProfilingPolicyQuery answer replaces
 *   the policies of the services it lists;
 * - fetch (every fetch interval, 1 s): CPU percent and thread count of each watched process and
 *   the system load from /proc, one value per second; HTTP exchanges of watched processes come
 *   from the eBPF HTTP observation as they happen and are folded per second;
 * - check (every check interval, 5 s): an item matches when at least `count` of its last `period`
 *   seconds cross the threshold; the causes of one process and one target become one report
 *   (`reportProfilingTask`), the task it returns runs locally for the execute duration, and that
 *   process+target stays silent while it runs and until the silence duration has passed since it
 *   started; items of a target this rover cannot run (its kernel check says why, logged once)
 *   are metered but never trigger, so no task is reported that would get no data;
 * - meters: the values not sent yet go to MeterReportService.collectBatch every check
 *   (`<prefix>_process_cpu`, ... with process_name, layer and uri labels), which the OAP's
 *   continuous-profiling MAL rules (and oap-lite) turn into `continuous_profiling_*` metrics.
 *
 * One deliberate difference: PROCESS_CPU is the CPU percent of the last fetch interval; upstream
 * uses gopsutil's CPUPercent, the average over the process's whole life, which a long-idle
 * process that starts spinning would take hours to move.
 */
import type {
  ContinuousProfilingCause,
  ContinuousProfilingReport,
  MeterData,
  ProfilingTargetType,
} from '@swlite/protocol';
import type { Logger } from 'pino';
import type { BackendConnection } from '../backend/connection';
import type { ReportedProcess, ProcessReporter } from '../process/reporter';
import type { TargetRegistry } from '../profiling/targets/registry';
import type { ProfilingTask } from '../profiling/task-command';
import type { TaskManager } from '../profiling/task-manager';
import {
  HTTP_CHECK_TYPES,
  parsePolicies,
  policyJsonOf,
  type CheckType,
  type PolicyItem,
  type ServicePolicy,
} from './policy';
import { cpuPercent, readLoad1, readProcStat, type ProcStat } from './procstat';
import { avgResponseTime, errorRate, httpWindow, latestValueWindow, type HttpSlot, type SecondWindow } from './windows';

export interface ContinuousOptions {
  meterPrefix: string;
  fetchIntervalMs: number;
  checkIntervalMs: number;
  /** How often policies are fetched (upstream: the profiling task check interval). */
  policyIntervalMs: number;
  executeDurationMs: number;
  silenceDurationMs: number;
  /** Each target says how a report names it and whether this rover can run it. */
  targets: Pick<TargetRegistry, 'get'>;
  log: Logger;
  /** The HTTP observation (null: HTTP checks get no data). Created lazily when an HTTP item needs it. */
  httpObserver?: (onExchange: (e: ObservedExchange) => void) => HttpObservation;
  now?: () => number;
  /** Reads one process's /proc values (default: /proc/PID/stat). */
  readProcess?: (pid: number) => ProcStat;
}

export interface ObservedExchange {
  pid: number;
  uri: string;
  status: number;
  startMs: number;
  durationMs: number;
}

/** What the module needs of an HTTP observer (bpf's HttpObserver fits). */
export interface HttpObservation {
  start(pids: number[]): void;
  addTarget(pid: number): void;
  removeTarget(pid: number): void;
  stop(): void;
  /** Kernel/user counters (records, ring buffer drops), logged with the totals. */
  stats?(): object;
}

export interface Meter {
  name: string;
  service: string;
  instance: string;
  labels: Record<string, string>;
  value: number;
  timestamp: number;
}

export interface TriggeredTask {
  taskId: string;
  processId: string;
  pid: number;
  target: ProfilingTargetType;
  causes: ContinuousProfilingCause[];
  at: number;
}

interface Cause {
  item: PolicyItem;
  transfer: ContinuousProfilingCause;
}

const MONITOR_TYPE: Record<CheckType, ContinuousProfilingCause['type']> = {
  PROCESS_CPU: 'ProcessCPU',
  PROCESS_THREAD_COUNT: 'ProcessThreadCount',
  SYSTEM_LOAD: 'SystemLoad',
  HTTP_ERROR_RATE: 'HTTPErrorRate',
  HTTP_AVG_RESPONSE_TIME: 'HTTPAvgResponseTime',
};

/** HTTP windows of one item of one process: one per listed URI, or one for all (regex-filtered) URIs. */
interface HttpItemWindows {
  item: PolicyItem;
  byUri: Map<string, SecondWindow<HttpSlot, HttpSlot>>;
  all: SecondWindow<HttpSlot, HttpSlot> | null;
}

interface TriggerState {
  /** A report is in flight or the task runs / is silent until this time. */
  busyUntil: number;
}

const itemKey = (i: PolicyItem): string =>
  `${i.service}\u0000${i.target}\u0000${i.type}\u0000${i.uriList.join('\u0001')}\u0000${i.uriRegexText}`;

export class ContinuousProfiling {
  private readonly policies = new Map<string, ServicePolicy>();
  /** pid → check type → window of per-second values (CPU, threads). */
  private readonly processWindows = new Map<number, Map<CheckType, SecondWindow<{ v: number }, number>>>();
  private readonly cpuPrev = new Map<number, { ticks: number; atMs: number }>();
  private systemLoad: SecondWindow<{ v: number }, number> | null = null;
  /** pid → item key → HTTP windows. */
  private readonly httpWindows = new Map<number, Map<string, HttpItemWindows>>();
  private observer: HttpObservation | null = null;
  private observerFailed = false;
  private readonly observed = new Set<number>();
  /** pid → exchanges and errors (status >= 500) observed since watched. */
  private readonly totals = new Map<number, { exchanges: number; errors: number }>();
  /** target → processId → trigger state. */
  private readonly triggers = new Map<ProfilingTargetType, Map<string, TriggerState>>();
  /** Targets this rover cannot run, already logged as such. */
  private readonly unavailableLogged = new Set<ProfilingTargetType>();
  private readonly timers: NodeJS.Timeout[] = [];
  private lastMeters: Meter[] = [];
  private meterFailure = false;
  private syncing: Promise<void> | undefined;
  private checking: Promise<void> | undefined;
  private readonly fetchErrors = new Set<string>();
  readonly triggered: TriggeredTask[] = [];
  private readonly now: () => number;
  private readonly readProcess: (pid: number) => ProcStat;
  /** The reporter's version the windows were last reconciled with. */
  private reconciledWith: number | undefined;

  constructor(
    private readonly backend: Pick<BackendConnection, 'queryPolicies' | 'reportProfilingTask' | 'collectMeters'>,
    /** Without `version`, every fetch reconciles the windows with the reported processes. */
    private readonly reporter: Pick<ProcessReporter, 'all'> & Partial<Pick<ProcessReporter, 'version'>>,
    private readonly tasks: Pick<TaskManager, 'runLocalTask'>,
    private readonly options: ContinuousOptions,
  ) {
    this.now = options.now ?? Date.now;
    this.readProcess = options.readProcess ?? ((pid) => readProcStat(pid));
  }

  start(): void {
    const every = (ms: number, fn: () => unknown) => {
      const t = setInterval(() => void fn(), ms);
      t.unref?.();
      this.timers.push(t);
    };
    every(this.options.policyIntervalMs, () => this.syncPolicies());
    every(this.options.fetchIntervalMs, () => this.fetch());
    every(this.options.checkIntervalMs, () => this.check());
    void this.syncPolicies();
  }

  stop(): void {
    for (const t of this.timers) clearInterval(t);
    this.timers.length = 0;
    this.observer?.stop();
    this.observer = null;
    this.observed.clear();
  }

  /** The policies held now, per service. */
  currentPolicies(): ServicePolicy[] {
    return [...this.policies.values()];
  }

  /** HTTP exchanges and errors observed per watched pid. */
  httpTotals(): Map<number, { exchanges: number; errors: number }> {
    return new Map([...this.totals].map(([pid, t]) => [pid, { ...t }]));
  }

  /** The meters of the latest check (what upstream sends with the Meter protocol). */
  meters(): Meter[] {
    return this.lastMeters;
  }

  // ---- policies ----

  /** One policy round; concurrent callers share it. */
  syncPolicies(): Promise<void> {
    this.syncing ??= this.syncOnce().finally(() => (this.syncing = undefined));
    return this.syncing;
  }

  private async syncOnce(): Promise<void> {
    const services = new Set(this.reporter.all().map((r) => r.process.serviceName));
    for (const s of [...this.policies.keys()]) if (!services.has(s)) this.policies.delete(s);
    if (services.size > 0) {
      let answer;
      try {
        answer = await this.backend.queryPolicies({
          policies: [...services].map((serviceName) => ({
            serviceName,
            uuid: this.policies.get(serviceName)?.uuid ?? '',
          })),
        });
      } catch (err) {
        this.options.log.debug(
          { err: (err as Error).message },
          'cannot query continuous profiling policies; will retry',
        );
        return;
      }
      for (const command of answer.commands) {
        const json = policyJsonOf(command);
        if (json === null) continue;
        let parsed;
        try {
          parsed = parsePolicies(json);
        } catch (err) {
          this.options.log.warn(
            { err: (err as Error).message },
            'ignored a malformed continuous profiling policy command',
          );
          continue;
        }
        for (const p of parsed.problems) this.options.log.warn(p, 'ignored a continuous profiling policy item');
        for (const policy of parsed.policies) {
          this.policies.set(policy.service, policy);
          this.options.log.info(
            {
              service: policy.service,
              uuid: policy.uuid.slice(0, 12),
              items: policy.items.map((i) => `${i.target}/${i.type}`),
            },
            'continuous profiling policy updated',
          );
        }
      }
    }
    this.reconcile();
  }

  private anyItem(): boolean {
    for (const p of this.policies.values()) if (p.items.length > 0) return true;
    return false;
  }

  /** Items of the processes reported now, with their process. */
  private watched(): Array<{ proc: ReportedProcess; items: PolicyItem[] }> {
    const out: Array<{ proc: ReportedProcess; items: PolicyItem[] }> = [];
    for (const proc of this.reporter.all()) {
      const items = this.policies.get(proc.process.serviceName)?.items ?? [];
      if (items.length > 0) out.push({ proc, items });
    }
    return out;
  }

  /** Windows and HTTP observation follow the policies and the processes. */
  private reconcile(): void {
    this.reconciledWith = this.reporter.version;
    const watched = this.watched();
    const procTypes = new Map<number, Map<CheckType, number>>();
    const http = new Map<number, PolicyItem[]>();
    let loadPeriod = 0;
    for (const { proc, items } of watched) {
      const pid = proc.process.pid;
      for (const item of items) {
        if (item.type === 'SYSTEM_LOAD') loadPeriod = Math.max(loadPeriod, item.period);
        else if (HTTP_CHECK_TYPES.includes(item.type)) {
          const list = http.get(pid) ?? [];
          list.push(item);
          http.set(pid, list);
        } else {
          const types = procTypes.get(pid) ?? new Map<CheckType, number>();
          types.set(item.type, Math.max(types.get(item.type) ?? 0, item.period));
          procTypes.set(pid, types);
        }
      }
    }
    // process windows: keep existing data, resize to the longest period
    for (const pid of [...this.processWindows.keys()]) {
      if (!procTypes.has(pid)) {
        this.processWindows.delete(pid);
        this.cpuPrev.delete(pid);
      }
    }
    for (const [pid, types] of procTypes) {
      const windows = this.processWindows.get(pid) ?? new Map();
      for (const t of [...windows.keys()]) if (!types.has(t)) windows.delete(t);
      for (const [t, period] of types) {
        const w = windows.get(t);
        if (w) w.resize(period);
        else windows.set(t, latestValueWindow(period));
      }
      this.processWindows.set(pid, windows);
    }
    if (loadPeriod === 0) this.systemLoad = null;
    else if (this.systemLoad) this.systemLoad.resize(loadPeriod);
    else this.systemLoad = latestValueWindow(loadPeriod);

    // HTTP windows: an item with the same filter keeps its windows
    for (const pid of [...this.httpWindows.keys()]) {
      if (!http.has(pid)) {
        this.httpWindows.delete(pid);
        this.totals.delete(pid);
      }
    }
    for (const [pid, items] of http) {
      const old = this.httpWindows.get(pid) ?? new Map<string, HttpItemWindows>();
      const next = new Map<string, HttpItemWindows>();
      for (const item of items) {
        const key = itemKey(item);
        const existing = old.get(key);
        if (existing) {
          existing.item = item;
          for (const w of existing.byUri.values()) w.resize(item.period);
          existing.all?.resize(item.period);
          next.set(key, existing);
        } else {
          next.set(key, {
            item,
            byUri: new Map(item.uriList.map((u) => [u, httpWindow(item.period)])),
            all: item.uriList.length > 0 ? null : httpWindow(item.period),
          });
        }
      }
      this.httpWindows.set(pid, next);
    }
    this.reconcileObserver([...http.keys()]);
  }

  private reconcileObserver(pids: number[]): void {
    const want = new Set(pids);
    if (want.size === 0) {
      if (this.observer) {
        this.observer.stop();
        this.observer = null;
        this.observed.clear();
        this.options.log.info('HTTP observation stopped (no HTTP policy items)');
      }
      return;
    }
    if (!this.observer) {
      if (this.observerFailed || !this.options.httpObserver) return;
      try {
        const observer = this.options.httpObserver((e) => this.onExchange(e));
        observer.start([...want]);
        this.observer = observer;
        for (const p of want) this.observed.add(p);
        this.options.log.info({ pids: [...want] }, 'HTTP observation started');
      } catch (err) {
        this.observerFailed = true;
        this.options.log.warn(
          { err: (err as Error).message },
          'cannot start the HTTP observation; HTTP checks will see no data',
        );
      }
      return;
    }
    for (const p of want) {
      if (!this.observed.has(p)) {
        this.observer.addTarget(p);
        this.observed.add(p);
      }
    }
    for (const p of [...this.observed]) {
      if (!want.has(p)) {
        this.observer.removeTarget(p);
        this.observed.delete(p);
      }
    }
  }

  /** One observed exchange goes to the windows of the items it matches (upstream's ReceiveBufferEvent). */
  onExchange(e: ObservedExchange): void {
    const items = this.httpWindows.get(e.pid);
    if (!items) return;
    const total = this.totals.get(e.pid) ?? { exchanges: 0, errors: 0 };
    total.exchanges++;
    if (e.status >= 500) total.errors++;
    this.totals.set(e.pid, total);
    const now = this.now();
    for (const w of items.values()) {
      let window: SecondWindow<HttpSlot, HttpSlot> | null | undefined;
      if (w.byUri.size > 0) window = w.byUri.get(e.uri);
      else if (w.item.uriRegex && !w.item.uriRegex.test(e.uri)) continue;
      else window = w.all;
      const slot = window?.slot(e.startMs, Math.max(now, e.startMs));
      if (!slot) continue;
      slot.total++;
      if (e.status >= 500) slot.errors++;
      slot.durationMs += e.durationMs;
    }
  }

  // ---- fetch ----

  /**
   * One sample of every watched process (and the system load), into the current second: one
   * /proc/PID/stat read per process shared by all its items, loadavg once, nothing without items.
   */
  fetch(): void {
    // Without any item (and nothing left from earlier ones) there is nothing to follow: no walk
    // over the reported processes every second.
    if (!this.anyItem() && this.processWindows.size === 0 && this.httpWindows.size === 0 && !this.systemLoad) return;
    // Policies reconcile when they change (syncOnce); here only a changed process set does.
    if (this.reporter.version === undefined || this.reporter.version !== this.reconciledWith) this.reconcile();
    const now = this.now();
    for (const [pid, windows] of this.processWindows) {
      let stat;
      try {
        stat = this.readProcess(pid);
      } catch (err) {
        const key = `${pid}`;
        if (!this.fetchErrors.has(key)) {
          this.fetchErrors.add(key);
          this.options.log.debug({ pid, err: (err as Error).message }, 'cannot read process values');
        }
        continue;
      }
      const threads = windows.get('PROCESS_THREAD_COUNT');
      if (threads) threads.slot(now)!.v = stat.threads;
      const cpu = windows.get('PROCESS_CPU');
      const prev = this.cpuPrev.get(pid);
      const sample = { ticks: stat.cpuTicks, atMs: now };
      this.cpuPrev.set(pid, sample);
      if (cpu && prev) {
        const percent = cpuPercent(prev, sample);
        if (percent !== null) cpu.slot(now)!.v = percent;
      }
    }
    if (this.systemLoad) {
      try {
        this.systemLoad.slot(now)!.v = readLoad1();
      } catch (err) {
        this.options.log.debug({ err: (err as Error).message }, 'cannot read the system load');
      }
    }
  }

  // ---- check ----

  /** One check round; concurrent callers share it. Resolves when triggered tasks were reported. */
  check(): Promise<void> {
    this.checking ??= this.checkOnce().finally(() => (this.checking = undefined));
    return this.checking;
  }

  private shouldTrigger(target: ProfilingTargetType, processId: string, now: number): boolean {
    if (!this.canRun(target)) return false;
    const state = this.triggers.get(target)?.get(processId);
    return !state || now >= state.busyUntil;
  }

  /** A target this rover cannot run is metered but never triggered (no task reported for nothing). */
  private canRun(target: ProfilingTargetType): boolean {
    const reason = this.options.targets.get(target).unavailable();
    if (reason && !this.unavailableLogged.has(target)) {
      this.unavailableLogged.add(target);
      this.options.log.warn({ target, reason }, `continuous profiling will not trigger ${target} tasks: ${reason}`);
    }
    return reason === null;
  }

  private async checkOnce(): Promise<void> {
    const now = this.now();
    for (const states of this.triggers.values()) {
      for (const [processId, state] of states) if (now >= state.busyUntil) states.delete(processId);
    }
    const meters: Meter[] = [];
    const meter = (proc: ReportedProcess, type: CheckType, value: number, labels: Record<string, string> = {}) => {
      if (!Number.isFinite(value)) return;
      meters.push({
        name: `${this.options.meterPrefix}_${type.toLowerCase()}`,
        service: proc.process.serviceName,
        instance: proc.process.instanceName,
        labels: { ...labels, process_name: proc.process.processName, layer: proc.process.layer },
        value,
        timestamp: now,
      });
    };
    // target → processId → causes
    const found = new Map<ProfilingTargetType, Map<string, { proc: ReportedProcess; causes: Cause[] }>>();
    const add = (proc: ReportedProcess, item: PolicyItem, transfer: ContinuousProfilingCause) => {
      const byProc = found.get(item.target) ?? new Map();
      found.set(item.target, byProc);
      const entry = byProc.get(proc.processId) ?? { proc, causes: [] };
      entry.causes.push({ item, transfer });
      byProc.set(proc.processId, entry);
    };
    const single = (item: PolicyItem, current: number): ContinuousProfilingCause => ({
      type: MONITOR_TYPE[item.type],
      singleValue: { threshold: item.threshold, current },
    });
    const uriCause = (
      item: PolicyItem,
      uri: { path?: string; regex?: string },
      current: number,
    ): ContinuousProfilingCause => ({
      type: MONITOR_TYPE[item.type],
      uri: { ...uri, threshold: item.threshold, current },
    });

    // As upstream: the system load is flushed once per check and metered for every process watching it.
    const load = this.systemLoad?.flush(now).at(-1);
    for (const { proc, items } of this.watched()) {
      const pid = proc.process.pid;
      const metered = new Set<string>();
      for (const item of items) {
        const window =
          item.type === 'SYSTEM_LOAD'
            ? this.systemLoad
            : HTTP_CHECK_TYPES.includes(item.type)
              ? null
              : this.processWindows.get(pid)?.get(item.type);
        if (window) {
          if (!metered.has(item.type)) {
            metered.add(item.type);
            // The newest second not sent yet (upstream's FlushMostRecentData).
            const latest = item.type === 'SYSTEM_LOAD' ? load : window.flush(now).at(-1);
            if (latest) meter(proc, item.type, latest.value);
          }
          if (!this.shouldTrigger(item.target, proc.processId, now)) continue;
          const m = window.match(item.period, item.count, now, (v) => v >= item.threshold);
          if (m.matched && m.last !== undefined) add(proc, item, single(item, m.last));
          continue;
        }
        const http = this.httpWindows.get(pid)?.get(itemKey(item));
        if (!http) continue;
        const value = item.type === 'HTTP_ERROR_RATE' ? errorRate : avgResponseTime;
        // Every second not sent yet, one meter each (upstream's FlushMultipleRecentData).
        const uriLabel = item.uriRegexText || 'global';
        for (const [uri, w] of http.byUri)
          for (const s of w.flush(now)) meter(proc, item.type, value(s.value), { uri });
        if (http.all) for (const s of http.all.flush(now)) meter(proc, item.type, value(s.value), { uri: uriLabel });
        if (!this.shouldTrigger(item.target, proc.processId, now)) continue;
        for (const [uri, w] of http.byUri) {
          const m = w.match(item.period, item.count, now, (s) => value(s) >= item.threshold);
          if (m.matched && m.last !== undefined) add(proc, item, uriCause(item, { path: uri }, value(m.last)));
        }
        if (http.all) {
          const m = http.all.match(item.period, item.count, now, (s) => value(s) >= item.threshold);
          if (m.matched && m.last !== undefined) {
            add(proc, item, uriCause(item, item.uriRegex ? { regex: item.uriRegexText } : { path: '' }, value(m.last)));
          }
        }
      }
    }
    this.lastMeters = meters;
    if (meters.length > 0) void this.sendMeters(meters);
    if (this.observer && this.totals.size > 0) {
      this.options.log.debug(
        { totals: Object.fromEntries(this.totals), observer: this.observer.stats?.() },
        'http observation totals',
      );
    }
    const reports: Array<Promise<(() => void) | null>> = [];
    for (const [target, byProc] of found) {
      for (const { proc, causes } of byProc.values()) {
        reports.push(this.trigger(target, proc, causes, now));
      }
    }
    // Tasks start once every report of this round is answered: starting a sampler loads BPF
    // programs synchronously (the verifier may take a while), which must not hold up the
    // answers of reports still in flight (a missed deadline would report the task twice).
    for (const start of await Promise.all(reports)) start?.();
  }

  /**
   * One collectBatch stream per check, one MeterDataCollection per service instance, as upstream's
   * MetricsAppender. Not retried (upstream drops them too): the next check sends fresh values.
   */
  private async sendMeters(meters: Meter[]): Promise<void> {
    const byInstance = new Map<string, MeterData[]>();
    for (const m of meters) {
      const key = `${m.service}\u0000${m.instance}`;
      const list = byInstance.get(key) ?? [];
      list.push({
        service: m.service,
        serviceInstance: m.instance,
        timestamp: m.timestamp,
        singleValue: {
          name: m.name,
          labels: Object.entries(m.labels).map(([name, value]) => ({ name, value })),
          value: m.value,
        },
      });
      byInstance.set(key, list);
    }
    try {
      await this.backend.collectMeters([...byInstance.values()].map((meterData) => ({ meterData })));
      if (this.meterFailure) this.options.log.info('continuous profiling meters are sent again');
      this.meterFailure = false;
    } catch (err) {
      if (!this.meterFailure) {
        this.options.log.warn(
          { err: (err as Error).message },
          'flush the continuous profiling meters failed; dropping them until the backend answers',
        );
      }
      this.meterFailure = true;
    }
  }

  /** Reports the task; resolves with what starts it locally (null when not reported). */
  private async trigger(
    target: ProfilingTargetType,
    proc: ReportedProcess,
    causes: Cause[],
    now: number,
  ): Promise<(() => void) | null> {
    const states = this.triggers.get(target) ?? new Map<string, TriggerState>();
    this.triggers.set(target, states);
    if (!this.shouldTrigger(target, proc.processId, now)) return null;
    const state: TriggerState = { busyUntil: Number.POSITIVE_INFINITY };
    states.set(proc.processId, state);
    const durationSeconds = Math.max(1, Math.floor(this.options.executeDurationMs / 1000));
    const transfer = causes.map((c) => c.transfer);
    const report: ContinuousProfilingReport = {
      layer: proc.process.layer,
      serviceName: proc.process.serviceName,
      instanceName: proc.process.instanceName,
      processName: proc.process.processName,
      causes: transfer,
      duration: durationSeconds,
      ...this.options.targets.get(target).continuousReport,
    };
    let taskId: string | undefined;
    try {
      const answer = await this.backend.reportProfilingTask(report);
      const command = answer.commands.length === 1 ? answer.commands[0] : undefined;
      if (command?.command === 'ContinuousProfilingReportTask') {
        taskId = command.args.find((a) => a.key === 'TaskId')?.value;
      }
      if (!taskId)
        throw new Error(`unexpected answer: ${answer.commands.map((c) => c.command).join(', ') || 'no command'}`);
    } catch (err) {
      // As upstream: not cached, so the next check may report it again.
      states.delete(proc.processId);
      this.options.log.warn(
        { processId: proc.processId, err: (err as Error).message },
        'cannot report the continuous profiling task',
      );
      return null;
    }
    const startTime = this.now();
    // Upstream: no new task while this one runs, nor until the silence has passed since it started.
    state.busyUntil = startTime + Math.max(durationSeconds * 1000, this.options.silenceDurationMs);
    this.triggered.push({
      taskId,
      processId: proc.processId,
      pid: proc.process.pid,
      target,
      causes: transfer,
      at: startTime,
    });
    this.options.log.info(
      {
        taskId,
        target,
        pid: proc.process.pid,
        process: proc.process.processName,
        causes: causes.map((c) => c.item.type),
        durationSeconds,
      },
      'continuous profiling triggered a task',
    );
    const task: ProfilingTask = {
      taskId,
      processIds: [proc.processId],
      updateTime: startTime,
      triggerType: 'CONTINUOUS_PROFILING',
      targetType: target,
      startTime,
      durationSeconds,
    };
    return () => {
      try {
        this.tasks.runLocalTask(task, [{ processId: proc.processId, pid: proc.process.pid }]);
      } catch (err) {
        this.options.log.warn({ taskId, err: (err as Error).message }, 'cannot run the continuous profiling task');
      }
    };
  }
}
