import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parse as parseYaml } from 'yaml';
import {
  ConfigError,
  DEFAULT_CONFIG_YAML,
  formatDuration,
  loadConfig,
  loadConfigFromProcess,
  parseDuration,
  resolveConfigPath,
  resolvePlaceholder,
} from './index.js';

const shippedYaml = new URL('../../config/rover.yaml', import.meta.url);

test('durations parse like Go', () => {
  assert.equal(parseDuration('20s'), 20_000);
  assert.equal(parseDuration('9ms'), 9);
  assert.equal(parseDuration('10m'), 600_000);
  assert.equal(parseDuration('1h30m'), 5_400_000);
  assert.equal(parseDuration('2h45m30.5s'), 9_930_500);
  assert.equal(parseDuration('1.5h'), 5_400_000);
  assert.equal(parseDuration('500us'), 0.5);
  assert.equal(parseDuration('500µs'), 0.5);
  assert.equal(parseDuration('100ns'), 0.0001);
  assert.equal(parseDuration('-3s'), -3000);
  assert.equal(parseDuration('0'), 0);
  assert.equal(parseDuration('.5s'), 500);
  for (const bad of ['', '10', 's', '1x', '1 s', '1s2', '--1s', '1.2.3s']) {
    assert.throws(() => parseDuration(bad), /duration/, bad);
  }
  assert.equal(formatDuration(9), '9ms');
  assert.equal(formatDuration(20_000), '20s');
  assert.equal(formatDuration(600_000), '10m0s');
  assert.equal(formatDuration(3_723_000), '1h2m3s');
  assert.equal(formatDuration(0.5), '500us');
});

test('placeholders: ${NAME:default}, env wins when set and not empty', () => {
  assert.deepEqual(resolvePlaceholder('${A_B:x}', {}), { value: 'x', envName: 'A_B' });
  assert.deepEqual(resolvePlaceholder('${A_B:x}', { A_B: 'y' }), { value: 'y', envName: 'A_B' });
  assert.deepEqual(resolvePlaceholder('${A_B:x}', { A_B: '' }), { value: 'x', envName: 'A_B' });
  assert.deepEqual(resolvePlaceholder('${A_B:}', {}), { value: '', envName: 'A_B' });
  // the default runs to the final "}", so it may hold ":" and template braces
  assert.equal(resolvePlaceholder('${ADDR:localhost:11800}', {}).value, 'localhost:11800');
  assert.equal(
    resolvePlaceholder('${S:{{.Pod.Name}}.{{.Pod.Namespace}}}', {}).value,
    '{{.Pod.Name}}.{{.Pod.Namespace}}',
  );
  // not placeholders: lower-case names, missing ":", literal values
  assert.equal(resolvePlaceholder('${lower:x}', { lower: 'y' }).value, '${lower:x}');
  assert.equal(resolvePlaceholder('plain', {}).value, 'plain');
  assert.equal(resolvePlaceholder(5, {}).value, 5);
});

test('defaults mirror upstream rover_configs.yaml', () => {
  const c = loadConfig({ env: {} });
  assert.equal(c.logger.level, 'INFO');
  assert.equal(c.core.clusterName, '');
  assert.deepEqual(c.core.backend, {
    addr: 'localhost:11800',
    enableTLS: false,
    clientPemPath: '',
    clientKeyPath: '',
    caPemPath: '',
    insecureSkipVerify: false,
    checkPeriodMs: 5000,
    authentication: '',
  });
  assert.equal(c.host.procMapping, '/proc');
  const pd = c.processDiscovery;
  assert.equal(pd.heartbeatPeriodMs, 20_000);
  assert.equal(pd.propertiesReportPeriod, 10);
  assert.equal(pd.scanner.active, true);
  assert.equal(pd.scanner.periodMs, 3000);
  assert.equal(pd.scanner.mode, 'AUTO');
  assert.equal(pd.scanner.agent.processStatusRefreshPeriodMs, 60_000);
  assert.deepEqual(pd.scanner.regex, [
    {
      matchCmd: '.+',
      layer: 'OS_LINUX',
      serviceName: '{{.Process.ExeName}}',
      instanceName: '{{.Rover.HostName}}',
      processName: '{{.Process.ExeName}}-{{.Process.Pid}}',
      labels: [],
    },
  ]);
  assert.equal(pd.kubernetes.active, false);
  assert.deepEqual(pd.kubernetes.namespaces, []);
  assert.deepEqual(
    pd.kubernetes.analyzers.map((a) => [a.layer, a.labels, a.filters]),
    [
      ['MESH_DP', ['mesh-envoy'], ['.Pod.HasContainer "istio-proxy"', 'eq .Container.Name "istio-proxy"']],
      ['MESH', ['mesh-application'], ['.Pod.HasContainer "istio-proxy"', 'ne .Container.Name "istio-proxy"']],
      ['K8S_SERVICE', ['k8s-service'], ['.Pod.HasServiceName']],
    ],
  );
  assert.equal(pd.kubernetes.analyzers[2]?.serviceName, '{{.Pod.ServiceName}}.{{.Pod.Namespace}}');
  assert.equal(
    pd.kubernetes.analyzers[0]?.serviceName,
    '{{.Pod.LabelValue "service.istio.io/canonical-name,app.kubernetes.io/name,app" ""}}.{{.Pod.Namespace}}',
  );
  const p = c.profiling;
  assert.equal(p.active, true);
  assert.equal(p.checkIntervalMs, 10_000);
  assert.equal(p.flushIntervalMs, 5000);
  assert.equal(p.task.onCpu.dumpPeriodMs, 9);
  assert.equal(p.task.onCpu.threadSamplingMaxThreads, 0);
  assert.equal(p.task.network.reportIntervalMs, 2000);
  assert.equal(p.task.network.meterPrefix, 'rover_net_p');
  assert.deepEqual(p.task.network.protocolAnalyze, { perCpuBufferBytes: 400 * 1024, parallels: 2, queueSize: 5000 });
  assert.deepEqual(p.continuous, {
    meterPrefix: 'rover_con_p',
    fetchIntervalMs: 1000,
    checkIntervalMs: 5000,
    trigger: { executeDurationMs: 600_000, silenceDurationMs: 1_200_000 },
  });
});

test('the shipped config/rover.yaml is the built-in defaults', () => {
  const shipped = readFileSync(shippedYaml, 'utf8');
  assert.deepEqual(parseYaml(shipped), parseYaml(DEFAULT_CONFIG_YAML));
  assert.deepEqual(loadConfig({ file: shippedYaml.pathname, env: {} }), {
    ...loadConfig({ env: {} }),
    source: shippedYaml.pathname,
  });
});

test('environment overrides use upstream env names', () => {
  const c = loadConfig({
    env: {
      ROVER_CORE_CLUSTER_NAME: 'prod',
      ROVER_BACKEND_ADDR: 'oap:11800',
      ROVER_BACKEND_ENABLE_TLS: 'true',
      ROVER_BACKEND_PEM_PATH: '/tls/client.pem',
      ROVER_BACKEND_KEY_PATH: '/tls/client.key',
      ROVER_BACKEND_CA_PEM_PATH: '/tls/ca.pem',
      ROVER_BACKEND_INSECURE_SKIP_VERIFY: 'TRUE',
      ROVER_BACKEND_AUTHENTICATION: 'secret',
      ROVER_BACKEND_CHECK_PERIOD: '7',
      ROVER_PROCESS_DISCOVERY_HEARTBEAT_PERIOD: '1m',
      ROVER_PROCESS_DISCOVERY_PROPERTIES_REPORT_PERIOD: '3',
      ROVER_PROCESS_DISCOVERY_SCAN_PERIOD: '500ms',
      ROVER_PROCESS_DISCOVERY_SCAN_MODE: 'agent_sensor',
      ROVER_PROCESS_DISCOVERY_REGEX_SCANNER_MATCH_CMD: 'java .*',
      ROVER_PROCESS_DISCOVERY_REGEX_SCANNER_SERVICE_NAME: 'svc-{{.Process.Pid}}',
      ROVER_PROCESS_DISCOVERY_REGEX_SCANNER_LABELS: 'a, b,,c',
      ROVER_PROCESS_DISCOVERY_KUBERNETES_ACTIVE: 'true',
      ROVER_PROCESS_DISCOVERY_KUBERNETES_NODE_NAME: 'node-1',
      ROVER_PROCESS_DISCOVERY_KUBERNETES_NAMESPACES: 'default,shop',
      ROVER_PROCESS_DISCOVERY_KUBERNETES_ANALYZER_ISTIO_ENVOY_ACTIVE: 'false',
      ROVER_PROFILING_ACTIVE: 'false',
      ROVER_PROFILING_CHECK_INTERVAL: '3s',
      ROVER_PROFILING_FLUSH_INTERVAL: '2s',
      ROVER_PROFILING_TASK_ON_CPU_DUMP_PERIOD: '10ms',
      ROVER_PROFILING_TASK_ON_CPU_THREAD_SAMPLING_MAX_THREADS: '64',
      ROVER_PROFILING_CONTINUOUS_METER_PREFIX: 'x_',
      ROVER_PROFILING_CONTINUOUS_FETCH_INTERVAL: '2s',
      ROVER_PROFILING_CONTINUOUS_CHECK_INTERVAL: '6s',
      ROVER_PROFILING_CONTINUOUS_TRIGGER_EXECUTE_DURATION: '5m',
      ROVER_PROFILING_CONTINUOUS_TRIGGER_SILENCE_DURATION: '1h',
      ROVER_HOST_PROC_MAPPING: '/host/proc',
    },
  });
  assert.equal(c.core.clusterName, 'prod');
  assert.deepEqual(c.core.backend, {
    addr: 'oap:11800',
    enableTLS: true,
    clientPemPath: '/tls/client.pem',
    clientKeyPath: '/tls/client.key',
    caPemPath: '/tls/ca.pem',
    insecureSkipVerify: true,
    checkPeriodMs: 7000,
    authentication: 'secret',
  });
  assert.equal(c.host.procMapping, '/host/proc');
  assert.equal(c.processDiscovery.heartbeatPeriodMs, 60_000);
  assert.equal(c.processDiscovery.propertiesReportPeriod, 3);
  assert.equal(c.processDiscovery.scanner.periodMs, 500);
  assert.equal(c.processDiscovery.scanner.mode, 'AGENT_SENSOR');
  assert.equal(c.processDiscovery.scanner.regex[0]?.matchCmd, 'java .*');
  assert.equal(c.processDiscovery.scanner.regex[0]?.serviceName, 'svc-{{.Process.Pid}}');
  assert.deepEqual(c.processDiscovery.scanner.regex[0]?.labels, ['a', 'b', 'c']);
  assert.equal(c.processDiscovery.kubernetes.active, true);
  assert.equal(c.processDiscovery.kubernetes.nodeName, 'node-1');
  assert.deepEqual(c.processDiscovery.kubernetes.namespaces, ['default', 'shop']);
  assert.deepEqual(
    c.processDiscovery.kubernetes.analyzers.map((a) => a.active),
    [false, true, true],
  );
  assert.equal(c.profiling.active, false);
  assert.equal(c.profiling.checkIntervalMs, 3000);
  assert.equal(c.profiling.flushIntervalMs, 2000);
  assert.equal(c.profiling.task.onCpu.dumpPeriodMs, 10);
  assert.equal(c.profiling.task.onCpu.threadSamplingMaxThreads, 64);
  assert.deepEqual(c.profiling.continuous, {
    meterPrefix: 'x_',
    fetchIntervalMs: 2000,
    checkIntervalMs: 6000,
    trigger: { executeDurationMs: 300_000, silenceDurationMs: 3_600_000 },
  });
});

test('a user file overrides defaults, keeps the rest, and may use placeholders of its own', () => {
  const dir = mkdtempSync(join(tmpdir(), 'rover-config-'));
  const file = join(dir, 'rover.yaml');
  writeFileSync(
    file,
    [
      'core:',
      '  backend:',
      '    addr: ${MY_OAP:oap.local:11800}',
      '    enable_tls: true',
      'process_discovery:',
      '  heartbeat_period: 5s',
      '  scanner:',
      '    regex:',
      '      - match_cmd: "^/usr/sbin/nginx"',
      '        service_name: nginx',
      '        labels: [web, edge]',
      '      - match_exe: "/redis-server$"',
      '        layer: GENERAL',
      '        service_name: "redis-{{.Finder.ExeRegexMatchGroup 0}}"',
      'profiling:',
      '  task:',
      '    on_cpu:',
      '      dump_period: 19ms',
      'pprof:',
      '  active: true',
    ].join('\n'),
  );
  const warnings: string[] = [];
  const c = loadConfig({
    file,
    env: { MY_OAP: '', ROVER_BACKEND_ADDR: 'ignored:1' },
    onWarning: (w) => warnings.push(w),
  });
  assert.equal(c.source, file);
  assert.equal(
    c.core.backend.addr,
    'oap.local:11800',
    'a literal/own placeholder in the file replaces the default one',
  );
  assert.equal(c.core.backend.enableTLS, true);
  assert.equal(c.processDiscovery.heartbeatPeriodMs, 5000);
  assert.equal(c.processDiscovery.scanner.periodMs, 3000, 'untouched keys keep their defaults');
  assert.equal(c.profiling.task.onCpu.dumpPeriodMs, 19);
  assert.deepEqual(c.processDiscovery.scanner.regex, [
    {
      matchCmd: '^/usr/sbin/nginx',
      layer: 'OS_LINUX',
      serviceName: 'nginx',
      instanceName: '{{.Rover.HostName}}',
      processName: '{{.Process.ExeName}}',
      labels: ['web', 'edge'],
    },
    {
      matchExe: '/redis-server$',
      layer: 'GENERAL',
      serviceName: 'redis-{{.Finder.ExeRegexMatchGroup 0}}',
      instanceName: '{{.Rover.HostName}}',
      processName: '{{.Process.ExeName}}',
      labels: [],
    },
  ]);
  assert.deepEqual(warnings, ['config pprof.active: unknown key, ignored']);
});

test('bad values fail with the key (and env var) named', () => {
  const bad = (env: Record<string, string>, key: RegExp) => {
    assert.throws(
      () => loadConfig({ env }),
      (err: unknown) => err instanceof ConfigError && key.test(err.message),
      JSON.stringify(env),
    );
  };
  bad(
    { ROVER_PROCESS_DISCOVERY_HEARTBEAT_PERIOD: 'soon' },
    /process_discovery\.heartbeat_period \(from ROVER_PROCESS_DISCOVERY_HEARTBEAT_PERIOD\): invalid duration "soon"/,
  );
  bad({ ROVER_PROFILING_TASK_ON_CPU_DUMP_PERIOD: '9' }, /profiling\.task\.on_cpu\.dump_period .*missing unit/);
  bad({ ROVER_PROFILING_FLUSH_INTERVAL: '0s' }, /profiling\.flush_interval .*positive/);
  bad({ ROVER_BACKEND_ENABLE_TLS: 'maybe' }, /core\.backend\.enable_tls .*expected true or false, got "maybe"/);
  bad(
    { ROVER_PROCESS_DISCOVERY_PROPERTIES_REPORT_PERIOD: 'ten' },
    /process_discovery\.properties_report_period .*expected an integer/,
  );
  bad(
    { ROVER_PROCESS_DISCOVERY_SCAN_MODE: 'PSYCHIC' },
    /process_discovery\.scanner\.mode .*must be one of AUTO, REGEX, AGENT_SENSOR/,
  );
  bad(
    { ROVER_PROCESS_DISCOVERY_REGEX_SCANNER_MATCH_CMD: '(' },
    /process_discovery\.scanner\.regex\[0\]\.match_cmd .*invalid regular expression/,
  );
  bad(
    { ROVER_PROCESS_DISCOVERY_REGEX_SCANNER_SERVICE_NAME: '{{.Process.ExeName' },
    /process_discovery\.scanner\.regex\[0\]\.service_name .*unclosed action/,
  );
  bad(
    { ROVER_PROCESS_DISCOVERY_REGEX_SCANNER_PROCESS_NAME: '{{frobnicate .Process.Pid}}' },
    /process_name .*function "frobnicate" not defined/,
  );
  bad({ ROVER_PROCESS_DISCOVERY_KUBERNETES_ACTIVE: 'true' }, /process_discovery\.kubernetes\.node_name: is required/);
  bad(
    { ROVER_PROCESS_DISCOVERY_KUBERNETES_ANALYZER_K8S_SERVICE_HAS_SERVICE: 'if .Pod' },
    /analyzers\[2\]\.filters\[0\].*not supported/,
  );
  bad({ ROVER_LOGGER_LEVEL: 'loud' }, /logger\.level/);
  bad({ ROVER_PROFILING_TASK_NETWORK_PROTOCOL_ANALYZE_PER_CPU_BUFFER: 'big' }, /per_cpu_buffer .*size/);

  assert.throws(() => loadConfig({ yaml: 'core: [1, 2' }), /invalid YAML/);
  assert.throws(() => loadConfig({ yaml: '- a\n- b' }), /top level must be a mapping/);
  assert.throws(
    () => loadConfig({ yaml: 'process_discovery:\n  scanner:\n    regex: []' }),
    /scanner\.regex: REGEX and AUTO modes need at least one finder/,
  );
  assert.throws(
    () => loadConfig({ yaml: 'process_discovery:\n  heartbeat_period: [1]' }),
    /heartbeat_period: expected a duration/,
  );
  assert.throws(
    () => loadConfig({ file: '/nonexistent/rover.yaml' }),
    /cannot read config file \/nonexistent\/rover.yaml: ENOENT/,
  );
  // a key error names the key in err.key too
  try {
    loadConfig({ env: { ROVER_PROFILING_CHECK_INTERVAL: 'x' } });
    assert.fail('should throw');
  } catch (err) {
    assert.equal((err as ConfigError).key, 'profiling.check_interval');
  }
});

test('config path from --config / -c / ROVER_CONFIG', () => {
  assert.equal(resolveConfigPath(['start', '--config', '/a.yaml'], {}), '/a.yaml');
  assert.equal(resolveConfigPath(['--config=/b.yaml'], { ROVER_CONFIG: '/c.yaml' }), '/b.yaml');
  assert.equal(resolveConfigPath(['-c', '/d.yaml'], {}), '/d.yaml');
  assert.equal(resolveConfigPath([], { ROVER_CONFIG: '/c.yaml' }), '/c.yaml');
  assert.equal(resolveConfigPath([], {}), undefined);
  assert.throws(() => resolveConfigPath(['--config'], {}), /needs a file path/);
});

test('loadConfigFromProcess reads the file named on the command line or in ROVER_CONFIG', () => {
  const dir = mkdtempSync(join(tmpdir(), 'rover-config-'));
  const file = join(dir, 'r.yaml');
  writeFileSync(file, 'core:\n  cluster_name: from-file\n');
  assert.equal(loadConfigFromProcess(['--config', file], {}).core.clusterName, 'from-file');
  assert.equal(loadConfigFromProcess([], { ROVER_CONFIG: file }).core.clusterName, 'from-file');
  assert.equal(loadConfigFromProcess([], { ROVER_CORE_CLUSTER_NAME: 'env' }).core.clusterName, 'env');
});
