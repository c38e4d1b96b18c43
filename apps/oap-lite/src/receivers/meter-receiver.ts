/**
 * MeterReportService: agents report meters; rover sends its continuous-profiling meters with
 * collectBatch (one MeterDataCollection per service instance per check). `collect` takes one
 * input per stream (service, instance and timestamp from its MeterData, normally the first);
 * `collectBatch` takes each MeterDataCollection as an input of its own. Either way a stream is
 * stored in one write once it completes and is answered with an empty Commands: a stream that is
 * cancelled or breaks stores nothing, one that carries a malformed input gets an error status.
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
import { GrpcStatusError } from './grpc-errors';
import { uploadLife } from './upload-life';
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

/** A meter stream: bounded, stored in one write once it completed (upload-life.ts), one answer. */
const meterStream = <T>(
  call: grpc.ServerReadableStream<T, Commands>,
  callback: grpc.sendUnaryData<Commands>,
  metrics: Metrics,
  log: Logger,
  what: string,
  finish: () => Promise<void>,
  discard: () => void,
) => {
  let received = 0;
  const life = uploadLife(
    call as grpc.ServerReadableStream<unknown, Commands>,
    callback,
    log,
    `MeterReportService.${what}`,
    {
      rejected: () => metrics.meterStreamsRejected.inc(),
      discard,
    },
  );
  life.onComplete(async (stillWanted) => {
    if (!stillWanted()) return false;
    await finish();
    metrics.metersReceived.inc(received);
    return true;
  });
  return {
    onData: (handle: () => number) => {
      if (!life.receiving) return;
      try {
        received += handle();
        if (received > MAX_METERS_PER_STREAM) {
          throw new GrpcStatusError(
            grpc.status.RESOURCE_EXHAUSTED,
            `more than ${MAX_METERS_PER_STREAM} MeterData in one ${what} stream; send fewer per stream`,
          );
        }
      } catch (err) {
        life.fail(err);
      }
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
    let input: MeterInput[] = [];
    const stream = meterStream(
      call,
      callback,
      metrics,
      log,
      'collect',
      () => meters.ingest([input]).then(() => undefined),
      () => (input = []),
    );
    call.on('data', (message: MeterData__Output) =>
      stream.onData(() => {
        const m = toMeterInput(message, limits);
        if (m) input.push(m);
        return 1;
      }),
    );
  },

  collectBatch: (call, callback) => {
    // Each collection is an input, analysed as it arrives so a bad one fails the stream at once.
    let values: MetricValueRecord[] = [];
    const stream = meterStream(
      call,
      callback,
      metrics,
      log,
      'collectBatch',
      () => meters.store(values),
      () => (values = []),
    );
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
  },
});
