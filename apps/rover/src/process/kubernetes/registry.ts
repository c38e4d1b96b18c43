/**
 * The pods of this node and the services selecting them, listed from the API server with
 * @kubernetes/client-node (upstream uses informers over the same lists; we re-list every period).
 */
// Types only: the client itself is loaded by KubernetesRegistry.create (a separate chunk of the
// bundle that host mode never loads).
import type { CoreV1Api, CustomObjectsApi, KubeConfig } from '@kubernetes/client-node';
import type { V1Container, V1ContainerStatus, V1OwnerReference, V1Pod, V1Service } from '@kubernetes/client-node';
import { containerIdFromStatus } from './cgroup.js';

export interface PodContainer {
  pod: V1Pod;
  spec: V1Container;
  status: V1ContainerStatus;
  /** Container ID without runtime scheme. */
  id: string;
}

export interface OwnerRef {
  kind: string;
  name: string;
}

export interface RegistrySnapshot {
  /** container ID → container */
  containers: Map<string, PodContainer>;
  /** "namespace_podName" → service name */
  serviceNames: Map<string, string>;
  /** pod uid → owners, nearest first (controller chain: ReplicaSet, Deployment, ...) */
  owners: Map<string, OwnerRef[]>;
}

/** Pod containers that have a status (upstream's AnalyzeContainers): spec and status joined by name. */
export function podContainers(pod: V1Pod): PodContainer[] {
  const out: PodContainer[] = [];
  for (const status of pod.status?.containerStatuses ?? []) {
    const spec = (pod.spec?.containers ?? []).find((c) => c.name === status.name);
    if (spec) out.push({ pod, spec, status, id: containerIdFromStatus(status.containerID) });
  }
  return out;
}

/** Equality-based selector match (k8s Service spec.selector). */
export function selectorMatches(selector: Record<string, string> | undefined, labels: Record<string, string> | undefined): boolean {
  const entries = Object.entries(selector ?? {});
  if (entries.length === 0) return false;
  return entries.every(([k, v]) => labels?.[k] === v);
}

/** Upstream's tie-break when several services select a pod: the shorter name, then the lower. */
export function chooseServiceName(a: string, b: string): string {
  if (a.length !== b.length) return a.length < b.length ? a : b;
  return a < b ? a : b;
}

export function serviceNamesFor(pods: V1Pod[], services: V1Service[]): Map<string, string> {
  const result = new Map<string, string>();
  for (const pod of pods) {
    const ns = pod.metadata?.namespace ?? '';
    for (const svc of services) {
      if ((svc.metadata?.namespace ?? '') !== ns) continue;
      if (!selectorMatches(svc.spec?.selector, pod.metadata?.labels)) continue;
      const key = `${ns}_${pod.metadata?.name ?? ''}`;
      const name = svc.metadata?.name ?? '';
      const existing = result.get(key);
      result.set(key, existing ? chooseServiceName(existing, name) : name);
    }
  }
  return result;
}

const OWNER_TTL_MS = 10 * 60_000;

export class KubernetesRegistry {
  private readonly core: CoreV1Api;
  private readonly custom: CustomObjectsApi;
  private readonly ownerCache = new Map<string, { at: number; refs: V1OwnerReference[] }>();

  private constructor(
    api: { core: CoreV1Api; custom: CustomObjectsApi },
    private readonly nodeName: string,
    private readonly namespaces: string[],
    private readonly resolveOwners: boolean,
  ) {
    this.core = api.core;
    this.custom = api.custom;
  }

  /** Loads the Kubernetes client (on first use) and makes the API clients from `kc`. */
  static async create(kc: KubeConfig, nodeName: string, namespaces: string[], resolveOwners: boolean): Promise<KubernetesRegistry> {
    const { CoreV1Api, CustomObjectsApi } = await import('./client.js');
    const api = { core: kc.makeApiClient(CoreV1Api), custom: kc.makeApiClient(CustomObjectsApi) };
    return new KubernetesRegistry(api, nodeName, namespaces, resolveOwners);
  }

  /** Fails when the node does not exist (as upstream checks at start). */
  async checkNode(): Promise<void> {
    try {
      await this.core.readNode({ name: this.nodeName });
    } catch (err) {
      throw new Error(`could not find the node "${this.nodeName}" in Kubernetes: ${describeError(err)}`);
    }
  }

  async listPods(): Promise<V1Pod[]> {
    const fieldSelector = `spec.nodeName=${this.nodeName}`;
    if (this.namespaces.length === 0) {
      return (await this.core.listPodForAllNamespaces({ fieldSelector })).items;
    }
    const lists = await Promise.all(this.namespaces.map((namespace) => this.core.listNamespacedPod({ namespace, fieldSelector })));
    return lists.flatMap((l) => l.items);
  }

  async listServices(): Promise<V1Service[]> {
    if (this.namespaces.length === 0) return (await this.core.listServiceForAllNamespaces()).items;
    const lists = await Promise.all(this.namespaces.map((namespace) => this.core.listNamespacedService({ namespace })));
    return lists.flatMap((l) => l.items);
  }

  async snapshot(): Promise<RegistrySnapshot> {
    const [pods, services] = await Promise.all([this.listPods(), this.listServices()]);
    const containers = new Map<string, PodContainer>();
    for (const pod of pods) {
      if (pod.spec?.nodeName && pod.spec.nodeName !== this.nodeName) continue;
      for (const c of podContainers(pod)) if (c.id) containers.set(c.id, c);
    }
    const owners = new Map<string, OwnerRef[]>();
    if (this.resolveOwners) {
      for (const pod of pods) {
        const uid = pod.metadata?.uid;
        if (uid) owners.set(uid, await this.ownerChain(pod));
      }
    }
    return { containers, serviceNames: serviceNamesFor(pods, services), owners };
  }

  /** Follows controller owner references upwards (ReplicaSet → Deployment, Job → CronJob, ...). */
  private async ownerChain(pod: V1Pod): Promise<OwnerRef[]> {
    const ns = pod.metadata?.namespace ?? '';
    const chain: OwnerRef[] = [];
    const queue = [...(pod.metadata?.ownerReferences ?? [])];
    const seen = new Set<string>();
    while (queue.length > 0 && chain.length < 10) {
      const ref = queue.shift() as V1OwnerReference;
      if (ref.controller === false) continue;
      const key = `${ref.apiVersion}/${ref.kind}/${ns}/${ref.name}`;
      if (seen.has(key)) continue;
      seen.add(key);
      chain.push({ kind: ref.kind, name: ref.name });
      queue.push(...(await this.ownersOf(ref, ns)));
    }
    return chain;
  }

  private async ownersOf(ref: V1OwnerReference, namespace: string): Promise<V1OwnerReference[]> {
    const key = `${ref.apiVersion}/${ref.kind}/${namespace}/${ref.name}`;
    const cached = this.ownerCache.get(key);
    if (cached && Date.now() - cached.at < OWNER_TTL_MS) return cached.refs;
    const slash = ref.apiVersion.indexOf('/');
    let refs: V1OwnerReference[] = [];
    if (slash > 0) {
      // upstream: resource = lower-case kind + "s"
      try {
        const obj = (await this.custom.getNamespacedCustomObject({
          group: ref.apiVersion.slice(0, slash),
          version: ref.apiVersion.slice(slash + 1),
          namespace,
          plural: `${ref.kind.toLowerCase()}s`,
          name: ref.name,
        })) as { metadata?: { ownerReferences?: V1OwnerReference[] } };
        refs = obj?.metadata?.ownerReferences ?? [];
      } catch {
        refs = [];
      }
    }
    this.ownerCache.set(key, { at: Date.now(), refs });
    return refs;
  }
}

export function describeError(err: unknown): string {
  if (err && typeof err === 'object') {
    const e = err as { code?: unknown; message?: unknown; body?: unknown };
    if (typeof e.code === 'number') return `HTTP ${e.code}${typeof e.body === 'string' ? `: ${e.body.slice(0, 200)}` : ''}`;
    if (typeof e.message === 'string') return e.message;
  }
  return String(err);
}
