// Unit tests of the continuous profiling module: policy parsing, per-second windows with
// upstream's count-in-period rule, URI list / regex filters, reports with their causes, the local
// task run, silence and retry after a failed report, a target this rover cannot run. Fake backend
// and clock; /proc and the profiling target registry (with its kernel checks) are real.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import pino from 'pino';
import { bpfTestSkip } from '@swlite/libbpf-ts/testing';
import type { Commands__Output, ContinuousProfilingReport, MeterDataCollection } from '@swlite/protocol';
import { Symbolizer } from '@swlite/symbolizer';
import { loadConfig } from '../config';
import type { ReportedProcess } from '../process/reporter';
import { createTargetRegistry } from '../profiling/targets/registry';
import type { ProfilingTask } from '../profiling/task-command';
import type { RunnerTarget } from '../profiling/task-runner';
import { ContinuousProfiling, type HttpObservation, type ObservedExchange } from './continuous';
import { parsePolicies } from './policy';
import { cpuPercent, readProcStat } from './procstat';
import { errorRate, httpWindow, latestValueWindow } from './windows';

const log = pino({ level: 'silent' });
/** Triggering an ON_CPU or OFF_CPU task needs the kernel to allow its BPF programs. */
const bpfSkip = bpfTestSkip();

describe('parsePolicies', () => {
  it('reads ServiceWithPolicyJSON as the OAP sends it', () => {
    const { policies, problems } = parsePolicies(
      '[{"ServiceName":"svc","UUID":"u1","Profiling":{"ON_CPU":{"PROCESS_CPU":{"Threshold":"75","Period":12,"Count":4}},' +
        '"NETWORK":{"HTTP_ERROR_RATE":{"Threshold":"5","Period":10,"Count":2,"URIList":["/pay"]}}}}]',
    );
    assert.deepEqual(problems, []);
    assert.equal(policies.length, 1);
    assert.equal(policies[0]!.uuid, 'u1');
    const [cpu, http] = policies[0]!.items;
    assert.deepEqual(
      [cpu!.target, cpu!.type, cpu!.threshold, cpu!.period, cpu!.count],
      ['ON_CPU', 'PROCESS_CPU', 75, 12, 4],
    );
    assert.deepEqual(
      [http!.target, http!.type, http!.threshold, http!.uriList],
      ['NETWORK', 'HTTP_ERROR_RATE', 5, ['/pay']],
    );
  });

  it('drops the items upstream rover refuses, keeps the rest', () => {
    const { policies, problems } = parsePolicies(
      JSON.stringify([
        {
          ServiceName: 's',
          UUID: 'u',
          Profiling: {
            ON_CPU: {
              PROCESS_CPU: { Threshold: '7.5', Period: 3, Count: 1 },
              PROCESS_THREAD_COUNT: { Threshold: '10', Period: 2, Count: 3 },
              SYSTEM_LOAD: { Threshold: '1.5', Period: 3, Count: 1 },
            },
            OFF_CPU: { HTTP_AVG_RESPONSE_TIME: { Threshold: '', Period: 3, Count: 1 } },
            NETWORK: { HTTP_ERROR_RATE: { Threshold: '5', Period: 3, Count: 1, URIRegex: '(' } },
          },
        },
        { ServiceName: 'gone', UUID: '' },
      ]),
    );
    assert.deepEqual(
      problems.map((p) => `${p.target}/${p.type}`),
      [
        'ON_CPU/PROCESS_CPU',
        'ON_CPU/PROCESS_THREAD_COUNT',
        'OFF_CPU/HTTP_AVG_RESPONSE_TIME',
        'NETWORK/HTTP_ERROR_RATE',
      ],
    );
    assert.deepEqual(
      policies[0]!.items.map((i) => [i.type, i.threshold]),
      [['SYSTEM_LOAD', 1.5]],
    );
    assert.deepEqual(policies[1], { service: 'gone', uuid: '', items: [] });
  });
});

describe('windows', () => {
  it('count breaches among the last `period` seconds (upstream MatchRule)', () => {
    const w = latestValueWindow(5);
    const t0 = 1_000_000;
    [10, 90, 20, 95, 96].forEach((v, i) => (w.slot(t0 + i * 1000)!.v = v));
    const now = t0 + 4_000;
    assert.deepEqual(
      w.match(5, 3, now, (v) => v >= 90),
      { matched: true, last: 96, hits: 3 },
    );
    assert.equal(w.match(3, 3, now, (v) => v >= 90).matched, false, 'only 2 breaches in the last 3 s');
    assert.equal(w.match(2, 2, now, (v) => v >= 90).matched, true);
    // Seconds pass without data: the breaches age out.
    assert.equal(w.match(5, 1, now + 6_000, (v) => v >= 90).matched, false);
  });

  it('HTTP slots fold to error rate; data older than the window is dropped', () => {
    const w = httpWindow(3);
    const s = w.slot(10_500, 10_500)!;
    s.total = 4;
    s.errors = 1;
    assert.equal(errorRate(w.recent(3, 10_900)[0]!.value), 25);
    assert.equal(w.slot(7_000, 10_500), null);
  });

  it('CPU percent of one core between samples', () => {
    assert.equal(cpuPercent({ ticks: 100, atMs: 0 }, { ticks: 150, atMs: 1000 }), 50);
    assert.equal(cpuPercent({ ticks: 100, atMs: 0 }, { ticks: 300, atMs: 1000 }), 200);
    const stat = readProcStat(process.pid);
    assert.ok(stat.threads >= 1 && stat.cpuTicks >= 0);
  });
});

/** A module over fakes: one process of service "svc", a controllable clock and backend. */
const harness = (
  policyJson: string,
  opts: {
    failReports?: number;
    failMeters?: boolean;
    readProcess?: (pid: number) => ReturnType<typeof readProcStat>;
  } = {},
) => {
  let now = 1_700_000_000_000;
  const reports: ContinuousProfilingReport[] = [];
  const meterBatches: MeterDataCollection[][] = [];
  const runs: Array<{ task: ProfilingTask; targets: RunnerTarget[] }> = [];
  const observed = new Set<number>();
  const warnings: Array<{ msg: string; reason?: string }> = [];
  const warnLog = pino({ level: 'warn' }, { write: (line: string) => void warnings.push(JSON.parse(line)) });
  let failures = opts.failReports ?? 0;
  const proc = {
    processId: 'proc-1',
    process: { pid: 4242, serviceName: 'svc', instanceName: 'inst', processName: 'app', layer: 'OS_LINUX' },
  } as unknown as ReportedProcess;
  const backend = {
    queryPolicies: async (): Promise<Commands__Output> => ({
      commands: [
        {
          command: 'ContinuousProfilingPolicyQuery',
          args: [
            { key: 'SerialNumber', value: 'x' },
            { key: 'ServiceWithPolicyJSON', value: policyJson },
          ],
        },
      ],
    }),
    reportProfilingTask: async (r: ContinuousProfilingReport): Promise<Commands__Output> => {
      if (failures > 0) {
        failures--;
        throw new Error('backend down');
      }
      reports.push(r);
      return {
        commands: [
          { command: 'ContinuousProfilingReportTask', args: [{ key: 'TaskId', value: `task-${reports.length}` }] },
        ],
      };
    },
    collectMeters: async (batch: MeterDataCollection[]): Promise<Commands__Output> => {
      if (opts.failMeters) throw new Error('14 UNAVAILABLE: backend down');
      meterBatches.push(batch);
      return { commands: [] };
    },
  };
  const observation: HttpObservation = {
    start: (pids) => pids.forEach((p) => observed.add(p)),
    addTarget: (p) => observed.add(p),
    removeTarget: (p) => observed.delete(p),
    stop: () => observed.clear(),
  };
  const c = new ContinuousProfiling(
    backend,
    { all: () => [proc] },
    { runLocalTask: (task, targets) => (runs.push({ task, targets }), undefined as never) },
    {
      meterPrefix: 'rover_con_p',
      fetchIntervalMs: 1000,
      checkIntervalMs: 1000,
      policyIntervalMs: 1000,
      executeDurationMs: 10_000,
      silenceDurationMs: 20_000,
      targets: createTargetRegistry({ config: loadConfig({ env: {} }).profiling, symbolizer: new Symbolizer(), log }),
      log: warnLog,
      httpObserver: () => observation,
      now: () => now,
      readProcess: opts.readProcess,
    },
  );
  const exchange = (uri: string, status: number, durationMs = 5): ObservedExchange => ({
    pid: 4242,
    uri,
    status,
    startMs: now,
    durationMs,
  });
  return {
    c,
    reports,
    meterBatches,
    runs,
    observed,
    warnings,
    exchange,
    advance: (ms: number) => (now += ms),
    get now() {
      return now;
    },
  };
};

const httpPolicy = (item: Record<string, unknown>, target = 'ON_CPU') =>
  JSON.stringify([
    { ServiceName: 'svc', UUID: 'u1', Profiling: { [target]: { HTTP_ERROR_RATE: { Period: 3, Count: 2, ...item } } } },
  ]);

describe('ContinuousProfiling', () => {
  it('reads /proc/PID/stat once per fetch for all process items, and nothing for a process without one', async () => {
    const reads: number[] = [];
    // The real reader on this process stands in for pid 4242 (not a live process).
    const readProcess = (pid: number) => (reads.push(pid), readProcStat(process.pid));
    const none = harness('[]', { readProcess });
    await none.c.syncPolicies();
    none.c.fetch();
    none.c.fetch();
    const httpOnly = harness(httpPolicy({ Threshold: '50' }), { readProcess });
    await httpOnly.c.syncPolicies();
    httpOnly.c.fetch();
    assert.deepEqual(reads, [], 'no policy item needs /proc values');
    const both = harness(
      JSON.stringify([
        {
          ServiceName: 'svc',
          UUID: 'u1',
          Profiling: {
            ON_CPU: {
              PROCESS_CPU: { Threshold: '1', Period: 3, Count: 1 },
              PROCESS_THREAD_COUNT: { Threshold: '1', Period: 3, Count: 1 },
            },
            OFF_CPU: { PROCESS_CPU: { Threshold: '1', Period: 3, Count: 1 } },
          },
        },
      ]),
      { readProcess },
    );
    await both.c.syncPolicies();
    both.c.fetch();
    both.advance(1000);
    both.c.fetch();
    assert.deepEqual(reads, [4242, 4242], 'one read per fetch shared by the three items');
    await both.c.check();
    assert.deepEqual(
      both.c
        .meters()
        .map((m) => m.name)
        .sort(),
      ['rover_con_p_process_cpu', 'rover_con_p_process_thread_count'],
    );
  });

  it(
    'HTTP_ERROR_RATE on a listed URI: report with a path cause, local run, silence, then trigger again',
    { skip: bpfSkip },
    async () => {
      const h = harness(httpPolicy({ Threshold: '50', URIList: ['/pay'] }));
      await h.c.syncPolicies();
      assert.deepEqual([...h.observed], [4242], 'the HTTP observation watches the process');
      // Errors on other paths do not count for a URI-listed item.
      for (let s = 0; s < 3; s++) {
        for (let i = 0; i < 5; i++) h.c.onExchange(h.exchange('/other', 500));
        h.c.onExchange(h.exchange('/pay', 200));
        h.advance(1000);
      }
      await h.c.check();
      assert.equal(h.reports.length, 0);
      for (let s = 0; s < 2; s++) {
        h.c.onExchange(h.exchange('/pay', 500));
        h.c.onExchange(h.exchange('/pay', 500));
        h.c.onExchange(h.exchange('/pay', 200));
        h.advance(1000);
      }
      h.advance(-1); // still inside the last second with data
      await h.c.check();
      assert.equal(h.reports.length, 1);
      const r = h.reports[0]!;
      assert.deepEqual(
        {
          svc: r.serviceName,
          inst: r.instanceName,
          proc: r.processName,
          layer: r.layer,
          duration: r.duration,
          target: r.targetTask,
          onCPU: r.onCPU,
        },
        { svc: 'svc', inst: 'inst', proc: 'app', layer: 'OS_LINUX', duration: 10, target: 'onCPU', onCPU: {} },
      );
      assert.equal(r.causes!.length, 1);
      const cause = r.causes![0]!;
      assert.equal(cause.type, 'HTTPErrorRate');
      assert.equal(cause.uri!.path, '/pay');
      assert.equal(cause.uri!.threshold, 50);
      assert.ok(Math.abs(Number(cause.uri!.current) - 200 / 3) < 1e-9);
      assert.equal(h.runs.length, 1);
      assert.deepEqual(h.runs[0]!.targets, [{ processId: 'proc-1', pid: 4242 }]);
      assert.deepEqual(
        {
          id: h.runs[0]!.task.taskId,
          trigger: h.runs[0]!.task.triggerType,
          target: h.runs[0]!.task.targetType,
          d: h.runs[0]!.task.durationSeconds,
        },
        { id: 'task-1', trigger: 'CONTINUOUS_PROFILING', target: 'ON_CPU', d: 10 },
      );
      assert.ok(h.c.meters().some((m) => m.name === 'rover_con_p_http_error_rate' && m.labels.uri === '/pay'));

      // Still breaching: silent while the task runs (10 s) and until 20 s after it started (upstream).
      const keepBreaching = async (seconds: number) => {
        for (let s = 0; s < seconds; s++) {
          h.c.onExchange(h.exchange('/pay', 500));
          h.advance(1000);
          await h.c.check();
        }
      };
      await keepBreaching(19);
      assert.equal(h.reports.length, 1, 'silent for the silence (20 s) counted from the start');
      await keepBreaching(2);
      assert.equal(h.reports.length, 2, 'triggers again after the silence');
    },
  );

  it(
    'a URI regex filters the exchanges and is named in the cause; a failed report is retried',
    { skip: bpfSkip },
    async () => {
      const h = harness(httpPolicy({ Threshold: '50', URIRegex: '^/api/' }, 'OFF_CPU'), { failReports: 1 });
      await h.c.syncPolicies();
      for (let s = 0; s < 3; s++) {
        h.c.onExchange(h.exchange('/health', 200));
        h.c.onExchange(h.exchange('/health', 200));
        h.c.onExchange(h.exchange('/api/pay', 500));
        h.advance(1000);
      }
      h.advance(-1);
      await h.c.check();
      assert.equal(h.reports.length, 0, 'the first report failed');
      assert.equal(h.runs.length, 0);
      await h.c.check();
      assert.equal(h.reports.length, 1, 'retried at the next check');
      const cause = h.reports[0]!.causes![0]!;
      assert.equal(cause.uri!.regex, '^/api/');
      assert.equal(cause.uri!.current, 100, '/health is filtered out');
      assert.equal(h.reports[0]!.targetTask, 'offCPU');
      assert.equal(h.runs[0]!.task.targetType, 'OFF_CPU');
    },
  );

  it('HTTP_AVG_RESPONSE_TIME: a second without requests does not breach', { skip: bpfSkip }, async () => {
    const json = JSON.stringify([
      {
        ServiceName: 'svc',
        UUID: 'u',
        Profiling: { ON_CPU: { HTTP_AVG_RESPONSE_TIME: { Threshold: '100', Period: 3, Count: 2 } } },
      },
    ]);
    const h = harness(json);
    await h.c.syncPolicies();
    h.c.onExchange(h.exchange('/a', 200, 300));
    h.advance(2000);
    h.c.onExchange(h.exchange('/a', 200, 50));
    h.c.onExchange(h.exchange('/a', 200, 50));
    await h.c.check();
    assert.equal(h.reports.length, 0, 'one slow second only');
    h.c.onExchange(h.exchange('/a', 200, 500));
    await h.c.check();
    assert.equal(h.reports.length, 1);
    assert.equal(h.reports[0]!.causes![0]!.uri!.path, '', 'no filter: the global cause');
    assert.equal(h.reports[0]!.causes![0]!.uri!.current, 200);
  });

  it('a target this rover cannot run (NETWORK) is metered but never reported nor run; the reason is logged once', async () => {
    const h = harness(httpPolicy({ Threshold: '50' }, 'NETWORK'));
    await h.c.syncPolicies();
    for (let round = 0; round < 2; round++) {
      for (let s = 0; s < 3; s++) {
        h.c.onExchange(h.exchange('/pay', 500));
        h.advance(1000);
      }
      h.advance(-1);
      await h.c.check();
      h.advance(1);
    }
    assert.ok(
      h.c.meters().some((m) => m.name === 'rover_con_p_http_error_rate'),
      'still metered',
    );
    assert.equal(h.reports.length, 0, 'no task reported for a target that would not run');
    assert.equal(h.runs.length, 0);
    const notRun = h.warnings.filter((w) => w.reason !== undefined);
    assert.equal(notRun.length, 1, 'logged once');
    assert.match(notRun[0]!.msg, /will not trigger NETWORK tasks: network profiling has no reporter in this rover/);
  });

  it('a policy removed by the backend (empty UUID) stops the checks and the HTTP observation', async () => {
    let json = httpPolicy({ Threshold: '50' });
    const h = harness('[]');
    (h.c as unknown as { backend: { queryPolicies: () => Promise<Commands__Output> } }).backend.queryPolicies =
      async () => ({
        commands: [
          { command: 'ContinuousProfilingPolicyQuery', args: [{ key: 'ServiceWithPolicyJSON', value: json }] },
        ],
      });
    await h.c.syncPolicies();
    assert.equal(h.c.currentPolicies()[0]!.items.length, 1);
    assert.equal(h.observed.size, 1);
    json = JSON.stringify([{ ServiceName: 'svc', UUID: '' }]);
    await h.c.syncPolicies();
    assert.equal(h.c.currentPolicies()[0]!.items.length, 0);
    assert.equal(h.observed.size, 0);
  });

  it('meters go to collectBatch once per check, every second not sent yet, one collection per instance', async () => {
    const json = JSON.stringify([
      {
        ServiceName: 'svc',
        UUID: 'u',
        Profiling: {
          ON_CPU: {
            HTTP_ERROR_RATE: { Threshold: '99', Period: 5, Count: 5, URIList: ['/a'] },
            SYSTEM_LOAD: { Threshold: '100000', Period: 5, Count: 5 },
          },
        },
      },
    ]);
    const h = harness(json);
    await h.c.syncPolicies();
    for (let s = 0; s < 3; s++) {
      h.c.onExchange(h.exchange('/a', s === 0 ? 500 : 200));
      h.c.onExchange(h.exchange('/a', 200));
      h.c.fetch();
      h.advance(1000);
    }
    h.advance(-1);
    await h.c.check();
    await new Promise((r) => setImmediate(r));
    assert.equal(h.meterBatches.length, 1, 'one stream per check');
    const [collection] = h.meterBatches[0]!;
    assert.equal(h.meterBatches[0]!.length, 1, 'one collection for the one instance');
    const data = collection!.meterData!;
    for (const d of data) assert.deepEqual([d.service, d.serviceInstance, d.timestamp], ['svc', 'inst', h.now]);
    const named = (n: string) => data.filter((d) => d.singleValue!.name === n);
    assert.deepEqual(
      named('rover_con_p_http_error_rate').map((d) => d.singleValue!.value),
      [50, 0, 0],
      'the three seconds of /a, oldest first',
    );
    const labels = Object.fromEntries(
      named('rover_con_p_http_error_rate')[0]!.singleValue!.labels!.map((l) => [l.name, l.value]),
    );
    assert.deepEqual(labels, { uri: '/a', process_name: 'app', layer: 'OS_LINUX' });
    assert.equal(named('rover_con_p_system_load').length, 1, 'the most recent value only');
    // Nothing new since: the next check sends nothing.
    await h.c.check();
    await new Promise((r) => setImmediate(r));
    assert.equal(h.meterBatches.length, 1);
  });

  it('a backend without the meter service costs nothing but a warning', async () => {
    const h = harness(httpPolicy({ Threshold: '50' }), { failMeters: true });
    await h.c.syncPolicies();
    h.c.onExchange(h.exchange('/x', 500));
    await h.c.check();
    await new Promise((r) => setImmediate(r));
    assert.equal(h.meterBatches.length, 0);
    assert.ok(h.c.meters().length > 0, 'still computed');
  });
});
