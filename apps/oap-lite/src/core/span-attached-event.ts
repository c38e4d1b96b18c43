/** A SpanAttachedEvent in its protobuf wire form, as span_attached_event_record keeps it (data_binary). */
import { loadSkyWalkingGrpc, type SpanAttachedEvent__Output } from '@swlite/protocol';

const method = () => loadSkyWalkingGrpc().skywalking.v3.SpanAttachedEventReportService.service.collect;

export const encodeSpanAttachedEvent = (event: SpanAttachedEvent__Output): Buffer => method().requestSerialize(event);

export const decodeSpanAttachedEvent = (data: Buffer): SpanAttachedEvent__Output => method().requestDeserialize(data);
