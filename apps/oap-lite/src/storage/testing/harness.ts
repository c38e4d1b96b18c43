/**
 * Fixtures and the test runner shared by the storage behaviour suites (test code only: the
 * production bundle never imports storage/testing/).
 */
import { strict as assert } from 'node:assert';
import type { TestContext } from 'node:test';
import type {
  AggregatedStack,
  InstanceRecord,
  MetricValueRecord,
  ProcessRecord,
  ProfilingDataRecord,
  ServiceRecord,
  StackFrame,
  Storage,
  TaskRecord,
} from '../types';

export interface StorageFixture {
  storage: Storage;
  reopen?: () => Promise<Storage>;
  cleanup: () => Promise<void>;
}

export interface Harness {
  /** Closes the current storage, reopens and initialises it; throws when the factory has no reopen. */
  reopen(): Promise<Storage>;
  canReopen: boolean;
}

export const T0 = 1_700_000_000_000;
/** A range covering every record the tests write. */
export const ALL = [{ start: 0, end: T0 * 2 }];

// ------------------------------------------------------------------ fixtures

export function service(name: string, over: Partial<ServiceRecord> = {}): ServiceRecord {
  const id = Buffer.from(name).toString('base64') + '.1';
  const [group, shortName] = name.includes('::') ? (name.split('::') as [string, string]) : ['', name];
  return { id, name, shortName, group, normal: true, layers: ['GENERAL'], lastSeen: T0, ...over };
}

export function instance(serviceId: string, name: string, over: Partial<InstanceRecord> = {}): InstanceRecord {
  return {
    id: `${serviceId}_${Buffer.from(name).toString('base64')}`,
    serviceId,
    name,
    layer: 'GENERAL',
    attributes: [{ name: 'host', value: 'h1' }],
    lastSeen: T0,
    ...over,
  };
}

export function processRec(id: string, over: Partial<ProcessRecord> = {}): ProcessRecord {
  return {
    id,
    name: `proc-${id}`,
    serviceId: 'c3ZjLWE=.1',
    serviceName: 'svc-a',
    instanceId: 'c3ZjLWE=.1_aW5zdC0x',
    instanceName: 'inst-1',
    layer: 'GENERAL',
    agentId: 'agent-1',
    detectType: 'VM',
    labels: ['web'],
    properties: { pid: '42', host_ip: '10.0.0.1', support_ebpf_profiling: 'true' },
    profilingSupported: true,
    firstSeen: T0,
    lastSeen: T0,
    ...over,
  };
}

export function task(taskId: string, over: Partial<TaskRecord> = {}): TaskRecord {
  return {
    taskId,
    serviceId: 'svc-1',
    instanceId: '',
    processLabels: [],
    startTime: T0,
    triggerType: 'FIXED_TIME',
    targetType: 'ON_CPU',
    fixedTriggerDuration: 60,
    createTime: T0,
    lastUpdateTime: T0,
    extensionConfigJson: '',
    continuousProfilingJson: '',
    ...over,
  };
}

export const K = (symbol: string): StackFrame => ({ symbol, stackType: 'KERNEL_SPACE' });
export const U = (symbol: string): StackFrame => ({ symbol, stackType: 'USER_SPACE' });
export const STACK_A: StackFrame[] = [U('main'), U('run'), K('sys_read')];
export const STACK_B: StackFrame[] = [U('main'), U('work'), K('schedule')];
export const STACK_C: StackFrame[] = [U('main'), U('idle')];

export function rec(over: Partial<ProfilingDataRecord> = {}): ProfilingDataRecord {
  return {
    scheduleId: 'sched-1',
    taskId: 'task-1',
    stackIdList: '1_2',
    targetType: 'ON_CPU',
    uploadTime: T0,
    frames: STACK_A,
    count: 1,
    duration: 0,
    ...over,
  };
}

export const byId = <R extends { id: string }>(a: R[]): R[] => [...a].sort((x, y) => x.id.localeCompare(y.id));
export const ids = (a: Array<{ id: string }>): string[] => a.map((x) => x.id).sort();
export const sortStr = (a: string[]): string[] => [...a].sort();
export const key = (frames: StackFrame[]): string => frames.map((f) => `${f.stackType}:${f.symbol}`).join('|');
/** Stacks as a comparable map frames-key → value (ignores order). */
export const asMap = (stacks: AggregatedStack[]): Record<string, number> => {
  const out: Record<string, number> = {};
  for (const s of stacks) {
    const k = key(s.frames);
    assert.ok(!(k in out), `frame list returned twice: ${k}`);
    out[k] = s.value;
  }
  return out;
};

/** A minute-aligned time near T0, and metric value fixtures. */
export const M0 = Math.floor(T0 / 60_000) * 60_000;
export const MIN = 60_000;
export function mv(over: Partial<MetricValueRecord> = {}): MetricValueRecord {
  return {
    metric: 'm_single',
    entityId: 'e1',
    serviceId: 's.1',
    timeBucket: M0,
    labels: {},
    summation: 10,
    count: 1,
    ...over,
  };
}
/** Query answers in a comparable order: by time, then by label set. */
export const sortedMv = (records: MetricValueRecord[]): MetricValueRecord[] =>
  [...records].sort(
    (a, b) => a.timeBucket - b.timeBucket || JSON.stringify(a.labels).localeCompare(JSON.stringify(b.labels)),
  );

/** Runs one test body on a fresh, initialised storage from the factory, and cleans up after. */
export type Run = (fn: (s: Storage, h: Harness, t: TestContext) => Promise<void>) => (t: TestContext) => Promise<void>;

export const runner = (factory: () => Promise<StorageFixture>): Run => {
  return (fn: (s: Storage, h: Harness, t: TestContext) => Promise<void>) =>
    async (t: TestContext): Promise<void> => {
      const fixture = await factory();
      let current = fixture.storage;
      let open = false;
      try {
        await current.init();
        open = true;
        const harness: Harness = {
          canReopen: typeof fixture.reopen === 'function',
          reopen: async () => {
            if (!fixture.reopen) throw new Error('factory gave no reopen');
            await current.close();
            open = false;
            current = await fixture.reopen();
            await current.init();
            open = true;
            return current;
          },
        };
        await fn(current, harness, t);
      } finally {
        if (open) await current.close();
        await fixture.cleanup();
      }
    };
};
