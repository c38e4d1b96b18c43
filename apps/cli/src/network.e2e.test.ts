/**
 * `swlite network` as a child process against a real oap-lite, with a gRPC client playing the
 * rover: it picks up the task the CLI created (with the sampling rules of the flags), reports
 * rover_net_p_* meters and sampled-trace logs as rover does, and the CLI prints the edges with
 * their rates, latencies, status codes and bytes, the sampled requests, JSON and pictures.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import {
  AgentClient,
  hostProcess,
  netHistogram,
  netMeterCollection,
  netSingle,
  sampledTraceLog,
  startOap,
  type NetLabels,
  type OapProcess,
} from '@swlite/testkit';
import { assertNoStack, startSwlite, swlite } from './testing/run-cli';

const SVC = 'shop';
const INST = 'node-1';
const ENTITY = { service: SVC, instance: INST };
/** When the sampled 5xx request started (whole seconds: the CLI shows seconds). */
const ERR_AT = Math.floor(Date.now() / 1000) * 1000;
const clock = (ms: number) => {
  const d = new Date(ms);
  const p = (n: number) => String(n).padStart(2, '0');
  return `${d.getFullYear()}-${p(d.getMonth() + 1)}-${p(d.getDate())} ${p(d.getHours())}:${p(d.getMinutes())}:${p(d.getSeconds())}`;
};

/** Waits for the next NETWORK task command for this rover; returns its args. */
const nextNetworkTask = async (agent: AgentClient, known: Set<string>): Promise<Record<string, string>> => {
  for (let i = 0; i < 300; i++) {
    for (const command of (await agent.queryTasks(0)).commands) {
      const args = Object.fromEntries(command.args.map((a) => [a.key, a.value]));
      if (args.TargetType !== 'NETWORK' || known.has(args.TaskId!)) continue;
      known.add(args.TaskId!);
      return args;
    }
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error('the CLI never created a network task');
};

describe('swlite network against a running oap-lite', () => {
  let oap: OapProcess;
  let agent: AgentClient;
  let address: string;
  let out: string;
  let client: string;
  let server: string;
  const known = new Set<string>();

  /** What rover reports for one 2-second interval of client → server traffic, seen from both ends. */
  const report = async () => {
    const cs: NetLabels = { client_process_id: client, server_process_id: server, protocol: 'http', is_ssl: 'false' };
    const c = { ...cs, side: 'client' };
    const s = { ...cs, side: 'server' };
    const interval = (avgMs: number) =>
      netMeterCollection(ENTITY, Date.now(), [
        netSingle('http1_request_counter', 30, c),
        netSingle('http1_response_status_counter', 29, { ...c, code: '200' }),
        netSingle('http1_response_status_counter', 1, { ...c, code: '500' }),
        netSingle('http1_client_duration_avg', avgMs, c),
        netHistogram(
          'http1_client_duration_histogram',
          [
            [0, 0],
            [50, 10],
            [100, 15],
            [500, 5],
          ],
          c,
        ),
        netSingle('http1_server_duration_avg', 80, s),
        netSingle('client_write_counts_counter', 30, c),
        netSingle('client_write_bytes_counter', 4096, c),
        netSingle('client_read_bytes_counter', 20480, c),
        netSingle('server_read_bytes_counter', 4096, s),
        // the client's TLS connection to a peer no rover watches
        netSingle('client_write_counts_counter', 3, {
          client_process_id: client,
          server_address: '10.0.0.9:443',
          side: 'client',
          protocol: 'unknown',
          is_ssl: 'true',
        }),
        netSingle('client_write_bytes_counter', 300, {
          client_process_id: client,
          server_address: '10.0.0.9:443',
          side: 'client',
          protocol: 'unknown',
          is_ssl: 'true',
        }),
      ]);
    await agent.sendMeters([interval(100), interval(200)]);
    const peers = { client_process: { process_id: client }, server_process: { process_id: server } };
    await agent.sendLogs([
      sampledTraceLog(ENTITY, 't-slow', { ...peers, uri: '/api/slow', reason: 'slow', latency: 1600, status: 200 }),
      sampledTraceLog(ENTITY, 't-err', { ...peers, uri: '/api/err', reason: 'status_5xx', latency: 20, status: 500 }),
      sampledTraceLog(ENTITY, 't-404', {
        ...peers,
        uri: '/api/missing',
        reason: 'status_4xx',
        latency: 3,
        status: 404,
      }),
    ]);
    // the raw exchange of the 5xx, as rover attaches it to the trace
    const at = (ms: number) => ({ seconds: Math.floor(ms / 1000), nanos: (ms % 1000) * 1e6 });
    const exchange = (event: string, ms: number, content: string) => ({
      startTime: at(ms),
      endTime: at(ms + 1),
      event,
      tags: [
        { key: 'data_content', value: content },
        { key: 'service_name', value: SVC },
        { key: 'service_instance_name', value: INST },
      ],
      summary: [],
      traceContext: { type: 'SKYWALKING' as const, traceId: 't-err', traceSegmentId: 'seg-1', spanId: '0' },
    });
    await agent.sendAttachedEvents([
      exchange('HTTP Request Sampling', ERR_AT, 'GET /api/err HTTP/1.1\r\n\r\n'),
      exchange('HTTP Response Sampling', ERR_AT + 20, 'HTTP/1.1 503 Service Unavailable\r\n\r\nboom'),
    ]);
  };

  before(async () => {
    oap = await startOap();
    address = `http://127.0.0.1:${oap.httpPort}`;
    agent = new AgentClient(oap.grpcAddress, 'rover-net');
    const res = await agent.reportProcesses([
      hostProcess('client', { service: SVC, instance: INST, pid: 100 }),
      hostProcess('server', { service: SVC, instance: INST, pid: 101 }),
    ]);
    [client, server] = res.processes.map((p) => p.processId) as [string, string];
    out = mkdtempSync(join(tmpdir(), 'swlite-net-'));
  });
  after(async () => {
    agent?.close();
    await oap?.cleanup();
    if (out) rmSync(out, { recursive: true, force: true });
  });

  let taskId: string;

  it('runs a task with the sampling flags, then prints the edges and the sampled requests and draws an SVG', async () => {
    const svg = join(out, 'topology.svg');
    const cli = startSwlite([
      '--oap',
      address,
      'network',
      SVC,
      INST,
      '--duration',
      '3',
      '--uri-regex',
      '^/api',
      '--min-duration',
      '1000',
      '--when-4xx',
      '--max-body-size',
      '4096',
      '--out',
      svg,
    ]);
    const args = await nextNetworkTask(agent, known);
    taskId = args.TaskId!;
    assert.deepEqual(args.ProcessId!.split(',').sort(), [client, server].sort());
    assert.deepEqual(JSON.parse(args.ExtensionConfigJSON!).NetworkSamplings, [
      {
        URIRegex: '^/api',
        MinDuration: 1000,
        When4xx: true,
        When5xx: true,
        Settings: {
          RequireCompleteRequest: true,
          MaxRequestSize: 4096,
          RequireCompleteResponse: true,
          MaxResponseSize: 4096,
        },
      },
    ]);
    await report();
    const run = await cli.done;
    assert.equal(run.code, 0, run.stderr);
    assert.match(
      run.stderr,
      new RegExp(
        `Created NETWORK task ${taskId} for ${SVC} / ${INST} \\(3 s, sampling /\\^/api/ 4xx, 5xx, ≥1000 ms\\)`,
      ),
    );
    assert.match(run.stdout, /2 edges between 3 processes/);
    assert.match(
      run.stdout,
      /│ Source +│ Target +│ Proto +│ Seen by +│ Req\/min +│ Requests +│ Avg ms \(c\/s\) +│ P99 ms \(c\/s\) +│ Status codes +│ Sent +│ Received +│/,
    );
    // 60 requests (58 OK, 2 failed), client latency the mean of 100 and 200 ms, p99 in the 500 ms bucket
    assert.match(
      run.stdout,
      /│ client +│ server +│ http +│ both +│ [\d.]+ +│ 60 +│ 150 \/ 80 +│ 500 \/ - +│ 200×58 500×2 +│ 8\.0 KiB +│ 40\.0 KiB +│/,
    );
    assert.match(
      run.stdout,
      /│ client +│ UNKNOWN_REMOTE \(virtual\) +│ tls +│ client +│ - +│ - +│ - +│ - +│ - +│ 600 B +│ - +│/,
    );
    // status and time where rover attached the exchange to the trace, the kind otherwise
    assert.match(run.stdout, /Slow requests:[\s\S]*│ client → server +│ \/api\/slow +│ - +│ 1600 +│ - +│ t-slow +│/);
    assert.match(run.stdout, /4xx responses:[\s\S]*│ client → server +│ \/api\/missing +│ 4xx +│ 3 +│ - +│ t-404 +│/);
    assert.match(
      run.stdout,
      new RegExp(`5xx responses:[\\s\\S]*│ client → server +│ /api/err +│ 503 +│ 20 +│ ${clock(ERR_AT)} +│ t-err +│`),
    );
    assert.match(run.stdout, new RegExp(`Wrote ${svg.replace(/[.*+?^${}()|[\]\\/]/g, '\\$&')} \\(\\d+ bytes\\)`));
    const picture = readFileSync(svg, 'utf8');
    assert.match(picture, /^<\?xml[\s\S]*<svg [\s\S]*<\/svg>\n$/);
    for (const name of ['client', 'server', 'UNKNOWN_REMOTE']) assert.match(picture, new RegExp(`>${name}</text>`));
    assert.match(picture, /http · [\d.]+\/min/);
    assert.match(picture, /tls · 600 B/);
    assert.equal((picture.match(/class="edge"/g) ?? []).length, 2);
  });

  it('reads the task again with --task: one JSON object, and an interactive HTML page', async () => {
    const html = join(out, 'topology.html');
    const run = await swlite(['--oap', address, 'network', SVC, INST, '--task', taskId, '--json', '--out', html]);
    assert.equal(run.code, 0, run.stderr);
    const report = JSON.parse(run.stdout);
    assert.deepEqual(Object.keys(report).sort(), ['edges', 'nodes', 'task', 'warnings', 'window']);
    assert.equal(report.task.id, taskId);
    assert.equal(report.task.samplings, null);
    assert.deepEqual(report.warnings, []);
    assert.deepEqual(
      report.nodes.map((n: { name: string; real: boolean }) => [n.name, n.real]),
      [
        ['client', true],
        ['server', true],
        ['UNKNOWN_REMOTE', false],
      ],
    );
    const [http, tls] = report.edges;
    assert.deepEqual(
      [http.source.name, http.target.name, http.protocols, http.detectPoints],
      ['client', 'server', ['http'], ['CLIENT', 'SERVER']],
    );
    assert.equal(http.http.requests, 60);
    assert.equal(http.http.perMinute, 60 / report.window.minutes);
    assert.ok(report.window.end > report.window.start);
    assert.deepEqual(http.http.statusCodes, { 200: 58, 500: 2 });
    assert.deepEqual(http.http.client, { avgMs: 150, p99Ms: 500 });
    assert.deepEqual(http.http.server, { avgMs: 80, p99Ms: null });
    assert.deepEqual(http.bytes, { clientWrite: 8192, clientRead: 40960, serverWrite: null, serverRead: 8192 });
    assert.equal(http.tcp.clientWrites, 60);
    const none = { status: null, time: null };
    assert.deepEqual(http.records, {
      slow: [{ kind: 'slow', uri: '/api/slow', latencyMs: 1600, traceId: 't-slow', ...none }],
      '4xx': [{ kind: '4xx', uri: '/api/missing', latencyMs: 3, traceId: 't-404', ...none }],
      '5xx': [{ kind: '5xx', uri: '/api/err', latencyMs: 20, traceId: 't-err', status: 503, time: ERR_AT }],
    });
    assert.deepEqual(
      [tls.target.name, tls.target.real, tls.protocols, tls.http, tls.bytes.clientWrite],
      ['UNKNOWN_REMOTE', false, ['tls'], null, 600],
    );
    assert.match(run.stderr, /Wrote .*topology\.html/);
    const page = readFileSync(html, 'utf8');
    assert.match(page, /^<!DOCTYPE html>/);
    for (const name of ['client', 'server', 'UNKNOWN_REMOTE']) assert.match(page, new RegExp(`>${name}</text>`));
    assert.match(page, /<td>\/api\/slow<\/td><td>-<\/td><td>1600<\/td><td>-<\/td><td>t-slow<\/td>/);
    assert.match(page, /<script type="application\/json" id="topology-data">/);
  });

  it('stops early on Ctrl-C and still prints what arrived', async () => {
    const cli = startSwlite(['--oap', address, 'network', SVC, INST, '--duration', '600', '--no-sampling']);
    const args = await nextNetworkTask(agent, known);
    assert.equal(args.ExtensionConfigJSON, 'null');
    await report();
    cli.child.kill('SIGINT');
    const run = await cli.done;
    assert.equal(run.code, 0, run.stderr);
    assert.match(run.stderr, /Stopping early/);
    assert.match(run.stderr, /no request sampling/);
    assert.match(run.stdout, /│ client +│ server +│ http +│ both +│/);
  });

  it('refuses bad input with one clear message', async () => {
    const cases: Array<[string[], RegExp]> = [
      [['--out', join(out, 'x.png')], /the topology picture is written as \.svg or \.html \(got "\.png"\)/],
      [['--no-sampling', '--when-4xx'], /--no-sampling cannot go with --when-4xx/],
      [['--uri-regex', '(unclosed'], /--uri-regex "\(unclosed" is not a regular expression/],
      [['--no-when-5xx'], /the rule samples nothing/],
      [['--duration', '0'], /--duration must be between 1 and 86400/],
      [
        ['--task', 'abc123', '--min-duration', '5'],
        /--task reads an existing task: --min-duration only apply to a new one/,
      ],
      [['--task', 'abc123'], /unknown task "abc123"/],
    ];
    for (const [flags, message] of cases) {
      const run = await swlite(['--oap', address, 'network', SVC, INST, ...flags]);
      assert.notEqual(run.code, 0, flags.join(' '));
      assert.match(run.stderr, message);
      assertNoStack(run);
    }
    const unknown = await swlite(['--oap', address, 'network', SVC, 'node-9']);
    assert.equal(unknown.code, 1);
    assert.match(
      unknown.stderr,
      /service shop has no instance "node-9" seen in the last 60 minutes; instances: node-1/,
    );
    assertNoStack(unknown);
  });
});
