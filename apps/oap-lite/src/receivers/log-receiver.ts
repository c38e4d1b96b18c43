/**
 * LogReportService: rover's network profiler sends one LogData per sampled HTTP exchange
 * (services/sampled-trace-service.ts). Logs of other kinds are accepted and not kept; a sampled
 * log the OAP would drop is dropped with its reason in oap-lite's log.
 */
import type { LogData__Output, LogReportServiceHandlers } from '@swlite/protocol';
import type { Logger } from 'pino';
import type { SampledTraceService } from '../services/sampled-trace-service';
import type { SampledTraceRecord } from '../storage/types';
import { networkUploadStream } from './network-upload-stream';

/** LogData accepted in one stream. */
export const MAX_LOGS_PER_STREAM = 100_000;

export const logHandlers = (sampled: SampledTraceService, log: Logger): LogReportServiceHandlers => ({
  collect: (call, callback) =>
    networkUploadStream<LogData__Output, SampledTraceRecord>(call, callback, {
      what: 'LogReportService.collect',
      log,
      maxMessages: MAX_LOGS_PER_STREAM,
      analyse: (message) => {
        const outcome = sampled.analyse(message);
        if ('record' in outcome) return [outcome.record];
        if ('dropped' in outcome) log.warn({ service: message.service }, `dropped a log: ${outcome.dropped}`);
        return [];
      },
      store: (records) => sampled.store(records),
    }),
});
