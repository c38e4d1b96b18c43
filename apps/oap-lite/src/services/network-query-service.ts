/**
 * What the UI reads of network profiling: the process topology of an instance (the OAP's
 * TopologyQueryService.getProcessTopology and ProcessTopologyBuilder) and the sampled traces of
 * a process relation (readRecords).
 *
 * Topology: the relations the instance's rover reported in the duration, one call per
 * `<client>-<server>` with detect point CLIENT from client-side relations and SERVER from
 * server-side ones; the component names go to sourceComponents from the client side and to
 * targetComponents from the server side. Nodes are the calls' processes as stored (virtual
 * UNKNOWN_LOCAL / UNKNOWN_REMOTE ones have isReal false).
 */
import { durationToRange, type DurationInput } from '../core/duration';
import { decodeSpanAttachedEvent } from '../core/span-attached-event';
import type { SampledTraceTable, Storage } from '../storage/types';
import { SAMPLED_TRACE_TABLES } from '../storage/domains/network';
import { relationIdOf, type MqeEntity } from './mqe-service';
import { COMPONENT_NAMES } from './network-meter-rules';

export interface ProcessNode {
  id: string;
  serviceId: string;
  serviceName: string;
  serviceInstanceId: string;
  serviceInstanceName: string;
  name: string;
  isReal: boolean;
}

export interface ProcessCall {
  id: string;
  source: string;
  target: string;
  sourceComponents: string[];
  targetComponents: string[];
  detectPoints: Array<'CLIENT' | 'SERVER'>;
}

export interface ProcessTopology {
  nodes: ProcessNode[];
  calls: ProcessCall[];
}

export interface RecordView {
  name: string;
  id: string;
  value: string | null;
  refId: string | null;
}

export interface AttachedEventView {
  startTime: { seconds: number; nanos: number };
  event: string;
  endTime: { seconds: number; nanos: number };
  tags: Array<{ key: string; value: string }>;
  summary: Array<{ key: string; value: number }>;
}

export interface SpanView {
  traceId: string;
  segmentId: string;
  spanId: number;
  parentSpanId: number;
  refs: never[];
  serviceCode: string;
  serviceInstanceName: string;
  startTime: number;
  endTime: number;
  endpointName: string | null;
  type: string;
  peer: string | null;
  component: string | null;
  isError: boolean;
  layer: string | null;
  tags: Array<{ key: string; value: string }>;
  logs: never[];
  attachedEvents: AttachedEventView[];
}

/** readRecords answers at most this many records. */
const MAX_TOP_N = 1000;

export class NetworkQueryService {
  constructor(private readonly storage: Storage) {}

  async processTopology(instanceId: string, duration: DurationInput): Promise<ProcessTopology> {
    const relations = await this.storage.network.queryRelations(instanceId, durationToRange(duration));
    const calls = new Map<string, ProcessCall>();
    for (const r of relations) {
      let call = calls.get(r.entityId);
      if (!call) {
        call = {
          id: r.entityId,
          source: r.sourceProcessId,
          target: r.destProcessId,
          sourceComponents: [],
          targetComponents: [],
          detectPoints: [],
        };
        calls.set(r.entityId, call);
      }
      if (!call.detectPoints.includes(r.side)) call.detectPoints.push(r.side);
      const name = COMPONENT_NAMES.get(r.componentId) ?? String(r.componentId);
      const list = r.side === 'CLIENT' ? call.sourceComponents : call.targetComponents;
      if (!list.includes(name)) list.push(name);
    }
    const ids = new Set<string>();
    for (const c of calls.values()) ids.add(c.source).add(c.target);
    const processes = await this.storage.metadata.getProcesses([...ids]);
    const nodes = processes
      .map((p) => ({
        id: p.id,
        serviceId: p.serviceId,
        serviceName: p.serviceName,
        serviceInstanceId: p.instanceId,
        serviceInstanceName: p.instanceName,
        name: p.name,
        isReal: p.detectType !== 'VIRTUAL',
      }))
      .sort((a, b) => (a.id < b.id ? -1 : a.id > b.id ? 1 : 0));
    return { nodes, calls: [...calls.values()] };
  }

  /**
   * queryTrace for a sampled trace: the span attached events rover sent for it, one span per
   * (segment, span) they name, carrying its events (tags decoded from the stored event). The OAP
   * attaches them only to spans of stored trace segments, which oap-lite does not keep, so
   * without this the bodies would never be shown; a span's service and instance come from the
   * events' service_name / service_instance_name tags, its times from the events'.
   */
  async traceWithAttachedEvents(traceId: string): Promise<{ spans: SpanView[] }> {
    const records = await this.storage.network.querySpanAttachedEvents([traceId]);
    const spans = new Map<string, SpanView>();
    for (const r of records) {
      const event = decodeSpanAttachedEvent(r.dataBinary);
      const tags = event.tags.map((t) => ({ key: t.key, value: t.value }));
      const tag = (key: string) => tags.find((t) => t.key === key)?.value ?? '';
      const start = r.startTimeSecond * 1000 + Math.floor(r.startTimeNanos / 1e6);
      const end = r.endTimeSecond * 1000 + Math.floor(r.endTimeNanos / 1e6);
      const key = `${r.traceSegmentId}|${r.traceSpanId}`;
      let span = spans.get(key);
      if (!span) {
        span = {
          traceId,
          segmentId: r.traceSegmentId,
          spanId: Number.parseInt(r.traceSpanId, 10) || 0,
          parentSpanId: -1,
          refs: [],
          serviceCode: tag('service_name'),
          serviceInstanceName: tag('service_instance_name'),
          startTime: start,
          endTime: end,
          endpointName: null,
          type: 'Local',
          peer: null,
          component: null,
          isError: false,
          layer: null,
          tags: [],
          logs: [],
          attachedEvents: [],
        };
        spans.set(key, span);
      }
      span.startTime = Math.min(span.startTime, start);
      span.endTime = Math.max(span.endTime, end);
      span.attachedEvents.push({
        startTime: { seconds: r.startTimeSecond, nanos: r.startTimeNanos },
        event: r.event,
        endTime: { seconds: r.endTimeSecond, nanos: r.endTimeNanos },
        tags,
        summary: event.summary.map((s) => ({ key: s.key, value: Number(s.value) })),
      });
    }
    return { spans: [...spans.values()] };
  }

  /** readRecords over the sampled traces of a process relation; other record names have none. */
  async readRecords(
    condition: { name: string; parentEntity: MqeEntity; topN: number; order: 'ASC' | 'DES' },
    duration: DurationInput,
  ): Promise<RecordView[]> {
    if (!SAMPLED_TRACE_TABLES.includes(condition.name as SampledTraceTable)) return [];
    const relation = relationIdOf(condition.parentEntity);
    if (relation === null || condition.topN <= 0) return [];
    const records = await this.storage.network.querySampledTraces(
      condition.name as SampledTraceTable,
      relation,
      durationToRange(duration),
      Math.min(condition.topN, MAX_TOP_N),
      condition.order,
    );
    return records.map((r) => ({ name: r.statement, id: r.traceId, value: String(r.latency), refId: r.traceId }));
  }
}
