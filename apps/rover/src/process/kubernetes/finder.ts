/**
 * Kubernetes mode: host processes are matched to the containers of this node's pods through
 * /proc/PID/cgroup, then every active analyzer whose filters all print "true" builds one entity
 * (so one process may be reported under several entities, e.g. MESH_DP and K8S_SERVICE), as in
 * upstream's kubernetes finder. With core.cluster_name set, service names become
 * "<cluster>::<service>" unless they already contain "::".
 *
 * Templates see `.Rover`, `.Process` (see ../context.ts) and:
 *   .Pod        Name, Namespace, Node, LabelValue "a,b" "default", ServiceName, OwnerName "Kind,..",
 *               FindContainer "name" (→ a .Container-like object), and for filters also
 *               HasContainer "name", LabelSelector "k=v,k2=v2", HasServiceName, HasOwnerName "Kind,.."
 *   .Container  Name, ID (with the runtime scheme, e.g. "containerd://…"), EnvValue "A,B"
 */
// Types only: the client is loaded on first use (defaultKubeConfig, KubernetesRegistry.create), so
// host mode never loads it (the bundle keeps it in a chunk of its own).
import type { KubeConfig } from '@kubernetes/client-node';
import type { KubernetesAnalyzerConfig, KubernetesConfig } from '../../config/types.js';
import { processContext, roverContext } from '../context.js';
import { discoveredProcess, type FinderDeps, type ProcessFinder } from '../scanner.js';
import type { LiveProcess } from '../table.js';
import { type CompiledTemplate, compileFilter, compileTemplate } from '../template.js';
import type { DiscoveredProcess, ProcessEntity } from '../types.js';
import { parseCgroup } from './cgroup.js';
import { KubernetesRegistry, type PodContainer, type RegistrySnapshot, podContainers } from './registry.js';

interface CompiledAnalyzer {
  index: number;
  config: KubernetesAnalyzerConfig;
  filters: ReturnType<typeof compileFilter>[];
  service: CompiledTemplate;
  instance: CompiledTemplate;
  process: CompiledTemplate;
}

export interface KubernetesFinderOptions {
  clusterName?: string;
  kubeConfig?: KubeConfig;
}

/** In-cluster config inside a pod, else $KUBECONFIG / ~/.kube/config. */
export async function defaultKubeConfig(): Promise<KubeConfig> {
  const { KubeConfig } = await import('./client.js');
  const kc = new KubeConfig();
  if (process.env.KUBERNETES_SERVICE_HOST) kc.loadFromCluster();
  else kc.loadFromDefault();
  return kc;
}

function podContext(pc: PodContainer, snap: RegistrySnapshot) {
  const pod = pc.pod;
  const ns = pod.metadata?.namespace ?? '';
  const name = pod.metadata?.name ?? '';
  const serviceName = () => snap.serviceNames.get(`${ns}_${name}`) ?? '';
  const ownerName = (kinds: unknown): string => {
    const list = String(kinds).split(',').map((s) => s.trim()).filter(Boolean);
    const owners = snap.owners.get(pod.metadata?.uid ?? '') ?? (pod.metadata?.ownerReferences ?? []).map((o) => ({ kind: o.kind, name: o.name }));
    for (const kind of list) {
      if (kind.toLowerCase() === 'service') {
        const s = serviceName();
        if (s) return s;
        continue;
      }
      const o = owners.find((x) => x.kind === kind);
      if (o) return o.name;
    }
    throw new Error(`could not found owner in [${list.join(' ')}]`);
  };
  return {
    Name: () => name,
    Namespace: () => ns,
    Node: () => pod.spec?.nodeName ?? '',
    LabelValue: (names: unknown, def: unknown) => {
      for (const n of String(names).split(',')) {
        const v = pod.metadata?.labels?.[n.trim()];
        if (v) return v;
      }
      return def === undefined ? '' : String(def);
    },
    ServiceName: serviceName,
    OwnerName: ownerName,
    FindContainer: (cname: unknown) => {
      const other = podContainers(pod).find((c) => c.spec.name === String(cname));
      if (!other) throw new Error('could not found the container');
      return containerContext(other);
    },
    HasContainer: (cname: unknown) => (pod.spec?.containers ?? []).some((c) => c.name === String(cname)),
    LabelSelector: (selector: unknown) => {
      const pairs = String(selector).split(',').map((s) => s.trim()).filter(Boolean);
      return pairs.every((pair) => {
        const m = /^([^=!\s]+)\s*==?\s*(.*)$/.exec(pair);
        if (!m) throw new Error(`invalid label selector "${String(selector)}"`);
        return pod.metadata?.labels?.[m[1] as string] === (m[2] as string).trim();
      });
    },
    HasServiceName: () => serviceName() !== '',
    HasOwnerName: (kinds: unknown) => {
      try {
        return ownerName(kinds) !== '';
      } catch {
        return false;
      }
    },
  };
}

function containerContext(pc: PodContainer) {
  return {
    Name: () => pc.spec.name,
    ID: () => pc.status.containerID ?? '',
    EnvValue: (names: unknown) => {
      const wanted = String(names).split(',').map((s) => s.trim());
      for (const e of pc.spec.env ?? []) if (wanted.includes(e.name)) return e.value ?? '';
      throw new Error(
        `could not found matches environment, want names: [${wanted.join(' ')}], actual names: [${(pc.spec.env ?? []).map((e) => e.name).join(' ')}]`,
      );
    },
  };
}

export class KubernetesFinder implements ProcessFinder {
  readonly name = 'kubernetes';
  readonly periodMs: number;
  private readonly analyzers: CompiledAnalyzer[];
  private registry?: KubernetesRegistry;
  /** pid:startTicks → container IDs from its cgroup file (read once per process). */
  private cgroupCache = new Map<string, string[]>();
  /** failures already logged, per pid:startTicks:analyzer (analyzers re-run every scan). */
  private warned = new Set<string>();
  private warnedNext = new Set<string>();

  constructor(
    private readonly config: KubernetesConfig,
    private readonly deps: FinderDeps,
    private readonly opts: KubernetesFinderOptions = {},
  ) {
    this.periodMs = config.periodMs;
    this.analyzers = config.analyzers.map((a, index) => {
      const at = `process_discovery.kubernetes.analyzers[${index}]`;
      return {
        index,
        config: a,
        filters: a.filters.map((f, j) => compileFilter(`${at}.filters[${j}]`, f)),
        service: compileTemplate(`${at}.service_name`, a.serviceName),
        instance: compileTemplate(`${at}.instance_name`, a.instanceName),
        process: compileTemplate(`${at}.process_name`, a.processName),
      };
    });
  }

  async init(): Promise<void> {
    if (!this.config.nodeName) throw new Error('process_discovery.kubernetes.node_name is required');
    const kc = this.opts.kubeConfig ?? (await defaultKubeConfig());
    const needOwners = this.config.analyzers.some((a) =>
      [a.serviceName, a.instanceName, a.processName, ...a.filters].some((t) => t.includes('Owner')),
    );
    this.registry = await KubernetesRegistry.create(kc, this.config.nodeName, this.config.namespaces, needOwners);
    await this.registry.checkNode();
  }

  async scan(): Promise<DiscoveredProcess[]> {
    if (!this.registry) await this.init();
    const snap = await (this.registry as KubernetesRegistry).snapshot();
    const live = await this.deps.table.list();
    const nextCache = new Map<string, string[]>();
    const out: DiscoveredProcess[] = [];
    for (const p of live) {
      const key = `${p.pid}:${p.startTicks}`;
      let ids = this.cgroupCache.get(key);
      if (!ids) {
        const text = await this.deps.table.proc.cgroup(p.pid);
        if (text === undefined) continue;
        ids = parseCgroup(text).containerIds;
      }
      nextCache.set(key, ids);
      if (snap.containers.size === 0) continue;
      const pc = ids.map((id) => snap.containers.get(id)).find((c) => c !== undefined);
      if (!pc) continue;
      out.push(...this.buildProcesses(p, pc, snap));
    }
    this.cgroupCache = nextCache;
    this.warned = this.warnedNext;
    this.warnedNext = new Set();
    return out;
  }

  /** Applies the analyzers to one process of a container (exported for tests). */
  buildProcesses(p: LiveProcess, pc: PodContainer, snap: RegistrySnapshot): DiscoveredProcess[] {
    const filterCtx = {
      Process: processContext(p, this.deps.table.proc),
      Pod: podContext(pc, snap),
      Container: containerContext(pc),
    };
    const renderCtx = { ...filterCtx, Rover: roverContext(this.deps.host, this.deps.instanceId) };
    const out: DiscoveredProcess[] = [];
    for (const a of this.analyzers) {
      if (!a.config.active) continue;
      try {
        if (!a.filters.every((f) => f.test(filterCtx))) continue;
        const entity: ProcessEntity = {
          layer: a.config.layer,
          serviceName: a.service.render(renderCtx),
          instanceName: a.instance.render(renderCtx),
          processName: a.process.render(renderCtx),
          labels: [...a.config.labels],
        };
        const cluster = this.opts.clusterName ?? '';
        if (cluster && !entity.serviceName.includes('::')) entity.serviceName = `${cluster}::${entity.serviceName}`;
        out.push(this.makeProcess(p, pc, snap, entity));
      } catch (err) {
        const once = `${p.pid}:${p.startTicks}:${a.index}`;
        this.warnedNext.add(once);
        if (this.warned.has(once)) continue;
        this.deps.warn(`failed to build the kubernetes process for pid ${p.pid}: ${(err as Error).message}`, {
          pid: p.pid,
          analyzer: a.index,
          pod: pc.pod.metadata?.name,
          container: pc.spec.name,
        });
      }
    }
    return out;
  }

  private makeProcess(p: LiveProcess, pc: PodContainer, snap: RegistrySnapshot, entity: ProcessEntity): DiscoveredProcess {
    const pod = pc.pod;
    const ns = pod.metadata?.namespace ?? '';
    const podName = pod.metadata?.name ?? '';
    const podIp = pod.status?.podIP ?? '';
    const hostIp = pod.status?.hostIP || this.deps.host.defaultIp;
    return {
      ...discoveredProcess('KUBERNETES', p, entity, hostIp, [
        { key: 'container_ip', value: podIp },
        { key: 'container_name', value: pc.spec.name },
        { key: 'pod_name', value: podName },
      ]),
      kubernetes: {
        namespace: ns,
        podName,
        podUid: pod.metadata?.uid ?? '',
        podIp,
        nodeName: pod.spec?.nodeName ?? '',
        containerName: pc.spec.name,
        containerId: pc.id,
        serviceName: snap.serviceNames.get(`${ns}_${podName}`) ?? '',
      },
    };
  }
}
