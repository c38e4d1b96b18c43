// Checks that our .proto files (libs/protocol/proto) describe exactly the same wire protocol as
// upstream Apache SkyWalking's data-collect-protocol files kept in ../shared/conformance:
// every message (nested too), field (name, number, type, label, oneof, map key), enum value,
// service and rpc (types and streaming), and which file defines each of them (import paths).
// Also checks that the generated runtime descriptor is not stale, and that altered copies of
// our files are caught (so the comparison has teeth).
import assert from 'node:assert/strict';
import { cpSync, existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, isAbsolute, join, relative, resolve } from 'node:path';
import { test } from 'node:test';
import { fileURLToPath } from 'node:url';
import protobuf from 'protobufjs';
import { descriptor, GENERATED_WITH, PROTO_FILES } from './generated/proto/descriptor';
import { loadSkyWalkingGrpc, type EBPFProfilingData, type MeterDataCollection } from './grpc';

const here = dirname(fileURLToPath(import.meta.url));
const OUR_PROTO_DIR = resolve(here, '..', 'proto');
const FILES = [...PROTO_FILES];

// ---------------------------------------------------------------------------------------------
// Locating the upstream files.

function findConformanceDir(): string | undefined {
  const fromEnv = process.env.SWLITE_CONFORMANCE_DIR;
  if (fromEnv) return resolve(fromEnv);
  for (let dir = here; ; dir = dirname(dir)) {
    const candidate = join(dir, 'shared', 'conformance');
    if (existsSync(candidate)) return candidate;
    if (dirname(dir) === dir) return undefined;
  }
}

const conformanceDir = findConformanceDir();
const UPSTREAM_DIR = conformanceDir && join(conformanceDir, 'upstream', 'data-collect-protocol');
const missingReason =
  UPSTREAM_DIR === undefined
    ? 'no shared/conformance directory above this test file and SWLITE_CONFORMANCE_DIR is unset'
    : FILES.every((f) => existsSync(join(UPSTREAM_DIR, f)))
      ? undefined
      : `upstream files missing under ${UPSTREAM_DIR} (need ${FILES.join(', ')})`;
const inCI = !!process.env.CI && !['0', 'false'].includes(process.env.CI.toLowerCase());

/** Options for tests that need upstream: skip locally when absent, but fail under CI. */
const needsUpstream = missingReason && !inCI ? { skip: `upstream protocol files not found: ${missingReason}` } : {};
function upstreamDir(): string {
  if (missingReason) assert.fail(`CI is set but the upstream protocol files are not available: ${missingReason}`);
  return UPSTREAM_DIR as string;
}

// ---------------------------------------------------------------------------------------------
// A plain, comparable model of a protobufjs Root.

interface FieldModel {
  id: number;
  type: string;
  label: 'repeated' | 'optional' | 'singular' | 'map';
  keyType: string | null;
  oneof: string | null;
}
type Entry =
  | { kind: 'message'; file?: string; fields: Record<string, FieldModel>; oneofs: Record<string, string[]> }
  | { kind: 'enum'; file?: string; values: Record<string, number> }
  | {
      kind: 'service';
      file?: string;
      methods: Record<
        string,
        { requestType: string; responseType: string; requestStream: boolean; responseStream: boolean }
      >;
    };
type Model = Record<string, Entry>;

function loadRoot(baseDir: string, files: string[] = FILES, keepCase = true): protobuf.Root {
  const root = new protobuf.Root();
  root.resolvePath = (_origin, target) => (isAbsolute(target) ? target : join(baseDir, target));
  root.loadSync(files, { keepCase });
  root.resolveAll();
  return root;
}

const stripDot = (name: string) => name.replace(/^\./, '');
const sorted = <T>(rec: Record<string, T>): Record<string, T> =>
  Object.fromEntries(Object.entries(rec).sort(([a], [b]) => a.localeCompare(b)));

/** `baseDir` given: record which file (relative to it) defines each type. */
function modelOf(root: protobuf.NamespaceBase, baseDir?: string): Model {
  const model: Model = {};
  const fileOf = (obj: protobuf.ReflectionObject) =>
    baseDir === undefined ? {} : { file: obj.filename ? relative(baseDir, obj.filename) : '(unknown)' };
  const visit = (ns: protobuf.NamespaceBase) => {
    for (const obj of ns.nestedArray) {
      const name = stripDot(obj.fullName);
      if (obj instanceof protobuf.Type) {
        const fields: Record<string, FieldModel> = {};
        for (const f of obj.fieldsArray) {
          f.resolve();
          const isMap = f instanceof protobuf.MapField;
          fields[f.name] = {
            id: f.id,
            type: f.resolvedType ? stripDot(f.resolvedType.fullName) : f.type,
            label: isMap ? 'map' : f.repeated ? 'repeated' : f.options?.proto3_optional ? 'optional' : 'singular',
            keyType: isMap ? (f as protobuf.MapField).keyType : null,
            oneof: f.partOf ? f.partOf.name : null,
          };
        }
        const oneofs: Record<string, string[]> = {};
        for (const o of obj.oneofsArray) oneofs[o.name] = [...o.oneof].sort();
        model[name] = { kind: 'message', ...fileOf(obj), fields: sorted(fields), oneofs: sorted(oneofs) };
        visit(obj);
      } else if (obj instanceof protobuf.Enum) {
        model[name] = { kind: 'enum', ...fileOf(obj), values: sorted({ ...obj.values }) };
      } else if (obj instanceof protobuf.Service) {
        const methods: Extract<Entry, { kind: 'service' }>['methods'] = {};
        for (const m of obj.methodsArray) {
          m.resolve();
          methods[m.name] = {
            requestType: stripDot(m.resolvedRequestType?.fullName ?? m.requestType),
            responseType: stripDot(m.resolvedResponseType?.fullName ?? m.responseType),
            requestStream: !!m.requestStream,
            responseStream: !!m.responseStream,
          };
        }
        model[name] = { kind: 'service', ...fileOf(obj), methods: sorted(methods) };
      } else if (obj instanceof protobuf.Namespace) {
        visit(obj);
      }
    }
  };
  visit(root);
  return sorted(model);
}

/** Human-readable differences, `path: expected (upstream) … but ours …`. Empty when equal. */
function diffModels(expected: unknown, actual: unknown, path = ''): string[] {
  const isObj = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);
  if (isObj(expected) && isObj(actual)) {
    const out: string[] = [];
    for (const k of new Set([...Object.keys(expected), ...Object.keys(actual)])) {
      const p = path ? `${path}.${k}` : k;
      if (!(k in actual)) out.push(`${p}: missing (upstream has ${JSON.stringify(expected[k])})`);
      else if (!(k in expected)) out.push(`${p}: extra (not in upstream: ${JSON.stringify(actual[k])})`);
      else out.push(...diffModels(expected[k], actual[k], p));
    }
    return out;
  }
  return JSON.stringify(expected) === JSON.stringify(actual)
    ? []
    : [`${path}: upstream ${JSON.stringify(expected)}, ours ${JSON.stringify(actual)}`];
}

function compareDirs(upstream: string, ours: string): string[] {
  return diffModels(modelOf(loadRoot(upstream), upstream), modelOf(loadRoot(ours), ours));
}

// ---------------------------------------------------------------------------------------------

test('our model covers the three eBPF services, the meter service and their messages', () => {
  const model = modelOf(loadRoot(OUR_PROTO_DIR), OUR_PROTO_DIR);
  for (const svc of [
    'EBPFProcessService',
    'EBPFProfilingService',
    'ContinuousProfilingService',
    'MeterReportService',
  ]) {
    assert.equal(model[`skywalking.v3.${svc}`]?.kind, 'service', svc);
  }
  assert.ok(Object.keys(model).length >= 45, `only ${Object.keys(model).length} definitions`);
  assert.equal(model['skywalking.v3.EBPFProfilingData']?.file, 'ebpf/profiling/Profile.proto');
  assert.equal(model['skywalking.v3.MeterDataCollection']?.file, 'language-agent/Meter.proto');
});

test('our .proto files match upstream data-collect-protocol exactly', needsUpstream, () => {
  const differences = compareDirs(upstreamDir(), OUR_PROTO_DIR);
  assert.deepEqual(differences, [], `protocol differs from upstream:\n  ${differences.join('\n  ')}`);
});

test('the generated runtime descriptor matches the .proto files (run npm run build if not)', () => {
  const fromFiles = modelOf(loadRoot(OUR_PROTO_DIR, FILES, GENERATED_WITH.keepCase));
  const fromDescriptor = modelOf(protobuf.Root.fromJSON(descriptor as protobuf.INamespace).resolveAll());
  assert.deepEqual(diffModels(fromFiles, fromDescriptor), []);
  // camelCase conversion must not have renamed anything: names equal the .proto spelling.
  assert.deepEqual(diffModels(modelOf(loadRoot(OUR_PROTO_DIR)), fromDescriptor), []);
});

test('bytes encoded with upstream definitions decode with our loaded gRPC definitions', needsUpstream, () => {
  const upstream = loadRoot(upstreamDir());
  const Data = upstream.lookupType('skywalking.v3.EBPFProfilingData');
  const sample: EBPFProfilingData = {
    task: { taskId: 't1', processId: 'p1', profilingStartTime: 1_764_000_000_000, currentTime: 1_764_000_005_000 },
    offCPU: {
      stacks: [
        { stackType: 1, stackId: 7, stackSymbols: ['main', 'read'] },
        { stackType: 0, stackId: 9, stackSymbols: ['schedule', 'do_syscall_64'] },
      ],
      switchCount: 3,
      duration: 5_000_000_123,
    },
  };
  const bytes = Buffer.from(Data.encode(Data.fromObject(sample)).finish());
  const method = loadSkyWalkingGrpc().skywalking.v3.EBPFProfilingService.service.collectProfilingData;
  const decoded = method.requestDeserialize(bytes);
  assert.equal(decoded.profiling, 'offCPU');
  assert.equal(decoded.offCPU?.duration, 5_000_000_123);
  assert.equal(decoded.offCPU?.stacks[0]?.stackType, 'PROCESS_USER_SPACE');
  assert.deepEqual(decoded.offCPU?.stacks[1]?.stackSymbols, ['schedule', 'do_syscall_64']);
  // and the other way round, byte for byte
  assert.deepEqual(method.requestSerialize(sample), bytes);
});

test(
  'meter collections encoded with upstream definitions decode with ours (as rover sends them)',
  needsUpstream,
  () => {
    const upstream = loadRoot(upstreamDir());
    const Collection = upstream.lookupType('skywalking.v3.MeterDataCollection');
    const sample: MeterDataCollection = {
      meterData: [
        {
          service: 'svc',
          serviceInstance: 'inst',
          timestamp: 1_764_000_000_123,
          singleValue: {
            name: 'rover_con_p_http_error_rate',
            labels: [
              { name: 'uri', value: '/a' },
              { name: 'process_name', value: 'nginx' },
              { name: 'layer', value: 'OS_LINUX' },
            ],
            value: 0.125,
          },
        },
        {
          histogram: {
            name: 'latency',
            labels: [],
            values: [
              { bucket: 0, count: 3, isNegativeInfinity: true },
              { bucket: 12.5, count: 9_007_199_254_740, isNegativeInfinity: false },
            ],
          },
        },
      ],
    };
    const bytes = Buffer.from(Collection.encode(Collection.fromObject(sample)).finish());
    const method = loadSkyWalkingGrpc().skywalking.v3.MeterReportService.service.collectBatch;
    const decoded = method.requestDeserialize(bytes);
    assert.equal(decoded.meterData.length, 2);
    const [single, histogram] = decoded.meterData;
    assert.equal(single?.metric, 'singleValue');
    assert.equal(single?.timestamp, 1_764_000_000_123);
    assert.equal(single?.singleValue?.value, 0.125);
    assert.deepEqual(single?.singleValue?.labels[0], { name: 'uri', value: '/a' });
    assert.equal(histogram?.metric, 'histogram');
    assert.equal(histogram?.service, '');
    assert.equal(histogram?.histogram?.values[1]?.count, 9_007_199_254_740);
    assert.deepEqual(method.requestSerialize(sample), bytes);
  },
);

// ---------------------------------------------------------------------------------------------
// Teeth: each alteration of a copy of our files must be reported.

interface Mutation {
  name: string;
  file: string;
  from: string | RegExp;
  to: string;
  expect: RegExp;
}
const MUTATIONS: Mutation[] = [
  {
    name: 'field number',
    file: 'ebpf/profiling/Profile.proto',
    from: 'int32 dumpCount = 2;',
    to: 'int32 dumpCount = 5;',
    expect: /EBPFOnCPUProfiling\.fields\.dumpCount\.id/,
  },
  {
    name: 'field type',
    file: 'ebpf/profiling/Profile.proto',
    from: 'int64 duration = 3;',
    to: 'int32 duration = 3;',
    expect: /EBPFOffCPUProfiling\.fields\.duration\.type/,
  },
  {
    name: 'field name',
    file: 'ebpf/profiling/Process.proto',
    from: 'string ebpfAgentID = 2;',
    to: 'string ebpfAgentId = 2;',
    expect: /EBPFProcessReportList\.fields\.ebpfAgentI[Dd]/,
  },
  {
    name: 'repeated label',
    file: 'ebpf/profiling/Process.proto',
    from: 'repeated string labels = 5;',
    to: 'string labels = 5;',
    expect: /EBPFProcessEntityMetadata\.fields\.labels\.label/,
  },
  {
    name: 'message type of a field',
    file: 'ebpf/profiling/Process.proto',
    from: 'EBPFProcessEntityMetadata entityMetadata = 1;',
    to: 'EBPFHostProcessMetadata entityMetadata = 1;',
    expect: /EBPFProcessPingPkg\.fields\.entityMetadata\.type/,
  },
  {
    name: 'oneof membership',
    file: 'ebpf/profiling/Process.proto',
    from: /(oneof metadata \{\s*EBPFHostProcessMetadata hostProcess = 1;)\s*(EBPFKubernetesProcessMetadata k8sProcess = 2;)\s*\}/,
    to: '$1\n    }\n    $2',
    expect: /EBPFProcessProperties\.fields\.k8sProcess\.oneof/,
  },
  {
    name: 'enum value number',
    file: 'ebpf/profiling/Continuous.proto',
    from: /HTTPAvgResponseTime = 4;/,
    to: 'HTTPAvgResponseTime = 5;',
    expect: /ContinuousProfilingTriggeredMonitorType\.values\.HTTPAvgResponseTime/,
  },
  {
    name: 'extra enum value',
    file: 'ebpf/profiling/Profile.proto',
    from: 'PROCESS_USER_SPACE = 1;',
    to: 'PROCESS_USER_SPACE = 1;\n    PROCESS_NETWORK = 2;',
    expect: /EBPFProfilingStackType\.values\.PROCESS_NETWORK: extra/,
  },
  {
    name: 'client streaming',
    file: 'ebpf/profiling/Profile.proto',
    from: '(stream EBPFProfilingData)',
    to: '(EBPFProfilingData)',
    expect: /EBPFProfilingService\.methods\.collectProfilingData\.requestStream/,
  },
  {
    name: 'server streaming',
    file: 'ebpf/profiling/Continuous.proto',
    from: 'returns (Commands) {\n    }\n\n    // Report',
    to: 'returns (stream Commands) {\n    }\n\n    // Report',
    expect: /ContinuousProfilingService\.methods\.queryPolicies\.responseStream/,
  },
  {
    name: 'rpc name',
    file: 'ebpf/profiling/Process.proto',
    from: 'rpc keepAlive',
    to: 'rpc keepalive',
    expect: /EBPFProcessService\.methods\.keepAlive: missing/,
  },
  {
    name: 'rpc response type',
    file: 'ebpf/profiling/Process.proto',
    from: 'returns (EBPFReportProcessDownstream)',
    to: 'returns (Commands)',
    expect: /EBPFProcessService\.methods\.reportProcesses\.responseType/,
  },
  {
    name: 'missing message',
    file: 'common/Common.proto',
    from: /message KeyIntValuePair \{[^}]*\}/,
    to: '',
    expect: /skywalking\.v3\.KeyIntValuePair: missing/,
  },
  {
    name: 'extra map field',
    file: 'common/Common.proto',
    from: 'string value = 2;',
    to: 'string value = 2;\n    map<string, string> extra = 3;',
    expect: /KeyStringValuePair\.fields\.extra: extra/,
  },
  {
    name: 'meter field number',
    file: 'language-agent/Meter.proto',
    from: 'int64 timestamp = 5;',
    to: 'int64 timestamp = 6;',
    expect: /MeterData\.fields\.timestamp\.id/,
  },
  {
    name: 'meter value type',
    file: 'language-agent/Meter.proto',
    from: 'double value = 3;',
    to: 'float value = 3;',
    expect: /MeterSingleValue\.fields\.value\.type/,
  },
  {
    name: 'meter oneof membership',
    file: 'language-agent/Meter.proto',
    from: /(oneof metric \{\s*MeterSingleValue singleValue = 1;)\s*(MeterHistogram histogram = 2;)\s*\}/,
    to: '$1\n    }\n    $2',
    expect: /MeterData\.fields\.histogram\.oneof/,
  },
  {
    name: 'meter batch streaming',
    file: 'language-agent/Meter.proto',
    from: 'rpc collectBatch (stream MeterDataCollection)',
    to: 'rpc collectBatch (MeterDataCollection)',
    expect: /MeterReportService\.methods\.collectBatch\.requestStream/,
  },
  {
    name: 'definition moved to another file',
    file: 'common/Common.proto',
    from: /message CPU \{\s*double usagePercent = 2;\s*\}/,
    to: '',
    expect: /skywalking\.v3\.CPU\.file/,
  },
];

function withCopy<T>(fn: (dir: string) => T): T {
  const dir = mkdtempSync(join(tmpdir(), 'swlite-proto-teeth-'));
  try {
    cpSync(OUR_PROTO_DIR, dir, { recursive: true });
    return fn(dir);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

function mutate(dir: string, file: string, from: string | RegExp, to: string): void {
  const path = join(dir, file);
  const before = readFileSync(path, 'utf8');
  const after = before.replace(from, to);
  assert.notEqual(after, before, `mutation pattern ${String(from)} not found in ${file}`);
  writeFileSync(path, after);
}

test('altered copies of our files are caught by the comparison', needsUpstream, async (t) => {
  const upstream = upstreamDir();
  assert.deepEqual(
    withCopy((dir) => compareDirs(upstream, dir)),
    [],
    'an unaltered copy must match',
  );
  for (const m of MUTATIONS) {
    await t.test(m.name, () => {
      const differences = withCopy((dir) => {
        mutate(dir, m.file, m.from, m.to);
        if (m.name === 'definition moved to another file') {
          mutate(dir, 'common/Command.proto', /$/, '\nmessage CPU {\n    double usagePercent = 2;\n}\n');
        }
        return compareDirs(upstream, dir);
      });
      assert.ok(differences.length > 0, 'alteration was not detected');
      assert.ok(
        differences.some((d) => m.expect.test(d)),
        `unexpected report:\n  ${differences.join('\n  ')}`,
      );
    });
  }
});

test('map key types are compared', () => {
  // Upstream has no map fields, so compare two altered copies of ours with each other.
  const withMap = (keyType: string) =>
    withCopy((dir) => {
      mutate(
        dir,
        'common/Common.proto',
        'string value = 2;',
        `string value = 2;\n    map<${keyType}, string> extra = 3;`,
      );
      return modelOf(loadRoot(dir), dir);
    });
  const differences = diffModels(withMap('string'), withMap('int32'));
  assert.deepEqual(differences, [
    'skywalking.v3.KeyStringValuePair.fields.extra.keyType: upstream "string", ours "int32"',
  ]);
});
