import type { Resolvers } from '@swlite/protocol/graphql';
import { GraphQLError } from 'graphql';
import { durationToRange } from '../../core/duration';
import { parseServiceId } from '../../core/ids';
import { LAYERS } from '../../core/layers';
import { instanceHierarchy, LAYER_LEVELS, serviceHierarchy } from '../hierarchy';
import type { InstanceRecord, ProcessRecord, ServiceRecord } from '../../storage/types';
import type { QueryContext } from '../context';

export const toService = (s: ServiceRecord) => ({
  id: s.id,
  name: s.name,
  group: s.group,
  shortName: s.shortName,
  layers: s.layers,
  normal: s.normal,
});

export const toInstance = (i: InstanceRecord) => ({
  id: i.id,
  name: i.name,
  attributes: i.attributes,
  language: 'UNKNOWN' as const,
  instanceUUID: i.id,
});

export const toProcess = (p: ProcessRecord) => ({
  id: p.id,
  name: p.name,
  serviceId: p.serviceId,
  serviceName: p.serviceName,
  instanceId: p.instanceId,
  instanceName: p.instanceName,
  agentId: p.agentId,
  detectType: p.detectType,
  attributes: Object.entries(p.properties).map(([name, value]) => ({ name, value })),
  labels: p.labels,
});

export const metadataResolvers: Resolvers<QueryContext> = {
  Query: {
    // Every layer the OAP knows, with data or not, as the Java OAP lists them.
    listLayers: () => [...LAYERS],
    // Asked for one layer, a service shows that layer only (the OAP keeps a service per layer).
    listServices: async (_p, { layer }, ctx) =>
      (await ctx.metadata.listServices(layer)).map((s) => ({ ...toService(s), layers: layer ? [layer] : s.layers })),
    getService: async (_p, { serviceId }, ctx) => {
      const s = await ctx.metadata.getService(serviceId);
      return s ? toService(s) : null;
    },
    findService: async (_p, { serviceName }, ctx) => {
      const s = await ctx.metadata.findService(serviceName);
      return s ? toService(s) : null;
    },
    // An instance is listed for a window it was alive in: seen since its start and first seen
    // before its end (its first process's first report), as the OAP's instance traffic says.
    listInstances: async (_p, { duration, serviceId }, ctx) => {
      const range = durationToRange(duration);
      const listed = [];
      for (const instance of await ctx.metadata.listInstances(serviceId, range)) {
        const processes = await ctx.metadata.listProcesses(instance.id, { start: 0, end: Number.MAX_SAFE_INTEGER });
        // An instance whose processes are all gone (expired) has no known start: listed as before.
        const firstSeen = Math.min(...processes.map((p) => p.firstSeen));
        if (processes.length === 0 || firstSeen <= range.end) listed.push(toInstance(instance));
      }
      return listed;
    },
    getInstance: async (_p, { instanceId }, ctx) => {
      const i = await ctx.metadata.getInstance(instanceId);
      return i ? toInstance(i) : null;
    },
    listProcesses: async (_p, { duration, instanceId }, ctx) =>
      (await ctx.metadata.listProcesses(instanceId, durationToRange(duration))).map(toProcess),
    getProcess: async (_p, { processId }, ctx) => {
      const p = await ctx.metadata.getProcess(processId);
      return p ? toProcess(p) : null;
    },
    estimateProcessScale: (_p, { serviceId, labels }, ctx) => ctx.metadata.estimateProcessScale(serviceId, labels),
    // The OAP answers an endpoint from its ID alone (no endpoint storage is read).
    getEndpointInfo: (_p, { endpointId }) => {
      const parts = endpointId.split('_');
      if (parts.length !== 2) throw new GraphQLError(`Can't split endpoint id into 2 parts, ${endpointId}`);
      const [svcId, encoded] = parts as [string, string];
      return {
        id: endpointId,
        name: Buffer.from(encoded, 'base64').toString('utf8'),
        serviceId: svcId,
        serviceName: parseServiceId(svcId).name,
      };
    },
    listLayerLevels: () => LAYER_LEVELS,
    getServiceHierarchy: async (_p, { serviceId, layer }, ctx) => ({
      relations: serviceHierarchy(await ctx.metadata.listServices(), serviceId, parseServiceId(serviceId).name, layer),
    }),
    getInstanceHierarchy: async (_p, { instanceId, layer }, ctx) => {
      const self = await ctx.metadata.getInstance(instanceId);
      if (!self) return { relations: [] };
      return {
        relations: await instanceHierarchy(
          await ctx.metadata.listServices(),
          self,
          parseServiceId(self.serviceId).name,
          layer,
          (svcId) => ctx.metadata.listInstances(svcId, { start: 0, end: Number.MAX_SAFE_INTEGER }),
        ),
      };
    },
  },
};
