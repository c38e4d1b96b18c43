/**
 * What a NETWORK task costs on nginx under HTTP/1.1 keep-alive load
 * (`npm run bench:network-cost -w @swlite/rover`, root, ~2 minutes; `--seconds N` per row,
 * `--rounds N`; `--sampling`: the task has one sampling rule, as the stock UI always sends;
 * `--traced`: every request carries an sw8 header, so with a rule each goes to rover as records;
 * `--bundle PATH`: another rover bundle, for before/after). oap-lite runs behind testkit's gRPC relay (which keeps what rover sent), nginx
 * (Debian nginx-light, master + 2 workers) answers a fixed 13-byte body, rover (the bundle: build
 * it first) runs one NETWORK task on nginx's instance for the whole bench. Each row runs wrk for
 * N seconds at one concurrency; Debian's wrk has no rate limit, so the rows are a low and a full
 * load and every figure is normalized by the rate achieved.
 *
 * Per row: the exchange rate nginx served (its access log); exchanges nginx served vs those rover
 * metered (rover_net_p_http1_request_counter, server side, as sent to the relay), waiting after
 * wrk until rover has caught up (its lag: how long it took past wrk's end, at most 60 s); rover's
 * CPU (utime+stime from /proc) and the run time of rover's BPF programs (kernel.bpf_stats_enabled,
 * run_time_ns in the fdinfo of rover's program fds) from wrk's start until caught up, in % of one
 * core over the row and as the cost of 10k exchanges/s (CPU per exchange x 10k/s: the work a
 * steady 10k/s would need); records lost (ring buffer full, connections not tracked) from rover's
 * lost-sample warnings. The machine's load average is printed: on a shared machine CPU figures
 * include contention.
 */
import { readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { loadavg } from 'node:os';
import type { MeterData, MeterDataCollection } from '@swlite/protocol';
import {
  graphqlOk,
  processNames,
  runWrk,
  sleep,
  SkyWalkingRelay,
  startNginx,
  startOap,
  startRover,
  waitFor,
  type RoverProcess,
} from '@swlite/testkit';

const arg = (name: string, dflt: number): number => {
  const i = process.argv.indexOf(name);
  return i > 0 ? Number(process.argv[i + 1]) : dflt;
};
const SECONDS = arg('--seconds', 15);
/** The stock UI's rule (any URI, 4xx/5xx and slow over 1 s); wrk's requests carry no trace header. */
const TRACED = process.argv.includes('--traced');
const BUNDLE = process.argv.includes('--bundle') ? process.argv[process.argv.indexOf('--bundle') + 1] : undefined;
const b64 = (s: string) => Buffer.from(s).toString('base64');
const SW8 = `1-${b64('bench-trace')}-${b64('bench-segment')}-0-${['svc', 'inst', '/', 'peer:1'].map(b64).join('-')}`;
const SAMPLINGS = process.argv.includes('--sampling')
  ? [
      {
        minDuration: 1000,
        when4xx: true,
        when5xx: true,
        settings: { requireCompleteRequest: true, requireCompleteResponse: true },
      },
    ]
  : [];
const ROUNDS = arg('--rounds', 1);
const SERVICE = 'bench-net-nginx';
const INSTANCE = 'bench-net-inst';
/** wrk connections per row: one keep-alive connection (a low rate), then 16 (as fast as it goes). */
const ROWS = [
  { name: 'low (wrk -c1)', connections: 1 },
  { name: 'full (wrk -c16)', connections: 16 },
];

const cpuMs = (pid: number): number => {
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return (Number(f[11]) + Number(f[12])) * 10;
};

/** Run time (ns) and runs of the BPF programs rover holds (the fdinfo of its program fds). */
const bpfRunTime = (pid: number): { ns: number; runs: number; progs: number } => {
  const seen = new Map<string, { ns: number; runs: number }>();
  for (const fd of readdirSync(`/proc/${pid}/fdinfo`)) {
    let info: string;
    try {
      info = readFileSync(`/proc/${pid}/fdinfo/${fd}`, 'utf8');
    } catch {
      continue; // closed meanwhile
    }
    const id = /^prog_id:\s+(\d+)/m.exec(info)?.[1];
    if (!id || !/^prog_type:/m.test(info)) continue;
    const num = (k: string) => Number(new RegExp(`^${k}:\\s+(\\d+)`, 'm').exec(info)?.[1] ?? 0);
    seen.set(id, { ns: num('run_time_ns'), runs: num('run_cnt') });
  }
  const all = [...seen.values()];
  return { ns: all.reduce((s, p) => s + p.ns, 0), runs: all.reduce((s, p) => s + p.runs, 0), progs: all.length };
};

const nameOf = (m: MeterData): string => (m.singleValue ?? m.histogram)?.name ?? '';
const label = (m: MeterData, name: string): string | undefined =>
  (m.singleValue ?? m.histogram)?.labels?.find((l) => l.name === name)?.value;
const metered = (relay: SkyWalkingRelay): number =>
  relay
    .of<MeterDataCollection>('MeterReportService', 'collectBatch')
    .flatMap((c) => c.meterData ?? [])
    .filter((m) => nameOf(m) === 'rover_net_p_http1_request_counter' && label(m, 'side') === 'server')
    .reduce((s, m) => s + Number(m.singleValue?.value ?? 0), 0);

/** The kernel's lost counts as rover last warned them (cumulative over the task). */
const lostSoFar = (rover: RoverProcess): number => {
  let last = 0;
  for (const line of rover.output().split('\n')) {
    if (!line.includes('profiler lost samples')) continue;
    const lost = (JSON.parse(line) as { lost?: Record<string, number> }).lost ?? {};
    last = Object.values(lost).reduce((s, n) => s + n, 0);
  }
  return last;
};

interface Result {
  row: string;
  rate: number;
  served: number;
  metered: number;
  roverCpu: number;
  bpfCpu: number;
  /** % of one core that 10k exchanges/s cost at this CPU per exchange. */
  roverPer10k: number;
  bpfPer10k: number;
  lag: number;
  lost: number;
  bpfNsPerRun: number;
  load: number;
}

const main = async () => {
  const statsWas = readFileSync('/proc/sys/kernel/bpf_stats_enabled', 'utf8').trim();
  writeFileSync('/proc/sys/kernel/bpf_stats_enabled', '1');
  const oap = await startOap({ SW_LOG_LEVEL: 'warn' });
  const relay = new SkyWalkingRelay(oap.grpcAddress);
  const nginx = await startNginx({ workers: 2, name: 'swlite-bench-net-nginx' });
  let rover: RoverProcess | undefined;
  const results: Result[] = [];
  const t0 = Date.now();
  try {
    rover = await startRover({
      backend: await relay.start(),
      ...(BUNDLE ? { bundle: BUNDLE } : {}),
      matchCmd: '.+',
      env: {
        ROVER_PROCESS_DISCOVERY_REGEX_SCANNER_MATCH_EXE: `^${nginx.exe.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}$`,
        ROVER_PROCESS_DISCOVERY_REGEX_SCANNER_SERVICE_NAME: SERVICE,
        ROVER_PROCESS_DISCOVERY_REGEX_SCANNER_INSTANCE_NAME: INSTANCE,
        ROVER_PROFILING_CHECK_INTERVAL: '2s',
        ROVER_PROCESS_DISCOVERY_SCAN_PERIOD: '3s',
        ROVER_LOGGER_LEVEL: 'INFO',
      },
    });
    const roverPid = rover.child.pid!;
    const pids = nginx.pids();
    await waitFor(
      'nginx reported',
      async () => {
        const names = await processNames(oap.graphqlUrl, SERVICE);
        return pids.every((p) => names.some((n) => n.endsWith(`-${p}`)));
      },
      60_000,
      rover,
    );
    const created = await graphqlOk(
      oap.graphqlUrl,
      `mutation ($r: EBPFProfilingNetworkTaskRequest!) { createEBPFNetworkProfiling(request: $r) { status errorReason id } }`,
      { r: { instanceId: `${b64(SERVICE)}.1_${b64(INSTANCE)}`, samplings: SAMPLINGS } },
    );
    if (!created.createEBPFNetworkProfiling.status) throw new Error(created.createEBPFNetworkProfiling.errorReason);
    await waitFor('the task started', () => rover!.output().includes('profiling task started'), 30_000, rover);
    await sleep(1_000);
    for (let round = 0; round < ROUNDS; round++) {
      for (const row of ROWS) {
        const served0 = nginx.served();
        const metered0 = metered(relay);
        const lost0 = lostSoFar(rover);
        const c0 = cpuMs(roverPid);
        const b0 = bpfRunTime(roverPid);
        const start = Date.now();
        const wrk = await runWrk(nginx.port, SECONDS, row.connections, 1, TRACED ? [`sw8: ${SW8}`] : []);
        const ended = Date.now();
        // nginx flushes its log every second; rover reports every 2 s, later when behind.
        await sleep(1_500);
        const target = nginx.served() - served0;
        while (metered(relay) - metered0 < target && Date.now() - ended < 60_000) await sleep(250);
        const lag = (Date.now() - ended) / 1000;
        const wall = (Date.now() - start) / 1000;
        const c1 = cpuMs(roverPid);
        const b1 = bpfRunTime(roverPid);
        const served = nginx.served() - served0;
        const result: Result = {
          row: row.name,
          rate: served / wrk.seconds,
          served,
          metered: metered(relay) - metered0,
          roverCpu: (c1 - c0) / 10 / wall,
          bpfCpu: (b1.ns - b0.ns) / 1e7 / wall,
          roverPer10k: served ? ((c1 - c0) / served) * 1_000 : 0,
          bpfPer10k: served ? ((b1.ns - b0.ns) / 1e6 / served) * 1_000 : 0,
          lag,
          bpfNsPerRun: b1.runs > b0.runs ? (b1.ns - b0.ns) / (b1.runs - b0.runs) : 0,
          lost: lostSoFar(rover) - lost0,
          load: loadavg()[0]!,
        };
        if (b1.progs === 0) console.warn('no BPF program fd in rover: BPF run time not measured');
        results.push(result);
        console.log(`round ${round + 1} ${row.name}: ${JSON.stringify(result)} (wrk: ${wrk.requests} responses)`);
      }
    }
  } finally {
    await rover?.stop();
    await nginx.stop();
    relay.close();
    await oap.cleanup();
    writeFileSync('/proc/sys/kernel/bpf_stats_enabled', statsWas);
  }
  const head = [
    'load',
    'exchanges/s',
    'rover CPU %',
    'per 10k/s',
    'BPF CPU %',
    'per 10k/s',
    'BPF ns/run',
    'served',
    'metered',
    'lag s',
    'lost',
    'load avg',
  ];
  const lines = results.map((r) => [
    r.row,
    r.rate.toFixed(0),
    r.roverCpu.toFixed(1),
    r.roverPer10k.toFixed(1),
    r.bpfCpu.toFixed(1),
    r.bpfPer10k.toFixed(1),
    r.bpfNsPerRun.toFixed(0),
    String(r.served),
    String(r.metered),
    r.lag.toFixed(1),
    String(r.lost),
    r.load.toFixed(1),
  ]);
  const widths = head.map((h, i) => Math.max(h.length, ...lines.map((l) => l[i]!.length)));
  const fmt = (l: string[]) => l.map((c, i) => (i === 0 ? c.padEnd(widths[i]!) : c.padStart(widths[i]!))).join('  ');
  console.log(
    `\nNETWORK task on nginx (master + 2 workers, keep-alive, 13-byte body) under wrk, ${SECONDS} s rows, ` +
      `${ROUNDS} round(s), ${SAMPLINGS.length ? 'one sampling rule' : 'no sampling rule'}${TRACED ? ', every request traced (sw8)' : ''}, ${((Date.now() - t0) / 60_000).toFixed(1)} min; CPU in % of one core over each row ` +
      `(wrk's run and rover's catching up); goal: rover <= 3 % per 10k exchanges/s, 0 lost`,
  );
  console.log([fmt(head), widths.map((w) => '-'.repeat(w)).join('  '), ...lines.map(fmt)].join('\n'));
};

main().then(
  () => process.exit(0),
  (err) => {
    console.error(err);
    process.exit(1);
  },
);
