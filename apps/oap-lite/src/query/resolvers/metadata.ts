import type { Resolvers } from '@swlite/protocol/graphql';
import { durationToRange } from '../../core/duration';
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
    listLayers: (_p, _a, ctx) => ctx.metadata.listLayers(),
    listServices: async (_p, { layer }, ctx) => (await ctx.metadata.listServices(layer)).map(toService),
    getService: async (_p, { serviceId }, ctx) => {
      const s = await ctx.metadata.getService(serviceId);
      return s ? toService(s) : null;
    },
    findService: async (_p, { serviceName }, ctx) => {
      const s = await ctx.metadata.findService(serviceName);
      return s ? toService(s) : null;
    },
    listInstances: async (_p, { duration, serviceId }, ctx) =>
      (await ctx.metadata.listInstances(serviceId, durationToRange(duration))).map(toInstance),
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
  },
};
