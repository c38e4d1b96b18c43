/**
 * The types shared by the HTTP/1.x stream parser and the exchange pairing: what the kernel side
 * hands over (socket segments) and what comes out (messages, exchanges).
 */

/** Egress: the local process wrote the bytes; ingress: it read them. */
export type Direction = 'egress' | 'ingress';

/**
 * A run of payload bytes of one connection from one syscall (or one readv/writev segment, or
 * one chunk of a large buffer). Timestamps are the syscall's entry and return on the kernel's
 * monotonic clock in nanoseconds (bpf_ktime_get_ns). They are JS numbers: exact to the
 * nanosecond for 104 days of uptime, to 2 ns up to 208 days, which is far below what the
 * millisecond meters and sampling need.
 */
export interface SocketSegment {
  direction: Direction;
  /** The bytes copied: all the syscall moved unless `size` says more. */
  data: Uint8Array;
  startNs: number;
  endNs: number;
  /**
   * When the kernel copies only part of what moved: the bytes the syscall moved (`data` is the
   * part from `skip` on; the rest were not copied), and the direction's bytes before it (a jump
   * from the previous segment's end means whole syscalls not sent). The parser counts the missing
   * bytes as body where it knows the framing, and resyncs where it does not.
   */
  size?: number;
  skip?: number;
  offset?: number;
}

export interface HttpRequestLine {
  method: string;
  /** The request-target as sent, query string included. */
  target: string;
  version: string;
}

export interface HttpStatusLine {
  version: string;
  status: number;
  reason: string;
}

/** One complete HTTP/1.x message as it crossed the socket. */
export interface HttpMessage {
  direction: Direction;
  /** Set for a request, absent for a response. */
  request?: HttpRequestLine;
  /** Set for a response, absent for a request. */
  response?: HttpStatusLine;
  /** Header fields with lower-case names; repeated fields joined with ", " (RFC 9110 5.3). */
  headers: Map<string, string>;
  /** The start line and header fields as sent, including the empty line that ends them. */
  head: Buffer;
  /**
   * The body with chunked framing removed (trailers excluded), at most the parser's body cap;
   * `bodyTruncated` tells that bytes past the cap were not kept.
   */
  body: Buffer;
  bodyTruncated: boolean;
  /** Bytes of the header section on the wire. */
  headerSize: number;
  /** Bytes of the body on the wire, chunk framing and trailers included. */
  bodySize: number;
  /** Start of the syscall that carried the first byte, end of the one that carried the last. */
  startNs: number;
  endNs: number;
  /** How many segments carried bytes of this message. */
  segmentCount: number;
}

/** A request and the response that answered it, seen from one side of the connection. */
export interface HttpExchange {
  request: HttpMessage;
  response: HttpMessage;
  /** Ingress request: this process served it; egress request: this process was the client. */
  side: 'client' | 'server';
  /** First request byte to last response byte. */
  durationNs: number;
}

/** Sizes of header plus body on the wire, as the http1 size meters count them. */
export const messageSize = (m: HttpMessage): number => m.headerSize + m.bodySize;
