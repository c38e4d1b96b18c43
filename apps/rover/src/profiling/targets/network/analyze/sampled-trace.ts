/**
 * What a sampled HTTP exchange becomes on the wire (upstream http1/metrics.go Trace.Flush):
 * - one LogData for LogReportService.collect, tagged LOG_KIND=NET_PROFILING_SAMPLED_TRACE, whose
 *   JSON body the OAP's LAL `sampledTrace` rule turns into a sampled_*_trace_record row;
 * - "HTTP Request Sampling" / "HTTP Response Sampling" SpanAttachedEvents with the message text,
 *   for the parts the rule's settings require.
 *
 * Differences from upstream, on purpose: a media type is text when it is text/* or
 * application/json whatever its parameters (upstream compares the whole header value, so
 * "application/json; charset=utf-8" was "not plain"); a non-UTF-8 charset is decoded (upstream
 * meant to, but passes the default encoding where the content type belongs, so it never did).
 * The per-syscall "Syscall <Func>" events need the kernel's per-packet details and are not
 * built here.
 */
import { constants, gunzipSync } from 'node:zlib';
import type { LogData, SpanAttachedEvent } from '@swlite/protocol';
import type { HttpMessage } from './http1/message';
import type { ConnectionRole, RemoteEnd } from './connections';
import type { SampledExchange } from './sampling';

export const SAMPLED_TRACE_LOG_KIND = 'NET_PROFILING_SAMPLED_TRACE';

/** The traffic a sample came from, as the log and events describe it. */
export interface SampleTraffic {
  local: { id: string; service: string; instance: string; name: string; layer: string };
  role: ConnectionRole;
  remote: RemoteEnd;
  protocol: 'http' | 'unknown';
  isSsl: boolean;
}

interface LogProcess {
  process_id: string;
  local: boolean;
  address: string;
}

const remoteProcess = (r: RemoteEnd): LogProcess => ({
  process_id: r.kind === 'process' ? r.processId : '',
  local: r.kind === 'local',
  address: r.kind === 'address' ? r.address : '',
});

/** The JSON body, keys in upstream's order (SamplingTraceLogBody). */
export function sampledTraceBody(sample: SampledExchange, t: SampleTraffic): string {
  const local: LogProcess = { process_id: t.local.id, local: false, address: '' };
  const isClient = t.role !== 'server';
  return JSON.stringify({
    uri: sample.uri,
    reason: sample.reason,
    latency: sample.durationMs,
    trace_provider: sample.trace.provider,
    client_process: isClient ? local : remoteProcess(t.remote),
    server_process: isClient ? remoteProcess(t.remote) : local,
    detect_point: isClient ? 'client' : 'server',
    component: t.protocol,
    ssl: t.isSsl,
    status: sample.exchange.response.response!.status,
  });
}

export function sampledTraceLog(sample: SampledExchange, t: SampleTraffic, nowMs: number): LogData {
  return {
    timestamp: nowMs,
    service: t.local.service,
    serviceInstance: t.local.instance,
    layer: t.local.layer,
    traceContext: { traceId: sample.trace.traceId },
    tags: { data: [{ key: 'LOG_KIND', value: SAMPLED_TRACE_LOG_KIND }] },
    body: { type: 'json', json: { json: sampledTraceBody(sample, t) } },
  };
}

const BINARY_UNITS = ['B', 'KiB', 'MiB', 'GiB', 'TiB', 'PiB', 'EiB', 'ZiB', 'YiB'];

/** A size as upstream prints it (go-units BytesSize: 4 significant digits, binary units). */
export function humanBytes(bytes: number): string {
  let size = bytes;
  let unit = 0;
  while (size >= 1024 && unit < BINARY_UNITS.length - 1) {
    size /= 1024;
    unit++;
  }
  return `${Number(size.toPrecision(4))}${BINARY_UNITS[unit]}`;
}

function charsetOf(contentType: string): string | undefined {
  const m = /;\s*charset\s*=\s*"?([^";\s]+)"?/i.exec(contentType);
  return m?.[1];
}

function decodeText(bytes: Buffer, charset: string | undefined): string {
  if (!charset || /^utf-?8$/i.test(charset)) return bytes.toString('utf8');
  try {
    return new TextDecoder(charset).decode(bytes);
  } catch {
    return bytes.toString('utf8');
  }
}

/**
 * The message as readable text for `data_content`: the header section, then the body when its
 * media type is text (gzip inflated, charset decoded), at most `maxSize` bytes in all (undefined
 * or <= 0: no limit). Other media types give `[not plain, current content type: <type>]`
 * after the header section, as upstream.
 */
export function readableContent(msg: HttpMessage, defaultEncoding: string, maxSize?: number): string {
  const limit = maxSize !== undefined && maxSize > 0 ? maxSize : undefined;
  const contentType = msg.headers.get('content-type') || `text/html; charset=${defaultEncoding}`;
  const mediaType = contentType.split(';', 1)[0]!.trim().toLowerCase();
  const isPlain = mediaType.startsWith('text/') || mediaType === 'application/json';
  if (limit !== undefined && msg.head.length >= limit) return msg.head.subarray(0, limit).toString('utf8');
  const header = msg.head.toString('utf8');
  if (!isPlain) return `${header}[not plain, current content type: ${contentType}]`;
  if (msg.body.length === 0) return header;
  let body = msg.body;
  if ((msg.headers.get('content-encoding') ?? '').toLowerCase() === 'gzip') {
    try {
      // A body cut by the parser's cap is a truncated stream: inflate what there is.
      body = gunzipSync(body, { finishFlush: constants.Z_SYNC_FLUSH });
    } catch (e) {
      return `${header}[gzip body could not be inflated: ${(e as Error).message}]`;
    }
  }
  const text = decodeText(body, charsetOf(contentType) ?? defaultEncoding);
  if (limit === undefined) return header + text;
  const room = Math.max(0, limit - Buffer.byteLength(header));
  const bytes = Buffer.from(text, 'utf8');
  // Cut on a character boundary so the tag stays valid UTF-8.
  return (
    header +
    (bytes.length <= room
      ? text
      : bytes
          .subarray(0, room)
          .toString('utf8')
          .replace(/\uFFFD$/, ''))
  );
}

/** Monotonic ns (the kernel clock of the segments) to a protocol Instant. */
export function instantOf(monotonicNs: number, bootTimeEpochNs: bigint): { seconds: number; nanos: number } {
  const epoch = bootTimeEpochNs + BigInt(Math.round(monotonicNs));
  return { seconds: Number(epoch / 1_000_000_000n), nanos: Number(epoch % 1_000_000_000n) };
}

export interface AttachedEventOptions {
  /** Wall-clock time of the monotonic clock's zero, ns since the epoch. */
  bootTimeEpochNs: bigint;
  /** profiling.task.network.protocol_analyze.sampling.http.default_*_encoding (UTF-8). */
  defaultRequestEncoding?: string;
  defaultResponseEncoding?: string;
}

/** The "HTTP Request/Response Sampling" events the sample's rule settings ask for. */
export function sampledTraceEvents(
  sample: SampledExchange,
  t: SampleTraffic,
  opts: AttachedEventOptions,
): SpanAttachedEvent[] {
  const settings = sample.rule.settings;
  if (!settings) return [];
  const out: SpanAttachedEvent[] = [];
  const make = (kind: 'Request' | 'Response', msg: HttpMessage, encoding: string, maxSize: number | undefined) => ({
    startTime: instantOf(msg.startNs, opts.bootTimeEpochNs),
    endTime: instantOf(msg.endNs, opts.bootTimeEpochNs),
    event: `HTTP ${kind} Sampling`,
    tags: [
      { key: 'data_size', value: humanBytes(msg.headerSize + msg.bodySize) },
      { key: 'data_content', value: readableContent(msg, encoding, maxSize) },
      { key: 'data_direction', value: msg.direction === 'ingress' ? 'inbound' : 'outbound' },
      { key: 'data_type', value: kind.toLowerCase() },
      { key: 'connection_role', value: t.role },
      { key: 'service_name', value: t.local.service },
      { key: 'service_instance_name', value: t.local.instance },
      { key: 'process_name', value: t.local.name },
    ],
    summary: [],
    traceContext: {
      type: sample.trace.referenceType,
      traceId: sample.trace.traceId,
      traceSegmentId: sample.trace.segmentId,
      spanId: sample.trace.spanId,
    },
  });
  if (settings.requireCompleteRequest) {
    out.push(make('Request', sample.exchange.request, opts.defaultRequestEncoding ?? 'UTF-8', settings.maxRequestSize));
  }
  if (settings.requireCompleteResponse) {
    out.push(
      make('Response', sample.exchange.response, opts.defaultResponseEncoding ?? 'UTF-8', settings.maxResponseSize),
    );
  }
  return out;
}
