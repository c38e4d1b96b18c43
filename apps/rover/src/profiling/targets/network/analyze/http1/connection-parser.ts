/**
 * HTTP/1.x over one connection: one stream parser per direction, and the pairing of each
 * response with the oldest request still waiting on the connection (keep-alive and pipelining
 * answer requests in order, RFC 9112 9.3.2). Whether this process is the client or the server
 * comes from the request's direction, so a connection whose role is unknown still pairs.
 */
import type { Direction, HttpExchange, HttpMessage, SocketSegment } from './message';
import {
  DEFAULT_HTTP1_LIMITS,
  emptyParseStats,
  Http1StreamParser,
  type Http1Limits,
  type Http1ParseStats,
  type ResponseFraming,
} from './stream-parser';

export class Http1Connection {
  readonly stats: Http1ParseStats = emptyParseStats();
  /** Requests whose header section is complete and that no response has answered yet. */
  private readonly pending: HttpMessage[] = [];
  /** The request each response in progress answers, by response direction. */
  private readonly answering = new Map<Direction, HttpMessage | undefined>();
  private readonly parsers: Record<Direction, Http1StreamParser>;
  private tunneled = false;
  /** The first message head parsed on the connection: it is HTTP/1 from then on. */
  private first: { kind: 'request' | 'response'; direction: Direction } | undefined;

  constructor(
    private readonly onExchange: (exchange: HttpExchange) => void,
    readonly limits: Http1Limits = DEFAULT_HTTP1_LIMITS,
  ) {
    const make = (direction: Direction) =>
      new Http1StreamParser(direction, limits, this.stats, {
        requestHead: (msg) => this.requestHead(msg),
        responseHead: (msg) => this.responseHead(msg),
        message: (msg) => this.message(msg),
        tunnel: () => this.tunnel(),
      });
    this.parsers = { egress: make('egress'), ingress: make('ingress') };
  }

  /** Segments of both directions, in the order the syscalls happened. */
  push(seg: SocketSegment): void {
    this.parsers[seg.direction].push(seg);
  }

  /** The socket closed: a response framed by the close completes, everything else is dropped. */
  close(): void {
    this.parsers.egress.close();
    this.parsers.ingress.close();
    this.pending.length = 0;
    this.answering.clear();
  }

  /** Body bytes of the message in progress in this direction that are known to follow. */
  bodyRemaining(direction: Direction): number {
    return this.parsers[direction].bodyRemaining;
  }

  /** Requests waiting for a response (bounded by limits.maxPendingRequests). */
  get pendingRequests(): number {
    return this.pending.length;
  }

  /**
   * The first request or response head seen, whichever came first: the connection speaks HTTP/1
   * (upstream's kernel side classifies a connection by its first buffer the same way), and its
   * direction says which end this process is before any exchange completes.
   */
  get firstHead(): { kind: 'request' | 'response'; direction: Direction } | undefined {
    return this.first;
  }

  /** The connection switched protocols (101 or a CONNECT tunnel); nothing more is parsed. */
  get isTunneled(): boolean {
    return this.tunneled;
  }

  private requestHead(msg: HttpMessage): void {
    this.first ??= { kind: 'request', direction: msg.direction };
    this.pending.push(msg);
    if (this.pending.length > this.limits.maxPendingRequests) {
      this.pending.shift();
      this.stats.droppedPendingRequests++;
    }
  }

  private responseHead(msg: HttpMessage): ResponseFraming {
    this.first ??= { kind: 'response', direction: msg.direction };
    const status = msg.response!.status;
    if (status >= 100 && status < 200 && status !== 101) {
      this.stats.interimResponses++;
      this.answering.set(msg.direction, undefined);
      return 'no-body';
    }
    const request = this.takeRequestFor(msg.direction);
    this.answering.set(msg.direction, request);
    if (!request) {
      this.stats.orphanResponses++;
      return 'normal';
    }
    const method = request.request!.method;
    if (status === 101 || (method === 'CONNECT' && status >= 200 && status < 300)) return 'tunnel';
    if (method === 'HEAD') return 'no-body';
    return 'normal';
  }

  /** The oldest waiting request sent the other way from this response. */
  private takeRequestFor(responseDirection: Direction): HttpMessage | undefined {
    const index = this.pending.findIndex((r) => r.direction !== responseDirection);
    return index < 0 ? undefined : this.pending.splice(index, 1)[0];
  }

  private message(msg: HttpMessage): void {
    if (!msg.response) return;
    const request = this.answering.get(msg.direction);
    this.answering.delete(msg.direction);
    if (!request) return;
    this.onExchange({
      request,
      response: msg,
      side: request.direction === 'ingress' ? 'server' : 'client',
      durationNs: Math.max(0, msg.endNs - request.startNs),
    });
  }

  private tunnel(): void {
    this.tunneled = true;
    this.parsers.egress.tunnelNow();
    this.parsers.ingress.tunnelNow();
    this.pending.length = 0;
  }
}
