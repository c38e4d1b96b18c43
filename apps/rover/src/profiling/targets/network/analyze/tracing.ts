/**
 * The trace a sampled HTTP request belongs to, from its propagation headers. Upstream rover
 * reads `sw8` (SkyWalking v3), then the `b3` single header, then `x-b3-traceid` with
 * `x-b3-spanid` (Zipkin); W3C `traceparent` is our addition, tried last. A request with none of
 * them is never sampled, since the OAP keys the sampled record by trace id.
 */

/** `trace_provider` in the sampled-trace log. */
export type TraceProvider = 'skywalking' | 'zipkin' | 'w3c';

export interface TraceContext {
  provider: TraceProvider;
  traceId: string;
  /** SkyWalking only; empty otherwise. */
  segmentId: string;
  /** SkyWalking: the decimal span number; Zipkin/W3C: the hex span id. */
  spanId: string;
  /**
   * SpanAttachedEvent.SpanReference.type: the protocol knows SKYWALKING and ZIPKIN; W3C ids have
   * Zipkin's shape (hex trace and span ids), so they go as ZIPKIN.
   */
  referenceType: 'SKYWALKING' | 'ZIPKIN';
}

/** A header is present but not in its format (the request is then not sampled). */
export class TraceHeaderError extends Error {
  override name = 'TraceHeaderError';
}

const BASE64 = /^(?:[A-Za-z0-9+/]{4})*(?:[A-Za-z0-9+/]{2}==|[A-Za-z0-9+/]{3}=)?$/;

function decodeBase64(value: string, field: string): string {
  if (!BASE64.test(value)) throw new TraceHeaderError(`sw8 ${field} is not base64: ${JSON.stringify(value)}`);
  return Buffer.from(value, 'base64').toString('utf8');
}

/** sw8: sample-traceId-segmentId-spanId-parentService-parentInstance-parentEndpoint-peer. */
export function parseSw8(value: string): TraceContext {
  const parts = value.split('-');
  if (parts.length !== 8) throw new TraceHeaderError(`sw8 needs 8 dash-separated fields, got ${parts.length}`);
  const traceId = decodeBase64(parts[1]!, 'trace id');
  const segmentId = decodeBase64(parts[2]!, 'segment id');
  // The parent service, instance, endpoint and peer are not used but must decode, as upstream.
  parts.slice(4).forEach((p, i) => decodeBase64(p, `field ${i + 5}`));
  return { provider: 'skywalking', traceId, segmentId, spanId: parts[3]!, referenceType: 'SKYWALKING' };
}

/** b3 single header: traceId-spanId[-sampled[-parentSpanId]]; a bare sampling flag has no ids. */
export function parseB3Single(value: string): TraceContext | undefined {
  const parts = value.split('-');
  if (parts.length < 2) return undefined;
  return zipkin(parts[0]!, parts[1]!);
}

const zipkin = (traceId: string, spanId: string): TraceContext => ({
  provider: 'zipkin',
  traceId,
  segmentId: '',
  spanId,
  referenceType: 'ZIPKIN',
});

/** traceparent: version-traceId(32 hex)-parentId(16 hex)-flags (W3C Trace Context level 1). */
export function parseTraceparent(value: string): TraceContext {
  const m = /^([0-9a-f]{2})-([0-9a-f]{32})-([0-9a-f]{16})-([0-9a-f]{2})(?:-.*)?$/.exec(value.trim());
  if (!m || m[1] === 'ff') throw new TraceHeaderError(`traceparent is malformed: ${JSON.stringify(value)}`);
  if (/^0+$/.test(m[2]!) || /^0+$/.test(m[3]!)) throw new TraceHeaderError('traceparent has an all-zero id');
  return { provider: 'w3c', traceId: m[2]!, segmentId: '', spanId: m[3]!, referenceType: 'ZIPKIN' };
}

/**
 * The trace context of a request, by lower-case header name; undefined without any trace
 * header. A malformed sw8 or traceparent throws TraceHeaderError (upstream drops the sample
 * too); a b3 header without ids falls through to the x-b3-* headers as upstream.
 */
export function traceContextOf(headers: ReadonlyMap<string, string>): TraceContext | undefined {
  const sw8 = headers.get('sw8');
  if (sw8) return parseSw8(sw8);
  const b3 = headers.get('b3');
  if (b3) {
    const ctx = parseB3Single(b3);
    if (ctx) return ctx;
  }
  const traceId = headers.get('x-b3-traceid');
  const spanId = headers.get('x-b3-spanid');
  if (traceId && spanId) return zipkin(traceId, spanId);
  const traceparent = headers.get('traceparent');
  if (traceparent) return parseTraceparent(traceparent);
  return undefined;
}
