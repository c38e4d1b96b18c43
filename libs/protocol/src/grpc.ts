// gRPC side of @swlite/protocol: the SkyWalking data-collect v3 services (process discovery,
// eBPF profiling, continuous profiling, meter reports, logs, span attached events) as a grpc-js
// package definition, plus the TypeScript types generated from libs/protocol/proto by
// scripts/generate-proto.mjs (`npm run build`).
//
// Loader options (PROTO_LOADER_OPTIONS), shared by the runtime loader and the generated types:
//   keepCase: false  fields are camelCase; every upstream field name already is, so the names
//                    equal the .proto names (the tests check this).
//   longs: Number    int64 fields (epoch-ms timestamps, off-CPU nanosecond durations) are JS
//                    numbers. Exact up to 2^53: about 285,000 years of ms or 104 days of ns per
//                    report, which is enough for these fields; larger values lose precision.
//   enums: String    enum values decode as their names ('PROCESS_USER_SPACE'); inputs accept
//                    names or numbers.
//   defaults: true   decoded messages carry every scalar/repeated field (proto3 defaults).
//   oneofs: true     decoded messages name the set oneof member, e.g. `profiling: 'offCPU'`.
// The descriptor is compiled in (src/generated/proto/descriptor.ts): nothing reads .proto files
// at run time, so the apps can be bundled into single files.
import * as grpc from '@grpc/grpc-js';
import * as protoLoader from '@grpc/proto-loader';
import { descriptor } from './generated/proto/descriptor';
import type { ProtoGrpcType } from './generated/proto/swlite-protocol';

export type { ProtoGrpcType };

/** Options for protoLoader; descriptor.ts was generated with the same ones. */
export const PROTO_LOADER_OPTIONS: Readonly<protoLoader.Options> = Object.freeze({
  keepCase: false,
  longs: Number,
  enums: String,
  defaults: true,
  oneofs: true,
});

let loaded: ProtoGrpcType | undefined;

/**
 * The `skywalking.v3` gRPC package (services usable with `server.addService(X.service, ...)`
 * and as client constructors; message types with encode/decode). Built once and memoized.
 */
export function loadSkyWalkingGrpc(): ProtoGrpcType {
  if (!loaded) {
    const definition = protoLoader.fromJSON(descriptor, { ...PROTO_LOADER_OPTIONS });
    loaded = grpc.loadPackageDefinition(definition) as unknown as ProtoGrpcType;
  }
  return loaded;
}

// Messages: `X` is what you may send (all fields optional), `X__Output` what you receive.
export type { CPU, CPU__Output } from './generated/proto/skywalking/v3/CPU';
export type { Command, Command__Output } from './generated/proto/skywalking/v3/Command';
export type { Commands, Commands__Output } from './generated/proto/skywalking/v3/Commands';
export type {
  ContinuousNetworkProfilingTask,
  ContinuousNetworkProfilingTask__Output,
} from './generated/proto/skywalking/v3/ContinuousNetworkProfilingTask';
export type {
  ContinuousOffCPUProfilingTask,
  ContinuousOffCPUProfilingTask__Output,
} from './generated/proto/skywalking/v3/ContinuousOffCPUProfilingTask';
export type {
  ContinuousOnCPUProfilingTask,
  ContinuousOnCPUProfilingTask__Output,
} from './generated/proto/skywalking/v3/ContinuousOnCPUProfilingTask';
export type {
  ContinuousProfilingCause,
  ContinuousProfilingCause__Output,
} from './generated/proto/skywalking/v3/ContinuousProfilingCause';
export type {
  ContinuousProfilingPolicyQuery,
  ContinuousProfilingPolicyQuery__Output,
} from './generated/proto/skywalking/v3/ContinuousProfilingPolicyQuery';
export type {
  ContinuousProfilingReport,
  ContinuousProfilingReport__Output,
} from './generated/proto/skywalking/v3/ContinuousProfilingReport';
export type {
  ContinuousProfilingSingleValueCause,
  ContinuousProfilingSingleValueCause__Output,
} from './generated/proto/skywalking/v3/ContinuousProfilingSingleValueCause';
export type {
  ContinuousProfilingServicePolicyQuery,
  ContinuousProfilingServicePolicyQuery__Output,
} from './generated/proto/skywalking/v3/ContinuousProfilingServicePolicyQuery';
export type {
  ContinuousProfilingURICause,
  ContinuousProfilingURICause__Output,
} from './generated/proto/skywalking/v3/ContinuousProfilingURICause';
export type {
  EBPFHostProcessDownstream,
  EBPFHostProcessDownstream__Output,
} from './generated/proto/skywalking/v3/EBPFHostProcessDownstream';
export type {
  EBPFHostProcessMetadata,
  EBPFHostProcessMetadata__Output,
} from './generated/proto/skywalking/v3/EBPFHostProcessMetadata';
export type {
  EBPFKubernetesProcessDownstream,
  EBPFKubernetesProcessDownstream__Output,
} from './generated/proto/skywalking/v3/EBPFKubernetesProcessDownstream';
export type {
  EBPFKubernetesProcessMetadata,
  EBPFKubernetesProcessMetadata__Output,
} from './generated/proto/skywalking/v3/EBPFKubernetesProcessMetadata';
export type {
  EBPFOffCPUProfiling,
  EBPFOffCPUProfiling__Output,
} from './generated/proto/skywalking/v3/EBPFOffCPUProfiling';
export type {
  EBPFOnCPUProfiling,
  EBPFOnCPUProfiling__Output,
} from './generated/proto/skywalking/v3/EBPFOnCPUProfiling';
export type {
  EBPFProcessDownstream,
  EBPFProcessDownstream__Output,
} from './generated/proto/skywalking/v3/EBPFProcessDownstream';
export type {
  EBPFProcessEntityMetadata,
  EBPFProcessEntityMetadata__Output,
} from './generated/proto/skywalking/v3/EBPFProcessEntityMetadata';
export type {
  EBPFProcessPingPkg,
  EBPFProcessPingPkg__Output,
} from './generated/proto/skywalking/v3/EBPFProcessPingPkg';
export type {
  EBPFProcessPingPkgList,
  EBPFProcessPingPkgList__Output,
} from './generated/proto/skywalking/v3/EBPFProcessPingPkgList';
export type {
  EBPFProcessProperties,
  EBPFProcessProperties__Output,
} from './generated/proto/skywalking/v3/EBPFProcessProperties';
export type {
  EBPFProcessReportList,
  EBPFProcessReportList__Output,
} from './generated/proto/skywalking/v3/EBPFProcessReportList';
export type { EBPFProfilingData, EBPFProfilingData__Output } from './generated/proto/skywalking/v3/EBPFProfilingData';
export type {
  EBPFProfilingStackMetadata,
  EBPFProfilingStackMetadata__Output,
} from './generated/proto/skywalking/v3/EBPFProfilingStackMetadata';
export type {
  EBPFProfilingTaskMetadata,
  EBPFProfilingTaskMetadata__Output,
} from './generated/proto/skywalking/v3/EBPFProfilingTaskMetadata';
export type {
  EBPFProfilingTaskQuery,
  EBPFProfilingTaskQuery__Output,
} from './generated/proto/skywalking/v3/EBPFProfilingTaskQuery';
export type {
  EBPFReportProcessDownstream,
  EBPFReportProcessDownstream__Output,
} from './generated/proto/skywalking/v3/EBPFReportProcessDownstream';
export type { Instant, Instant__Output } from './generated/proto/skywalking/v3/Instant';
export type { KeyIntValuePair, KeyIntValuePair__Output } from './generated/proto/skywalking/v3/KeyIntValuePair';
export type {
  KeyStringValuePair,
  KeyStringValuePair__Output,
} from './generated/proto/skywalking/v3/KeyStringValuePair';
export type { Label, Label__Output } from './generated/proto/skywalking/v3/Label';
export type { MeterBucketValue, MeterBucketValue__Output } from './generated/proto/skywalking/v3/MeterBucketValue';
export type { MeterData, MeterData__Output } from './generated/proto/skywalking/v3/MeterData';
export type {
  MeterDataCollection,
  MeterDataCollection__Output,
} from './generated/proto/skywalking/v3/MeterDataCollection';
export type { MeterHistogram, MeterHistogram__Output } from './generated/proto/skywalking/v3/MeterHistogram';
export type { MeterSingleValue, MeterSingleValue__Output } from './generated/proto/skywalking/v3/MeterSingleValue';
export type { JSONLog, JSONLog__Output } from './generated/proto/skywalking/v3/JSONLog';
export type { LogData, LogData__Output } from './generated/proto/skywalking/v3/LogData';
export type { LogDataBody, LogDataBody__Output } from './generated/proto/skywalking/v3/LogDataBody';
export type { LogTags, LogTags__Output } from './generated/proto/skywalking/v3/LogTags';
export type { TextLog, TextLog__Output } from './generated/proto/skywalking/v3/TextLog';
export type { TraceContext, TraceContext__Output } from './generated/proto/skywalking/v3/TraceContext';
export type { YAMLLog, YAMLLog__Output } from './generated/proto/skywalking/v3/YAMLLog';
export type {
  SpanAttachedEvent,
  SpanAttachedEvent__Output,
  _skywalking_v3_SpanAttachedEvent_SpanReference as SpanAttachedEventSpanReference,
  _skywalking_v3_SpanAttachedEvent_SpanReference__Output as SpanAttachedEventSpanReference__Output,
  _skywalking_v3_SpanAttachedEvent_SpanReferenceType__Output as SpanAttachedEventSpanReferenceType__Output,
} from './generated/proto/skywalking/v3/SpanAttachedEvent';

// Enums: a const object of the names (a value) and the input/output types.
export { ContinuousProfilingTriggeredMonitorType } from './generated/proto/skywalking/v3/ContinuousProfilingTriggeredMonitorType';
export type { ContinuousProfilingTriggeredMonitorType__Output } from './generated/proto/skywalking/v3/ContinuousProfilingTriggeredMonitorType';
export { DetectPoint } from './generated/proto/skywalking/v3/DetectPoint';
export type { DetectPoint__Output } from './generated/proto/skywalking/v3/DetectPoint';
export { EBPFProfilingStackType } from './generated/proto/skywalking/v3/EBPFProfilingStackType';
export type { EBPFProfilingStackType__Output } from './generated/proto/skywalking/v3/EBPFProfilingStackType';
export { _skywalking_v3_SpanAttachedEvent_SpanReferenceType as SpanAttachedEventSpanReferenceType } from './generated/proto/skywalking/v3/SpanAttachedEvent';

// Services: server handler maps, typed clients, and service definitions.
export type {
  ContinuousProfilingServiceHandlers,
  ContinuousProfilingServiceClient,
  ContinuousProfilingServiceDefinition,
} from './generated/proto/skywalking/v3/ContinuousProfilingService';
export type {
  EBPFProcessServiceHandlers,
  EBPFProcessServiceClient,
  EBPFProcessServiceDefinition,
} from './generated/proto/skywalking/v3/EBPFProcessService';
export type {
  EBPFProfilingServiceHandlers,
  EBPFProfilingServiceClient,
  EBPFProfilingServiceDefinition,
} from './generated/proto/skywalking/v3/EBPFProfilingService';
export type {
  MeterReportServiceHandlers,
  MeterReportServiceClient,
  MeterReportServiceDefinition,
} from './generated/proto/skywalking/v3/MeterReportService';
export type {
  LogReportServiceHandlers,
  LogReportServiceClient,
  LogReportServiceDefinition,
} from './generated/proto/skywalking/v3/LogReportService';
export type {
  SpanAttachedEventReportServiceHandlers,
  SpanAttachedEventReportServiceClient,
  SpanAttachedEventReportServiceDefinition,
} from './generated/proto/skywalking/v3/SpanAttachedEventReportService';
