/**
 * The life of a network profiling upload stream (LogReportService, SpanAttachedEventReportService):
 * messages are analysed as they arrive, the stream is bounded, what it yields is stored in one
 * write once it completes, and it is answered once with an empty Commands. A stream that breaks,
 * or fails to store, stores nothing of its own and gets an error status.
 */
import * as grpc from '@grpc/grpc-js';
import type { Commands } from '@swlite/protocol';
import type { Logger } from 'pino';
import { GrpcStatusError, toServiceError } from './grpc-errors';

export const networkUploadStream = <In, Out>(
  call: grpc.ServerReadableStream<In, Commands>,
  callback: grpc.sendUnaryData<Commands>,
  options: {
    what: string;
    log: Logger;
    /** Messages accepted in one stream; more is RESOURCE_EXHAUSTED. */
    maxMessages: number;
    /** What one message yields (nothing to keep: an empty list). */
    analyse: (message: In) => Out[];
    store: (items: Out[]) => Promise<void>;
  },
): void => {
  const items: Out[] = [];
  let received = 0;
  let failed: grpc.ServiceError | null = null;
  const fail = (err: unknown) => {
    if (failed) return;
    failed = toServiceError(err);
    options.log.warn({ err: failed.message }, `rejected a ${options.what} stream`);
    callback(failed);
  };
  call.on('data', (message: In) => {
    if (failed) return;
    try {
      if (++received > options.maxMessages) {
        throw new GrpcStatusError(
          grpc.status.RESOURCE_EXHAUSTED,
          `more than ${options.maxMessages} messages in one ${options.what} stream; send fewer per stream`,
        );
      }
      for (const item of options.analyse(message)) items.push(item);
    } catch (err) {
      fail(err);
      call.destroy();
    }
  });
  call.on('error', (err: Error) => {
    if (!failed) options.log.debug({ err: err.message }, `${options.what} stream broke; discarded`);
    failed ??= toServiceError(err);
  });
  call.on('end', () => {
    if (failed) return;
    options
      .store(items)
      .then(() => callback(null, { commands: [] }))
      .catch(fail);
  });
};
