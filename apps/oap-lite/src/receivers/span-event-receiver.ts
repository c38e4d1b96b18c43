/**
 * SpanAttachedEventReportService: the raw HTTP request/response (and per-syscall events) rover
 * attaches to a sampled trace's span. Kept as the OAP keeps span_attached_event_record: the
 * reference (trace, segment, span, type), event name, start/end, and the whole event as received.
 */
import type { SpanAttachedEvent__Output, SpanAttachedEventReportServiceHandlers } from '@swlite/protocol';
import { encodeSpanAttachedEvent } from '../core/span-attached-event';
import type { Logger } from 'pino';
import type { SpanAttachedEventRecord, Storage } from '../storage/types';
import { networkUploadStream } from './network-upload-stream';

/** SpanAttachedEvents accepted in one stream. */
export const MAX_EVENTS_PER_STREAM = 100_000;

export const toSpanAttachedEventRecord = (
  event: SpanAttachedEvent__Output,
  now: number,
): SpanAttachedEventRecord | null => {
  const ref = event.traceContext;
  // The OAP stores only events that name the trace they belong to.
  if (!ref || !ref.traceId) return null;
  return {
    traceRefType: ref.type,
    relatedTraceId: ref.traceId,
    traceSegmentId: ref.traceSegmentId,
    traceSpanId: ref.spanId,
    event: event.event,
    startTimeSecond: Number(event.startTime?.seconds ?? 0),
    startTimeNanos: Number(event.startTime?.nanos ?? 0),
    endTimeSecond: Number(event.endTime?.seconds ?? 0),
    endTimeNanos: Number(event.endTime?.nanos ?? 0),
    dataBinary: encodeSpanAttachedEvent(event),
    timestamp: now,
  };
};

export const spanEventHandlers = (storage: Storage, log: Logger): SpanAttachedEventReportServiceHandlers => ({
  collect: (call, callback) =>
    networkUploadStream<SpanAttachedEvent__Output, SpanAttachedEventRecord>(call, callback, {
      what: 'SpanAttachedEventReportService.collect',
      log,
      maxMessages: MAX_EVENTS_PER_STREAM,
      analyse: (event) => {
        const record = toSpanAttachedEventRecord(event, Date.now());
        return record ? [record] : [];
      },
      store: (records) => storage.network.addSpanAttachedEvents(records),
    }),
});
