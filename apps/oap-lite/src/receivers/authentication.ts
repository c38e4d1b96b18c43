/**
 * The OAP's AuthenticationInterceptor: when a token is configured, every call must carry it in
 * the "Authentication" metadata, otherwise it is closed with PERMISSION_DENIED.
 */
import * as grpc from '@grpc/grpc-js';

export const authenticationInterceptor =
  (expectedToken: string): grpc.ServerInterceptor =>
  (methodDescriptor, call) =>
    new grpc.ServerInterceptingCall(call, {
      start: (next) => {
        next({
          onReceiveMetadata: (metadata, mdNext) => {
            const token = metadata.get('authentication')[0];
            if (token !== undefined && String(token) === expectedToken) {
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
