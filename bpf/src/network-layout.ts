// The structs of include/network.h (network.bpf.o's maps and `net_events` ring buffer), described
// once; layout.test.ts checks them against the object's BTF.
import { bytes, cStruct, padding, u16, u32, u64, u8 } from './c-layout.js';
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
  role: u8,
  pad: padding(7),
});
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
  size: u32,
  captured: u32,
  dir: u8,
  pad: padding(7),
  data: bytes(NET_CAPTURE, 'char'),
});

/** net_data_event without its data: what a record of any captured length starts with. */
const NET_DATA_HEAD = cStruct('net_data_event', {
  hdr: NET_RECORD_HDR,
  startNs: u64,
  size: u32,
  captured: u32,
  dir: u8,
  pad: padding(7),
});

/** enum net_counter: indexes of network.bpf.o's per-CPU `counters` array. */
export enum NetCounter {
  Events = 0,
  RingFull = 1,
  Calls = 2,
  ConnFull = 3,
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

export type ConnStats = ReturnType<typeof NET_CONN_STATS.decode>;

export interface NetAddress {
  ip: string;
  port: number;
}

interface RecordBase {
  /** CLOCK_MONOTONIC ns at syscall exit. */
  tsNs: bigint;
  /** The connection's generation (its open time): a reused fd is a new connection. */
  gen: bigint;
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
  startNs: bigint;
  /** Bytes the syscall moved. */
  size: number;
  /** The first bytes of them (a view of the record). */
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

/** One record of the `net_events` ring buffer. */
export function decodeNetRecord(rec: Buffer): NetRecord {
  const h = NET_RECORD_HDR.decode(rec);
  const base = { tsNs: h.tsNs, gen: h.gen, tgid: h.tgid, fd: h.fd };
  if (h.kind === NetRecordKind.Data || h.kind === NetRecordKind.TlsData) {
    const d = NET_DATA_EVENT.offsets.data;
    const fixed = rec.subarray(0, d);
    const e = NET_DATA_HEAD.decode(fixed);
    if (e.captured > rec.length - d) {
      throw new Error(`network data record of ${rec.length} bytes cannot hold ${e.captured} captured bytes`);
    }
    return {
      ...base,
      kind: 'data',
      tls: h.kind === NetRecordKind.TlsData,
      direction: e.dir === NetDir.Read ? 'read' : 'write',
      startNs: e.startNs,
      size: e.size,
      data: rec.subarray(d, d + e.captured),
    };
  }
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
