// The records of include/http.h (http_observe.bpf.o's `http_events` ring buffer), described once;
// layout.test.ts checks them against the object's BTF.
import { bytes, cStruct, padding, u32, u64, u8 } from './c-layout.js';
import { cEnum } from './c-enum.js';

/** HTTP_CAPTURE: bytes of a request's head the kernel copies. */
export const HTTP_CAPTURE = 255;
/** HTTP_STATUS_CAPTURE: bytes of a response's head (its status line). */
export const HTTP_STATUS_CAPTURE = 16;

export const HTTP_RECORD_HDR = cStruct('http_record_hdr', {
  tsNs: u64,
  tgid: u32,
  tid: u32,
  fd: u32,
  size: u32,
  dir: u8,
  captured: u8,
  pad: padding(6),
});
export const HTTP_EVENT = cStruct('http_event', { hdr: HTTP_RECORD_HDR, data: bytes(HTTP_CAPTURE + 1, 'char') });
export const HTTP_STATUS_EVENT = cStruct('http_status_event', {
  hdr: HTTP_RECORD_HDR,
  data: bytes(HTTP_STATUS_CAPTURE, 'char'),
});

/** enum http_dir */
export enum HttpDir {
  Read = 0,
  Write = 1,
}
export const HTTP_DIR = cEnum('http_dir', 'HTTP_DIR_', HttpDir, { max: false });

/** enum http_counter: indexes of http_observe.bpf.o's per-CPU `counters` array. */
export enum HttpCounter {
  Events = 0,
  RingFull = 1,
  Calls = 2,
}
export const HTTP_COUNTER = cEnum('http_counter', 'HTTP_CNT_', HttpCounter);

export interface HttpRecord {
  /** CLOCK_MONOTONIC nanoseconds. */
  tsNs: bigint;
  tgid: number;
  tid: number;
  fd: number;
  size: number;
  direction: 'read' | 'write';
  /** The captured head of the data (a view of the record). */
  data: Buffer;
}

/** Either record kind: both start with struct http_record_hdr, data follows it. */
export function decodeHttpRecord(rec: Buffer): HttpRecord {
  const h = HTTP_RECORD_HDR.decode(rec);
  const dataOffset = HTTP_EVENT.offsets.data;
  const room = rec.length - dataOffset;
  if (room < 0 || h.captured > room) {
    throw new Error(`http record of ${rec.length} bytes cannot hold ${h.captured} captured bytes`);
  }
  return {
    tsNs: h.tsNs,
    tgid: h.tgid,
    tid: h.tid,
    fd: h.fd,
    size: h.size,
    direction: h.dir === HttpDir.Read ? 'read' : 'write',
    data: rec.subarray(dataOffset, dataOffset + h.captured),
  };
}
