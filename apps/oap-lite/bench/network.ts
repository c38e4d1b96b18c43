/**
 * Network profiling figures for oap-lite: 1,000 process relations × 30 rover_net_p_* meters
 * reported every 2 s (rover's report period), as one MeterDataCollection per period through
 * MeterReportService.collectBatch over real gRPC; then getProcessTopology of the instance and
 * execExpression over the relations' metrics (time series, labelled, percentiles, arithmetic) over
 * real HTTP. Targets: a period ingested in under its 2 s; topology and MQE p99 under 100 ms.
 *
 *   npm run bench:network -w @swlite/oap-lite   (BENCH_PERIODS, BENCH_QUERIES to change the counts;
 *                                            SW_STORAGE=elasticsearch with SW_STORAGE_ES_CLUSTER_NODES)
 *
 * oap-lite runs as its own process (the bundle when built: rebuild it first), so the figures are
 * the server's. The periods are sent back to back (faster than rover would), with timestamps 2 s
 * apart, so 30 periods fill one minute of every metric.
 */
import * as grpc from '@grpc/grpc-js';
import { readFileSync } from 'node:fs';
import { loadSkyWalkingGrpc, type MeterData, type MeterDataCollection } from '@swlite/protocol';
import { AgentClient, graphqlOk, hostProcess, minuteDuration, startOap } from '@swlite/testkit';
import { instanceId, processId, serviceId } from '../src/core/ids';

const PERIODS = Number(process.env.BENCH_PERIODS ?? 30);
const QUERIES = Number(process.env.BENCH_QUERIES ?? 200);
const CLIENTS = 100;
const SERVERS = 10;
const PERIOD_MS = 2_000;
const SVC = 'bench-net';
const INST = 'bench-node';
const INSTANCE_ID = instanceId(serviceId(SVC), INST);

/** The 30 meters of one relation in one period: layer-4 counters and histograms of both sides, http1. */
const meters = (client: string, server: string, i: number): Array<Omit<MeterData, 'timestamp'>> => {
  const base = { client_process_id: client, server_process_id: server, protocol: 'http', is_ssl: 'false' };
  const out: Array<Omit<MeterData, 'timestamp'>> = [];
  const single = (name: string, side: string, value: number, extra: Record<string, string> = {}) =>
    out.push({
      singleValue: {
        name: `rover_net_p_${name}`,
        labels: Object.entries({ ...base, side, ...extra }).map(([n, v]) => ({ name: n, value: v })),
        value,
      },
    });
  const histogram = (name: string, side: string, bounds: number[]) =>
    out.push({
      histogram: {
        name: `rover_net_p_${name}`,
        labels: Object.entries({ ...base, side }).map(([n, v]) => ({ name: n, value: v })),
        values: bounds.map((bucket, k) => ({ bucket, count: (i + k) % 7 })),
      },
    });
  const ns = [0, 1_000, 10_000, 100_000, 1_000_000, 10_000_000];
  for (const side of ['client', 'server']) {
    single(`${side}_write_counts_counter`, side, 10 + (i % 5));
    single(`${side}_write_bytes_counter`, side, 4096);
    single(`${side}_write_exe_time_counter`, side, 20_000);
    single(`${side}_read_counts_counter`, side, 9);
    single(`${side}_read_bytes_counter`, side, 8192);
    single(`${side}_read_exe_time_counter`, side, 15_000);
    single(`${side}_write_rtt_counts_counter`, side, 5);
    single(`${side}_write_rtt_exe_time_counter`, side, 120);
    single(`${side}_connect_counts_counter`, side, 1);
    histogram(`${side}_write_rtt_histogram`, side, [0, 50, 100, 500, 1_000, 5_000]);
    histogram(`${side}_write_exe_time_histogram`, side, ns);
  }
  single('http1_request_counter', 'client', 10);
  single('http1_response_status_counter', 'client', 9, { code: '200' });
  single('http1_response_status_counter', 'client', 1, { code: '500' });
  single('http1_request_package_size_avg', 'client', 300);
  single('http1_response_package_size_avg', 'client', 1200);
  single('http1_client_duration_avg', 'client', 12);
  histogram('http1_client_duration_histogram', 'client', [0, 5, 10, 50, 100, 500, 1_000]);
  histogram('http1_response_package_size_histogram', 'client', [0, 256, 1024, 4096, 16_384]);
  return out; // 2 × 11 + 8 = 30 MeterData
};

const encode = (() => {
  const method = loadSkyWalkingGrpc().skywalking.v3.MeterReportService.service.collectBatch;
  return (collection: MeterDataCollection): Buffer => method.requestSerialize(collection);
})();

/** One collectBatch call carrying a pre-encoded collection (the client's encoding is not timed). */
const sendEncoded = (client: grpc.Client, message: Buffer): Promise<void> =>
  new Promise((resolve, reject) => {
    const call = client.makeClientStreamRequest(
      '/skywalking.v3.MeterReportService/collectBatch',
      (b: Buffer) => b,
      (b: Buffer) => b,
      (err) => (err ? reject(err) : resolve()),
    );
    call.write(message);
    call.end();
  });

/** CPU seconds (user + system) a process has used. */
const cpuSeconds = (pid: number): number => {
  const fields = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1]!.split(' ');
  return (Number(fields[11]) + Number(fields[12])) / 100;
};

const percentile = (sorted: number[], p: number) =>
  sorted[Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1)]!;
const summary = (times: number[]) => {
  const s = [...times].sort((a, b) => a - b);
  return { p50: percentile(s, 50).toFixed(1), p99: percentile(s, 99).toFixed(1), max: s[s.length - 1]!.toFixed(1) };
};

const main = async () => {
  const oap = await startOap({
    SW_LOG_LEVEL: 'warn',
    ...(process.env.SW_STORAGE ? { SW_STORAGE: process.env.SW_STORAGE } : {}),
  });
  const agent = new AgentClient(oap.grpcAddress, 'bench-rover');
  try {
    const names = [
      ...Array.from({ length: CLIENTS }, (_, i) => `client-${i}`),
      ...Array.from({ length: SERVERS }, (_, i) => `server-${i}`),
    ];
    await agent.reportProcesses(
      names.map((n, i) => hostProcess(n, { service: SVC, instance: INST, layer: 'K8S_SERVICE', pid: 1000 + i })),
    );
    const pid = (name: string) => processId(INSTANCE_ID, name);
    const edges: Array<[string, string]> = [];
    for (let c = 0; c < CLIENTS; c++) for (let s = 0; s < SERVERS; s++) edges.push([`client-${c}`, `server-${s}`]);

    const start = Math.floor(Date.now() / 60_000) * 60_000 - 60_000 * Math.ceil((PERIODS * PERIOD_MS) / 60_000);
    const ingest: number[] = [];
    const cpu: number[] = [];
    const raw = new grpc.Client(oap.grpcAddress, grpc.credentials.createInsecure(), {
      'grpc.max_send_message_length': 64 * 1024 * 1024,
    });
    let meterData = 0;
    for (let p = 0; p < PERIODS; p++) {
      const timestamp = start + p * PERIOD_MS;
      const data: MeterData[] = [];
      edges.forEach(([c, s], i) => {
        for (const m of meters(pid(c), pid(s), i + p)) data.push(m);
      });
      data[0] = { ...data[0], service: SVC, serviceInstance: INST, timestamp };
      const message = encode({ meterData: data });
      meterData += data.length;
      const c0 = cpuSeconds(oap.child.pid!);
      const t0 = performance.now();
      await sendEncoded(raw, message);
      ingest.push(performance.now() - t0);
      cpu.push((cpuSeconds(oap.child.pid!) - c0) * 1000);
    }
    raw.close();
    const ingestSummary = summary(ingest);
    const cpuSummary = summary(cpu);
    console.log(
      `ingest: ${PERIODS} periods of ${edges.length} relations (${meterData / PERIODS} MeterData each): ` +
        `per period wall p50 ${ingestSummary.p50} ms, p99 ${ingestSummary.p99} ms, max ${ingestSummary.max} ms; ` +
        `oap-lite CPU p50 ${cpuSummary.p50} ms, max ${cpuSummary.max} ms (budget ${PERIOD_MS} ms); ` +
        `${(meterData / (ingest.reduce((a, b) => a + b, 0) / 1000)).toFixed(0)} MeterData/s`,
    );

    const duration = minuteDuration(start, start + PERIODS * PERIOD_MS + 60_000);
    const topology: number[] = [];
    let calls = 0;
    const topologyCpu0 = cpuSeconds(oap.child.pid!);
    for (let q = 0; q < Math.min(QUERIES, 100); q++) {
      const t0 = performance.now();
      const r = await graphqlOk(
        oap.graphqlUrl,
        `query ($id: ID!, $d: Duration!) { getProcessTopology(serviceInstanceId: $id, duration: $d) {
          nodes { id name isReal serviceName serviceId serviceInstanceId serviceInstanceName }
          calls { id source detectPoints target sourceComponents targetComponents } } }`,
        { id: INSTANCE_ID, d: duration },
      );
      topology.push(performance.now() - t0);
      calls = r.getProcessTopology.calls.length;
    }
    const topo = summary(topology);
    const topologyCpu = ((cpuSeconds(oap.child.pid!) - topologyCpu0) * 1000) / topology.length;
    console.log(
      `getProcessTopology (${calls} calls): p50 ${topo.p50} ms, p99 ${topo.p99} ms, max ${topo.max} ms; ` +
        `oap-lite CPU ${topologyCpu.toFixed(1)} ms per query`,
    );

    const expressions = [
      'process_relation_client_write_cpm',
      'process_relation_server_write_total_bytes/1024',
      'process_relation_http1_response_status_cpm',
      'process_relation_http1_client_duration_percentile',
      'process_relation_client_write_exe_time_percentile/1000000',
      'process_relation_http1_client_duration',
    ];
    const mqe: number[] = [];
    const mqeCpu0 = cpuSeconds(oap.child.pid!);
    for (let q = 0; q < QUERIES; q++) {
      const [c, s] = edges[(q * 37) % edges.length]!;
      const entity = {
        serviceName: SVC,
        normal: true,
        serviceInstanceName: INST,
        processName: c,
        destServiceName: SVC,
        destNormal: true,
        destServiceInstanceName: INST,
        destProcessName: s,
      };
      const expression = expressions[q % expressions.length]!;
      const t0 = performance.now();
      const r = await graphqlOk(
        oap.graphqlUrl,
        `query ($e: String!, $entity: Entity!, $d: Duration!) { execExpression(expression: $e, entity: $entity, duration: $d) {
          type error results { metric { labels { key value } } values { id value } } } }`,
        { e: expression, entity, d: duration },
      );
      mqe.push(performance.now() - t0);
      if (r.execExpression.error || r.execExpression.results.length === 0) {
        throw new Error(`${expression}: ${JSON.stringify(r.execExpression).slice(0, 300)}`);
      }
    }
    const m = summary(mqe);
    const mqeCpu = ((cpuSeconds(oap.child.pid!) - mqeCpu0) * 1000) / mqe.length;
    console.log(
      `execExpression (${QUERIES} queries, ${expressions.length} expressions): p50 ${m.p50} ms, p99 ${m.p99} ms, max ${m.max} ms; oap-lite CPU ${mqeCpu.toFixed(1)} ms per query`,
    );
    // The ingest budget is the server's CPU per period: on a shared machine wall time includes waiting for a core.
    const ok = Number(cpuSummary.max) < PERIOD_MS && Number(topo.p99) < 100 && Number(m.p99) < 100;
    console.log(
      `load average while measured: ${readFileSync('/proc/loadavg', 'utf8').split(' ').slice(0, 3).join(' ')}`,
    );
    console.log(ok ? 'within the targets' : 'OUTSIDE the targets');
    if (!ok) process.exitCode = 1;
  } finally {
    agent.close();
    await oap.cleanup();
  }
};

await main();
