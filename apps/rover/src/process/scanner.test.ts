import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { type ChildProcess, spawn } from 'node:child_process';
import { chmodSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, readlinkSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { loadConfig } from '../config/index.js';
import {
  type HostInfo,
  type ProcessChange,
  ProcessDiscovery,
  toEBPFProcessProperties,
  toPingPkg,
  matchDownstream,
} from './index.js';

const host: HostInfo = { hostname: 'test-host', ipv4: { lo: '127.0.0.1', eth9: '10.1.2.3' }, ipv6: {}, defaultIp: '10.1.2.3' };
const children: ChildProcess[] = [];
const dir = mkdtempSync(join(tmpdir(), 'rover-scan-'));
after(() => {
  for (const c of children) {
    try {
      process.kill(-(c.pid as number), 'SIGKILL'); // the whole group: the script's own sleep too
    } catch {
      /* already gone */
    }
  }
  rmSync(dir, { recursive: true, force: true });
});

function start(cmd: string, args: string[], env: NodeJS.ProcessEnv = process.env): ChildProcess {
  const c = spawn(cmd, args, { stdio: 'ignore', env, detached: true });
  children.push(c);
  return c;
}

/** Waits until /proc/PID/cmdline shows the exec'd command (spawn returns before exec). */
async function execed(c: ChildProcess, needle: string): Promise<number> {
  for (let i = 0; i < 100; i++) {
    const text = (() => {
      try {
        return readFileSync(`/proc/${c.pid}/cmdline`, 'utf8');
      } catch {
        return '';
      }
    })();
    if (text.includes(needle)) return c.pid as number;
    await sleep(20);
  }
  throw new Error(`process ${c.pid} never ran ${needle}`);
}

const quietLogger = { warnings: [] as string[], warn(_f: Record<string, unknown>, m: string) { this.warnings.push(m); } };

test('host mode: regex finders, templates, and exit detection with real processes', async () => {
  const script = join(dir, 'swlite-fake-app.sh');
  writeFileSync(script, '#!/bin/sh\nsleep 311 &\nwait\n');
  chmodSync(script, 0o755);
  const app = start('/bin/sh', [script, '--port', '8080']);
  const sleeper = start('sleep', ['313']);
  const appPid = await execed(app, 'swlite-fake-app.sh');
  const sleepPid = await execed(sleeper, '313');

  const config = loadConfig({
    env: {},
    yaml: `
process_discovery:
  scanner:
    mode: REGEX
    period: 1h
    min_age: 0s
    regex:
      - match_cmd: 'swlite-fake-app\\.sh --port (\\d+)'
        service_name: fake-app
        instance_name: '{{.Rover.HostName}}'
        process_name: 'app-{{.Finder.RegexMatchGroup 1}}'
        labels: test,shell
      - match_cmd: '^sleep 313$'
        match_exe: '/sleep$'
        layer: GENERAL
        service_name: '{{.Process.ExeName}}-svc'
        instance_name: '{{.Rover.HostIPV4 "lo"}}'
        process_name: '{{.Process.ExeName}}'
`,
  });
  const discovery = new ProcessDiscovery(config, { host, instanceId: 'rover-1', logger: quietLogger });
  const changes: ProcessChange[] = [];
  discovery.on('change', (c) => changes.push(c));
  await discovery.start();
  try {
    const found = discovery.current();
    assert.deepEqual(
      found.map((p) => [p.pid, p.serviceName]),
      [
        [appPid, 'fake-app'],
        [sleepPid, 'sleep-svc'],
      ].sort((a, b) => (a[0] as number) - (b[0] as number)),
    );
    const app1 = discovery.findByPid(appPid)[0];
    assert.ok(app1);
    assert.equal(app1.detectType, 'VM');
    assert.deepEqual(app1.entity, {
      layer: 'OS_LINUX',
      serviceName: 'fake-app',
      instanceName: 'test-host',
      processName: 'app-8080',
      labels: ['test', 'shell'],
    });
    assert.equal(app1.cmdline, `/bin/sh ${script} --port 8080`);
    assert.equal(app1.exeName, 'sh');
    assert.match(app1.exe, /\/(dash|bash|sh|busybox)$/);
    assert.equal(app1.profilingSupported, true);
    assert.ok(Math.abs(app1.startTime - Date.now()) < 10_000, `start time ${new Date(app1.startTime).toISOString()}`);

    const s = discovery.findByPid(sleepPid)[0];
    assert.ok(s);
    assert.equal(s.layer, 'GENERAL');
    assert.equal(s.instanceName, '127.0.0.1');
    assert.equal(s.processName, 'sleep');
    assert.match(s.exe, /\/sleep$/);
    assert.deepEqual(toEBPFProcessProperties(s), {
      hostProcess: {
        entity: { layer: 'GENERAL', serviceName: 'sleep-svc', instanceName: '127.0.0.1', processName: 'sleep', labels: [] },
        pid: sleepPid,
        properties: [
          { key: 'host_ip', value: '10.1.2.3' },
          { key: 'pid', value: String(sleepPid) },
          { key: 'command_line', value: 'sleep 313' },
          { key: 'support_ebpf_profiling', value: 'true' },
        ],
      },
    });
    assert.deepEqual(toPingPkg(s), {
      entityMetadata: { layer: 'GENERAL', serviceName: 'sleep-svc', instanceName: '127.0.0.1', processName: 'sleep', labels: [] },
      properties: [{ key: 'support_ebpf_profiling', value: 'true' }],
    });
    const entityMetadata = { layer: 'GENERAL', serviceName: 'sleep-svc', instanceName: '127.0.0.1', processName: 'sleep', labels: [] };
    assert.equal(matchDownstream(s, { processId: 'p1', hostProcess: { pid: sleepPid, entityMetadata } }), 'p1');
    assert.equal(matchDownstream(s, { processId: 'p1', hostProcess: { pid: sleepPid + 1, entityMetadata } }), undefined);
    assert.equal(matchDownstream(s, { processId: 'p1', k8sProcess: { pid: sleepPid, entityMetadata } }), undefined);

    assert.equal(changes.length, 1);
    assert.equal(changes[0]?.added.length, 2);

    // a second scan without changes emits nothing
    assert.deepEqual(await discovery.refresh(), { added: [], removed: [] });

    sleeper.kill('SIGKILL');
    await new Promise((r) => sleeper.once('exit', r));
    const change = await discovery.refresh();
    assert.deepEqual(change.added, []);
    assert.deepEqual(change.removed.map((p) => p.pid), [sleepPid]);
    assert.deepEqual(discovery.current().map((p) => p.pid), [appPid]);
    assert.equal(changes.length, 2);
  } finally {
    await discovery.stop();
  }
});

test('host mode default finder: user processes only, no kernel threads, zombies or rover itself', async () => {
  // the shell forks a short sleep then execs a long one that never reaps it: a zombie child
  const parent = start('/bin/sh', ['-c', 'sleep 0.05 & exec sleep 317']);
  const parentPid = await execed(parent, '317');
  let zombie: number | undefined;
  for (let i = 0; i < 100 && zombie === undefined; i++) {
    const kids = readFileSync(`/proc/${parentPid}/task/${parentPid}/children`, 'utf8').trim().split(/\s+/).filter(Boolean).map(Number);
    for (const k of kids) {
      try {
        if (/\) Z /.test(readFileSync(`/proc/${k}/stat`, 'utf8'))) zombie = k;
      } catch {
        /* gone */
      }
    }
    if (zombie === undefined) await sleep(20);
  }
  assert.ok(zombie, 'test setup: a zombie exists');

  const config = loadConfig({ env: { ROVER_PROCESS_DISCOVERY_SCAN_MODE: 'REGEX', ROVER_PROCESS_DISCOVERY_SCAN_MIN_AGE: '0s' } });
  const discovery = new ProcessDiscovery(config, { host, logger: quietLogger });
  await discovery.refresh();
  const found = discovery.current();
  const pids = new Set(found.map((p) => p.pid));
  assert.ok(pids.has(1) || found.length > 0);
  assert.ok(!pids.has(process.pid), 'rover itself is not reported');
  assert.ok(!pids.has(zombie), 'zombies are not reported');
  assert.ok(!pids.has(2), 'kthreadd is not reported');
  for (const p of found) {
    let stat: string;
    try {
      stat = readFileSync(`/proc/${p.pid}/stat`, 'utf8');
    } catch {
      continue; // exited since the scan (other jobs' processes come and go on a shared machine)
    }
    const flags = Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[6]);
    assert.equal(flags & 0x00200000, 0, `pid ${p.pid} is a kernel thread`);
    assert.equal(p.layer, 'OS_LINUX');
    assert.equal(p.serviceName, p.exeName);
    assert.equal(p.processName, `${p.exeName}-${p.pid}`);
    assert.equal(p.instanceName, 'test-host');
  }
  // every process of a service is its own entity (an nginx master and its workers alike)
  const sleeps = found.filter((p) => p.serviceName === 'sleep');
  assert.ok(sleeps.length >= 2, `every sleep is reported, got ${sleeps.length}`);
  const identities = found.map((p) => `${p.serviceName}/${p.processName}`);
  assert.equal(new Set(identities).size, identities.length);

  // with the default min_age (5s), a just-started process is not reported yet
  const young = start('sleep', ['319']);
  const youngPid = await execed(young, '319');
  const slow = new ProcessDiscovery(
    loadConfig({ env: { ROVER_PROCESS_DISCOVERY_SCAN_MODE: 'REGEX', ROVER_PROCESS_DISCOVERY_REGEX_SCANNER_MATCH_CMD: '^sleep 319$' } }),
    { host, logger: quietLogger },
  );
  await slow.refresh();
  assert.ok(!slow.current().some((p) => p.pid === youngPid));
});

test('AGENT_SENSOR mode: processes with a fresh SkyWalking agent metadata file', async () => {
  const tmp = join(dir, 'agent-tmp');
  const c = start('sleep', ['323'], { ...process.env, TMPDIR: tmp });
  const pid = await execed(c, '323');
  const metaDir = join(tmp, 'apache_skywalking', 'process', String(pid));
  mkdirSync(metaDir, { recursive: true });
  writeFileSync(
    join(metaDir, 'metadata.properties'),
    'layer=GENERAL\nservice_name=orders\ninstance_name=orders-1@host\nprocess_name=java\nlabels=jvm,agent\nlanguage=java\n',
  );
  const config = loadConfig({ env: { ROVER_PROCESS_DISCOVERY_SCAN_MODE: 'AGENT_SENSOR', ROVER_PROCESS_DISCOVERY_SCAN_MIN_AGE: '0s' } });
  const discovery = new ProcessDiscovery(config, { host, logger: quietLogger });
  await discovery.refresh();
  const found = discovery.current();
  assert.deepEqual(
    found.map((p) => [p.pid, p.entity]),
    [[pid, { layer: 'GENERAL', serviceName: 'orders', instanceName: 'orders-1@host', processName: 'java', labels: ['jvm', 'agent'] }]],
  );
  // a stale metadata file (older than process_status_refresh_period) no longer counts
  const stale = new ProcessDiscovery(
    loadConfig({
      env: {
        ROVER_PROCESS_DISCOVERY_SCAN_MODE: 'AGENT_SENSOR',
        ROVER_PROCESS_DISCOVERY_SCAN_MIN_AGE: '0s',
        ROVER_PROCESS_DISCOVERY_AGENT_PROCESS_STATUS_REFRESH_PERIOD: '1ns',
      },
    }),
    { host, logger: quietLogger },
  );
  await sleep(5);
  await stale.refresh();
  assert.deepEqual(stale.current(), []);
});

test('AUTO (default): servers and language-agent processes, never a short-lived command', async () => {
  // a server (listening TCP socket), a plain command, and an agent process that does not listen
  const server = start(process.execPath, ['-e', "require('net').createServer().listen(0, '127.0.0.1'); setTimeout(() => {}, 331000)", 'swlite-auto-331']);
  const command = start('sleep', ['331']);
  const tmp = join(dir, 'auto-tmp');
  const agent = start('sleep', ['332'], { ...process.env, TMPDIR: tmp });
  const serverPid = await execed(server, 'swlite-auto-331');
  const commandPid = await execed(command, '331');
  const agentPid = await execed(agent, '332');
  const metaDir = join(tmp, 'apache_skywalking', 'process', String(agentPid));
  mkdirSync(metaDir, { recursive: true });
  writeFileSync(join(metaDir, 'metadata.properties'), 'layer=GENERAL\nservice_name=billing\ninstance_name=b-1\nprocess_name=python\n');
  const listening = async () => {
    for (let i = 0; i < 100; i++) {
      const fds = readdirSync(`/proc/${serverPid}/fd`).map((f) => { try { return readlinkSync(`/proc/${serverPid}/fd/${f}`); } catch { return ''; } });
      if (fds.some((t) => t.startsWith('socket:'))) return;
      await sleep(20);
    }
  };
  await listening();
  const config = loadConfig({
    env: { ROVER_PROCESS_DISCOVERY_SCAN_MIN_AGE: '0s', ROVER_PROCESS_DISCOVERY_REGEX_SCANNER_MATCH_CMD: 'swlite-auto-331|^sleep 33[12]$' },
  });
  assert.equal(config.processDiscovery.scanner.mode, 'AUTO');
  const discovery = new ProcessDiscovery(config, { host, logger: quietLogger });
  let found: number[] = [];
  for (let i = 0; i < 50; i++) {
    await discovery.refresh();
    // (other tests' agent processes may be found too: only this test's three are judged)
    found = discovery.current().map((p) => p.pid).filter((pid) => [serverPid, commandPid, agentPid].includes(pid)).sort((a, b) => a - b);
    if (found.includes(serverPid)) break;
    await sleep(100);
  }
  assert.deepEqual(found, [serverPid, agentPid].sort((a, b) => a - b), 'the server and the agent process, not the sleep');
  assert.equal(discovery.findByPid(agentPid)[0]?.serviceName, 'billing');
  assert.equal(discovery.findByPid(serverPid)[0]?.layer, 'OS_LINUX');
});

test('scans run on the configured period and stop() ends them', async () => {
  const c = start('sleep', ['329']);
  const pid = await execed(c, '329');
  const config = loadConfig({
    env: {
      ROVER_PROCESS_DISCOVERY_SCAN_MODE: 'REGEX',
      ROVER_PROCESS_DISCOVERY_SCAN_PERIOD: '50ms',
      ROVER_PROCESS_DISCOVERY_SCAN_MIN_AGE: '0s',
      ROVER_PROCESS_DISCOVERY_REGEX_SCANNER_MATCH_CMD: '^sleep 329$',
    },
  });
  const discovery = new ProcessDiscovery(config, { host, logger: quietLogger });
  await discovery.start();
  assert.deepEqual(discovery.current().map((p) => p.pid), [pid]);
  const removed = new Promise<ProcessChange>((resolve) => discovery.on('change', resolve));
  c.kill('SIGKILL');
  const change = await removed;
  assert.deepEqual(change.removed.map((p) => p.pid), [pid]);
  await discovery.stop();
});
