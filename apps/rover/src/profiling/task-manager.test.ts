// The task manager against a real oap-lite (a child process) and real processes: the OAP sends
// one command per process of a task, and rover runs the task once, in one runner over all of them
// (one kernel sampler), not one runner per command.
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { after, before, describe, it } from 'node:test';
import pino from 'pino';
import { bpfTestSkip } from '@swlite/libbpf-ts/testing';
import { ensureBpfBuilt } from '@swlite/bpf/testing/workloads';
import { Symbolizer } from '@swlite/symbolizer';
import { createTask, startOap, type OapProcess } from '@swlite/testkit';
import { BackendConnection } from '../backend/connection';
import { loadConfig } from '../config';
import { ProcessDiscovery, type HostInfo } from '../process';
import { ProcessReporter } from '../process/reporter';
import { createTargetRegistry } from './targets/registry';
import { TaskManager } from './task-manager';
import { TASK_COMMAND } from './task-command';

const SERVICE = 'swlite-one-task-svc';
const host: HostInfo = { hostname: 'test-host', ipv4: { lo: '127.0.0.1' }, ipv6: {}, defaultIp: '127.0.0.1' };

describe('TaskManager', { skip: bpfTestSkip() }, () => {
  let oap: OapProcess;
  const children: ChildProcess[] = [];
  before(async () => {
    ensureBpfBuilt();
    oap = await startOap();
  });
  after(async () => {
    for (const c of children) c.kill('SIGKILL');
    await oap?.cleanup();
  });

  it('the commands of one task, one per process, make one runner over all the processes', async () => {
    for (const n of [1, 2, 3]) children.push(spawn('sleep', [`417${n}`], { stdio: 'ignore' }));
    const pids = children.map((c) => c.pid!);
    const config = loadConfig({
      env: {},
      yaml: `
process_discovery:
  scanner:
    mode: REGEX
    period: 1h
    min_age: 0s
    regex:
      - match_cmd: '^sleep 417(\\d)$'
        service_name: ${SERVICE}
        instance_name: i-1
        process_name: 'p-{{.Finder.RegexMatchGroup 1}}'
`,
    });
    const log = pino({ level: 'silent' });
    const backend = new BackendConnection({ ...config.core.backend, addr: oap.grpcAddress, enableTLS: false, authentication: '' });
    const discovery = new ProcessDiscovery(config, { host, instanceId: 'rover-one-task', logger: log });
    const reporter = new ProcessReporter(backend, discovery, 'rover-one-task', 60_000, log);
    const manager = new TaskManager(backend, reporter, {
      agentId: 'rover-one-task',
      checkIntervalMs: 60_000,
      flushIntervalMs: 1_000,
      targets: createTargetRegistry({ config: config.profiling, symbolizer: new Symbolizer(), log }),
      log,
    });
    try {
      // spawn returns before exec: scan until the three show up.
      for (let i = 0; i < 100 && discovery.current().length < 3; i++) {
        await discovery.refresh();
        if (discovery.current().length < 3) await new Promise((r) => setTimeout(r, 20));
      }
      assert.deepEqual(discovery.current().map((p) => p.pid).sort(), [...pids].sort());
      await reporter.tick();
      assert.equal(reporter.all().length, 3);
      await createTask(oap.graphqlUrl, SERVICE, 'ON_CPU', 60);

      const answer = await backend.queryTasks({ roverInstanceId: 'rover-one-task', latestUpdateTime: 0 });
      const commands = answer.commands.filter((c) => c.command === TASK_COMMAND);
      assert.equal(commands.length, 3, 'the OAP sends one command per process');

      await manager.poll();
      const runners = manager.active();
      assert.equal(runners.length, 1, 'one runner for the task');
      await new Promise((r) => setTimeout(r, 50)); // the runner starts on a timer
      // Each process is profiled by the runner: removing all three ends it.
      for (const pid of pids) manager.processExited(pid);
      assert.equal(runners[0]!.done, true, 'the runner had all three processes');
    } finally {
      await manager.stop(500);
      backend.close();
    }
  });
});
