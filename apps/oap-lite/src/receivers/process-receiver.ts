/**
 * EBPFProcessService: rovers report processes and keep them alive. Every report is checked
 * against its budgets first (processes per report, string lengths, list sizes): a report over
 * one is refused whole with INVALID_ARGUMENT, so what the answer echoes stays bounded.
 */
import * as grpc from '@grpc/grpc-js';
import type {
  EBPFProcessEntityMetadata__Output,
  EBPFProcessServiceHandlers,
  KeyStringValuePair__Output,
} from '@swlite/protocol';
import type { Metrics } from '../metrics';
import type { MetadataService, ReportedEntity, ReportedProcess } from '../services/metadata-service';
import { GrpcStatusError, toServiceError } from './grpc-errors';
import type { InputLimits } from './input-limits';

const toEntity = (
  entity: EBPFProcessEntityMetadata__Output | null,
  where: string,
  limits: InputLimits,
): ReportedEntity => {
  if (!entity) throw new GrpcStatusError(grpc.status.INVALID_ARGUMENT, `${where}: entity metadata is required`);
  return {
    layer: limits.string(entity.layer, `${where}.entity.layer`),
    serviceName: limits.string(entity.serviceName, `${where}.entity.serviceName`),
    instanceName: limits.string(entity.instanceName, `${where}.entity.instanceName`),
    processName: limits.string(entity.processName, `${where}.entity.processName`),
    labels: limits.strings(entity.labels, `${where}.entity.labels`),
  };
};

const toProperties = (
  pairs: KeyStringValuePair__Output[],
  where: string,
  limits: InputLimits,
): Record<string, string> => {
  limits.entries(pairs.length, `${where}.properties`);
  return Object.fromEntries(
    pairs.map((kv, i) => [limits.string(kv.key, `${where}.properties[${i}].key`), limits.propertyValue(kv.value)]),
  );
};

export const processHandlers = (
  metadata: MetadataService,
  metrics: Metrics,
  limits: InputLimits,
): EBPFProcessServiceHandlers => ({
  reportProcesses: (call, callback) => {
    const request = call.request;
    const reported: ReportedProcess[] = [];
    let agentId;
    try {
      agentId = limits.string(request.ebpfAgentID, 'ebpfAgentID');
      limits.processes(request.processes.length);
      request.processes.forEach((p, i) => {
        const host = p.hostProcess;
        const k8s = p.k8sProcess;
        if (host) {
          const where = `processes[${i}].hostProcess`;
          reported.push({
            entity: toEntity(host.entity, where, limits),
            detectType: 'VM',
            pid: host.pid,
            properties: toProperties(host.properties, where, limits),
          });
        } else if (k8s) {
          const where = `processes[${i}].k8sProcess`;
          reported.push({
            entity: toEntity(k8s.entity, where, limits),
            detectType: 'KUBERNETES',
            pid: k8s.pid,
            properties: toProperties(k8s.properties, where, limits),
          });
        }
      });
    } catch (err) {
      callback(toServiceError(err));
      return;
    }
    metadata
      .reportProcesses(agentId, reported)
      .then((assignments) => {
        metrics.processesReported.inc(assignments.length);
        callback(null, {
          processes: assignments.map((a) => {
            const downstream = { pid: a.pid, entityMetadata: a.entity };
            return a.detectType === 'KUBERNETES'
              ? { processId: a.processId, k8sProcess: downstream }
              : { processId: a.processId, hostProcess: downstream };
          }),
        });
      })
      .catch((err) => callback(toServiceError(err)));
  },

  keepAlive: (call, callback) => {
    let agentId;
    let pings;
    try {
      agentId = limits.string(call.request.ebpfAgentID, 'ebpfAgentID');
      limits.processes(call.request.processes.length);
      pings = call.request.processes.map((p, i) => ({
        entity: toEntity(p.entityMetadata, `processes[${i}]`, limits),
        properties: toProperties(p.properties, `processes[${i}]`, limits),
      }));
    } catch (err) {
      callback(toServiceError(err));
      return;
    }
    metadata
      .keepAlive(agentId, pings)
      .then(() => callback(null, { commands: [] }))
      .catch((err) => callback(toServiceError(err)));
  },
});
