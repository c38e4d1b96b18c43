/**
 * Ingest and light queries against heavy analyses: oap-lite (its own process, the bundle when
 * built) takes 50 agents uploading at full speed (testkit's gRPC rover client, each agent its own
 * process and schedule), first alone, then while 10 clients keep the worst-case analysis running
 * (the bench/limits.ts schedule: distinct stacks of depth 30 sharing only the root, refused at the
 * element limit). Meanwhile a client polls listProcesses. Printed per phase: ingest rate,
 * listProcesses latency, oap-lite's resident memory; then whether every acknowledged record is
 * stored exactly once (read back from the SQLite file).
 *
 *   npm run bench:contention -w @swlite/oap-lite
 *
 * BENCH_AGENTS (50), BENCH_ANALYSES (10), BENCH_PHASE_SECONDS (20), BENCH_STREAM (500 stacks per
 * upload stream), BENCH_STACKS (100,000 stacks in the analysed schedule) change the shape.
 * oap-lite's CPU per phase (all its threads; per 1,000 stored records) is printed too: on a machine
 * busy with other work it compares builds where the rates do not.
 * OAP_BENCH_BASELINE: another oap-lite bundle (a copy of its dist/oap-lite.js, with a node_modules
 * holding better-sqlite3 at or above it) to run instead, for figures before a change.
 */
import Database from 'better-sqlite3';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { EBPFProfilingData } from '@swlite/protocol';
import {
  AgentClient,
  createTask,
  graphql,
  graphqlOk,
  hostProcess,
  minuteDuration,
  onCpuData,
  startOap,
} from '@swlite/testkit';

const AGENTS = Number(process.env.BENCH_AGENTS ?? 50);
const ANALYSES = Number(process.env.BENCH_ANALYSES ?? 10);
const PHASE_MS = Number(process.env.BENCH_PHASE_SECONDS ?? 20) * 1000;
const STREAM = Number(process.env.BENCH_STREAM ?? 500);
const STACKS = Number(process.env.BENCH_STACKS ?? 100_000);
const SERVICE = 'contention-service';
const INSTANCE = 'host-1';

const kib = (pid: number, field: string): number =>
  Number(new RegExp(`${field}:\\s+(\\d+)`).exec(readFileSync(`/proc/${pid}/status`, 'utf8'))?.[1] ?? 0);
const mib = (k: number) => `${Math.round(k / 1024)} MiB`;
/**
 * CPU seconds the process used so far, all its threads (utime + stime of /proc/<pid>/stat), or
 * with `thread` only that thread's (the event loop's is the process id's).
 */
const cpuSeconds = (pid: number, thread?: number): number => {
  const fields = readFileSync(thread === undefined ? `/proc/${pid}/stat` : `/proc/${pid}/task/${thread}/stat`, 'utf8')
    .replace(/^.*\) /s, '')
    .split(' ');
  return (Number(fields[11]) + Number(fields[12])) / 100;
};
/** Seconds the event loop's thread waited runnable for a CPU so far (run_delay of its schedstat). */
const cpuWaitSeconds = (pid: number): number =>
  Number(readFileSync(`/proc/${pid}/task/${pid}/schedstat`, 'utf8').split(' ')[1]) / 1e9;
const percentile = (xs: number[], p: number): number => {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.floor((p / 100) * s.length))] ?? Number.NaN;
};

/** An agent's stacks: shared prefixes, depth 12-30, a kernel part on every third, as bench/run.ts. */
const agentStacks = (agent: number): Array<{ user: string[]; kernel: string[] }> =>
  Array.from({ length: STREAM }, (_, i) => {
    const depth = 12 + (i % 19);
    const user = ['main', 'event_loop', `module_${(agent + i) % 16}`];
    for (let d = 3; d < depth; d++) user.push(`fn_${i % (7 * d)}_${d}`);
    const kernel = i % 3 === 0 ? ['entry_SYSCALL_64', 'do_syscall_64', `ksys_${i % 9}`, 'vfs_write'] : [];
    return { user: user.reverse(), kernel: kernel.reverse() };
  });

interface Agent {
  client: AgentClient;
  processId: string;
  stacks: Array<{ user: string[]; kernel: string[] }>;
  uploads: number;
  /** Records and samples the server acknowledged. */
  records: number;
  samples: number;
  errors: number;
}

const main = async () => {
  const oap = await startOap(
    {
      SW_EBPF_TASK_MIN_DURATION: '1',
      SW_LOG_LEVEL: 'warn',
    },
    undefined,
    undefined,
    process.env.OAP_BENCH_BASELINE,
    // For a diagnosis of oap-lite alone, e.g. BENCH_OAP_NODE_ARGS="--cpu-prof --cpu-prof-dir=/tmp/prof"
    // (node refuses --cpu-prof in NODE_OPTIONS).
    (process.env.BENCH_OAP_NODE_ARGS ?? '').split(/\s+/).filter(Boolean),
  );
  console.log(`oap-lite pid ${oap.child.pid}: ${process.env.OAP_BENCH_BASELINE ?? 'this build'}`);
  const pid = oap.child.pid!;
  const start = Date.now() - 3_600_000;
  try {
    // ---- the worst-case schedule ----
    const fixtureAgent = new AgentClient(oap.grpcAddress, 'fixture-rover');
    const fixtureProcess = (
      await fixtureAgent.reportProcesses([hostProcess('worst', { service: SERVICE, instance: INSTANCE, pid: 1 })])
    ).processes[0]!.processId;
    const { taskId } = await createTask(oap.graphqlUrl, SERVICE, 'ON_CPU', 7_200, start);
    const fixtureBegan = performance.now();
    for (let from = 0; from < STACKS; from += 20_000) {
      const messages: EBPFProfilingData[] = [];
      for (let i = from; i < Math.min(STACKS, from + 20_000); i++) {
        const user = [];
        for (let d = 29; d >= 1; d--) user.push(`stack_${i}_frame_${d}`);
        user.push('main');
        const task = { taskId, processId: fixtureProcess, start, now: start + 1_000 };
        const m = onCpuData(i === from ? task : null, user, [], 1);
        m.onCPU!.stacks![0]!.stackId = i;
        messages.push(m);
      }
      await fixtureAgent.collect(messages);
    }
    fixtureAgent.close();
    // The agents have not uploaded yet: the task's one schedule is the analysed one.
    const schedules = await graphqlOk(
      oap.graphqlUrl,
      `query ($t: ID!) { queryEBPFProfilingSchedules(taskId: $t) { scheduleId } }`,
      { t: taskId },
    );
    const worst = schedules.queryEBPFProfilingSchedules[0].scheduleId as string;
    console.log(
      `analysed schedule: ${STACKS.toLocaleString()} distinct stacks of depth 30, ingested in ` +
        `${((performance.now() - fixtureBegan) / 1000).toFixed(1)} s`,
    );

    // ---- agents ----
    const agents: Agent[] = [];
    for (let a = 0; a < AGENTS; a++) {
      const client = new AgentClient(oap.grpcAddress, `rover-${a}`);
      const reported = await client.reportProcesses([
        hostProcess(`proc-${a}`, { service: SERVICE, instance: INSTANCE, pid: 1000 + a }),
      ]);
      const processId = reported.processes[0]!.processId;
      agents.push({ client, processId, stacks: agentStacks(a), uploads: 0, records: 0, samples: 0, errors: 0 });
    }
    let uploadClock = 0;
    const stream = async (agent: Agent): Promise<void> => {
      const now = start + 10_000 + ++uploadClock;
      agent.uploads++;
      let samples = 0;
      const messages = agent.stacks.map((s, i): EBPFProfilingData => {
        const m = onCpuData(
          i === 0 ? { taskId, processId: agent.processId, start, now } : null,
          s.user,
          s.kernel,
          1 + (i % 13),
        );
        m.onCPU!.stacks![0]!.stackId = 2 * i + 1;
        if (m.onCPU!.stacks![1]) m.onCPU!.stacks![1].stackId = 2 * i + 2;
        samples += 1 + (i % 13);
        return m;
      });
      try {
        await agent.client.collect(messages);
        agent.records += messages.length;
        agent.samples += samples;
      } catch {
        agent.errors++;
      }
    };

    const duration = minuteDuration(Date.now() - 600_000, Date.now() + 3_600_000);
    const instanceId = `${Buffer.from(SERVICE).toString('base64')}.1_${Buffer.from(INSTANCE).toString('base64')}`;
    const analysisQuery = `query ($ids: [ID!]!, $r: [EBPFProfilingAnalyzeTimeRange!]!) {
      analysisEBPFProfilingResult(scheduleIdList: $ids, timeRanges: $r, aggregateType: COUNT) {
        tip trees { elements { id parentId symbol stackType dumpCount } } } }`;
    const analysisVars = { ids: [worst], r: [{ start: start - 1, end: start + 2_000 }] };

    const phase = async (analyses: number) => {
      const deadline = performance.now() + PHASE_MS;
      const recordsBefore = agents.reduce((s, a) => s + a.records, 0);
      const outcomes = new Map<string, number>();
      const analysisMs: number[] = [];
      const listMs: number[] = [];
      let peakRss = 0;
      const sampler = setInterval(() => (peakRss = Math.max(peakRss, kib(pid, 'VmRSS'))), 100);
      const began = performance.now();
      const cpuBefore = cpuSeconds(pid);
      const loopCpuBefore = cpuSeconds(pid, pid);
      const loopWaitBefore = cpuWaitSeconds(pid);
      await Promise.all([
        ...agents.map(async (agent) => {
          while (performance.now() < deadline) await stream(agent);
        }),
        ...Array.from({ length: analyses }, async () => {
          while (performance.now() < deadline) {
            const t = performance.now();
            const r = await graphql(oap.graphqlUrl, analysisQuery, analysisVars);
            analysisMs.push(performance.now() - t);
            const setting = (r.errors?.[0] as { extensions?: { setting?: string } } | undefined)?.extensions?.setting;
            const outcome = r.errors ? `refused: ${setting ?? r.errors[0]!.message}` : 'answered';
            outcomes.set(outcome, (outcomes.get(outcome) ?? 0) + 1);
          }
        }),
        (async () => {
          while (performance.now() < deadline) {
            const t = performance.now();
            await graphqlOk(
              oap.graphqlUrl,
              `query ($d: Duration!, $i: ID!) { listProcesses(duration: $d, instanceId: $i) { id name } }`,
              {
                d: duration,
                i: instanceId,
              },
            );
            listMs.push(performance.now() - t);
            await new Promise((r) => setTimeout(r, 20));
          }
        })(),
      ]);
      clearInterval(sampler);
      const seconds = (performance.now() - began) / 1000;
      const records = agents.reduce((s, a) => s + a.records, 0) - recordsBefore;
      const cpu = cpuSeconds(pid) - cpuBefore;
      const loopCpu = cpuSeconds(pid, pid) - loopCpuBefore;
      const loopWait = cpuWaitSeconds(pid) - loopWaitBefore;
      return {
        rate: records / seconds,
        listMs,
        peakRss,
        outcomes,
        analysisMs,
        cpu,
        loopCpu,
        loopWait,
        seconds,
        records,
      };
    };

    const alone = await phase(0);
    const contended = await phase(ANALYSES);
    for (const a of agents) a.client.close();

    // ---- nothing lost, nothing doubled ----
    const db = new Database(join(oap.dataDir, 'oap-lite.db'), { readonly: true, fileMustExist: true });
    const stored = db
      .prepare(
        `SELECT COUNT(*) AS records, COALESCE(SUM(d.cnt), 0) AS samples FROM profiling_data d
         JOIN profiling_series s ON s.id = d.series_id WHERE s.schedule_id <> ?`,
      )
      .get(worst) as { records: number; samples: number };
    db.close();
    const sent = {
      records: agents.reduce((s, a) => s + a.records, 0),
      samples: agents.reduce((s, a) => s + a.samples, 0),
    };
    const errors = agents.reduce((s, a) => s + a.errors, 0);

    const cpuCell = (p: { cpu: number; records: number }) =>
      `${p.cpu.toFixed(1)} s (${((1e6 * p.cpu) / p.records).toFixed(0)} ms)`;
    const loopCell = (p: { loopCpu: number; loopWait: number; seconds: number; records: number }) =>
      `${p.loopCpu.toFixed(1)} s (${((1e6 * p.loopCpu) / p.records).toFixed(0)} ms); ran ${((100 * p.loopCpu) / p.seconds).toFixed(0)}%, ` +
      `waited for a CPU ${((100 * p.loopWait) / p.seconds).toFixed(0)}%`;
    const rows: Array<[string, string, string]> = [
      ['', 'agents alone', `agents + ${ANALYSES} worst-case analyses`],
      [
        'ingest (acknowledged stack records/s)',
        Math.round(alone.rate).toLocaleString(),
        `${Math.round(contended.rate).toLocaleString()} (${((100 * contended.rate) / alone.rate).toFixed(0)}% of alone)`,
      ],
      [
        'listProcesses p50 / p99 / max',
        `${percentile(alone.listMs, 50).toFixed(0)} / ${percentile(alone.listMs, 99).toFixed(0)} / ${Math.max(...alone.listMs).toFixed(0)} ms (${alone.listMs.length})`,
        `${percentile(contended.listMs, 50).toFixed(0)} / ${percentile(contended.listMs, 99).toFixed(0)} / ${Math.max(...contended.listMs).toFixed(0)} ms (${contended.listMs.length})`,
      ],
      ['oap-lite resident memory, peak', mib(alone.peakRss), mib(contended.peakRss)],
      // CPU per stored record holds on a machine busy with other work, where the rates do not.
      ['oap-lite CPU (per 1,000 records)', cpuCell(alone), cpuCell(contended)],
      // The event loop's own thread: the time it ran, and the time it was ready to run but waited
      // for a CPU (run queue delay: other threads of oap-lite, or of the machine, had them).
      ['event-loop thread CPU (per 1,000); of the phase', loopCell(alone), loopCell(contended)],
      [
        'analyses (outcome: count; median latency)',
        '-',
        `${[...contended.outcomes].map(([k, v]) => `${k}: ${v}`).join(', ')}; ${percentile(contended.analysisMs, 50).toFixed(0)} ms`,
      ],
    ];
    const w0 = Math.max(...rows.map((r) => r[0].length));
    const w1 = Math.max(...rows.map((r) => r[1].length));
    console.log(
      `\n${AGENTS} agents (streams of ${STREAM} stacks, back to back) for ${PHASE_MS / 1000} s per phase; oap-lite in its own process`,
    );
    for (const [a, b, c] of rows) console.log(`  ${a.padEnd(w0)}  ${b.padEnd(w1)}  ${c}`);
    console.log(
      `  stored ${stored.records.toLocaleString()} records / ${stored.samples.toLocaleString()} samples; acknowledged ` +
        `${sent.records.toLocaleString()} / ${sent.samples.toLocaleString()} (${errors} streams failed): ` +
        (stored.records === sent.records && stored.samples === sent.samples
          ? 'nothing lost, nothing doubled'
          : 'MISMATCH'),
    );
    console.log(`  oap-lite peak resident memory over the run (VmHWM): ${mib(kib(pid, 'VmHWM'))}`);
  } catch (err) {
    // Why the run failed is often in oap-lite's own output (it exited, or logged the cause).
    console.error(`oap-lite output (last lines):\n${oap.output().slice(-4000)}`);
    throw err;
  } finally {
    await oap.cleanup();
  }
};

main().catch((err) => {
  console.error(err);
  process.exit(1);
});
