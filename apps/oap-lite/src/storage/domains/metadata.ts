/**
 * Metadata: services, instances and processes as the agents report them (the OAP's
 * service_traffic, instance_traffic, process_traffic and service_label models).
 */

/** VIRTUAL: a process network profiling stands in for an unknown peer (UNKNOWN_LOCAL, UNKNOWN_REMOTE). */
export type DetectType = 'VM' | 'KUBERNETES' | 'UNDEFINED' | 'VIRTUAL';

export interface ServiceRecord {
  /** base64(name) + ".1" (IDManager.ServiceID with a normal service). */
  id: string;
  name: string;
  /** The part after "::" when the name has a group, otherwise the name. */
  shortName: string;
  /** The part before "::", or "". */
  group: string;
  normal: boolean;
  /** Every layer this service was reported in (union over time). */
  layers: string[];
  lastSeen: number;
}

export interface InstanceRecord {
  /** serviceId + "_" + base64(name). */
  id: string;
  serviceId: string;
  name: string;
  layer: string;
  attributes: Array<{ name: string; value: string }>;
  lastSeen: number;
}

export interface ProcessRecord {
  /** sha256-hex of `${name}_${instanceId}` (IDManager.ProcessID). */
  id: string;
  name: string;
  serviceId: string;
  serviceName: string;
  instanceId: string;
  instanceName: string;
  layer: string;
  agentId: string;
  detectType: DetectType;
  labels: string[];
  /** Reported properties, e.g. host_ip, pid, command_line, support_ebpf_profiling. */
  properties: Record<string, string>;
  profilingSupported: boolean;
  firstSeen: number;
  lastSeen: number;
}

export interface ProcessFilter {
  serviceId?: string;
  instanceId?: string;
  agentId?: string;
  /** Only processes whose lastSeen is >= this. */
  seenSince?: number;
  /** Only processes whose lastSeen is <= this (with firstSeen <= it as well). */
  seenUntil?: number;
  profilingSupported?: boolean;
}

export interface MetadataStore {
  upsertService(service: ServiceRecord): Promise<void>;
  listServices(layer?: string): Promise<ServiceRecord[]>;
  getService(id: string): Promise<ServiceRecord | null>;
  upsertInstance(instance: InstanceRecord): Promise<void>;
  listInstances(serviceId: string, seenSince?: number): Promise<InstanceRecord[]>;
  getInstance(id: string): Promise<InstanceRecord | null>;
  /** Insert or merge: firstSeen keeps the oldest value, every other field takes the new one. */
  upsertProcesses(processes: ProcessRecord[]): Promise<void>;
  listProcesses(filter: ProcessFilter): Promise<ProcessRecord[]>;
  getProcess(id: string): Promise<ProcessRecord | null>;
  getProcesses(ids: string[]): Promise<ProcessRecord[]>;
  countProcesses(filter: ProcessFilter): Promise<number>;
  addServiceLabels(serviceId: string, labels: string[]): Promise<void>;
  listServiceLabels(serviceId: string): Promise<string[]>;
  /** TTL: deletes processes, instances and services not seen since `before` (labels stay); returns how many. */
  deleteNotSeenSince(before: number): Promise<number>;
}
