/** MetadataStore on Elasticsearch: the OAP's service_traffic, instance_traffic, process_traffic and service_label indices. */
import type { estypes } from '@elastic/elasticsearch';
import type { DetectType, InstanceRecord, MetadataStore, ProcessFilter, ProcessRecord, ServiceRecord } from '../types';
import { PAGE, docId, type Doc, type EsConnection } from './connection';

export class EsMetadataStore implements MetadataStore {
  constructor(private readonly c: EsConnection) {}

  async upsertService(service: ServiceRecord): Promise<void> {
    await this.c.mergeUpsert(this.c.names.metadata('service_traffic'), docId(service.id), (old) => {
      const layers = old ? [...((old.layers as string[]) ?? [])] : [];
      for (const l of service.layers) if (!layers.includes(l)) layers.push(l);
      return {
        id: service.id,
        service_traffic_name: service.name,
        short_name: service.shortName,
        service_group: service.group,
        normal: service.normal,
        layers,
        last_ping: Math.max(Number(old?.last_ping ?? -Infinity), service.lastSeen),
      };
    });
  }

  private toService = (d: Doc): ServiceRecord => ({
    id: String(d.id),
    name: String(d.service_traffic_name),
    shortName: String(d.short_name),
    group: String(d.service_group ?? ''),
    normal: Boolean(d.normal),
    layers: (d.layers as string[]) ?? [],
    lastSeen: Number(d.last_ping),
  });

  async listServices(layer?: string): Promise<ServiceRecord[]> {
    const query = layer === undefined ? { match_all: {} } : { term: { layers: layer } };
    return (
      await this.c.searchAll(this.c.names.metadata('service_traffic'), query, [
        { service_traffic_name: 'asc' },
        { id: 'asc' },
      ])
    ).map(this.toService);
  }

  async getService(id: string): Promise<ServiceRecord | null> {
    const d = await this.c.getDoc(this.c.names.metadata('service_traffic'), docId(id));
    return d ? this.toService(d.source) : null;
  }

  async upsertInstance(instance: InstanceRecord): Promise<void> {
    await this.c.mergeUpsert(this.c.names.metadata('instance_traffic'), docId(instance.id), (old) => ({
      id: instance.id,
      service_id: instance.serviceId,
      instance_traffic_name: instance.name,
      layer: instance.layer,
      properties: instance.attributes ?? [],
      last_ping: Math.max(Number(old?.last_ping ?? -Infinity), instance.lastSeen),
    }));
  }

  private toInstance = (d: Doc): InstanceRecord => ({
    id: String(d.id),
    serviceId: String(d.service_id),
    name: String(d.instance_traffic_name),
    layer: String(d.layer),
    attributes: (d.properties as InstanceRecord['attributes']) ?? [],
    lastSeen: Number(d.last_ping),
  });

  async listInstances(serviceId: string, seenSince?: number): Promise<InstanceRecord[]> {
    const filter: estypes.QueryDslQueryContainer[] = [{ term: { service_id: serviceId } }];
    if (seenSince !== undefined) filter.push({ range: { last_ping: { gte: seenSince } } });
    return (
      await this.c.searchAll(this.c.names.metadata('instance_traffic'), { bool: { filter } }, [
        { instance_traffic_name: 'asc' },
        { id: 'asc' },
      ])
    ).map(this.toInstance);
  }

  async getInstance(id: string): Promise<InstanceRecord | null> {
    const d = await this.c.getDoc(this.c.names.metadata('instance_traffic'), docId(id));
    return d ? this.toInstance(d.source) : null;
  }

  private processDoc(p: ProcessRecord, firstSeen: number): Doc {
    return {
      id: p.id,
      name: p.name,
      service_id: p.serviceId,
      service_name: p.serviceName,
      instance_id: p.instanceId,
      instance_name: p.instanceName,
      layer: p.layer,
      agent_id: p.agentId,
      detect_type: p.detectType,
      labels: p.labels ?? [],
      properties: p.properties ?? {},
      profiling_support_status: p.profilingSupported,
      first_ping: firstSeen,
      last_ping: p.lastSeen,
    };
  }

  private toProcess = (d: Doc): ProcessRecord => ({
    id: String(d.id),
    name: String(d.name),
    serviceId: String(d.service_id),
    serviceName: String(d.service_name),
    instanceId: String(d.instance_id),
    instanceName: String(d.instance_name),
    layer: String(d.layer),
    agentId: String(d.agent_id),
    detectType: String(d.detect_type) as DetectType,
    labels: (d.labels as string[]) ?? [],
    properties: (d.properties as Record<string, string>) ?? {},
    profilingSupported: Boolean(d.profiling_support_status),
    firstSeen: Number(d.first_ping),
    lastSeen: Number(d.last_ping),
  });

  async upsertProcesses(processes: ProcessRecord[]): Promise<void> {
    if (processes.length === 0) return;
    const index = this.c.names.metadata('process_traffic');
    // The last report of a process in the batch wins; firstSeen keeps the oldest of all.
    let pending = new Map<string, ProcessRecord & { minFirst: number }>();
    for (const p of processes) {
      const known = pending.get(p.id);
      pending.set(p.id, { ...p, minFirst: Math.min(p.firstSeen, known?.minFirst ?? Infinity) });
    }
    for (let attempt = 0; pending.size > 0; attempt++) {
      const ids = [...pending.keys()];
      const got = await this.c.es.mget<Doc>({ index, ids: ids.map(docId) });
      const ops: unknown[] = [];
      const order: string[] = [];
      got.docs.forEach((d, i) => {
        const p = pending.get(ids[i]!)!;
        const found = 'found' in d && d.found && d._source;
        const first = found ? Math.min(Number(d._source!.first_ping), p.minFirst) : p.minFirst;
        ops.push(
          found
            ? {
                index: {
                  _index: index,
                  _id: docId(p.id),
                  if_seq_no: (d as { _seq_no: number })._seq_no,
                  if_primary_term: (d as { _primary_term: number })._primary_term,
                },
              }
            : { create: { _index: index, _id: docId(p.id) } },
          this.processDoc(p, first),
        );
        order.push(p.id);
      });
      const items = await this.c.bulkWrite(ops);
      const retry = new Map<string, ProcessRecord & { minFirst: number }>();
      items.forEach((it, i) => {
        if (it.status === 409 && attempt < 50) retry.set(order[i]!, pending.get(order[i]!)!);
      });
      this.c.throwItemErrors(items, attempt < 50 ? [409] : []);
      pending = retry;
    }
  }

  private processQuery(filter: ProcessFilter): estypes.QueryDslQueryContainer {
    const f: estypes.QueryDslQueryContainer[] = [];
    if (filter.serviceId !== undefined) f.push({ term: { service_id: filter.serviceId } });
    if (filter.instanceId !== undefined) f.push({ term: { instance_id: filter.instanceId } });
    if (filter.agentId !== undefined) f.push({ term: { agent_id: filter.agentId } });
    if (filter.seenSince !== undefined) f.push({ range: { last_ping: { gte: filter.seenSince } } });
    if (filter.seenUntil !== undefined) {
      f.push({ range: { last_ping: { lte: filter.seenUntil } } }, { range: { first_ping: { lte: filter.seenUntil } } });
    }
    if (filter.profilingSupported !== undefined)
      f.push({ term: { profiling_support_status: filter.profilingSupported } });
    return { bool: { filter: f } };
  }

  async listProcesses(filter: ProcessFilter): Promise<ProcessRecord[]> {
    return (
      await this.c.searchAll(this.c.names.metadata('process_traffic'), this.processQuery(filter), [
        { name: 'asc' },
        { id: 'asc' },
      ])
    ).map(this.toProcess);
  }

  async countProcesses(filter: ProcessFilter): Promise<number> {
    return (
      await this.c.es.count({ index: this.c.names.metadata('process_traffic'), query: this.processQuery(filter) })
    ).count;
  }

  async getProcess(id: string): Promise<ProcessRecord | null> {
    const d = await this.c.getDoc(this.c.names.metadata('process_traffic'), docId(id));
    return d ? this.toProcess(d.source) : null;
  }

  async getProcesses(ids: string[]): Promise<ProcessRecord[]> {
    const unique = [...new Set(ids)];
    const out: ProcessRecord[] = [];
    for (let i = 0; i < unique.length; i += PAGE) {
      const r = await this.c.es.mget<Doc>({
        index: this.c.names.metadata('process_traffic'),
        ids: unique.slice(i, i + PAGE).map(docId),
      });
      for (const d of r.docs) if ('found' in d && d.found && d._source) out.push(this.toProcess(d._source));
    }
    return out;
  }

  async addServiceLabels(serviceId: string, labels: string[]): Promise<void> {
    const index = this.c.names.metadata('service_label');
    const ops: unknown[] = [];
    for (const label of new Set(labels)) {
      ops.push({ index: { _index: index, _id: docId(`${serviceId}_${label}`) } }, { service_id: serviceId, label });
    }
    this.c.throwItemErrors(await this.c.bulkWrite(ops));
  }

  async listServiceLabels(serviceId: string): Promise<string[]> {
    return (
      await this.c.searchAll(this.c.names.metadata('service_label'), { term: { service_id: serviceId } }, [
        { label: 'asc' },
      ])
    ).map((d) => String(d.label));
  }

  async deleteNotSeenSince(before: number): Promise<number> {
    const n = this.c.names;
    let total = await this.c.deleteMatching(n.metadata('process_traffic'), { range: { last_ping: { lt: before } } });
    total += await this.c.deleteMatching(n.metadata('instance_traffic'), { range: { last_ping: { lt: before } } });
    total += await this.c.deleteMatching(n.metadata('service_traffic'), { range: { last_ping: { lt: before } } });
    return total;
  }
}
