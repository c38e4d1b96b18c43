// The structs of include/network.h (network.bpf.o's maps and `net_events` ring buffer), described
// once; layout.test.ts checks them against the object's BTF.
import { array, bytes, cStruct, padding, u16, u32, u64, u8 } from './c-layout.js';
import { cEnum } from './c-enum.js';

/** NET_CAPTURE: bytes of each read/write the kernel copies. */
export const NET_CAPTURE = 1024;

export const NET_CONN_KEY = cStruct('net_conn_key', { tgid: u32, fd: u32 });
export const NET_CONN_STATS = cStruct('net_conn_stats', {
  gen: u64,
  sk: u64,
  writeBytes: u64,
  writeCount: u64,
  writeExeNs: u64,
  readBytes: u64,
  readCount: u64,
  readExeNs: u64,
  rttSumUs: u64,
  rttCount: u64,
  retransmits: u64,
  drops: u64,
  role: u8,
  proto: u8,
  probes: u8,
  pad: padding(5),
});
export const NET_SKIP = cStruct('net_skip', { gen: u64, untilWrite: u64, untilRead: u64 });
export const NET_RECORD_HDR = cStruct('net_record_hdr', {
  tsNs: u64,
  gen: u64,
  tgid: u32,
  fd: u32,
  kind: u8,
  pad: padding(7),
});
export const NET_CONN_EVENT = cStruct('net_conn_event', {
  hdr: NET_RECORD_HDR,
  exeNs: u64,
  stats: NET_CONN_STATS,
  laddr: bytes(16),
  raddr: bytes(16),
  family: u16,
  lport: u16,
  rport: u16,
  role: u8,
  pad: padding(1),
});
export const NET_DATA_EVENT = cStruct('net_data_event', {
  hdr: NET_RECORD_HDR,
  startNs: u64,
  offset: u64,
  size: u32,
  skip: u32,
  captured: u32,
  dir: u8,
  pad: padding(3),
  data: bytes(NET_CAPTURE, 'char'),
});

/** Bucket counts of the HTTP/1 meters summed in the kernel (include/network.h). */
export const NET_HTTP_DURATION_BUCKETS = 45;
export const NET_HTTP_SIZE_BUCKETS = 25;
export const NET_SOCKET_BUCKETS = 34;
export const NET_HTTP_STATUS_SLOTS = 8;
/** Entries of each net_buckets table (bounds padded with ~0). */
export const NET_BUCKET_TABLE = 64;

export const NET_CONFIG = cStruct('net_config', { kernelMeters: u32, pad: padding(4) });
export const NET_HTTP_KEY = cStruct('net_http_key', { tgid: u32, fd: u32, gen: u64 });
export const NET_HTTP_STATS = cStruct('net_http_stats', {
  reqStartNs: u64,
  respEndNs: u64,
  reqBytes: u64,
  respBytes: u64,
  respExpect: u64,
  exchanges: u64,
  reqBytesSum: u64,
  respBytesSum: u64,
  durationMsSum: u64,
  status: u16,
  state: u8,
  side: u8,
  headReq: u8,
  pad: padding(3),
  statusCodes: array(u16, NET_HTTP_STATUS_SLOTS),
  statusCounts: array(u32, NET_HTTP_STATUS_SLOTS),
  durationHist: array(u32, NET_HTTP_DURATION_BUCKETS),
  reqSizeHist: array(u32, NET_HTTP_SIZE_BUCKETS),
  respSizeHist: array(u32, NET_HTTP_SIZE_BUCKETS),
  readExeHist: array(u32, NET_SOCKET_BUCKETS),
  writeExeHist: array(u32, NET_SOCKET_BUCKETS),
});
export const NET_BUCKETS = cStruct('net_buckets', {
  durationMs: array(u64, NET_BUCKET_TABLE),
  size: array(u64, NET_BUCKET_TABLE),
  socketNs: array(u64, NET_BUCKET_TABLE),
});
export type NetHttpStats = ReturnType<typeof NET_HTTP_STATS.decode>;

export enum NetHttpState {
  Idle = 0,
  Request = 1,
  Response = 2,
  Capture = 3,
  Traced = 4,
}
export const NET_HTTP_STATE = cEnum('net_http_state', 'NET_HTTP_', NetHttpState, { max: false });

/** enum net_kernel_meters: net_config.kernel_meters. */
export enum NetKernelMeters {
  Off = 0,
  All = 1,
  Untraced = 2,
}
export const NET_KERNEL_METERS = cEnum('net_kernel_meters', 'NET_KM_', NetKernelMeters, { max: false });

/** enum net_counter: indexes of network.bpf.o's per-CPU `counters` array. */
export enum NetCounter {
  Events = 0,
  RingFull = 1,
  Calls = 2,
  ConnFull = 3,
  Drops = 4,
  Skipped = 5,
  Metered = 6,
  HttpFull = 7,
  StatusFull = 8,
  Traced = 9,
}
export const NET_COUNTER = cEnum('net_counter', 'NET_CNT_', NetCounter);

export enum NetRecordKind {
  Open = 1,
  Close = 2,
  Data = 3,
  TlsData = 4,
}
export const NET_RECORD_KIND = cEnum('net_record_kind', 'NET_REC_', NetRecordKind, { max: false });

export enum NetRole {
  Unknown = 0,
  Client = 1,
  Server = 2,
}
export const NET_ROLE = cEnum('net_role', 'NET_ROLE_', NetRole, { max: false });

export enum NetDir {
  Write = 0,
  Read = 1,
}
export const NET_DIR = cEnum('net_dir', 'NET_DIR_', NetDir, { max: false });

export enum NetProto {
  Unknown = 0,
  Http1 = 1,
  Other = 2,
}
export const NET_PROTO = cEnum('net_proto', 'NET_PROTO_', NetProto, { max: false });

export type ConnStats = ReturnType<typeof NET_CONN_STATS.decode>;

export interface NetAddress {
  ip: string;
  port: number;
}

/**
 * Times are CLOCK_MONOTONIC ns as JS numbers: exact for 104 days of uptime, within 2 ns up to 208
 * days (a bigint per field costs an allocation on the hot path of every data record).
 */
interface RecordBase {
  /** CLOCK_MONOTONIC ns at syscall exit. */
  tsNs: number;
  /** The connection's generation (its open time): a reused fd is a new connection. */
  gen: number;
  tgid: number;
  fd: number;
}
export interface NetOpenRecord extends RecordBase {
  kind: 'open';
  role: 'client' | 'server' | 'unknown';
  /** connect/accept duration (0 when the connection was first seen by its data). */
  exeNs: number;
  local: NetAddress | null;
  remote: NetAddress | null;
}
export interface NetCloseRecord extends RecordBase {
  kind: 'close';
  exeNs: number;
  /** Totals over the connection's life. */
  stats: ConnStats;
}
export interface NetDataRecord extends RecordBase {
  kind: 'data';
  /** What an SSL_read/SSL_write moved in clear (else a syscall's bytes; none on a TLS connection). */
  tls: boolean;
  direction: 'read' | 'write';
  startNs: number;
  /**
   * Bytes of this direction before this op: a jump past the last record's end is ops not sent
   * (skipped body). A TLS record counts the connection's plaintext, a syscall record its socket bytes.
   */
  offset: number;
  /** Bytes the syscall (or SSL call) moved. */
  size: number;
  /** Of them, bytes before `data` that were not copied (skipped body). */
  skip: number;
  /** Bytes from `skip` on, at most NET_CAPTURE (a view of the record). */
  data: Buffer;
}
export type NetRecord = NetOpenRecord | NetCloseRecord | NetDataRecord;

const AF_INET = 2;
const AF_INET6 = 10;

const ipOf = (family: number, raw: Buffer): string | null => {
  if (family === AF_INET) return `${raw[0]}.${raw[1]}.${raw[2]}.${raw[3]}`;
  if (family !== AF_INET6) return null;
  // ::ffff:a.b.c.d (IPv4 on a dual-stack socket) is written as the IPv4 address.
  if (raw.subarray(0, 10).every((b) => b === 0) && raw[10] === 0xff && raw[11] === 0xff) {
    return `${raw[12]}.${raw[13]}.${raw[14]}.${raw[15]}`;
  }
  const groups: string[] = [];
  for (let i = 0; i < 16; i += 2) groups.push(raw.readUInt16BE(i).toString(16));
  return groups.join(':').replace(/(^|:)0(:0)+(:|$)/, '::');
};

const ROLES = { [NetRole.Unknown]: 'unknown', [NetRole.Client]: 'client', [NetRole.Server]: 'server' } as const;

const u64n = (b: Buffer, at: number): number => b.readUInt32LE(at) + b.readUInt32LE(at + 4) * 2 ** 32;

const H = NET_RECORD_HDR.offsets;
const D = NET_DATA_EVENT.offsets;

/** One record of the `net_events` ring buffer. Data records (most of them) are read field by field. */
export function decodeNetRecord(rec: Buffer): NetRecord {
  if (rec.length < NET_RECORD_HDR.size) throw new Error(`network record of ${rec.length} bytes`);
  const kind = rec[H.kind]!;
  if (kind === NetRecordKind.Data || kind === NetRecordKind.TlsData) {
    if (rec.length < D.data) throw new Error(`network data record of ${rec.length} bytes, at least ${D.data} expected`);
    const captured = rec.readUInt32LE(D.captured);
    if (captured > rec.length - D.data) {
      throw new Error(`network data record of ${rec.length} bytes cannot hold ${captured} captured bytes`);
    }
    return {
      tsNs: u64n(rec, H.tsNs),
      gen: u64n(rec, H.gen),
      tgid: rec.readUInt32LE(H.tgid),
      fd: rec.readUInt32LE(H.fd),
      kind: 'data',
      tls: kind === NetRecordKind.TlsData,
      direction: rec[D.dir] === NetDir.Read ? 'read' : 'write',
      startNs: u64n(rec, D.startNs),
      offset: u64n(rec, D.offset),
      size: rec.readUInt32LE(D.size),
      skip: rec.readUInt32LE(D.skip),
      data: rec.subarray(D.data, D.data + captured),
    };
  }
  const h = NET_RECORD_HDR.decode(rec);
  const base = { tsNs: Number(h.tsNs), gen: Number(h.gen), tgid: h.tgid, fd: h.fd };
  if (h.kind !== NetRecordKind.Open && h.kind !== NetRecordKind.Close) {
    throw new Error(`network record of unknown kind ${h.kind}`);
  }
  if (rec.length < NET_CONN_EVENT.size) {
    throw new Error(`network connection record of ${rec.length} bytes, ${NET_CONN_EVENT.size} expected`);
  }
  const e = NET_CONN_EVENT.decode(rec);
  if (h.kind === NetRecordKind.Close) return { ...base, kind: 'close', exeNs: Number(e.exeNs), stats: e.stats };
  const lip = ipOf(e.family, e.laddr);
  const rip = ipOf(e.family, e.raddr);
  return {
    ...base,
    kind: 'open',
    role: ROLES[e.role as NetRole] ?? 'unknown',
    exeNs: Number(e.exeNs),
    local: lip === null ? null : { ip: lip, port: e.lport },
    remote: rip === null ? null : { ip: rip, port: e.rport },
  };
}
