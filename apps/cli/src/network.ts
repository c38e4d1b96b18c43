/**
 * The `network` flow: create a network profiling task for one instance (as the UI's Network
 * Profiling tab does), keep it alive while it runs, then read the instance's process topology and
 * each edge's metrics and sampled requests, and print them (tables or JSON) and draw them.
 */
import { writeFileSync } from 'node:fs';
import { extname, resolve } from 'node:path';
import type { OapApi, ProcessTopology, SamplingRule } from './api';
import { minuteDuration } from './api';
import { UserError } from './errors';
import {
  edgeBytes,
  edgeReport,
  exchangeDetails,
  nodeOf,
  relationEntity,
  sortEdges,
  topologyNodes,
  type EdgeReport,
  type NetworkReport,
  type ProcessRef,
  type SampleKind,
  type SampledRequest,
} from './network-report';
import type { Printer } from './printer';
import { findTask, formatTime } from './profile';
import { progressBar, sleep } from './progress';
import { topologyToHtml, topologyToSvg, type TopologyPicture, type TopologyTable } from './render/index';
import { compactTable } from './tables';

/** The UI calls keepEBPFNetworkProfiling every 60 s; the OAP extends a task in its last minute. */
const KEEP_ALIVE_MS = 60_000;
/** How often the progress line re-reads the topology. */
const TOPOLOGY_POLL_MS = 5_000;
/** rover reports every 2 s: after the run, wait for the report that covers its last seconds. */
const LAST_REPORT_GRACE_MS = 3_000;
/** Requests sent at the same time when reading edges and traces. */
const CONCURRENCY = 4;
/** Sampled requests whose trace is read for status and time (the slowest of each kind first). */
const MAX_TRACE_LOOKUPS = 60;

export const PICTURE_FORMATS = ['.svg', '.html'] as const;

export interface NetworkOptions {
  service: string;
  instance: string;
  durationSec: number;
  samplings: SamplingRule[];
  /** Sampled requests read per edge and kind, and shown per kind. */
  records: number;
}

/** Checks --out before anything is created: a picture is SVG or HTML. */
export const checkPicturePath = (path: string): void => {
  const ext = extname(path).toLowerCase();
  if (!(PICTURE_FORMATS as readonly string[]).includes(ext)) {
    throw new UserError(
      `--out ${path}: the topology picture is written as .svg or .html (got "${ext || 'no extension'}")`,
    );
  }
};

const describeSamplings = (samplings: SamplingRule[]): string => {
  if (!samplings.length) return 'no request sampling';
  return samplings
    .map((s) => {
      const when = [s.when4xx ? '4xx' : '', s.when5xx ? '5xx' : '', s.minDuration != null ? `≥${s.minDuration} ms` : '']
        .filter(Boolean)
        .join(', ');
      return `sampling ${s.uriRegex ? `/${s.uriRegex}/ ` : ''}${when || 'nothing'}`;
    })
    .join('; ');
};

const plural = (n: number, one: string, many = `${one}s`) => `${n} ${n === 1 ? one : many}`;

/** Runs `fn` over the items, CONCURRENCY at a time. */
const eachLimited = async <T>(items: readonly T[], fn: (item: T) => Promise<void>): Promise<void> => {
  const queue = [...items];
  const worker = async () => {
    for (let item = queue.shift(); item !== undefined; item = queue.shift()) await fn(item);
  };
  await Promise.all(Array.from({ length: Math.min(CONCURRENCY, queue.length) }, worker));
};

/** Reads the whole report for the window: the topology, then each edge's metrics (a few at a time). */
export const readNetworkReport = async (
  api: OapApi,
  task: NetworkReport['task'],
  window: { start: number; end: number },
  timezone: string | null,
  recordsPerKind: number,
): Promise<NetworkReport> => {
  const duration = minuteDuration(window.start, window.end, timezone);
  const topology: ProcessTopology = await api.processTopology(task.instanceId, duration);
  const minutes = Math.max(window.end - window.start, 1000) / 60_000;
  const warnings = new Set<string>();
  const edges: EdgeReport[] = [];
  await eachLimited(topology.calls, async (call) => {
    const entity = relationEntity(nodeOf(topology, call.source), nodeOf(topology, call.target));
    const metrics = await api.edgeMetrics(entity, duration, recordsPerKind);
    edges.push(edgeReport(topology, call, metrics, minutes, warnings));
  });
  // status and time from the attached request/response; a trace the server cannot show keeps nulls
  const sampledRequests = KINDS.flatMap(({ kind }) =>
    edges.flatMap((e) => e.records[kind]).sort((a, b) => (b.latencyMs ?? -1) - (a.latencyMs ?? -1)),
  );
  const byTrace = new Map<string, SampledRequest[]>();
  for (const r of sampledRequests) {
    if (!r.traceId || (!byTrace.has(r.traceId) && byTrace.size >= MAX_TRACE_LOOKUPS)) continue;
    byTrace.set(r.traceId, [...(byTrace.get(r.traceId) ?? []), r]);
  }
  await eachLimited([...byTrace], async ([traceId, requests]) => {
    const details = exchangeDetails(await api.attachedEvents(traceId).catch(() => []));
    for (const r of requests) Object.assign(r, details);
  });
  return {
    task,
    window: { start: window.start, end: window.end, minutes },
    nodes: topologyNodes(topology),
    edges: sortEdges(edges),
    warnings: [...warnings],
  };
};

export const runNetwork = async (api: OapApi, printer: Printer, options: NetworkOptions): Promise<NetworkReport> => {
  const service = await api.resolveService(options.service);
  const [instance] = await api.resolveInstance(
    service,
    options.instance,
    await api.recentDuration(60),
    'the last 60 minutes',
  );
  const { timezone, currentTimestamp: start } = await api.timeInfo();
  const taskId = await api.createNetworkTask(instance!.id, options.samplings);
  printer.err(
    `Created NETWORK task ${taskId} for ${service.name} / ${instance!.name} (${options.durationSec} s, ${describeSamplings(options.samplings)})`,
  );
  const task = {
    id: taskId,
    service: service.name,
    instance: instance!.name,
    instanceId: instance!.id,
    samplings: options.samplings,
  };

  const stop = new AbortController();
  const interrupted = () => {
    printer.err('\nStopping early (Ctrl-C again to quit without the results)');
    stop.abort();
  };
  process.once('SIGINT', interrupted);
  const bar = progressBar(printer, ' {bar} {percentage}% | {value}/{total} s | {edges}');
  const began = Date.now();
  let seen = { edges: 0, processes: 0 };
  const label = () => ({
    edges: seen.edges
      ? `${plural(seen.edges, 'edge')} between ${plural(seen.processes, 'process', 'processes')}`
      : 'waiting for the first report',
  });
  try {
    bar.start(options.durationSec, 0, label());
    let lastKeep = -Infinity;
    let keepAlive = true;
    let lastPoll = 0;
    for (;;) {
      const elapsed = Date.now() - began;
      if (keepAlive && elapsed - lastKeep >= KEEP_ALIVE_MS) {
        lastKeep = elapsed;
        const kept = await api.keepNetworkTask(taskId).catch((e: Error) => ({ status: false, errorReason: e.message }));
        if (!kept.status) {
          // the task may have ended on the server; what it collected is still read below
          keepAlive = false;
          printer.err(`\noap-lite did not keep the task alive: ${kept.errorReason ?? 'no reason given'}`);
        }
      }
      const finished = elapsed >= options.durationSec * 1000 || stop.signal.aborted;
      if (elapsed - lastPoll >= TOPOLOGY_POLL_MS || finished) {
        lastPoll = elapsed;
        const now = start + elapsed;
        const topology = await api
          .processTopology(instance!.id, minuteDuration(start, now, timezone))
          .catch(() => null);
        if (topology) seen = { edges: topology.calls.length, processes: topology.nodes.length };
      }
      bar.update(Math.min(options.durationSec, Math.floor(elapsed / 1000)), label());
      if (finished) break;
      await sleep(Math.min(1000, options.durationSec * 1000 - elapsed), stop.signal);
    }
    bar.stop();
    await sleep(LAST_REPORT_GRACE_MS);
  } finally {
    process.removeListener('SIGINT', interrupted);
  }
  const end = (await api.timeInfo()).currentTimestamp;
  const report = await readNetworkReport(api, task, { start, end }, timezone, options.records);
  const listed = (await api.queryTasks({ serviceId: service.id, targets: ['NETWORK'] })).find(
    (t) => t.taskId === taskId,
  );
  const until = listed ? Number(listed.taskStartTime) + Number(listed.fixedTriggerDuration ?? 0) * 1000 : null;
  printer.err(
    `Task ${taskId} keeps running on the rovers${until ? ` until ${formatTime(until)}` : ''} (nothing keeps it alive now); read it again with --task ${taskId}`,
  );
  return report;
};

/** Reads an existing NETWORK task again: its window is from its start to its end or now. */
export const readNetworkTask = async (
  api: OapApi,
  options: { service: string; instance: string; taskId: string; records: number },
): Promise<NetworkReport> => {
  const service = await api.resolveService(options.service);
  const found = await findTask(api, options.taskId);
  if (found.targetType !== 'NETWORK')
    throw new UserError(`task ${found.taskId} is a ${found.targetType} task, not a NETWORK one`);
  if (found.serviceId !== service.id)
    throw new UserError(`task ${found.taskId} belongs to service ${found.serviceName}, not ${service.name}`);
  const start = Number(found.taskStartTime);
  const { timezone, currentTimestamp } = await api.timeInfo();
  const [instance] = await api.resolveInstance(
    service,
    options.instance,
    minuteDuration(start, currentTimestamp, timezone),
    `the task's time (since ${formatTime(start)})`,
  );
  // By name: the task listing the CLI shares with the other commands (and the Java OAP's recorded
  // answers) does not ask for the instance's ID.
  if (found.serviceInstanceName && found.serviceInstanceName !== instance!.name) {
    throw new UserError(`task ${found.taskId} profiles instance ${found.serviceInstanceName}, not ${instance!.name}`);
  }
  const end = Math.min(currentTimestamp, start + Number(found.fixedTriggerDuration ?? 0) * 1000);
  const task = {
    id: found.taskId,
    service: service.name,
    instance: instance!.name,
    instanceId: instance!.id,
    samplings: null,
  };
  return readNetworkReport(api, task, { start, end: Math.max(end, start) }, timezone, options.records);
};

// ------------------------------------------------------------------ presentation

const nameOf = (p: ProcessRef) => (p.real ? p.name : `${p.name} (virtual)`);

export const formatBytes = (n: number | null): string => {
  if (n === null) return '-';
  if (n < 1024) return `${Math.round(n)} B`;
  if (n < 1024 * 1024) return `${(n / 1024).toFixed(1)} KiB`;
  if (n < 1024 ** 3) return `${(n / 1024 / 1024).toFixed(1)} MiB`;
  return `${(n / 1024 ** 3).toFixed(2)} GiB`;
};

const num = (n: number | null, digits = 1): string => {
  if (n === null) return '-';
  if (Number.isInteger(n)) return String(n);
  return n.toFixed(digits);
};

const pair = (client: number | null, server: number | null) =>
  client === null && server === null ? '-' : `${num(client)} / ${num(server)}`;

const statusText = (codes: Record<string, number>) =>
  Object.entries(codes)
    .map(([code, n]) => `${code}×${num(n, 0)}`)
    .join(' ');

const seenBy = (points: string[]) =>
  points.length > 1 ? 'both' : points[0] === 'CLIENT' ? 'client' : points[0] === 'SERVER' ? 'server' : '-';

const EDGE_HEAD = [
  'Source',
  'Target',
  'Proto',
  'Seen by',
  'Req/min',
  'Requests',
  'Avg ms (c/s)',
  'P99 ms (c/s)',
  'Status codes',
  'Sent',
  'Received',
];

const edgeRow = (e: EdgeReport): string[] => {
  const bytes = edgeBytes(e);
  return [
    nameOf(e.source),
    nameOf(e.target),
    e.protocols.join(', ') || '-',
    seenBy(e.detectPoints),
    e.http ? num(e.http.perMinute) : '-',
    e.http ? num(e.http.requests, 0) : '-',
    e.http ? pair(e.http.client.avgMs, e.http.server.avgMs) : '-',
    e.http ? pair(e.http.client.p99Ms, e.http.server.p99Ms) : '-',
    e.http ? statusText(e.http.statusCodes) || '-' : '-',
    formatBytes(bytes.sent),
    formatBytes(bytes.received),
  ];
};

const KINDS: Array<{ kind: SampleKind; title: string }> = [
  { kind: 'slow', title: 'Slow requests' },
  { kind: '4xx', title: '4xx responses' },
  { kind: '5xx', title: '5xx responses' },
];

const RECORD_HEAD = ['Source → Target', 'URI', 'Status', 'Latency ms', 'Time', 'Trace ID'];

/** A kind's sampled requests over all edges, slowest first, at most `limit`. */
const sampled = (report: NetworkReport, kind: SampleKind, limit: number): Array<[EdgeReport, SampledRequest]> =>
  report.edges
    .flatMap((e) => e.records[kind].map((r) => [e, r] as [EdgeReport, SampledRequest]))
    .sort(([, a], [, b]) => (b.latencyMs ?? -1) - (a.latencyMs ?? -1))
    .slice(0, limit);

const recordRow = ([e, r]: [EdgeReport, SampledRequest]): string[] => [
  `${nameOf(e.source)} → ${nameOf(e.target)}`,
  r.uri,
  r.status === null ? r.kind.replace('slow', '-') : String(r.status),
  num(r.latencyMs, 0),
  r.time === null ? '-' : formatTime(r.time),
  r.traceId ?? '-',
];

/** The tables the terminal shows, also put under the HTML picture. */
export const reportTables = (report: NetworkReport, limit: number): TopologyTable[] => [
  { title: 'Edges', head: EDGE_HEAD, rows: report.edges.map(edgeRow) },
  ...KINDS.map(({ kind, title }) => ({ title, head: RECORD_HEAD, rows: sampled(report, kind, limit).map(recordRow) })),
];

const windowText = (report: NetworkReport) =>
  `${formatTime(report.window.start)} → ${formatTime(report.window.end)} (${num(report.window.minutes)} min)`;

export const printReport = (printer: Printer, report: NetworkReport, limit: number): void => {
  for (const w of report.warnings) printer.err(`warning: oap-lite: ${w}`);
  printer.out(
    `Network of ${report.task.service} / ${report.task.instance}, task ${report.task.id}, ${windowText(report)}: ` +
      `${plural(report.edges.length, 'edge')} between ${plural(report.nodes.length, 'process', 'processes')}`,
  );
  if (!report.edges.length) {
    printer.out(
      'No traffic was reported. Check that a rover runs on the instance, can profile its processes, and that oap-lite has the network-profiling meter rules (SW_METER_ANALYZER_ACTIVE_FILES).',
    );
    return;
  }
  for (const t of reportTables(report, limit)) {
    if (t.title !== 'Edges' && !t.rows.length) continue;
    const table = compactTable(printer, t.head);
    for (const r of t.rows) table.push(r);
    printer.out(`${t.title}:`);
    printer.out(table.toString());
  }
  const none = KINDS.filter(({ kind }) => !report.edges.some((e) => e.records[kind].length)).map((k) =>
    k.title.toLowerCase(),
  );
  if (none.length)
    printer.out(
      `No sampled ${none.join(', ')}${report.task.samplings?.length === 0 ? ' (the task sampled nothing)' : ''}.`,
    );
};

const edgeLabel = (e: EdgeReport): string => {
  const proto = e.protocols.join('/') || 'tcp';
  if (e.http) return `${proto} · ${num(e.http.perMinute)}/min`;
  const bytes = edgeBytes(e);
  return `${proto} · ${formatBytes((bytes.sent ?? 0) + (bytes.received ?? 0))}`;
};

/** The report as the topology renderers draw it. */
export const reportPicture = (report: NetworkReport): TopologyPicture => ({
  title: `${report.task.service} / ${report.task.instance}: process topology`,
  subtitle: `task ${report.task.id.slice(0, 12)}  ·  ${windowText(report)}  ·  ${plural(report.edges.length, 'edge')}`,
  nodes: report.nodes.map((n) => ({ id: n.id, name: n.name, real: n.real })),
  edges: report.edges.map((e) => {
    const row = edgeRow(e);
    const details: Array<[string, string]> = EDGE_HEAD.slice(2).map((h, i) => [h, row[i + 2]!]);
    for (const { kind, title } of KINDS) {
      if (e.records[kind].length)
        details.push([title, e.records[kind].map((r) => `${r.uri} (${num(r.latencyMs, 0)} ms)`).join(', ')]);
    }
    return {
      id: e.id,
      source: e.source.id,
      target: e.target.id,
      label: edgeLabel(e),
      details,
      errors: Object.keys(e.http?.statusCodes ?? {}).some((c) => /^[45]/.test(c)),
    };
  }),
});

/** Writes the picture; returns its path and size. */
export const writePicture = (path: string, report: NetworkReport, limit: number): { path: string; bytes: number } => {
  const picture = reportPicture(report);
  const body =
    extname(path).toLowerCase() === '.html'
      ? topologyToHtml(picture, { tables: reportTables(report, limit) })
      : topologyToSvg(picture);
  const full = resolve(path);
  writeFileSync(full, body);
  return { path: full, bytes: Buffer.byteLength(body) };
};
