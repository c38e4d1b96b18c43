/**
 * The swlite CLI as a child process against a real oap-lite (another child process: SQLite, loopback ports), with a
 * gRPC client playing the rover: tables, `profile` while stacks stream in, `flamegraph --task`,
 * and the bad-input cases (exit codes, messages, no stack traces).
 */
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { freePort, startOap, type OapProcess } from '@swlite/testkit';
import { decodeProfile, profileStacks } from './testing/pprof-decode';
import { assertNoStack, swlite } from './testing/run-cli';
import { AgentClient, seedProcesses, uploadStacks } from './testing/seed';

/** Plays the rover: waits for the task the CLI created, then uploads the known stacks for it. */
const answerNextTask = async (agent: AgentClient, known: Set<string>): Promise<string> => {
  for (let i = 0; i < 200; i++) {
    const res = await agent.queryTasks(0);
    for (const command of res.commands) {
      const args = Object.fromEntries(command.args.map((a) => [a.key, a.value]));
      if (known.has(args.TaskId!)) continue;
      known.add(args.TaskId!);
      await uploadStacks(agent, args.TaskId!, args.ProcessId!.split(',')[0]!);
      return args.TaskId!;
    }
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error('the CLI never created a task');
};

const EXPECTED_FOLDED = [
  'main;ngx_worker_process_cycle;ngx_http_log_handler 10',
  'main;ngx_worker_process_cycle;ngx_process_events;entry_SYSCALL_64_[k];do_syscall_64_[k] 35',
  '',
].join('\n');

describe('swlite against a running oap-lite', () => {
  let oap: OapProcess;
  let agent: AgentClient;
  let address: string;
  let out: string;
  let taskId: string;
  const known = new Set<string>();

  before(async () => {
    oap = await startOap({ SW_EBPF_TASK_MIN_DURATION: '1' });
    address = `http://127.0.0.1:${oap.httpPort}`;
    agent = new AgentClient(oap.grpcAddress, 'rover-1');
    await seedProcesses(agent);
    out = mkdtempSync(join(tmpdir(), 'swlite-cli-'));
  });
  after(async () => {
    agent?.close();
    await oap?.cleanup();
    if (out) rmSync(out, { recursive: true, force: true });
  });

  it('lists services, instances and processes as tables', async () => {
    const services = await swlite(['--oap', address, 'services']);
    assert.equal(services.code, 0, services.stderr);
    assert.match(services.stdout, /│ Service\s+│ Layers\s+│/);
    assert.match(services.stdout, /│ demo-service │ OS_LINUX │ +│ yes +│ ZGVtby1zZXJ2aWNl\.1 │/);
    const layer = await swlite(['--oap', address, 'services', '--layer', 'K8S_SERVICE']);
    assert.equal(layer.code, 0);
    assert.match(layer.stdout, /No services in layer K8S_SERVICE/);

    // The address also comes from the environment, as host:port.
    const instances = await swlite(['instances', 'demo-service'], {
      SW_OAP_ADDRESS: `127.0.0.1:${oap.httpPort}`,
    });
    assert.equal(instances.code, 0, instances.stderr);
    assert.match(instances.stdout, /│ host-1 +│ UNKNOWN/);

    const processes = await swlite(['--oap', address, 'processes', 'demo-service', '--instance', 'host-1']);
    assert.equal(processes.code, 0, processes.stderr);
    assert.match(processes.stdout, /│ nginx +│ 10 +│ host-1 +│ proxy +│ yes +│ rover-1 +│ VM +│ [0-9a-f]{12}… │/);
    assert.match(processes.stdout, /│ worker +│ 11 +│ host-1 +│ +│ yes/);
    const json = await swlite(['--oap', address, 'processes', 'demo-service', '--json']);
    assert.deepEqual(
      JSON.parse(json.stdout)
        .map((p: { name: string }) => p.name)
        .sort(),
      ['nginx', 'worker'],
    );
  });

  it('profiles a service: progress, then HTML, SVG, folded stacks and pprof of what the rover sent', async () => {
    const dir = join(out, 'profile');
    const cli = swlite([
      '--oap',
      address,
      'profile',
      'demo-service',
      '--labels',
      'proxy',
      '--duration',
      '2',
      '--out',
      dir,
      '--wait',
      '--wait-max',
      '10',
    ]);
    taskId = await answerNextTask(agent, known);
    const run = await cli;
    assert.equal(run.code, 0, run.stderr);
    assert.match(run.stderr, new RegExp(`Created ON_CPU task ${taskId} for demo-service \\(2 s, labels proxy\\)`));
    assert.match(run.stderr, /100% \| 2\/2 s \| 45 samples \| 1 process/);
    assert.match(run.stdout, /demo-service: on-CPU flame graph: 45 samples from 1 schedule\(s\) \(nginx \(pid 10\)\)/);
    assert.match(run.stdout, /│ 35 samples │ 77\.78% │ 77\.78% +│ do_syscall_64 \[k\] +│/);

    assert.equal(readFileSync(join(dir, 'stacks.folded'), 'utf8'), EXPECTED_FOLDED);
    const svg = readFileSync(join(dir, 'flamegraph.svg'), 'utf8');
    assert.match(svg, /<title>do_syscall_64 \(kernel, 35 samples, 77\.78%\)<\/title>/);
    assert.match(svg, /<title>ngx_http_log_handler \(user, 10 samples, 22\.22%\)<\/title>/);
    assert.match(svg, /demo-service: on-CPU flame graph/);
    const html = readFileSync(join(dir, 'flamegraph.html'), 'utf8');
    assert.match(html, /<title>demo-service: on-CPU flame graph<\/title>/);
    assert.ok(html.includes('"ngx_process_events"'));
    const profile = decodeProfile(readFileSync(join(dir, 'profile.pb.gz')));
    assert.deepEqual(profile.sampleType, [{ type: 'samples', unit: 'count' }]);
    assert.deepEqual(Object.fromEntries(profileStacks(profile)), {
      'main;ngx_worker_process_cycle;ngx_http_log_handler': 10,
      'main;ngx_worker_process_cycle;ngx_process_events;entry_SYSCALL_64;do_syscall_64': 35,
    });
    assert.ok(profile.comments.includes(`swlite task ${taskId}`));
  });

  it('lists the task and renders it again with flamegraph --task (by ID prefix)', async () => {
    const tasks = await swlite(['--oap', address, 'tasks', 'demo-service', '--target', 'on_cpu']);
    assert.equal(tasks.code, 0, tasks.stderr);
    assert.match(
      tasks.stdout,
      new RegExp(`│ ${taskId.slice(0, 12)}… │ ON_CPU +│ FIXED_TIME │ labels: proxy │ .+ │ 2 s +│`),
    );
    const none = await swlite(['--oap', address, 'tasks', 'demo-service', '--target', 'OFF_CPU']);
    assert.match(none.stdout, /No OFF_CPU tasks for demo-service/);
    // The filter takes every target type of the protocol, flame graph or not.
    const network = await swlite(['--oap', address, 'tasks', 'demo-service', '--target', 'network']);
    assert.equal(network.code, 0, network.stderr);
    assert.match(network.stdout, /No NETWORK tasks for demo-service/);

    const dir = join(out, 'again');
    const run = await swlite(['--oap', address, 'flamegraph', '--task', taskId.slice(0, 10), '--out', dir]);
    assert.equal(run.code, 0, run.stderr);
    assert.equal(readFileSync(join(dir, 'stacks.folded'), 'utf8'), EXPECTED_FOLDED);
    for (const f of ['flamegraph.html', 'flamegraph.svg', 'profile.pb.gz']) assert.ok(existsSync(join(dir, f)), f);
  });

  it('renders an off-CPU task by switch count or by blocked time (pprof off-cpu/nanoseconds)', async () => {
    const create = await fetch(`${address}/graphql`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({
        query:
          'mutation ($r: EBPFProfilingTaskFixedTimeCreationRequest!) { createEBPFProfilingFixedTimeTask(request: $r) { id } }',
        variables: {
          r: {
            serviceId: 'ZGVtby1zZXJ2aWNl.1',
            processLabels: [],
            startTime: Date.now(),
            duration: 5,
            targetType: 'OFF_CPU',
          },
        },
      }),
    });
    const offTask = ((await create.json()) as any).data.createEBPFProfilingFixedTimeTask.id as string;
    known.add(offTask);
    const { nginx } = await seedProcesses(agent);
    const start = Date.now();
    await agent.collect([
      {
        task: {
          taskId: offTask,
          processId: nginx,
          profilingStartTime: start,
          currentTime: start + 1000,
        },
        offCPU: {
          stacks: [
            {
              stackType: 'PROCESS_USER_SPACE',
              stackId: 1,
              stackSymbols: ['write', 'ngx_write_fd', 'main'],
            },
            {
              stackType: 'PROCESS_KERNEL_SPACE',
              stackId: 2,
              stackSymbols: ['schedule', 'vfs_write'],
            },
          ],
          switchCount: 7,
          duration: 3_000_000,
        },
      },
    ]);
    const count = await swlite(['--oap', address, 'flamegraph', '--task', offTask, '--out', join(out, 'off-count')]);
    assert.equal(count.code, 0, count.stderr);
    assert.match(count.stdout, /demo-service: off-CPU flame graph: 7 samples/);
    assert.equal(
      readFileSync(join(out, 'off-count', 'stacks.folded'), 'utf8'),
      'main;ngx_write_fd;write;vfs_write_[k];schedule_[k] 7\n',
    );

    const time = await swlite([
      '--oap',
      address,
      'flamegraph',
      '--task',
      offTask,
      '--aggregate',
      'duration',
      '--out',
      join(out, 'off-time'),
    ]);
    assert.equal(time.code, 0, time.stderr);
    assert.match(time.stdout, /off-CPU flame graph: 3\.00 ms from 1 schedule/);
    assert.equal(
      readFileSync(join(out, 'off-time', 'stacks.folded'), 'utf8'),
      'main;ngx_write_fd;write;vfs_write_[k];schedule_[k] 3000000\n',
    );
    const profile = decodeProfile(readFileSync(join(out, 'off-time', 'profile.pb.gz')));
    assert.deepEqual(profile.sampleType, [{ type: 'off-cpu', unit: 'nanoseconds' }]);
    assert.deepEqual([...profileStacks(profile).values()], [3_000_000]);
    // DURATION makes no sense for on-CPU tasks.
    const wrong = await swlite(['--oap', address, 'flamegraph', '--task', taskId, '--aggregate', 'DURATION']);
    assert.equal(wrong.code, 1);
    assert.match(wrong.stderr, /--aggregate DURATION needs an OFF_CPU task .* this one is ON_CPU/);
  });

  it('finds continuous-profiling tasks: tasks lists them, flamegraph --task renders one', async () => {
    const policy = await fetch(`${address}/graphql`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({
        query:
          'mutation ($r: ContinuousProfilingPolicyCreation!) { setContinuousProfilingPolicy(request: $r) { status errorReason } }',
        variables: {
          r: {
            serviceId: 'ZGVtby1zZXJ2aWNl.1',
            targets: [
              { targetType: 'ON_CPU', checkItems: [{ type: 'PROCESS_CPU', threshold: '50', period: 10, count: 3 }] },
            ],
          },
        },
      }),
    });
    assert.equal(((await policy.json()) as any).data.setContinuousProfilingPolicy.status, true);
    // The rover's report of a crossed threshold creates the task; the rover then uploads for it.
    const reported = await new Promise<any>((resolve, reject) =>
      agent.continuous.reportProfilingTask(
        {
          layer: 'OS_LINUX',
          serviceName: 'demo-service',
          instanceName: 'host-1',
          processName: 'nginx',
          causes: [{ type: 'ProcessCPU', singleValue: { threshold: 50, current: 97 } }],
          duration: 30,
          targetTask: 'onCPU',
          onCPU: {},
        } as never,
        (err, value) => (err ? reject(err) : resolve(value)),
      ),
    );
    const continuousTask = reported.commands[0].args.find((a: { key: string }) => a.key === 'TaskId').value as string;
    const { nginx } = await seedProcesses(agent);
    await uploadStacks(agent, continuousTask, nginx);

    const tasks = await swlite(['--oap', address, 'tasks', 'demo-service', '--json']);
    assert.equal(tasks.code, 0, tasks.stderr);
    const listed = JSON.parse(tasks.stdout) as Array<{ taskId: string; triggerType: string }>;
    assert.ok(
      listed.some((t) => t.taskId === continuousTask && t.triggerType === 'CONTINUOUS_PROFILING'),
      tasks.stdout,
    );
    assert.ok(
      listed.some((t) => t.triggerType === 'FIXED_TIME'),
      'fixed-time tasks are still listed',
    );
    const onlyContinuous = await swlite([
      '--oap',
      address,
      'tasks',
      'demo-service',
      '--trigger',
      'CONTINUOUS_PROFILING',
      '--json',
    ]);
    assert.deepEqual(
      (JSON.parse(onlyContinuous.stdout) as Array<{ taskId: string }>).map((t) => t.taskId),
      [continuousTask],
    );

    const dir = join(out, 'continuous');
    const run = await swlite(['--oap', address, 'flamegraph', '--task', continuousTask, '--out', dir]);
    assert.equal(run.code, 0, run.stderr);
    assert.equal(readFileSync(join(dir, 'stacks.folded'), 'utf8'), EXPECTED_FOLDED);
  });

  it('says so and exits 1 when a task gets no data', async () => {
    const dir = join(out, 'empty');
    // No rover answers this one.
    const run = await swlite(['--oap', address, 'profile', 'demo-service', '--duration', '1', '--out', dir]);
    assert.equal(run.code, 1);
    assert.match(
      run.stderr,
      /swlite: error: task [0-9a-f]{64} got no data: no rover reported stacks for service "demo-service"/,
    );
    assertNoStack(run);
    assert.equal(existsSync(join(dir, 'flamegraph.html')), false);
  });

  it('names an unknown service and lists the known ones', async () => {
    for (const args of [
      ['profile', 'nope', '--duration', '1'],
      ['processes', 'nope'],
      ['tasks', 'nope'],
    ]) {
      const run = await swlite(['--oap', address, ...args]);
      assert.equal(run.code, 1, args.join(' '));
      assert.equal(run.stderr, 'swlite: error: unknown service "nope"; known services: demo-service\n');
      assertNoStack(run);
    }
    const task = await swlite(['--oap', address, 'flamegraph', '--task', 'feedfacefeed']);
    assert.equal(task.code, 1);
    assert.match(task.stderr, /unknown task "feedfacefeed"/);
    const label = await swlite(['--oap', address, 'profile', 'demo-service', '--labels', 'db', '--duration', '1']);
    assert.equal(label.code, 1);
    assert.match(label.stderr, /service "demo-service" has no process labelled db; its labels: proxy/);
  });

  it('gives the address when oap-lite is unreachable', async () => {
    const port = await freePort();
    const run = await swlite(['--oap', `http://127.0.0.1:${port}`, 'services']);
    assert.equal(run.code, 1);
    assert.equal(
      run.stderr,
      `swlite: error: cannot reach oap-lite at http://127.0.0.1:${port}/graphql: connection refused. Is it running? Set the address with --oap or SW_OAP_ADDRESS.\n`,
    );
    assertNoStack(run);
    // --debug adds the stack.
    const debug = await swlite(['--oap', `http://127.0.0.1:${port}`, '--debug', 'services']);
    assert.equal(debug.code, 1);
    assert.match(debug.stderr, /^\s+at .+client\.ts/m);
    const bad = await swlite(['--oap', 'ftp://x', 'services']);
    assert.equal(bad.code, 1);
    assert.match(bad.stderr, /"ftp:\/\/x" is not an http\(s\) address/);
  });

  it('rejects invalid flags with what was wrong, never a stack', async () => {
    const cases: Array<[string[], RegExp]> = [
      [
        ['profile', 'demo-service', '--target', 'SIDEWAYS'],
        /option '--target <type>' argument 'SIDEWAYS' is invalid\. expected one of ON_CPU, OFF_CPU/,
      ],
      [['profile', 'demo-service', '--duration', '0'], /--duration must be between 1 and 3600/],
      [['profile', 'demo-service', '--duration', 'soon'], /--duration must be a whole number/],
      [['profile', 'demo-service', '--aggregate', 'DURATION'], /--aggregate DURATION needs an OFF_CPU task/],
      [['profile', 'demo-service', '--labels', ' , '], /give one or more labels/],
      [['tasks', 'demo-service', '--trigger', 'NOW'], /expected one of FIXED_TIME, CONTINUOUS_PROFILING/],
      [['profile'], /missing required argument 'service'/],
      [['flamegraph'], /required option '--task <id>' not specified/],
      [['services', '--bogus'], /unknown option '--bogus'/],
      [['frobnicate'], /unknown command 'frobnicate'/],
    ];
    for (const [args, message] of cases) {
      const run = await swlite(['--oap', address, ...args]);
      assert.notEqual(run.code, 0, args.join(' '));
      assert.match(run.stderr, message, args.join(' '));
      assertNoStack(run);
    }
    const help = await swlite(['--help']);
    assert.equal(help.code, 0);
    for (const command of ['services', 'instances', 'processes', 'tasks', 'profile', 'flamegraph'])
      assert.match(help.stdout, new RegExp(`\\n  ${command}\\b`));
  });
});
