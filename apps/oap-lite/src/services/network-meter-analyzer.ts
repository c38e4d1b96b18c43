/**
 * The network profiling meters (rover_net_p_*), analysed as the OAP's network-profiling.yaml
 * does through MAL (the rules: network-meter-rules.ts):
 *
 * 1. expPrefix: a side without `<side>_process_id` gets a virtual process of the local instance,
 *    UNKNOWN_LOCAL when `<side>_local` is "true", else UNKNOWN_REMOTE (the OAP names a remote
 *    Kubernetes pod or service there; oap-lite has no Kubernetes registry); `component` comes
 *    from `protocol` and `is_ssl` (http 49, https 129, tls 130, tcp 110).
 * 2. Samples are summed by service, instance, side, client and server process, component (and
 *    the rule's labels; histograms per bucket); each sum is one accepted value of the entity
 *    `<client process>-<server process>` in the timestamp's minute.
 * 3. expSuffix processRelation: every accepted group also marks the relation, client side or
 *    server side by `side`, in the minute (what getProcessTopology reads).
 *
 * Virtual processes and relations are upserts that change nothing when repeated, so they are
 * remembered per minute and written once (with the next stored batch).
 */
import { instanceId as toInstanceId, processId, serviceId as toServiceId } from '../core/ids';
import { MINUTE_MS } from '../storage/metrics';
import type { MetricValueRecord, ProcessRecord, ProcessRelationRecord, Storage } from '../storage/types';
import { toMeterLong } from './meter-long';
import { componentOf, NETWORK_PROFILING_RULES, type NetworkMeterRule } from './network-meter-rules';

/** One sample of a rover_net_p_* meter (a value, or one histogram bucket), with service and instance labels. */
export interface NetworkSample {
  name: string;
  labels: ReadonlyMap<string, string>;
  value: number;
  /** A histogram bucket's bound (its `le`). */
  le?: string;
}

export const UNKNOWN_LOCAL = 'UNKNOWN_LOCAL';
export const UNKNOWN_REMOTE = 'UNKNOWN_REMOTE';

/** Entries remembered per kind before the memory of written upserts is cleared. */
const REMEMBERED_LIMIT = 200_000;

export class NetworkMeterAnalyzer {
  private readonly rules: ReadonlyMap<string, NetworkMeterRule>;
  private pendingRelations = new Map<string, ProcessRelationRecord>();
  private pendingProcesses = new Map<string, ProcessRecord>();
  /** Keys already written: relation key, or process id + minute. */
  private readonly written = new Set<string>();

  constructor(
    private readonly storage: Storage,
    rules: readonly NetworkMeterRule[] = NETWORK_PROFILING_RULES,
  ) {
    this.rules = new Map(rules.map((r) => [r.meter, r]));
  }

  reads(meter: string): boolean {
    return this.rules.has(meter);
  }

  /** The metrics the rules produce. */
  metrics(): NetworkMeterRule[] {
    return [...this.rules.values()];
  }

  /** The metric values of one input's network samples (service and instance: the input's). */
  analyse(
    samples: readonly NetworkSample[],
    service: string,
    instance: string,
    timestamp: number,
  ): MetricValueRecord[] {
    if (samples.length === 0) return [];
    const svcId = toServiceId(service);
    const instId = toInstanceId(svcId, instance);
    const minute = Math.floor(timestamp / MINUTE_MS) * MINUTE_MS;
    const groups = new Map<
      string,
      { rule: NetworkMeterRule; entityId: string; labels: Record<string, string>; sum: number }
    >();

    for (const s of samples) {
      const rule = this.rules.get(s.name)!;
      const client = this.processOf(s.labels, 'client', svcId, service, instId, instance, minute);
      const server = this.processOf(s.labels, 'server', svcId, service, instId, instance, minute);
      const side = s.labels.get('side') ?? '';
      const component = componentOf(s.labels.get('protocol'), s.labels.get('is_ssl'));
      const entityId = `${client}-${server}`;
      let key = `${s.name}\u0000${side}\u0000${entityId}\u0000${component}`;
      for (const name of rule.labels) key += `\u0000${s.labels.get(name) ?? ''}`;
      if (s.le !== undefined) key += `\u0000${s.le}`;
      const g = groups.get(key);
      if (g) {
        g.sum += s.value;
        continue;
      }
      const labels: Record<string, string> = {};
      for (const name of rule.labels) labels[name] = s.labels.get(name) ?? '';
      if (rule.fn === 'percentile') labels.le = s.le ?? '0';
      groups.set(key, { rule, entityId, labels, sum: s.value });
      this.markRelation({
        side: side === 'server' ? 'SERVER' : 'CLIENT',
        entityId,
        instanceId: instId,
        serviceId: svcId,
        sourceProcessId: client,
        destProcessId: server,
        componentId: component,
        timeBucket: minute,
      });
    }

    const out: MetricValueRecord[] = [];
    for (const g of groups.values()) {
      out.push({
        metric: g.rule.metric,
        entityId: g.entityId,
        serviceId: svcId,
        timeBucket: minute,
        labels: g.labels,
        summation: toMeterLong(g.sum),
        count: 1,
      });
    }
    return out;
  }

  /** Writes the relations and virtual processes seen since the last flush. */
  async flush(): Promise<void> {
    const relations = [...this.pendingRelations.values()];
    const processes = [...this.pendingProcesses.values()];
    this.pendingRelations = new Map();
    this.pendingProcesses = new Map();
    if (processes.length > 0) await this.storage.metadata.upsertProcesses(processes);
    if (relations.length > 0) await this.storage.network.upsertRelations(relations);
    if (this.written.size > REMEMBERED_LIMIT) this.written.clear();
    for (const r of relations) this.written.add(relationKey(r));
    for (const p of processes) this.written.add(`${p.id}@${p.lastSeen}`);
  }

  /** Marks a relation seen (written with the next flush unless already written). */
  markRelation(r: ProcessRelationRecord): void {
    const key = relationKey(r);
    if (!this.written.has(key) && !this.pendingRelations.has(key)) this.pendingRelations.set(key, r);
  }

  /** The process id of one side, making the virtual process when the side names none. */
  processOf(
    labels: ReadonlyMap<string, string>,
    side: 'client' | 'server',
    svcId: string,
    service: string,
    instId: string,
    instance: string,
    minute: number,
  ): string {
    const id = labels.get(`${side}_process_id`);
    if (id) return id;
    const name = labels.get(`${side}_local`) === 'true' ? UNKNOWN_LOCAL : UNKNOWN_REMOTE;
    const virtualId = processId(instId, name);
    const key = `${virtualId}@${minute}`;
    if (!this.written.has(key) && !this.pendingProcesses.has(key)) {
      this.pendingProcesses.set(key, {
        id: virtualId,
        name,
        serviceId: svcId,
        serviceName: service,
        instanceId: instId,
        instanceName: instance,
        layer: 'UNDEFINED',
        agentId: '',
        detectType: 'VIRTUAL',
        labels: [],
        properties: {},
        profilingSupported: false,
        firstSeen: minute,
        lastSeen: minute,
      });
    }
    return virtualId;
  }
}

const relationKey = (r: ProcessRelationRecord): string => `${r.side}|${r.entityId}|${r.timeBucket}`;
