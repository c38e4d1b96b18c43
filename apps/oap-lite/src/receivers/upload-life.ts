/**
 * The life of a client-streaming upload (profiling data, meters): receiving, then committing once
 * the client half-closed, then done. A stream that is cancelled, breaks or closes before its end
 * is abandoned: nothing is stored and it is not answered (nobody listens). grpc-js reports a
 * cancellation with a 'cancelled' event and a plain destroy (no 'error', no 'end'), so all three
 * are watched. A cancellation that arrives while committing is seen by the commit through
 * stillWanted(), which it checks before its first write.
 */
import * as grpc from '@grpc/grpc-js';
import type { Commands } from '@swlite/protocol';
import type { Logger } from 'pino';
import type { OapConfig } from '../config';
import { toServiceError } from './grpc-errors';

export type UploadStaging = OapConfig['staging'];

export interface UploadLifeHooks {
  /** The stream was refused (bad input, over a budget, storage failed): count it. */
  rejected(): void;
  /** The stream will not be stored: drop whatever it staged. */
  discard(): void;
}

export interface UploadLife {
  /** False once the stream was refused or abandoned: later messages are ignored. */
  readonly receiving: boolean;
  /** Refuses the stream with this error (a GrpcStatusError keeps its code) and stops reading. */
  fail(err: unknown): void;
  /**
   * Runs `commit` when the client half-closed. It resolves true when it stored the stream (the
   * client is answered OK), false when it found the stream no longer wanted and stored nothing.
   */
  onComplete(commit: (stillWanted: () => boolean) => Promise<boolean>): void;
}

export const uploadLife = (
  call: grpc.ServerReadableStream<unknown, Commands>,
  callback: grpc.sendUnaryData<Commands>,
  log: Logger,
  what: string,
  hooks: UploadLifeHooks,
): UploadLife => {
  let state: 'receiving' | 'committing' | 'done' = 'receiving';
  let cancelled = false;

  const abandon = (why: string) => {
    if (state !== 'receiving') return;
    state = 'done';
    log.debug({ why }, `${what} stream ended before it completed; nothing stored`);
    hooks.discard();
  };
  call.on('cancelled', () => {
    cancelled = true;
    abandon('cancelled by the client');
  });
  call.on('error', (err: Error) => abandon(err.message));
  call.on('close', () => abandon('closed before its end'));

  const fail = (err: unknown) => {
    if (state === 'done') return;
    state = 'done';
    const failed = toServiceError(err);
    hooks.rejected();
    log.warn({ err: failed.message }, `rejected a ${what} stream`);
    callback(failed);
    hooks.discard();
    call.destroy();
  };

  return {
    get receiving() {
      return state === 'receiving';
    },
    fail,
    onComplete: (commit) => {
      call.on('end', () => {
        if (state !== 'receiving') return;
        state = 'committing';
        commit(() => !cancelled && !call.cancelled)
          .then((stored) => {
            if (state !== 'committing') return;
            state = 'done';
            if (stored) callback(null, { commands: [] });
            else log.debug(`${what} stream was cancelled before it was stored; nothing stored`);
          })
          .catch(fail);
      });
    },
  };
};
