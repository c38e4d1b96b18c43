/**
 * ContinuousProfilingService: rovers fetch the trigger policies of their services and report
 * crossed thresholds, receiving the id of the task they then run and upload like any other.
 */
import * as grpc from '@grpc/grpc-js';
import type { ContinuousProfilingReport__Output, ContinuousProfilingServiceHandlers } from '@swlite/protocol';
import { continuousReportCommand, type ContinuousProfilingService } from '../services/continuous-service';
import { GrpcStatusError, toServiceError } from './grpc-errors';
import type { InputLimits } from './input-limits';

/** Checks a report's names, causes and URIs against their budgets (INVALID_ARGUMENT when over). */
const checkReport = (report: ContinuousProfilingReport__Output, limits: InputLimits): void => {
  limits.string(report.layer, 'layer');
  limits.string(report.serviceName, 'serviceName');
  limits.string(report.instanceName, 'instanceName');
  limits.string(report.processName, 'processName');
  limits.entries(report.causes.length, 'causes');
  report.causes.forEach((c, i) => {
    if (c.uri?.path) limits.string(c.uri.path, `causes[${i}].uri.path`);
    if (c.uri?.regex) limits.string(c.uri.regex, `causes[${i}].uri.regex`);
  });
};

export const continuousHandlers = (
  svc: ContinuousProfilingService,
  limits: InputLimits,
): ContinuousProfilingServiceHandlers => ({
  queryPolicies: (call, callback) => {
    const policies = call.request?.policies ?? [];
    try {
      limits.entries(policies.length, 'policies');
      policies.forEach((p, i) => {
        limits.string(p.serviceName, `policies[${i}].serviceName`);
        limits.string(p.uuid, `policies[${i}].uuid`);
      });
    } catch (err) {
      callback(toServiceError(err));
      return;
    }
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
    try {
      checkReport(call.request, limits);
    } catch (err) {
      callback(toServiceError(err));
      return;
    }
    svc
      .reportTask(call.request)
      .then((taskId) => callback(null, { commands: [continuousReportCommand(taskId)] }))
      .catch((err) => callback(toServiceError(err)));
  },
});
