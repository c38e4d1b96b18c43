/**
 * MeterReportService: agents report meters; rover sends its continuous-profiling meters with
 * collectBatch (one MeterDataCollection per service instance per check). `collect` takes one
 * input per stream (service, instance and timestamp from its MeterData, normally the first);
 * `collectBatch` takes each MeterDataCollection as an input of its own. Either way a stream is
 * stored in one write once it completes and is answered with an empty Commands: a stream that
 * breaks, or carries a malformed input, stores nothing and gets an error status.
 */
import * as grpc from '@grpc/grpc-js';
import type {
  Commands,
  MeterData__Output,
  MeterDataCollection__Output,
  MeterReportServiceHandlers,
} from '@swlite/protocol';
import type { Logger } from 'pino';
import type { Metrics } from '../metrics';
import type { MeterInput, MeterService } from '../services/meter-service';
import type { MetricValueRecord } from '../storage/types';
import { GrpcStatusError, toServiceError } from './grpc-errors';
import type { InputLimits } from './input-limits';

/** MeterData accepted in one stream; a larger stream is refused (RESOURCE_EXHAUSTED). */
export const MAX_METERS_PER_STREAM = 200_000;

const checkLabels = (labels: Array<{ name: string; value: string }>, field: string, limits: InputLimits) => {
  limits.entries(labels.length, field);
  labels.forEach((l, i) => {
    limits.string(l.name, `${field}[${i}].name`);
    limits.string(l.value, `${field}[${i}].value`);
  });
  return labels;
};

/** A MeterData as the service takes it; null when it carries no meter (skipped, as by the OAP). */
export const toMeterInput = (d: MeterData__Output, limits: InputLimits): MeterInput | null => {
  const common = {
    service: limits.string(d.service, 'service'),
    serviceInstance: limits.string(d.serviceInstance, 'serviceInstance'),
    timestamp: d.timestamp,
  };
  if (d.singleValue) {
    return {
      kind: 'singleValue',
      name: limits.string(d.singleValue.name, 'singleValue.name'),
      labels: checkLabels(d.singleValue.labels, 'singleValue.labels', limits),
      value: d.singleValue.value,
      ...common,
    };
  }
  if (d.histogram) {
    return {
      kind: 'histogram',
      name: limits.string(d.histogram.name, 'histogram.name'),
      labels: checkLabels(d.histogram.labels, 'histogram.labels', limits),
      buckets: d.histogram.values,
      ...common,
    };
  }
  return null;
};

/** The shared life of an upload stream: bounded, all-or-nothing, one answer. */
const meterStream = <T>(
  call: grpc.ServerReadableStream<T, Commands>,
  callback: grpc.sendUnaryData<Commands>,
  metrics: Metrics,
  log: Logger,
  what: string,
  finish: () => Promise<void>,
) => {
  let received = 0;
  let failed: grpc.ServiceError | null = null;
  const fail = (err: unknown) => {
    if (failed) return;
    failed = toServiceError(err);
    metrics.meterStreamsRejected.inc();
    log.warn({ err: failed.message }, `rejected a MeterReportService.${what} stream`);
    callback(failed);
  };
  return {
    onData: (handle: () => number) => {
      if (failed) return;
      try {
        received += handle();
        if (received > MAX_METERS_PER_STREAM) {
          throw new GrpcStatusError(
            grpc.status.RESOURCE_EXHAUSTED,
            `more than ${MAX_METERS_PER_STREAM} MeterData in one ${what} stream; send fewer per stream`,
          );
        }
      } catch (err) {
        fail(err);
        call.destroy();
      }
    },
    attach: () => {
      call.on('error', (err: Error) => {
        // The client cancelled or the connection broke: nothing of this stream is kept.
        if (!failed) log.debug({ err: err.message }, `MeterReportService.${what} stream broke; discarded`);
        failed ??= toServiceError(err);
      });
      call.on('end', () => {
        if (failed) return;
        finish()
          .then(() => {
            metrics.metersReceived.inc(received);
            callback(null, { commands: [] });
          })
          .catch(fail);
      });
    },
  };
};

export const meterHandlers = (
  meters: MeterService,
  metrics: Metrics,
  log: Logger,
  limits: InputLimits,
): MeterReportServiceHandlers => ({
  collect: (call, callback) => {
    // One input: the whole stream, analysed when it completes.
    const input: MeterInput[] = [];
    const stream = meterStream(call, callback, metrics, log, 'collect', () =>
      meters.ingest([input]).then(() => undefined),
    );
    call.on('data', (message: MeterData__Output) =>
      stream.onData(() => {
        const m = toMeterInput(message, limits);
        if (m) input.push(m);
        return 1;
      }),
    );
    stream.attach();
  },

  collectBatch: (call, callback) => {
    // Each collection is an input, analysed as it arrives so a bad one fails the stream at once.
    const values: MetricValueRecord[] = [];
    const stream = meterStream(call, callback, metrics, log, 'collectBatch', () => meters.store(values));
    call.on('data', (message: MeterDataCollection__Output) =>
      stream.onData(() => {
        const input: MeterInput[] = [];
        for (const d of message.meterData) {
          const m = toMeterInput(d, limits);
          if (m) input.push(m);
        }
        for (const v of meters.analyse(input)) values.push(v);
        return message.meterData.length;
      }),
    );
    stream.attach();
  },
});
