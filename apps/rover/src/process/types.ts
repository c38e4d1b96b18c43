/**
 * What process discovery hands to the rest of rover. The shapes map 1:1 onto the data-collect
 * protocol (ebpf/profiling/Process.proto): `entity` is EBPFProcessEntityMetadata, `properties` is
 * the `repeated KeyStringValuePair properties` of EBPFHostProcessMetadata /
 * EBPFKubernetesProcessMetadata, and the helpers below build the messages the reporter sends
 * (field names as @grpc/proto-loader objects use them: camelCase, oneof by field name).
 */

/** `DetectType`: VM = found by the host scanner (/proc), KUBERNETES = found through a pod. */
export type DetectType = 'VM' | 'KUBERNETES';

/** EBPFProcessEntityMetadata */
export interface ProcessEntity {
  layer: string;
  serviceName: string;
  instanceName: string;
  processName: string;
  labels: string[];
}

/** common/Common.proto KeyStringValuePair */
export interface KeyStringValuePair {
  key: string;
  value: string;
}

/** Where a Kubernetes-mode process lives. */
export interface KubernetesProcessInfo {
  namespace: string;
  podName: string;
  podUid: string;
  podIp: string;
  nodeName: string;
  containerName: string;
  /** Container ID without the runtime scheme (as found in the cgroup path). */
  containerId: string;
  /** The k8s Service selecting the pod, if any (upstream: shortest name, then lexical). */
  serviceName: string;
}

export interface DiscoveredProcess {
  /**
   * Identity within discovery: detect type, pid, process start time and entity. Stable across
   * scans while the process lives; a re-used pid or a changed entity gives a new key. The same pid
   * may appear more than once with different entities (Kubernetes analyzers can each build one).
   */
  readonly key: string;
  readonly pid: number;
  readonly detectType: DetectType;
  /** The backend entity (EBPFProcessEntityMetadata); the flat fields below repeat it. */
  readonly entity: Readonly<ProcessEntity>;
  readonly layer: string;
  readonly serviceName: string;
  readonly instanceName: string;
  readonly processName: string;
  readonly labels: readonly string[];
  /** Absolute path of the executable ("" when /proc/PID/exe cannot be read). */
  readonly exe: string;
  /** Upstream's `ExeName`: the kernel's comm, widened from argv[0] when comm was truncated. */
  readonly exeName: string;
  /** Command line, arguments joined by single spaces (upstream's `command_line`). */
  readonly cmdline: string;
  readonly argv: readonly string[];
  /** Process start time, epoch milliseconds (from /proc/PID/stat starttime and btime). */
  readonly startTime: number;
  /** Raw starttime field of /proc/PID/stat (clock ticks since boot): with pid, a unique identity. */
  readonly startTicks: number;
  /** The host's IP address reported as `host_ip`. */
  readonly hostIp?: string;
  /** Whether the executable can be read (needed to symbolize): upstream's support_ebpf_profiling. */
  readonly profilingSupported: boolean;
  /** The full property list reported with the process (host_ip, pid, command_line, ...). */
  readonly properties: readonly KeyStringValuePair[];
  readonly kubernetes?: Readonly<KubernetesProcessInfo>;
}

/** Changes between two scans. `removed` holds the last known version of each removed process. */
export interface ProcessChange {
  added: DiscoveredProcess[];
  removed: DiscoveredProcess[];
}

// ---------------------------------------------------------------------------------------------
// protocol helpers (plain objects shaped like the proto messages)

export interface EBPFProcessEntityMetadata {
  layer: string;
  serviceName: string;
  instanceName: string;
  processName: string;
  labels: string[];
}

export interface EBPFProcessMetadata {
  entity: EBPFProcessEntityMetadata;
  pid: number;
  properties: KeyStringValuePair[];
}

/** EBPFProcessProperties: exactly one of the oneof members is set. */
export type EBPFProcessProperties = { hostProcess: EBPFProcessMetadata } | { k8sProcess: EBPFProcessMetadata };

export interface EBPFProcessPingPkg {
  entityMetadata: EBPFProcessEntityMetadata;
  properties: KeyStringValuePair[];
}

/** EBPFProcessDownstream as the backend answers reportProcesses (either member may be set). */
export interface EBPFProcessDownstreamLike {
  processId: string;
  hostProcess?: { pid: number; entityMetadata?: Partial<EBPFProcessEntityMetadata> | null } | null;
  k8sProcess?: { pid: number; entityMetadata?: Partial<EBPFProcessEntityMetadata> | null } | null;
}

export function entityMetadata(p: DiscoveredProcess): EBPFProcessEntityMetadata {
  return {
    layer: p.entity.layer,
    serviceName: p.entity.serviceName,
    instanceName: p.entity.instanceName,
    processName: p.entity.processName,
    labels: [...p.entity.labels],
  };
}

/** The "necessary" properties sent with every keepAlive (upstream: support_ebpf_profiling). */
export function necessaryProperties(p: DiscoveredProcess): KeyStringValuePair[] {
  return [{ key: 'support_ebpf_profiling', value: String(p.profilingSupported) }];
}

/** Builds the EBPFProcessProperties for EBPFProcessReportList.processes. */
export function toEBPFProcessProperties(p: DiscoveredProcess): EBPFProcessProperties {
  const meta: EBPFProcessMetadata = {
    entity: entityMetadata(p),
    pid: p.pid,
    properties: p.properties.map((kv) => ({ ...kv })),
  };
  return p.detectType === 'KUBERNETES' ? { k8sProcess: meta } : { hostProcess: meta };
}

/** Builds the EBPFProcessPingPkg for EBPFProcessPingPkgList.processes (keepAlive). */
export function toPingPkg(p: DiscoveredProcess): EBPFProcessPingPkg {
  return { entityMetadata: entityMetadata(p), properties: necessaryProperties(p) };
}

/** Labels compared as sets (upstream sorts both sides before comparing). */
function sameLabels(a: readonly string[], b: readonly string[] | undefined): boolean {
  const x = [...a].sort();
  const y = [...(b ?? [])].sort();
  return x.length === y.length && x.every((v, i) => v === y[i]);
}

/**
 * Returns the backend's process ID when `downstream` answers for `p` (same pid, same entity and
 * matching kind), like upstream's ParseProcessID; otherwise undefined.
 */
export function matchDownstream(p: DiscoveredProcess, downstream: EBPFProcessDownstreamLike): string | undefined {
  const d = p.detectType === 'KUBERNETES' ? downstream.k8sProcess : downstream.hostProcess;
  if (!d || d.pid !== p.pid || !d.entityMetadata) return undefined;
  const e = d.entityMetadata;
  if (
    e.layer === p.entity.layer &&
    e.serviceName === p.entity.serviceName &&
    e.instanceName === p.entity.instanceName &&
    e.processName === p.entity.processName &&
    sameLabels(p.entity.labels, e.labels)
  ) {
    return downstream.processId;
  }
  return undefined;
}

/** Upstream's identity of an entity without the pid: layer_service_instance_process. */
export function entityIdentity(e: Pick<ProcessEntity, 'layer' | 'serviceName' | 'instanceName' | 'processName'>): string {
  return `${e.layer}_${e.serviceName}_${e.instanceName}_${e.processName}`;
}
