/**
 * Kubernetes mode against recorded API responses (fixtures/*.json, shaped as a real API server
 * returns them) served over a real socket to @kubernetes/client-node, and a synthetic /proc whose
 * cgroup files put processes into the fixtures' containers.
 */
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { KubeConfig } from '@kubernetes/client-node';
import { loadConfig } from '../../config/index.js';
import { type HostInfo, ProcessDiscovery, toEBPFProcessProperties } from '../index.js';

const fixture = (name: string) => JSON.parse(readFileSync(new URL(`./fixtures/${name}`, import.meta.url), 'utf8'));

const ENVOY = 'b8e9c2a497daf0198e1b79d0044361efcbeb110b0e12096e96fcf46aadefd73e';
const REVIEWS = '5464105120381493fb3350e3554d1897ba619abe196feed632a60ebc969f734c';
const MYSQL = '430005175c4c7810996d3481f0dbc3ec01103d6abcc5beec5db4b3f1eae35047';
const JOB = '5e8c9902207afaeb7120430c585a445f21e92932081d64bc99f80e4925bcb002';
const OTHER_NODE = 'ac2c4d3ce02c5bb1c3a7724d0de39db8336dc5a1740be0cdc918b96abbdd46ea';
const REVIEWS_POD = '5d1f3a5c_7e9b_4d1f_a3c5_e7b9d1f3a5c7';
const MYSQL_POD = '8b0d2f4a_6c8e_4a0c_b2d4_f6a8c0e2b4d6';

// ---------------------------------------------------------------------------------------------
// the replayed API server

interface ApiState {
  pods: { items: Array<{ metadata: { name: string; namespace: string }; spec: { nodeName?: string } }> };
  services: { items: Array<{ metadata: { namespace: string } }> };
  requests: string[];
}
const api: ApiState = { pods: fixture('pods.json'), services: fixture('services.json'), requests: [] };
let server: Server;
let kubeConfig: KubeConfig;

function status(code: number, reason: string, message: string) {
  return { kind: 'Status', apiVersion: 'v1', metadata: {}, status: 'Failure', message, reason, code };
}

before(async () => {
  server = createServer((req, res) => {
    const url = new URL(req.url ?? '/', 'http://x');
    api.requests.push(`${req.method} ${url.pathname}${url.search}`);
    const send = (code: number, body: unknown) => {
      res.writeHead(code, { 'content-type': 'application/json' });
      res.end(JSON.stringify(body));
    };
    const field = url.searchParams.get('fieldSelector');
    const node = field?.startsWith('spec.nodeName=') ? field.slice('spec.nodeName='.length) : undefined;
    let m: RegExpExecArray | null;
    if ((m = /^\/api\/v1\/nodes\/([^/]+)$/.exec(url.pathname))) {
      if (m[1] === 'node-1') return send(200, fixture('node.json'));
      return send(404, status(404, 'NotFound', `nodes "${m[1]}" not found`));
    }
    if ((m = /^\/api\/v1(?:\/namespaces\/([^/]+))?\/pods$/.exec(url.pathname))) {
      const ns = m[1];
      const items = api.pods.items.filter((p) => (!ns || p.metadata.namespace === ns) && (!node || p.spec.nodeName === node));
      return send(200, { ...api.pods, items });
    }
    if ((m = /^\/api\/v1(?:\/namespaces\/([^/]+))?\/services$/.exec(url.pathname))) {
      const ns = m[1];
      return send(200, { ...api.services, items: api.services.items.filter((s) => !ns || s.metadata.namespace === ns) });
    }
    if (url.pathname === '/apis/apps/v1/namespaces/bookinfo/replicasets/reviews-v1-6f8b9c7d5') {
      return send(200, fixture('replicaset-reviews-v1.json'));
    }
    return send(404, status(404, 'NotFound', `the server could not find the requested resource`));
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const port = (server.address() as AddressInfo).port;
  kubeConfig = new KubeConfig();
  kubeConfig.loadFromOptions({
    clusters: [{ name: 'replay', server: `http://127.0.0.1:${port}`, skipTLSVerify: true }],
    users: [{ name: 'rover', token: 'test-token' }],
    contexts: [{ name: 'replay', cluster: 'replay', user: 'rover' }],
    currentContext: 'replay',
  });
});

after(async () => {
  await new Promise((r) => server.close(r));
  rmSync(procRoot, { recursive: true, force: true });
});

// ---------------------------------------------------------------------------------------------
// the synthetic /proc

const procRoot = mkdtempSync(join(tmpdir(), 'rover-fake-proc-'));
writeFileSync(join(procRoot, 'stat'), 'cpu  1 2 3 4\nbtime 1795000000\nprocesses 4242\n');
writeFileSync(join(procRoot, 'uptime'), '86400.00 170000.00\n');

function fakeProcess(pid: number, comm: string, argv: string[], cgroup: string, opts: { exe?: string; flags?: number; ppid?: number; start?: number } = {}) {
  const d = join(procRoot, String(pid));
  mkdirSync(d, { recursive: true });
  const flags = opts.flags ?? 0x00400100;
  const start = opts.start ?? 8_000_000 + pid;
  // fields 3.. of /proc/PID/stat: state ppid pgrp session tty tpgid flags minflt cminflt majflt cmajflt
  // utime stime cutime cstime priority nice threads itrealvalue starttime ...
  const rest = ['S', opts.ppid ?? 1, pid, pid, 0, -1, flags, 10, 0, 0, 0, 5, 3, 0, 0, 20, 0, 1, 0, start, 1000, 100];
  writeFileSync(join(d, 'stat'), `${pid} (${comm}) ${rest.join(' ')}\n`);
  writeFileSync(join(d, 'cmdline'), argv.length ? `${argv.join('\0')}\0` : '');
  writeFileSync(join(d, 'cgroup'), cgroup);
  symlinkSync(opts.exe ?? process.execPath, join(d, 'exe'));
  symlinkSync('/', join(d, 'cwd'));
}

const v2containerd = (pod: string, id: string) =>
  `0::/kubepods.slice/kubepods-burstable.slice/kubepods-burstable-pod${pod}.slice/cri-containerd-${id}.scope\n`;
fakeProcess(1001, 'envoy', ['/usr/local/bin/envoy', '-c', 'etc/istio/proxy/envoy-rev.json', '--drain-time-s', '45'], v2containerd(REVIEWS_POD, ENVOY));
fakeProcess(1002, 'pilot-agent', ['/usr/local/bin/pilot-agent', 'proxy', 'sidecar'], v2containerd(REVIEWS_POD, ENVOY));
fakeProcess(
  1003,
  'java',
  ['/opt/java/openjdk/bin/java', '-jar', '/opt/ol/wlp/bin/tools/ws-server.jar', 'defaultServer'],
  ['memory', 'cpu,cpuacct', 'pids', 'name=systemd']
    .map((c, i) => `${12 - i}:${c}:/kubepods/burstable/pod${REVIEWS_POD.replace(/_/g, '-')}/${REVIEWS}`)
    .join('\n')
    .concat('\n0::/\n'),
);
fakeProcess(1004, 'mysqld', ['mysqld'], `0::/kubepods.slice/kubepods-burstable.slice/kubepods-burstable-pod${MYSQL_POD}.slice/crio-${MYSQL}.scope\n`, {
  exe: '/nonexistent/usr/sbin/mysqld',
});
fakeProcess(1005, 'sleep', ['sleep', '3600'], `4:pids:/kubepods/besteffort/poda2c4e6a8-c0e2-4a4c-8e6a-8c0e2a4c6e8a/${JOB}\n`);
fakeProcess(1006, 'sshd', ['sshd: /usr/sbin/sshd -D [listener] 0 of 10-100 startups'], '0::/system.slice/ssh.service\n');
fakeProcess(1007, 'ratings', ['node', 'ratings.js', '9080'], v2containerd('e8a0c2e4_a6c8_4e0a_a2c4_e6a8c0e2a4c6', OTHER_NODE));
fakeProcess(2000, 'kworker/0:1', [], '0::/\n', { flags: 0x04208060, ppid: 2 });

const host: HostInfo = { hostname: 'node-1', ipv4: { eth0: '192.168.49.2' }, ipv6: {}, defaultIp: '192.168.49.2' };
const logger = { warnings: [] as string[], warn(_f: Record<string, unknown>, m: string) { this.warnings.push(m); } };

function k8sConfig(env: Record<string, string> = {}, yaml?: string) {
  return loadConfig({
    env: {
      ROVER_PROCESS_DISCOVERY_SCAN_ACTIVE: 'false',
      ROVER_PROCESS_DISCOVERY_KUBERNETES_ACTIVE: 'true',
      ROVER_PROCESS_DISCOVERY_KUBERNETES_NODE_NAME: 'node-1',
      ...env,
    },
    ...(yaml ? { yaml } : {}),
  });
}

const discoveryFor = (config: ReturnType<typeof loadConfig>) =>
  new ProcessDiscovery(config, { procRoot, host, kubeConfig, logger, excludePids: [], instanceId: 'rover-k8s' });

test('kubernetes mode with upstream default analyzers', async () => {
  api.requests.length = 0;
  const discovery = discoveryFor(k8sConfig());
  await discovery.start();
  try {
    const found = discovery.current();
    const summary = found.map((p) => [p.pid, p.layer, p.serviceName, p.instanceName, p.processName, p.labels.join(',')]);
    assert.deepEqual(summary, [
      [1001, 'K8S_SERVICE', 'reviews.bookinfo', 'reviews-v1-6f8b9c7d5-x2kqp', 'envoy', 'k8s-service'],
      [1001, 'MESH_DP', 'reviews.bookinfo', 'reviews-v1-6f8b9c7d5-x2kqp', 'envoy', 'mesh-envoy'],
      [1002, 'K8S_SERVICE', 'reviews.bookinfo', 'reviews-v1-6f8b9c7d5-x2kqp', 'pilot-agent', 'k8s-service'],
      [1002, 'MESH_DP', 'reviews.bookinfo', 'reviews-v1-6f8b9c7d5-x2kqp', 'pilot-agent', 'mesh-envoy'],
      [1003, 'K8S_SERVICE', 'reviews.bookinfo', 'reviews-v1-6f8b9c7d5-x2kqp', 'java', 'k8s-service'],
      [1003, 'MESH', 'reviews.bookinfo', 'reviews-v1-6f8b9c7d5-x2kqp', 'java', 'mesh-application'],
      [1004, 'K8S_SERVICE', 'mysql.default', 'mysql-0', 'mysqld', 'k8s-service'],
    ]);
    const mysql = discovery.findByPid(1004)[0];
    assert.ok(mysql);
    assert.equal(mysql.detectType, 'KUBERNETES');
    assert.equal(mysql.profilingSupported, false, 'the executable cannot be read');
    assert.equal(mysql.exe, '/nonexistent/usr/sbin/mysqld');
    assert.equal(mysql.startTime, 1795000000_000 + (8_000_000 + 1004) * 10);
    assert.deepEqual(mysql.kubernetes, {
      namespace: 'default',
      podName: 'mysql-0',
      podUid: '8b0d2f4a-6c8e-4a0c-b2d4-f6a8c0e2b4d6',
      podIp: '10.244.1.9',
      nodeName: 'node-1',
      containerName: 'mysql',
      containerId: MYSQL,
      serviceName: 'mysql',
    });
    assert.deepEqual(toEBPFProcessProperties(mysql), {
      k8sProcess: {
        entity: { layer: 'K8S_SERVICE', serviceName: 'mysql.default', instanceName: 'mysql-0', processName: 'mysqld', labels: ['k8s-service'] },
        pid: 1004,
        properties: [
          { key: 'host_ip', value: '192.168.49.2' },
          { key: 'container_ip', value: '10.244.1.9' },
          { key: 'container_name', value: 'mysql' },
          { key: 'pod_name', value: 'mysql-0' },
          { key: 'pid', value: '1004' },
          { key: 'command_line', value: 'mysqld' },
          { key: 'support_ebpf_profiling', value: 'false' },
        ],
      },
    });
    assert.equal(discovery.findByPid(1003)[0]?.profilingSupported, true);

    // what rover asked the API server
    assert.ok(api.requests.includes('GET /api/v1/nodes/node-1'), api.requests.join('\n'));
    assert.ok(api.requests.includes('GET /api/v1/pods?fieldSelector=spec.nodeName%3Dnode-1'), api.requests.join('\n'));
    assert.ok(api.requests.includes('GET /api/v1/services'), api.requests.join('\n'));

    // the mysql pod goes away and an envoy process exits
    const before = api.pods.items;
    api.pods = { ...api.pods, items: before.filter((p) => p.metadata.name !== 'mysql-0') };
    rmSync(join(procRoot, '1002'), { recursive: true });
    try {
      const change = await discovery.refresh();
      assert.deepEqual(change.added, []);
      assert.deepEqual(change.removed.map((p) => `${p.pid}/${p.layer}`).sort(), ['1002/K8S_SERVICE', '1002/MESH_DP', '1004/K8S_SERVICE']);
      assert.deepEqual([...new Set(discovery.current().map((p) => p.pid))], [1001, 1003]);
    } finally {
      api.pods = { ...api.pods, items: before };
      fakeProcess(1002, 'pilot-agent', ['/usr/local/bin/pilot-agent', 'proxy', 'sidecar'], v2containerd(REVIEWS_POD, ENVOY));
    }
  } finally {
    await discovery.stop();
  }
});

test('kubernetes mode: cluster name prefix and namespace filter', async () => {
  api.requests.length = 0;
  const discovery = discoveryFor(
    k8sConfig({ ROVER_CORE_CLUSTER_NAME: 'prod', ROVER_PROCESS_DISCOVERY_KUBERNETES_NAMESPACES: 'default' }),
  );
  await discovery.refresh();
  assert.deepEqual(
    discovery.current().map((p) => [p.pid, p.serviceName]),
    [[1004, 'prod::mysql.default']],
  );
  assert.ok(api.requests.includes('GET /api/v1/namespaces/default/pods?fieldSelector=spec.nodeName%3Dnode-1'), api.requests.join('\n'));
  assert.ok(api.requests.includes('GET /api/v1/namespaces/default/services'), api.requests.join('\n'));
});

test('kubernetes mode: custom analyzers with owners, env values, selectors and sibling containers', async () => {
  const discovery = discoveryFor(
    k8sConfig(
      {},
      `
process_discovery:
  kubernetes:
    analyzers:
      - filters:
          - '.Pod.LabelSelector "app=reviews,version=v1"'
          - 'eq .Container.Name "reviews"'
        layer: GENERAL
        service_name: '{{.Pod.OwnerName "Deployment"}}'
        instance_name: '{{.Pod.Name}}@{{.Pod.Node}}'
        process_name: '{{.Process.ExeName}}{{.Container.EnvValue "LOG_DIR"}}'
        labels: '{{ignored}}, java'
      - filters:
          - '.Pod.HasOwnerName "StatefulSet"'
        layer: DATABASE
        service_name: '{{.Pod.OwnerName "Deployment,StatefulSet"}}-db'
        instance_name: '{{.Pod.Name}}'
        process_name: '{{.Process.ExeName}}'
      - filters:
          - 'eq .Container.Name "istio-proxy"'
        layer: MESH_DP
        service_name: '{{.Pod.OwnerName "Service"}}'
        instance_name: '{{(.Pod.FindContainer "reviews").ID}}'
        process_name: '{{.Process.ExeName}}'
      - filters:
          - 'eq .Container.Name "cleanup"'
        layer: GENERAL
        service_name: '{{.Container.EnvValue "NOT_THERE"}}'
        process_name: '{{.Process.ExeName}}'
`,
    ),
  );
  logger.warnings.length = 0;
  await discovery.refresh();
  assert.deepEqual(
    discovery.current().map((p) => [p.pid, p.layer, p.serviceName, p.instanceName, p.processName, p.labels]),
    [
      [1001, 'MESH_DP', 'reviews', `containerd://${REVIEWS}`, 'envoy', []],
      [1002, 'MESH_DP', 'reviews', `containerd://${REVIEWS}`, 'pilot-agent', []],
      [1003, 'GENERAL', 'reviews-v1', 'reviews-v1-6f8b9c7d5-x2kqp@node-1', 'java/tmp/logs', ['{{ignored}}', 'java']],
      [1004, 'DATABASE', 'mysql-db', 'mysql-0', 'mysqld', []],
    ],
  );
  // the failing template is reported, not fatal
  assert.ok(logger.warnings.some((w) => /pid 1005.*could not found matches environment/.test(w)), logger.warnings.join('\n'));
  // ... once, not on every scan
  logger.warnings.length = 0;
  await discovery.refresh();
  assert.deepEqual(logger.warnings, []);
});

test('kubernetes mode: an unknown node fails start()', async () => {
  const discovery = discoveryFor(k8sConfig({ ROVER_PROCESS_DISCOVERY_KUBERNETES_NODE_NAME: 'node-9' }));
  await assert.rejects(discovery.start(), /could not find the node "node-9" in Kubernetes/);
  await discovery.stop();
});

test('kubernetes mode: API errors keep the previous result', async () => {
  const discovery = discoveryFor(k8sConfig());
  await discovery.refresh();
  const count = discovery.current().length;
  assert.equal(count, 7);
  const orig = server.listeners('request')[0] as (...a: unknown[]) => void;
  server.removeAllListeners('request');
  server.on('request', (_req, res) => {
    res.writeHead(500, { 'content-type': 'application/json' });
    res.end(JSON.stringify(status(500, 'InternalError', 'etcdserver: request timed out')));
  });
  try {
    logger.warnings.length = 0;
    assert.deepEqual(await discovery.refresh(), { added: [], removed: [] });
    assert.equal(discovery.current().length, count);
    assert.ok(logger.warnings.some((w) => /process scan failed/.test(w)));
  } finally {
    server.removeAllListeners('request');
    server.on('request', orig);
  }
});
