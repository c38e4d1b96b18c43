/**
 * Service and instance hierarchy as the Java OAP 10.1.0 derives it with its default
 * hierarchy-definition.yml: a service in an upper layer is linked to a service in a lower layer
 * when the layer pair's matching rule holds (a mesh service to its data-plane service of the same
 * name, both to the Kubernetes service of the same short name). The OAP stores the links its
 * matcher finds every 20 s; here they are derived from the services when asked, same result.
 */
import type { InstanceRecord, ServiceRecord } from '../storage/types';
import { VIRTUAL_LAYERS } from '../core/layers';

interface RuleService {
  name: string;
  shortName: string;
}
type Rule = (upper: RuleService, lower: RuleService) => boolean;

/** The auto-matching rules of hierarchy-definition.yml. */
const RULES: Record<string, Rule> = {
  name: (u, l) => u.name === l.name,
  'short-name': (u, l) => u.shortName === l.shortName,
  'lower-short-name-remove-ns': (u, l) => {
    const dot = l.shortName.lastIndexOf('.');
    return dot > 0 && u.shortName === l.shortName.slice(0, dot);
  },
  'lower-short-name-with-fqdn': (u, l) => {
    const colon = u.shortName.lastIndexOf(':');
    return colon > 0 && u.shortName.slice(0, colon) === `${l.shortName}.svc.cluster.local`;
  },
};

/** Upper layer → lower layer → rule name (hierarchy-definition.yml at v10.1.0). */
export const HIERARCHY: Record<string, Record<string, keyof typeof RULES>> = {
  MESH: { MESH_DP: 'name', K8S_SERVICE: 'short-name' },
  MESH_DP: { K8S_SERVICE: 'short-name' },
  GENERAL: { APISIX: 'lower-short-name-remove-ns', K8S_SERVICE: 'lower-short-name-remove-ns' },
  MYSQL: { K8S_SERVICE: 'short-name' },
  POSTGRESQL: { K8S_SERVICE: 'short-name' },
  APISIX: { K8S_SERVICE: 'short-name' },
  NGINX: { K8S_SERVICE: 'short-name' },
  SO11Y_OAP: { K8S_SERVICE: 'short-name' },
  ROCKETMQ: { K8S_SERVICE: 'short-name' },
  RABBITMQ: { K8S_SERVICE: 'short-name' },
  KAFKA: { K8S_SERVICE: 'short-name' },
  CLICKHOUSE: { K8S_SERVICE: 'short-name' },
  PULSAR: { K8S_SERVICE: 'short-name' },
  ACTIVEMQ: { K8S_SERVICE: 'short-name' },
  VIRTUAL_DATABASE: {
    MYSQL: 'lower-short-name-with-fqdn',
    POSTGRESQL: 'lower-short-name-with-fqdn',
    CLICKHOUSE: 'lower-short-name-with-fqdn',
  },
  VIRTUAL_MQ: {
    ROCKETMQ: 'lower-short-name-with-fqdn',
    RABBITMQ: 'lower-short-name-with-fqdn',
    KAFKA: 'lower-short-name-with-fqdn',
    PULSAR: 'lower-short-name-with-fqdn',
  },
  CILIUM_SERVICE: { K8S_SERVICE: 'short-name' },
};

/** layer-levels of hierarchy-definition.yml at v10.1.0 (listLayerLevels). */
export const LAYER_LEVELS: Array<{ layer: string; level: number }> = [
  { layer: 'MESH', level: 3 },
  { layer: 'GENERAL', level: 3 },
  { layer: 'SO11Y_OAP', level: 3 },
  { layer: 'VIRTUAL_DATABASE', level: 3 },
  { layer: 'VIRTUAL_MQ', level: 3 },
  { layer: 'MYSQL', level: 2 },
  { layer: 'POSTGRESQL', level: 2 },
  { layer: 'APISIX', level: 2 },
  { layer: 'NGINX', level: 2 },
  { layer: 'ROCKETMQ', level: 2 },
  { layer: 'CLICKHOUSE', level: 2 },
  { layer: 'RABBITMQ', level: 2 },
  { layer: 'KAFKA', level: 2 },
  { layer: 'PULSAR', level: 2 },
  { layer: 'ACTIVEMQ', level: 2 },
  { layer: 'MESH_DP', level: 1 },
  { layer: 'CILIUM_SERVICE', level: 1 },
  { layer: 'K8S_SERVICE', level: 0 },
];

export interface HierarchyService {
  id: string;
  name: string;
  layer: string;
  normal: boolean;
}
export interface ServiceRelation {
  upperService: HierarchyService;
  lowerService: HierarchyService;
}
export interface HierarchyInstance {
  id: string;
  name: string;
  serviceId: string;
  serviceName: string;
  layer: string;
  normal: boolean;
}
export interface InstanceRelation {
  upperInstance: HierarchyInstance;
  lowerInstance: HierarchyInstance;
}

const keyOf = (s: HierarchyService) => `${s.id}\u0000${s.layer}`;
const relationKey = (r: ServiceRelation) => `${keyOf(r.upperService)}\u0001${keyOf(r.lowerService)}`;

interface Relations {
  lower: HierarchyService[];
  upper: HierarchyService[];
}

/** Every matched (upper, lower) pair of the services' layers, as upper/lower lists per service. */
const relationMap = (services: ServiceRecord[]): Map<string, Relations> => {
  const perLayer = services.flatMap((s) =>
    s.layers.map((layer) => ({ id: s.id, name: s.name, shortName: s.shortName, layer, normal: s.normal })),
  );
  const map = new Map<string, Relations>();
  const entry = (s: HierarchyService) => {
    let r = map.get(keyOf(s));
    if (!r) map.set(keyOf(s), (r = { lower: [], upper: [] }));
    return r;
  };
  for (const upper of perLayer) {
    const lowers = HIERARCHY[upper.layer];
    if (!lowers) continue;
    for (const lower of perLayer) {
      const rule = lowers[lower.layer];
      if (!rule || !RULES[rule]!(upper, lower)) continue;
      const u = { id: upper.id, name: upper.name, layer: upper.layer, normal: upper.normal };
      const l = { id: lower.id, name: lower.name, layer: lower.layer, normal: lower.normal };
      entry(u).lower.push(l);
      entry(l).upper.push(u);
    }
  }
  return map;
};

const collect = (
  map: Map<string, Relations>,
  found: Map<string, ServiceRelation>,
  self: HierarchyService,
  depth: number,
): void => {
  if (depth < 1) return;
  const r = map.get(keyOf(self));
  if (!r) return;
  for (const lower of r.lower) {
    const relation = { upperService: self, lowerService: lower };
    if (found.has(relationKey(relation))) continue;
    found.set(relationKey(relation), relation);
    collect(map, found, lower, depth - 1);
  }
  for (const upper of r.upper) {
    const relation = { upperService: upper, lowerService: self };
    if (found.has(relationKey(relation))) continue;
    found.set(relationKey(relation), relation);
    collect(map, found, upper, depth - 1);
  }
};

/** Whether `target` is reachable below one of `services` other than itself (the OAP's rule, first candidate only). */
const conjecturable = (
  map: Map<string, Relations>,
  services: HierarchyService[],
  target: HierarchyService,
  depth: number,
): boolean => {
  if (depth < 1) return false;
  for (const s of services) {
    if (keyOf(s) === keyOf(target)) continue;
    const lower = map.get(keyOf(s))?.lower ?? [];
    if (lower.some((l) => keyOf(l) === keyOf(target))) return true;
    return conjecturable(map, lower, target, depth - 1);
  }
  return false;
};

const MAX_DEPTH = 10;

const selfOf = (serviceId: string, name: string, layer: string): HierarchyService => ({
  id: serviceId,
  name,
  layer,
  normal: !VIRTUAL_LAYERS.has(layer),
});

/**
 * The relations around one service in one layer, followed up and down; a link that a longer
 * path already implies (mesh → Kubernetes when mesh → data plane → Kubernetes) is left out.
 */
export const serviceHierarchy = (
  services: ServiceRecord[],
  serviceId: string,
  serviceName: string,
  layer: string,
): ServiceRelation[] => {
  const map = relationMap(services);
  const found = new Map<string, ServiceRelation>();
  collect(map, found, selfOf(serviceId, serviceName, layer), MAX_DEPTH);
  const relations = [...found.values()];
  return relations.filter((r) => {
    const lowers = map.get(keyOf(r.upperService))?.lower ?? [];
    return !(lowers.length > 1 && conjecturable(map, lowers, r.lowerService, MAX_DEPTH));
  });
};

/** The OAP's test for "the same instance" across layers: same name, or a shared pod/hostname attribute. */
const sameInstance = (self: InstanceRecord, candidate: InstanceRecord): boolean => {
  if (candidate.name === self.name) return true;
  const host = self.attributes.find((a) => /^(pod|hostname)$/i.test(a.name));
  if (!host) return false;
  return (
    candidate.attributes.some((a) => a.name === host.name && a.value === host.value) ||
    candidate.name === host.value ||
    candidate.attributes.some((a) => /^(pod|hostname)$/i.test(a.name) && a.value === self.name)
  );
};

/**
 * The instance's counterparts one service-hierarchy step up and down: an instance of the related
 * service that is the same instance, in a layer other than the one asked for.
 */
export const instanceHierarchy = async (
  services: ServiceRecord[],
  self: InstanceRecord,
  serviceName: string,
  layer: string,
  instancesOf: (serviceId: string) => Promise<InstanceRecord[]>,
): Promise<InstanceRelation[]> => {
  const map = relationMap(services);
  const found = new Map<string, ServiceRelation>();
  collect(map, found, selfOf(self.serviceId, serviceName, layer), 1);
  const me: HierarchyInstance = {
    id: self.id,
    name: self.name,
    serviceId: self.serviceId,
    serviceName,
    layer,
    normal: !VIRTUAL_LAYERS.has(layer),
  };
  const related = (i: InstanceRecord, s: HierarchyService): HierarchyInstance => ({
    id: i.id,
    name: i.name,
    serviceId: s.id,
    serviceName: s.name,
    layer: s.layer,
    normal: s.normal,
  });
  const out = new Map<string, InstanceRelation>();
  const add = (r: InstanceRelation) => out.set(JSON.stringify(r), r);
  for (const relation of found.values()) {
    const lower = (await instancesOf(relation.lowerService.id)).find((c) => sameInstance(self, c));
    const upper = (await instancesOf(relation.upperService.id)).find((c) => sameInstance(self, c));
    if (lower && layer !== relation.lowerService.layer) {
      add({ upperInstance: me, lowerInstance: related(lower, relation.lowerService) });
    }
    if (upper && layer !== relation.upperService.layer) {
      add({ upperInstance: related(upper, relation.upperService), lowerInstance: me });
    }
  }
  return [...out.values()];
};
