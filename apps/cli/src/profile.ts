/** The `profile` and `flamegraph` flows: create a task, follow it, fetch its trees, write the files. */
import { PROFILING_TRIGGER_TYPES, type ProfilingTargetType, type ProfilingTriggerType } from '@swlite/protocol';
import type { AggregateType, OapApi, Schedule, Service, Task } from './api';
import { UserError } from './errors';
import { writeProfileFiles, type WrittenFile } from './output';
import type { Printer } from './printer';
import { progressBar, sleep } from './progress';
import { buildFlameGraph, formatValue, hottestFrames, percent, type FlameNode, type ValueUnit } from './render/index';
import { compactTable } from './tables';
import { TARGET_VIEWS } from './targets';

const stamp = (t: number) => {
  const d = new Date(t);
  const p = (n: number) => String(n).padStart(2, '0');
  return `${d.getFullYear()}-${p(d.getMonth() + 1)}-${p(d.getDate())} ${p(d.getHours())}:${p(d.getMinutes())}:${p(d.getSeconds())}`;
};
export const formatTime = stamp;

const kb = (bytes: number) =>
  bytes >= 1024 * 1024 ? `${(bytes / 1024 / 1024).toFixed(1)} MiB` : `${(bytes / 1024).toFixed(1)} KiB`;

const unitOf = (aggregate: AggregateType): ValueUnit => (aggregate === 'DURATION' ? 'nanoseconds' : 'samples');

interface TaskWindow {
  taskId: string;
  startTime: number;
  /** Seconds; null for continuous-profiling tasks. */
  durationSec: number | null;
}

/** The time range the analysis covers: the task's whole window and every schedule. */
const analysisRange = (task: TaskWindow, schedules: Schedule[], now: number) => {
  let start = task.startTime > 0 ? task.startTime : now;
  let end = task.durationSec ? task.startTime + task.durationSec * 1000 : now;
  for (const s of schedules) {
    start = Math.min(start, Number(s.startTime));
    end = Math.max(end, Number(s.endTime));
  }
  return { start, end: Math.max(end, now) };
};

export interface TaskProfile {
  root: FlameNode;
  schedules: Schedule[];
  range: { start: number; end: number };
  tip: string | null;
}

/** Schedules and merged trees of a task; `root.total` is 0 when the task has no data (yet). */
export const fetchTaskProfile = async (
  api: OapApi,
  task: TaskWindow,
  aggregate: AggregateType,
): Promise<TaskProfile> => {
  const schedules = await api.schedules(task.taskId);
  const range = analysisRange(task, schedules, Date.now());
  if (!schedules.length) return { root: buildFlameGraph([]), schedules, range, tip: null };
  const analysis = await api.analysis(
    schedules.map((s) => s.scheduleId),
    [range],
    aggregate,
  );
  return {
    root: buildFlameGraph(analysis.trees),
    schedules,
    range,
    tip: analysis.tip,
  };
};

const processSummary = (schedules: Schedule[]): string => {
  const names = new Map<string, string>();
  for (const s of schedules) {
    const pid = s.process.attributes?.find((a) => a.name === 'pid')?.value;
    names.set(s.process.id, pid ? `${s.process.name} (pid ${pid})` : s.process.name);
  }
  const list = [...names.values()].sort();
  return list.length > 4 ? `${list.slice(0, 4).join(', ')} and ${list.length - 4} more` : list.join(', ');
};

export interface RenderOptions {
  out: string;
  aggregate: AggregateType;
}

/** Writes the files for a task that has data, prints what was written and the hottest frames. */
const writeAndReport = (
  printer: Printer,
  task: {
    taskId: string;
    serviceName: string;
    targetType: ProfilingTargetType;
    processLabels: string[];
  },
  profile: TaskProfile,
  options: RenderOptions,
): WrittenFile[] => {
  const unit = unitOf(options.aggregate);
  const { root, schedules, range } = profile;
  const processes = processSummary(schedules);
  const title = `${task.serviceName}: ${TARGET_VIEWS[task.targetType].label} flame graph`;
  const subtitle = [
    `task ${task.taskId.slice(0, 12)}`,
    `${stamp(range.start)} → ${stamp(range.end)}`,
    `${formatValue(root.total, unit)}${unit === 'nanoseconds' ? ' off-CPU' : ''}`,
    processes ? `process${schedules.length > 1 ? 'es' : ''}: ${processes}` : '',
    task.processLabels.length ? `labels: ${task.processLabels.join(', ')}` : '',
  ]
    .filter(Boolean)
    .join('  ·  ');
  const files = writeProfileFiles(options.out, root, {
    title,
    subtitle,
    unit,
    startTimeMs: range.start,
    durationMs: range.end - range.start,
    binaryName: task.serviceName,
    comments: [
      `swlite task ${task.taskId}`,
      `service ${task.serviceName}`,
      `target ${task.targetType}`,
      `aggregate ${options.aggregate}`,
    ],
  });
  printer.out(
    `${title}: ${formatValue(root.total, unit)} from ${schedules.length} schedule(s)${processes ? ` (${processes})` : ''}`,
  );
  printer.out('Wrote:');
  const hints: Record<WrittenFile['kind'], string> = {
    html: 'interactive, open in a browser',
    svg: 'static image',
    folded: 'folded stacks (flamegraph.pl, speedscope)',
    pprof: 'go tool pprof, speedscope',
  };
  for (const f of files) printer.out(`  ${f.path}  ${kb(f.bytes)}  (${hints[f.kind]})`);
  const hot = hottestFrames(root, 10);
  if (hot.length) {
    const table = compactTable(printer, ['self', 'self %', 'total %', 'frame']);
    for (const h of hot) {
      table.push([
        formatValue(h.self, unit),
        percent(h.self, root.total),
        percent(h.total, root.total),
        `${h.name}${h.kind === 'kernel' ? ' [k]' : ''}`,
      ]);
    }
    printer.out('Hottest frames:');
    printer.out(table.toString());
  }
  return files;
};

const noDataError = (
  task: { taskId: string; serviceName: string; processLabels: string[] },
  schedules: Schedule[],
  range: { start: number; end: number },
) =>
  new UserError(
    `task ${task.taskId} got no data: ` +
      (schedules.length
        ? `${schedules.length} schedule(s) but no stacks between ${stamp(range.start)} and ${stamp(range.end)}`
        : `no rover reported stacks for service "${task.serviceName}"${task.processLabels.length ? ` (labels ${task.processLabels.join(',')})` : ''} between ${stamp(range.start)} and ${stamp(range.end)}`) +
      '. Check that a rover runs on its hosts and can profile its processes.',
  );

export interface ProfileOptions extends RenderOptions {
  service: string;
  labels: string[];
  target: ProfilingTargetType;
  durationSec: number;
  /** After the duration, wait up to this many seconds for the rovers' last uploads (0: do not wait). */
  waitSec: number;
}

/** Live totals for the progress bar. */
const liveTotals = async (api: OapApi, task: TaskWindow, aggregate: AggregateType) => {
  const profile = await fetchTaskProfile(api, task, aggregate);
  return {
    total: profile.root.total,
    processes: new Set(profile.schedules.map((s) => s.process.id)).size,
  };
};

export const runProfile = async (api: OapApi, printer: Printer, options: ProfileOptions): Promise<WrittenFile[]> => {
  const service: Service = await api.resolveService(options.service);
  const prepare = await api.prepareTask(service.id);
  if (!prepare.couldProfiling) {
    throw new UserError(
      `service "${service.name}" has no process that can be profiled (no rover reported a profilable process for it)`,
    );
  }
  const missing = options.labels.filter((l) => !prepare.processLabels.includes(l));
  if (missing.length) {
    throw new UserError(
      `service "${service.name}" has no process labelled ${missing.join(', ')}; its labels: ${prepare.processLabels.length ? prepare.processLabels.join(', ') : '(none)'}`,
    );
  }
  const { currentTimestamp } = await api.timeInfo();
  const startTime = currentTimestamp;
  const taskId = await api.createFixedTimeTask({
    serviceId: service.id,
    processLabels: options.labels,
    startTime,
    duration: options.durationSec,
    targetType: options.target,
  });
  printer.err(
    `Created ${options.target} task ${taskId} for ${service.name} (${options.durationSec} s${options.labels.length ? `, labels ${options.labels.join(',')}` : ''})`,
  );
  const window: TaskWindow = {
    taskId,
    startTime,
    durationSec: options.durationSec,
  };
  const unit = unitOf(options.aggregate);

  const bar = progressBar(printer, ' {bar} {percentage}% | {value}/{total} s | {samples} | {processes}');
  const interrupted = () => {
    bar.stop();
    printer.err(
      `\nInterrupted. Task ${taskId} keeps running on the rovers; render it later with: swlite flamegraph --task ${taskId}`,
    );
    process.exit(130);
  };
  process.once('SIGINT', interrupted);
  try {
    const label = (t: { total: number; processes: number }) => ({
      samples: formatValue(t.total, unit),
      // Profilable processes exist (checked above): none listed yet means no rover has uploaded
      // for the task yet (no schedule), not that no process was reported.
      processes: t.processes ? `${t.processes} process${t.processes > 1 ? 'es' : ''}` : 'waiting for the first upload',
    });
    let totals = { total: 0, processes: 0 };
    bar.start(options.durationSec, 0, label(totals));
    const began = Date.now();
    const pollEvery = Math.min(5_000, Math.max(1_000, (options.durationSec * 1000) / 20));
    let lastPoll = 0;
    for (;;) {
      const elapsed = Date.now() - began;
      if (elapsed - lastPoll >= pollEvery) {
        lastPoll = elapsed;
        totals = await liveTotals(api, window, options.aggregate).catch(() => totals);
      }
      bar.update(Math.min(options.durationSec, Math.floor(elapsed / 1000)), label(totals));
      if (elapsed >= options.durationSec * 1000) break;
      await sleep(Math.min(1000, options.durationSec * 1000 - elapsed));
    }
    if (options.waitSec > 0) {
      // The rovers upload every few seconds and start late by up to one task poll: wait until
      // the totals stop growing (three polls in a row), or the grace period ends.
      const deadline = Date.now() + options.waitSec * 1000;
      let stable = 0;
      let previous = -1;
      while (Date.now() < deadline) {
        totals = await liveTotals(api, window, options.aggregate).catch(() => totals);
        bar.update(options.durationSec, label(totals));
        stable = totals.total > 0 && totals.total === previous ? stable + 1 : 0;
        if (stable >= 2) break;
        previous = totals.total;
        await sleep(2000);
      }
    }
    bar.update(options.durationSec, label(totals));
    bar.stop();
  } finally {
    process.removeListener('SIGINT', interrupted);
  }
  const profile = await fetchTaskProfile(api, window, options.aggregate);
  const task = {
    taskId,
    serviceName: service.name,
    targetType: options.target,
    processLabels: options.labels,
  };
  if (profile.root.total <= 0) throw noDataError(task, profile.schedules, profile.range);
  return writeAndReport(printer, task, profile, options);
};

/**
 * Every task of the service (or of every service: the OAP lists tasks per service only), fixed-
 * time and continuous-profiling ones, newest first.
 */
export const listTasks = async (
  api: OapApi,
  filter: { serviceId?: string; targets?: ProfilingTargetType[]; triggerType?: ProfilingTriggerType } = {},
): Promise<Task[]> => {
  const serviceIds = filter.serviceId ? [filter.serviceId] : (await api.listServices()).map((s) => s.id);
  // both kinds of task: the query protocol lists fixed-time ones unless asked for another trigger
  const triggers = filter.triggerType ? [filter.triggerType] : PROFILING_TRIGGER_TYPES;
  const byId = new Map<string, Task>();
  for (const serviceId of serviceIds)
    for (const triggerType of triggers)
      for (const t of await api.queryTasks({ serviceId, targets: filter.targets, triggerType })) byId.set(t.taskId, t);
  return [...byId.values()].sort((x, y) => Number(y.createTime) - Number(x.createTime));
};

/** Finds a task by ID or unique ID prefix (at least 6 characters). */
export const findTask = async (api: OapApi, idOrPrefix: string): Promise<Task> => {
  const wanted = idOrPrefix.trim().toLowerCase();
  const tasks = await listTasks(api);
  const exact = tasks.find((t) => t.taskId.toLowerCase() === wanted);
  if (exact) return exact;
  const matches = wanted.length >= 6 ? tasks.filter((t) => t.taskId.toLowerCase().startsWith(wanted)) : [];
  if (matches.length === 1) return matches[0]!;
  if (matches.length > 1)
    throw new UserError(`task prefix "${idOrPrefix}" matches ${matches.length} tasks; give more characters`);
  throw new UserError(`unknown task "${idOrPrefix}" (list tasks with: swlite tasks <service>)`);
};

export const renderTask = async (
  api: OapApi,
  printer: Printer,
  taskIdOrPrefix: string,
  options: RenderOptions,
): Promise<WrittenFile[]> => {
  const task = await findTask(api, taskIdOrPrefix);
  const view = TARGET_VIEWS[task.targetType];
  if (!view.flameGraph)
    throw new UserError(`task ${task.taskId} is a ${view.label} profiling task: it has no flame graph`);
  const window: TaskWindow = {
    taskId: task.taskId,
    startTime: Number(task.taskStartTime),
    durationSec: task.fixedTriggerDuration ? Number(task.fixedTriggerDuration) : null,
  };
  const profile = await fetchTaskProfile(api, window, options.aggregate);
  if (profile.root.total <= 0) throw noDataError(task, profile.schedules, profile.range);
  return writeAndReport(printer, task, profile, options);
};
