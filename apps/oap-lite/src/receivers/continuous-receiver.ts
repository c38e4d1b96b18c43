/**
 * ContinuousProfilingService: rovers fetch the trigger policies of their services and report
 * crossed thresholds, receiving the id of the task they then run and upload like any other.
 */
import * as grpc from '@grpc/grpc-js';
import type { ContinuousProfilingServiceHandlers } from '@swlite/protocol';
import { continuousReportCommand, type ContinuousProfilingService } from '../services/continuous-service';
import { GrpcStatusError, toServiceError } from './grpc-errors';

export const continuousHandlers = (svc: ContinuousProfilingService): ContinuousProfilingServiceHandlers => ({
  queryPolicies: (call, callback) => {
    const policies = call.request?.policies ?? [];
    // Entries without a service name are ignored (they cannot name a policy).
    svc
      .policyCommands(policies.map((p) => ({ serviceName: p.serviceName, uuid: p.uuid })))
      .then((commands) => callback(null, { commands }))
      .catch((err) => callback(toServiceError(err)));
  },

  reportProfilingTask: (call, callback) => {
    if (!call.request) {
      callback(toServiceError(new GrpcStatusError(grpc.status.INVALID_ARGUMENT, 'the report is empty')));
      return;
    }
    svc
      .reportTask(call.request)
      .then((taskId) => callback(null, { commands: [continuousReportCommand(taskId)] }))
      .catch((err) => callback(toServiceError(err)));
  },
});
