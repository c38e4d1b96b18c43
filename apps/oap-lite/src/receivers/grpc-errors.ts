/** Turns service-layer failures into gRPC statuses with a message the agent can log. */
import * as grpc from '@grpc/grpc-js';
import { InvalidIdError } from '../core/ids';
import { InvalidReportError } from '../services/metadata-service';
import { InvalidMeterError } from '../services/meter-service';
import { StorageFullError } from '../storage/write-health';

export class GrpcStatusError extends Error {
  constructor(
    readonly code: grpc.status,
    message: string,
  ) {
    super(message);
  }
}

export const toServiceError = (err: unknown): grpc.ServiceError => {
  const message = err instanceof Error ? err.message : String(err);
  let code = grpc.status.INTERNAL;
  if (err instanceof GrpcStatusError) code = err.code;
  // Retryable: the agent keeps the batch and sends it again once space returns.
  else if (err instanceof StorageFullError) code = grpc.status.UNAVAILABLE;
  else if (err instanceof InvalidReportError || err instanceof InvalidIdError || err instanceof InvalidMeterError) {
    code = grpc.status.INVALID_ARGUMENT;
  }
  return Object.assign(new Error(message), { code, details: message, metadata: new grpc.Metadata() });
};
