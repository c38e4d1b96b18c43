/**
 * The user-space core of the NETWORK target: what the kernel side reports goes in (connection
 * opened/closed, payload segments, layer-4 deltas), and each flush (upstream: every 2 s) gives
 * the three things rover sends: meter collections, sampled-trace logs per service, and span
 * attached events. It owns no timers, sockets or BPF objects; the target module drives it.
 */
import type { LogData, MeterDataCollection, SpanAttachedEvent } from '@swlite/protocol';
import {
  addKernelExchanges,
  addToBucket,
  bucketIndex,
  mergeHttp1,
  mergeLayer4,
  newHttp1,
  newLayer4,
  recordExchange,
  SOCKET_BUCKETS_NS,
  type Http1Accumulator,
  type KernelExchanges,
  type Layer4Accumulator,
} from './accumulators';
import {
  ConnectionTable,
  groupTraffics,
  learnRole,
  remoteIsMonitored,
  type ConnectionKey,
  type ConnectionRole,
  type SocketAddress,
  type TrafficContext,
  type TrackedConnection,
} from './connections';
import { Http1Connection } from './http1/connection-parser';
import type { Direction, HttpExchange, SocketSegment } from './http1/message';
import { DEFAULT_HTTP1_LIMITS, type Http1Limits } from './http1/stream-parser';
import {
  DEFAULT_METER_PREFIX,
  http1Meters,
  layer4Meters,
  meterCollections,
  meterSide,
  type InstanceMeters,
} from './meters';
import { sampledTraceEvents, sampledTraceLog, type AttachedEventOptions } from './sampled-trace';
import { parseNetworkSamplings, SamplingRules } from './sampling';

/** Per connection: the interval's layer-4 deltas, its HTTP/1 parser, and the interval's HTTP/1 accumulator. */
export interface ConnectionState {
  layer4: Layer4Accumulator;
  parser: Http1Connection;
  http1: Http1Accumulator;
  /** Exchanges the parser completed during the current push, not yet counted. */
  parsed: HttpExchange[];
}

export interface NetworkAnalyzerOptions extends AttachedEventOptions {
  maxConnections?: number;
  http1Limits?: Http1Limits;
  meterPrefix?: string;
}

export interface FlushOutput {
  /** For MeterReportService.collectBatch. */
  meters: MeterDataCollection[];
  /** For LogReportService.collect, one stream per service. */
  logs: Array<{ service: string; logs: LogData[] }>;
  /** For SpanAttachedEventReportService.collect. */
  events: SpanAttachedEvent[];
}

export const DEFAULT_MAX_CONNECTIONS = 65_536;

export class NetworkAnalyzer {
  readonly rules = new SamplingRules();
  readonly connections: ConnectionTable<ConnectionState>;

  constructor(private readonly options: NetworkAnalyzerOptions) {
    const limits = options.http1Limits ?? DEFAULT_HTTP1_LIMITS;
    this.connections = new ConnectionTable<ConnectionState>({
      maxConnections: options.maxConnections ?? DEFAULT_MAX_CONNECTIONS,
      createMetrics: () => {
        const parsed: HttpExchange[] = [];
        return {
          layer4: newLayer4(),
          http1: newHttp1(),
          parser: new Http1Connection((e) => parsed.push(e), limits),
          parsed,
        };
      },
    });
  }

  /** A task command's ExtensionConfigJSON; `null` keeps the rules. Throws SamplingConfigError. */
  updateExtensionConfig(json: string): void {
    this.rules.update(parseNetworkSamplings(json));
  }

  /** connect (client) or accept (server) returned; `exeTimeNs` is the syscall's duration. */
  connectionOpened(
    key: ConnectionKey,
    role: ConnectionRole,
    addresses: { local?: SocketAddress; remote?: SocketAddress } = {},
    exeTimeNs = 0,
  ): void {
    const conn = this.connections.open(key, { role, ...addresses });
    const l4 = conn.metrics.layer4;
    l4.connect.count++;
    l4.connect.exeTime += exeTimeNs;
    addToBucket(l4.connectExeTimeHistogram, bucketIndex(SOCKET_BUCKETS_NS, exeTimeNs));
  }

  /** The interval's layer-4 deltas of a connection, for the kernel side to add to. */
  layer4(key: ConnectionKey): Layer4Accumulator {
    return this.connections.getOrOpen(key).metrics.layer4;
  }

  /**
   * A connection whose bytes on the wire are TLS records: SSL from now on, before any plaintext
   * (an interval that holds only its handshake reports it as tls, as upstream does, not tcp).
   */
  tlsSeen(key: ConnectionKey): void {
    this.connections.getOrOpen(key).isSsl = true;
  }

  /** Plaintext payload of a connection (syscall buffers, or TLS library buffers with `ssl`). */
  socketData(key: ConnectionKey, segment: SocketSegment, ssl = false): void {
    const conn = this.connections.getOrOpen(key);
    if (ssl) conn.isSsl = true;
    conn.metrics.parser.push(segment);
    // Labelled http from its first message head, as upstream's kernel side does from the first
    // buffer: an interval that ends before the first exchange completes (a slow first request)
    // still reports the connection's layer-4 meters as http, not tcp.
    const head = conn.metrics.parser.firstHead;
    if (head && conn.protocol === 'unknown') {
      learnRole(conn, head.kind, head.direction);
      conn.protocol = 'http';
    }
    this.countParsed(conn);
  }

  /**
   * An HTTP/1 connection the kernel meters (no payload comes to the parser): this process's side
   * in its exchanges, and the exchanges completed since the last call (none yet: still labelled
   * http from its first request, as socketData does from the first head). Nothing is sampled:
   * the kernel meters only exchanges whose request carries no trace context, which no rule samples
   * (those with one come to socketData).
   */
  kernelExchanges(key: ConnectionKey, side: 'client' | 'server', counted: KernelExchanges): void {
    const conn = this.connections.getOrOpen(key);
    learnRole(conn, 'request', side === 'server' ? 'ingress' : 'egress');
    conn.protocol = 'http';
    if (counted.exchanges) addKernelExchanges(conn.metrics.http1[side], counted);
  }

  /** Body bytes the connection's parser knows follow in that direction (the kernel may skip them). */
  bodyRemaining(key: ConnectionKey, direction: Direction): number {
    return this.connections.get(key)?.metrics.parser.bodyRemaining(direction) ?? 0;
  }

  private countParsed(conn: TrackedConnection<ConnectionState>): void {
    for (const exchange of conn.metrics.parsed.splice(0)) {
      learnRole(conn, 'request', exchange.request.direction);
      conn.protocol = 'http';
      recordExchange(conn.metrics.http1, exchange, this.rules);
    }
  }

  connectionClosed(key: ConnectionKey, exeTimeNs = 0): void {
    const conn = this.connections.get(key);
    if (!conn) return;
    const l4 = conn.metrics.layer4;
    l4.close.count++;
    l4.close.exeTime += exeTimeNs;
    addToBucket(l4.closeExeTimeHistogram, bucketIndex(SOCKET_BUCKETS_NS, exeTimeNs));
    conn.metrics.parser.close();
    this.countParsed(conn);
    this.connections.close(key);
  }

  /** A process left the task after its last flush: its connections go (exit closes no socket by a syscall). */
  forgetProcess(pid: number): void {
    this.connections.removeProcess(pid);
  }

  /** Everything of the interval, grouped into traffics; closed connections are then forgotten. */
  flush(ctx: TrafficContext<ConnectionState>, nowMs: number): FlushOutput {
    const prefix = this.options.meterPrefix ?? DEFAULT_METER_PREFIX;
    const groups: InstanceMeters[] = [];
    const logs = new Map<string, LogData[]>();
    const events: SpanAttachedEvent[] = [];
    for (const traffic of groupTraffics(this.connections.all(), ctx)) {
      const l4 = newLayer4();
      const http1 = newHttp1();
      for (const c of traffic.connections) {
        mergeLayer4(l4, c.metrics.layer4);
        c.metrics.layer4 = newLayer4();
        mergeHttp1(http1, c.metrics.http1);
      }
      const meters = [
        ...layer4Meters(traffic, l4, prefix),
        ...http1Meters(traffic, http1, remoteIsMonitored(traffic, ctx.processes), prefix),
      ];
      groups.push({ service: traffic.local.service, instance: traffic.local.instance, meters });
      // Only the traffic's own side is sampled, as upstream.
      for (const sample of http1[meterSide(traffic.role)].sampler.drain()) {
        const list = logs.get(traffic.local.service) ?? [];
        list.push(sampledTraceLog(sample, traffic, nowMs));
        logs.set(traffic.local.service, list);
        events.push(...sampledTraceEvents(sample, traffic, this.options));
      }
    }
    // Connections of processes no longer monitored keep nothing for the next interval.
    for (const c of this.connections.all()) {
      if (!ctx.processes.has(c.pid)) {
        c.metrics.layer4 = newLayer4();
        mergeHttp1(newHttp1(), c.metrics.http1);
      }
    }
    this.connections.removeClosed();
    return {
      meters: meterCollections(groups, nowMs),
      logs: [...logs].map(([service, list]) => ({ service, logs: list })),
      events,
    };
  }
}
