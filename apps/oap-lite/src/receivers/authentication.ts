/**
 * The OAP's AuthenticationInterceptor: when a token is configured, every call must carry it in
 * the "Authentication" metadata, otherwise it is closed with PERMISSION_DENIED. The token is
 * compared in constant time, so the answer's timing does not reveal how much of a guess was right.
 */
import * as grpc from '@grpc/grpc-js';
import { createHash, timingSafeEqual } from 'node:crypto';

/** Equality whose time depends on neither string's content (both are hashed to equal lengths first). */
export const constantTimeEqual = (given: string, expected: string): boolean =>
  timingSafeEqual(createHash('sha256').update(given).digest(), createHash('sha256').update(expected).digest());

export const authenticationInterceptor =
  (expectedToken: string): grpc.ServerInterceptor =>
  (methodDescriptor, call) =>
    new grpc.ServerInterceptingCall(call, {
      start: (next) => {
        next({
          onReceiveMetadata: (metadata, mdNext) => {
            const token = metadata.get('authentication')[0];
            if (token !== undefined && constantTimeEqual(String(token), expectedToken)) {
              mdNext(metadata);
              return;
            }
            call.sendStatus({
              code: grpc.status.PERMISSION_DENIED,
              details: `${methodDescriptor.path}: missing or wrong Authentication token`,
              metadata: new grpc.Metadata(),
            });
          },
        });
      },
    });
