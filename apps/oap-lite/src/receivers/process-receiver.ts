/** EBPFProcessService: rovers report processes and keep them alive. */
import type {
  EBPFProcessEntityMetadata__Output,
  EBPFProcessServiceHandlers,
  KeyStringValuePair__Output,
} from '@swlite/protocol';
import type { MetadataService, ReportedEntity, ReportedProcess } from '../services/metadata-service';
import { GrpcStatusError, toServiceError } from './grpc-errors';
import * as grpc from '@grpc/grpc-js';
import type { Metrics } from '../metrics';

const toEntity = (entity: EBPFProcessEntityMetadata__Output | null, where: string): ReportedEntity => {
  if (!entity) throw new GrpcStatusError(grpc.status.INVALID_ARGUMENT, `${where}: entity metadata is required`);
  return {
    layer: entity.layer,
    serviceName: entity.serviceName,
    instanceName: entity.instanceName,
    processName: entity.processName,
    labels: entity.labels,
  };
};

const toProperties = (pairs: KeyStringValuePair__Output[]): Record<string, string> =>
  Object.fromEntries(pairs.map((kv) => [kv.key, kv.value]));

export const processHandlers = (metadata: MetadataService, metrics: Metrics): EBPFProcessServiceHandlers => ({
  reportProcesses: (call, callback) => {
    const request = call.request;
    const reported: ReportedProcess[] = [];
    try {
      request.processes.forEach((p, i) => {
        if (p.hostProcess) {
          reported.push({
            entity: toEntity(p.hostProcess.entity, `processes[${i}].hostProcess`),
            detectType: 'VM',
            pid: p.hostProcess.pid,
            properties: toProperties(p.hostProcess.properties),
          });
        } else if (p.k8sProcess) {
          reported.push({
            entity: toEntity(p.k8sProcess.entity, `processes[${i}].k8sProcess`),
            detectType: 'KUBERNETES',
            pid: p.k8sProcess.pid,
            properties: toProperties(p.k8sProcess.properties),
          });
        }
      });
    } catch (err) {
      callback(toServiceError(err));
      return;
    }
    metadata
      .reportProcesses(request.ebpfAgentID, reported)
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
    let pings;
    try {
      pings = call.request.processes.map((p, i) => ({
        entity: toEntity(p.entityMetadata, `processes[${i}]`),
        properties: toProperties(p.properties),
      }));
    } catch (err) {
      callback(toServiceError(err));
      return;
    }
    metadata
      .keepAlive(call.request.ebpfAgentID, pings)
      .then(() => callback(null, { commands: [] }))
      .catch((err) => callback(toServiceError(err)));
  },
});
