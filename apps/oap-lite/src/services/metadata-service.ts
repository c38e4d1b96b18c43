/**
 * Processes, instances and services as agents report them, and the metadata queries the UI
 * makes. Mirrors the OAP's EBPFProcessServiceHandler + MetadataQueryService: a reported process
 * creates its service (layers accumulate) and instance; keepAlive refreshes all three; a process
 * not kept alive drops out of "recent" listings.
 */
import { isLayer } from '../core/layers';
import { instanceId, parseInstanceId, processId, serviceId, splitServiceName } from '../core/ids';
import type { DetectType, InstanceRecord, ProcessRecord, ServiceRecord, Storage } from '../storage/types';

export interface ReportedEntity {
  layer: string;
  serviceName: string;
  instanceName: string;
  processName: string;
  labels: string[];
}

export interface ReportedProcess {
  entity: ReportedEntity;
  detectType: DetectType;
  pid: number;
  properties: Record<string, string>;
}

export interface ProcessAssignment {
  processId: string;
  pid: number;
  detectType: DetectType;
  entity: ReportedEntity;
}

/** Longer names are cut to these lengths, as the OAP's NamingControl does (its defaults: 70). */
export interface NameLimits {
  serviceNameMaxLength: number;
  instanceNameMaxLength: number;
}
export const MAX_SERVICE_NAME = 70;
export const MAX_INSTANCE_NAME = 70;

export class InvalidReportError extends Error {
  override name = 'InvalidReportError';
}

export class MetadataService {
  constructor(
    private readonly storage: Storage,
    private readonly now: () => number = Date.now,
    private readonly names: NameLimits = { serviceNameMaxLength: MAX_SERVICE_NAME, instanceNameMaxLength: MAX_INSTANCE_NAME },
  ) {}

  async reportProcesses(agentId: string, processes: ReportedProcess[]): Promise<ProcessAssignment[]> {
    const time = this.now();
    const records = processes.map((p) => this.toRecord(agentId, p.entity, p.detectType, p.properties, time));
    await this.saveEntities(records, time);
    return records.map((record, i) => ({
      processId: record.id,
      pid: processes[i]!.pid,
      detectType: processes[i]!.detectType,
      entity: processes[i]!.entity,
    }));
  }

  /** A heartbeat: the process keeps its detect type from the report; other fields refresh. */
  async keepAlive(agentId: string, pings: Array<{ entity: ReportedEntity; properties: Record<string, string> }>) {
    const time = this.now();
    const records: ProcessRecord[] = [];
    for (const ping of pings) {
      const record = this.toRecord(agentId, ping.entity, 'UNDEFINED', ping.properties, time);
      const known = await this.storage.metadata.getProcess(record.id);
      if (known) {
        record.detectType = known.detectType;
        record.properties = { ...known.properties, ...record.properties };
        record.profilingSupported = record.properties['support_ebpf_profiling'] === 'true';
      }
      records.push(record);
    }
    await this.saveEntities(records, time);
  }

  private toRecord(
    agentId: string,
    entity: ReportedEntity,
    detectType: DetectType,
    properties: Record<string, string>,
    time: number,
  ): ProcessRecord {
    const serviceName = this.formatName(entity.serviceName, this.names.serviceNameMaxLength, 'service');
    const instanceName = this.formatName(entity.instanceName, this.names.instanceNameMaxLength, 'instance');
    if (!entity.layer) throw new InvalidReportError('process entity has no layer');
    // The OAP refuses a layer its Layer enum does not have (Layer.valueOf).
    if (!isLayer(entity.layer)) throw new InvalidReportError(`unknown layer "${entity.layer}"`);
    const svcId = serviceId(serviceName);
    const instId = instanceId(svcId, instanceName);
    return {
      id: processId(instId, entity.processName),
      name: entity.processName,
      serviceId: svcId,
      serviceName,
      instanceId: instId,
      instanceName,
      layer: entity.layer,
      agentId,
      detectType,
      labels: [...entity.labels],
      properties,
      profilingSupported: properties['support_ebpf_profiling'] === 'true',
      firstSeen: time,
      lastSeen: time,
    };
  }

  private formatName(name: string, max: number, what: string): string {
    const trimmed = name.trim();
    if (!trimmed) throw new InvalidReportError(`process entity has an empty ${what} name`);
    return trimmed.length > max ? trimmed.slice(0, max) : trimmed;
  }

  private async saveEntities(records: ProcessRecord[], time: number): Promise<void> {
    if (records.length === 0) return;
    const services = new Map<string, ServiceRecord>();
    const instances = new Map<string, InstanceRecord>();
    const labels = new Map<string, Set<string>>();
    for (const p of records) {
      const { group, shortName } = splitServiceName(p.serviceName);
      const svc = services.get(p.serviceId);
      if (svc) {
        if (!svc.layers.includes(p.layer)) svc.layers.push(p.layer);
      } else {
        services.set(p.serviceId, {
          id: p.serviceId,
          name: p.serviceName,
          shortName,
          group,
          normal: true,
          layers: [p.layer],
          lastSeen: time,
        });
      }
      instances.set(p.instanceId, {
        id: p.instanceId,
        serviceId: p.serviceId,
        name: p.instanceName,
        layer: p.layer,
        attributes: [],
        lastSeen: time,
      });
      const set = labels.get(p.serviceId) ?? new Set<string>();
      p.labels.forEach((l) => set.add(l));
      labels.set(p.serviceId, set);
    }
    for (const svc of services.values()) await this.storage.metadata.upsertService(svc);
    for (const inst of instances.values()) await this.storage.metadata.upsertInstance(inst);
    await this.storage.metadata.upsertProcesses(records);
    for (const [svcId, set] of labels) if (set.size > 0) await this.storage.metadata.addServiceLabels(svcId, [...set]);
  }

  // ---- queries ----

  async listLayers(): Promise<string[]> {
    const layers = new Set<string>();
    for (const svc of await this.storage.metadata.listServices()) svc.layers.forEach((l) => layers.add(l));
    return [...layers].sort();
  }

  listServices(layer?: string | null): Promise<ServiceRecord[]> {
    return this.storage.metadata.listServices(layer ?? undefined);
  }

  getService(id: string): Promise<ServiceRecord | null> {
    return this.storage.metadata.getService(id);
  }

  findService(name: string): Promise<ServiceRecord | null> {
    return this.storage.metadata.getService(serviceId(name));
  }

  async listInstances(svcId: string, range: { start: number; end: number }): Promise<InstanceRecord[]> {
    const instances = await this.storage.metadata.listInstances(svcId, range.start);
    return instances.filter((i) => i.lastSeen >= range.start);
  }

  async getInstance(id: string): Promise<InstanceRecord | null> {
    try {
      parseInstanceId(id);
    } catch {
      return null;
    }
    return this.storage.metadata.getInstance(id);
  }

  listProcesses(instId: string, range: { start: number; end: number }): Promise<ProcessRecord[]> {
    return this.storage.metadata.listProcesses({ instanceId: instId, seenSince: range.start, seenUntil: range.end });
  }

  getProcess(id: string): Promise<ProcessRecord | null> {
    return this.storage.metadata.getProcess(id);
  }

  /** Processes of the service seen in the last 10 minutes that can be profiled and carry every label. */
  async estimateProcessScale(svcId: string, labels: string[]): Promise<number> {
    const processes = await this.storage.metadata.listProcesses({
      serviceId: svcId,
      seenSince: this.now() - 10 * 60_000,
      profilingSupported: true,
    });
    return processes.filter((p) => labels.every((l) => p.labels.includes(l))).length;
  }
}
