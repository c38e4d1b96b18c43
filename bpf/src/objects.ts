// What user space knows of each built object: every map with the layouts user space reads or
// writes (or why it never does), the ring buffer records, the counter enum and the load-time knobs
// (.rodata). The wrappers open objects through these specs (core/loaded-object.ts); layout.test.ts
// checks each spec against the object's BTF, so a C change without its TypeScript side fails there.
import { u32, u64, u8, type CStruct, type CType, type Fields } from './c-layout.js';
import type { CEnum } from './c-enum.js';
import { HTTP_COUNTER, HTTP_DIR, HTTP_EVENT, HTTP_STATUS_EVENT } from './http-layout.js';
import {
  OFFCPU_SNAP_KEY,
  OFFCPU_START,
  SNAP_START,
  OFFCPU_VALUE,
  ONCPU_VALUE,
  SNAPSHOT_HDR,
  STACK_KEY,
  STACK_TRACE,
  SW_COUNTER,
} from './layout.js';
import { PY_CODE, PY_CODE_KEY, PY_FRAME, PY_PROC } from './python/layout.js';
import {
  NET_CONN_EVENT,
  NET_CONN_KEY,
  NET_CONN_STATS,
  NET_COUNTER,
  NET_DATA_EVENT,
  NET_BUCKETS,
  NET_CONFIG,
  NET_DIR,
  NET_HTTP_KEY,
  NET_HTTP_STATE,
  NET_KERNEL_METERS,
  NET_HTTP_STATS,
  NET_PROTO,
  NET_RECORD_KIND,
  NET_ROLE,
  NET_SKIP,
} from './network-layout.js';

/** A map user space reads or writes with these layouts. */
export interface SharedMap {
  key: CType<unknown>;
  value: CType<unknown>;
}
/** A ring buffer; user space decodes these records from it. */
export interface RingMap {
  records: ReadonlyArray<CStruct<Fields>>;
}
/** Kernel-only state: user space only sizes it (or not at all); says why. */
export interface InternalMap {
  internal: string;
}
export type MapSpec = SharedMap | RingMap | InternalMap;

export interface ObjectSpec {
  maps: Readonly<Record<string, MapSpec>>;
  /** The object's `counters` map indexes. */
  counters: CEnum;
  /** Other enums whose values user space relies on. */
  enums?: readonly CEnum[];
  /** `const volatile` knobs: name -> C type (libbpf-ts writes them at the variable's size). */
  rodata: Readonly<Record<string, CType<number> | CType<bigint>>>;
}

const targets: SharedMap = { key: u32, value: u8 };
const counters: SharedMap = { key: u32, value: u64 };
const control: SharedMap = { key: u32, value: u32 };
const stackTrace: SharedMap = { key: u32, value: STACK_TRACE };
const stackMaps = { stacks_0: stackTrace, stacks_1: stackTrace, stacks_0x: stackTrace, stacks_1x: stackTrace };
const stackKnobs = { collect_kernel: u8, collect_user: u8 };
const snapshotMaps = {
  scratch: { internal: 'per-CPU scratch space where a snapshot is built; user space sizes it to the possible CPUs' },
  py_procs: { key: u32, value: PY_PROC },
  py_codes: { key: PY_CODE_KEY, value: PY_CODE },
  py_threads: { internal: "each thread's PyThreadState, found and checked in the kernel" },
  py_scratch: { internal: 'per-CPU state of a Python frame walk' },
  stack_bytes: { key: u32, value: u32 },
};
const snapshotKnobs = { collect_kernel: u8, user_stack_bytes: u32, collect_user_fp: u8 };
const schedSwitchKnobs = { tp_btf_kernel_skip: u32 };

export const OBJECTS = {
  oncpu: {
    maps: {
      target_tgids: targets,
      counters,
      control,
      ...stackMaps,
      counts_0: { key: STACK_KEY, value: ONCPU_VALUE },
      counts_1: { key: STACK_KEY, value: ONCPU_VALUE },
    },
    counters: SW_COUNTER,
    rodata: stackKnobs,
  },
  offcpu: {
    maps: {
      target_tgids: targets,
      counters,
      control,
      ...stackMaps,
      offcpu_0: { key: STACK_KEY, value: OFFCPU_VALUE },
      offcpu_1: { key: STACK_KEY, value: OFFCPU_VALUE },
      starts: { key: u32, value: OFFCPU_START },
    },
    counters: SW_COUNTER,
    rodata: { ...stackKnobs, ...schedSwitchKnobs, min_block_ns: u64 },
  },
  oncpu_snapshot: {
    maps: { target_tgids: targets, counters, ...snapshotMaps, snapshots: { records: [SNAPSHOT_HDR, PY_FRAME] } },
    counters: SW_COUNTER,
    rodata: snapshotKnobs,
  },
  offcpu_snapshot: {
    maps: {
      target_tgids: targets,
      counters,
      ...snapshotMaps,
      snapshots: { records: [SNAPSHOT_HDR, PY_FRAME] },
      control,
      snap_intervals_0: { key: OFFCPU_SNAP_KEY, value: OFFCPU_VALUE },
      snap_intervals_1: { key: OFFCPU_SNAP_KEY, value: OFFCPU_VALUE },
      starts: { key: u32, value: SNAP_START },
      last_snaps: { internal: "each thread's last snapshot signature, compared in the kernel" },
    },
    counters: SW_COUNTER,
    rodata: { ...snapshotKnobs, ...schedSwitchKnobs, min_block_ns: u64 },
  },
  http_observe: {
    maps: {
      target_tgids: targets,
      counters,
      http_pending: { internal: 'syscall arguments per thread, from syscall entry to exit' },
      http_events: { records: [HTTP_EVENT, HTTP_STATUS_EVENT] },
    },
    counters: HTTP_COUNTER,
    enums: [HTTP_DIR],
    rodata: {},
  },
  network: {
    maps: {
      target_tgids: targets,
      counters,
      net_pending: { internal: 'syscall arguments per thread, from syscall entry to exit' },
      net_conns: { key: NET_CONN_KEY, value: NET_CONN_STATS },
      net_socks: { key: u64, value: NET_CONN_KEY },
      net_skip: { key: NET_CONN_KEY, value: NET_SKIP },
      net_scratch: { internal: 'per-CPU space where a data record is built before it is copied to the ring' },
      net_mmsg_sum: {
        internal: 'per-CPU sum of the message lengths of a recvmmsg/sendmmsg, kept off the verifier-tracked stack',
      },
      net_events: { records: [NET_CONN_EVENT, NET_DATA_EVENT] },
      tls_calls: { internal: 'SSL call arguments per thread, from uprobe to uretprobe' },
      tls_binds: { internal: 'SSL object -> the connection (fd, generation) it drives' },
      tls_conns: {
        internal: 'connections that carry TLS -> their generation and plaintext stream (offsets, protocol)',
      },
      tls_last: { internal: "each thread's latest socket read/write (fd, generation)" },
      net_config: { key: u32, value: NET_CONFIG },
      net_buckets: { key: u32, value: NET_BUCKETS },
      net_http: { key: NET_HTTP_KEY, value: NET_HTTP_STATS },
      net_http_zero: { internal: 'the zeroed value a new net_http entry starts from' },
      net_http_head: {
        internal: 'per-CPU space where a message head is searched for its end, Content-Length and trace headers',
      },
    },
    counters: NET_COUNTER,
    enums: [NET_DIR, NET_HTTP_STATE, NET_KERNEL_METERS, NET_PROTO, NET_RECORD_KIND, NET_ROLE],
    rodata: {},
  },
} as const satisfies Record<string, ObjectSpec>;

/** Names of the objects this package builds (dist/<name>.bpf.o). */
export type BpfProgramName = keyof typeof OBJECTS;

/** The knob values an object accepts (names checked by the compiler, sizes by libbpf-ts). */
export type RodataOf<N extends BpfProgramName> = {
  [K in keyof (typeof OBJECTS)[N]['rodata']]?: (typeof OBJECTS)[N]['rodata'][K] extends CType<bigint> ? bigint : number;
};
