/**
 * Sampled HTTP exchanges from rover's network profiler, the LAL rule `network-profiling-slow-trace`
 * with its sampledTrace extractor (the OAP's k8s-service.yaml / mesh-dp.yaml, SampledTraceBuilder):
 * a log tagged LOG_KIND=NET_PROFILING_SAMPLED_TRACE carries a JSON body
 *
 *   {"uri", "reason": slow|status_4xx|status_5xx, "latency", "client_process": {process_id | local | address},
 *    "server_process": {...}, "detect_point", "component", "ssl", ...}
 *
 * and becomes one record of sampled_slow_trace_record / sampled_status_4xx_trace_record /
 * sampled_status_5xx_trace_record for the relation `<client process>-<server process>` (a side
 * without a process id is the virtual UNKNOWN_LOCAL or UNKNOWN_REMOTE process of the log's
 * instance), and marks that relation seen (detect point side) as the OAP's ProcessRelation source.
 *
 * Deliberate difference: the OAP applies the rule only to logs of the layers whose LAL files have
 * it (K8S_SERVICE, MESH_DP, MESH), so a sampled log of another layer (OS_LINUX from a host rover)
 * is lost; oap-lite takes it from any layer. Logs of other kinds are not kept (oap-lite has no log
 * storage). A sampled log missing what the OAP requires is dropped with its reason, as the OAP
 * drops it.
 */
import type { LogData__Output } from '@swlite/protocol';
import { instanceId as toInstanceId, serviceId as toServiceId } from '../core/ids';
import { MINUTE_MS } from '../storage/metrics';
import type { SampledTraceRecord, SampledTraceTable, Storage } from '../storage/types';
import type { NetworkMeterAnalyzer } from './network-meter-analyzer';
import { componentOf } from './network-meter-rules';

export const SAMPLED_TRACE_LOG_KIND = 'NET_PROFILING_SAMPLED_TRACE';

const TABLE_OF_REASON: Record<string, SampledTraceTable> = {
  SLOW: 'sampled_slow_trace_record',
  STATUS_4XX: 'sampled_status_4xx_trace_record',
  STATUS_5XX: 'sampled_status_5xx_trace_record',
};

interface SampledProcess {
  process_id?: unknown;
  local?: unknown;
  address?: unknown;
}

/** What one log yields: a record, nothing (not a sampled trace), or why the OAP would drop it. */
export type SampledTraceOutcome = { record: SampledTraceRecord } | { skipped: true } | { dropped: string };

export class SampledTraceService {
  constructor(
    private readonly storage: Storage,
    /** Where virtual processes and relations are made (shared with the meters). */
    private readonly entities: NetworkMeterAnalyzer,
  ) {}

  /** The record of one log, if it is a sampled trace. */
  analyse(log: LogData__Output): SampledTraceOutcome {
    const kind = log.tags?.data.find((t) => t.key === 'LOG_KIND')?.value;
    if (kind !== SAMPLED_TRACE_LOG_KIND) return { skipped: true };
    const text = log.body?.json?.json;
    if (text === undefined) return { dropped: 'the sampled trace log has no JSON body' };
    let body: Record<string, unknown>;
    try {
      const parsed: unknown = JSON.parse(text);
      if (!parsed || typeof parsed !== 'object' || Array.isArray(parsed)) throw new Error('not an object');
      body = parsed as Record<string, unknown>;
    } catch (err) {
      return { dropped: `the sampled trace log body is not a JSON object: ${(err as Error).message}` };
    }
    const service = log.service.trim();
    const instance = log.serviceInstance.trim();
    const traceId = log.traceContext?.traceId ?? '';
    const uri = typeof body.uri === 'string' ? body.uri : '';
    const latency = Number(body.latency);
    const table = TABLE_OF_REASON[String(body.reason ?? '').toUpperCase()];
    const detectPoint = String(body.detect_point ?? '');
    const timestamp = Number(log.timestamp);
    const missing = [
      !table && `a reason of slow, status_4xx or status_5xx (got ${JSON.stringify(body.reason ?? null)})`,
      !traceId && 'a trace id',
      !uri && 'a uri',
      !(Number.isFinite(latency) && latency >= 0) && 'a latency >= 0',
      !service && 'a service',
      !instance && 'a service instance',
      !detectPoint && 'a detect point',
      !(timestamp > 0) && 'a timestamp',
    ].filter(Boolean);
    if (missing.length > 0) return { dropped: `the sampled trace log lacks ${missing.join(', ')}` };

    const svcId = toServiceId(service);
    const instId = toInstanceId(svcId, instance);
    const minute = Math.floor(timestamp / MINUTE_MS) * MINUTE_MS;
    const side = (name: 'client' | 'server') => {
      const p = (body[`${name}_process`] ?? {}) as SampledProcess;
      const labels = new Map<string, string>();
      if (typeof p.process_id === 'string' && p.process_id !== '') labels.set(`${name}_process_id`, p.process_id);
      if (p.local === true) labels.set(`${name}_local`, 'true');
      return this.entities.processOf(labels, name, svcId, service, instId, instance, minute);
    };
    const source = side('client');
    const dest = side('server');
    const entityId = `${source}-${dest}`;
    this.entities.markRelation({
      side: detectPoint.toLowerCase() === 'server' ? 'SERVER' : 'CLIENT',
      entityId,
      instanceId: instId,
      serviceId: svcId,
      sourceProcessId: source,
      destProcessId: dest,
      componentId: componentOf(String(body.component ?? ''), body.ssl === true ? 'true' : 'false'),
      timeBucket: minute,
    });
    return {
      record: {
        table: table!,
        entityId,
        serviceId: svcId,
        instanceId: instId,
        traceId,
        statement: uri,
        latency: Math.trunc(latency),
        timestamp,
      },
    };
  }

  /** Stores records and the relations and virtual processes they imply. */
  async store(records: SampledTraceRecord[]): Promise<void> {
    await this.entities.flush();
    if (records.length > 0) await this.storage.network.addSampledTraces(records);
  }
}
