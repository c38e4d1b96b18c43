/**
 * The agent port (11800): the three eBPF services and the meter service, optional token and TLS
 * as the OAP offers.
 */
import * as grpc from '@grpc/grpc-js';
import {
  loadSkyWalkingGrpc,
  type ContinuousProfilingServiceHandlers,
  type EBPFProcessServiceHandlers,
  type EBPFProfilingServiceHandlers,
  type LogReportServiceHandlers,
  type MeterReportServiceHandlers,
  type SpanAttachedEventReportServiceHandlers,
} from '@swlite/protocol';
import { readTlsFile, type OapConfig } from '../config';
import { authenticationInterceptor } from './authentication';

export interface GrpcHandlers {
  process: EBPFProcessServiceHandlers;
  profiling: EBPFProfilingServiceHandlers;
  continuous: ContinuousProfilingServiceHandlers;
  meter: MeterReportServiceHandlers;
  log: LogReportServiceHandlers;
  spanEvents: SpanAttachedEventReportServiceHandlers;
}

const credentials = (config: OapConfig['grpc']): grpc.ServerCredentials => {
  if (!config.tls.enabled) return grpc.ServerCredentials.createInsecure();
  const key = readTlsFile(config.tls.keyPath, 'SW_CORE_GRPC_SSL_KEY_PATH');
  const cert = readTlsFile(config.tls.certChainPath, 'SW_CORE_GRPC_SSL_CERT_CHAIN_PATH');
  const ca = config.tls.trustedCaPath
    ? readTlsFile(config.tls.trustedCaPath, 'SW_CORE_GRPC_SSL_TRUSTED_CA_PATH')
    : null;
  // With a trusted CA configured the OAP asks agents for client certificates (mutual TLS).
  return grpc.ServerCredentials.createSsl(ca, [{ private_key: key, cert_chain: cert }], ca !== null);
};

export const startGrpcServer = async (
  config: OapConfig['grpc'],
  handlers: GrpcHandlers,
): Promise<{ server: grpc.Server; port: number }> => {
  const server = new grpc.Server({
    'grpc.max_receive_message_length': config.maxMessageSize,
    'grpc.max_send_message_length': config.maxMessageSize,
    interceptors: config.authentication ? [authenticationInterceptor(config.authentication)] : [],
  });
  const pkg = loadSkyWalkingGrpc().skywalking.v3;
  server.addService(pkg.EBPFProcessService.service, handlers.process);
  server.addService(pkg.EBPFProfilingService.service, handlers.profiling);
  server.addService(pkg.ContinuousProfilingService.service, handlers.continuous);
  server.addService(pkg.MeterReportService.service, handlers.meter);
  server.addService(pkg.LogReportService.service, handlers.log);
  server.addService(pkg.SpanAttachedEventReportService.service, handlers.spanEvents);
  const port = await new Promise<number>((resolve, reject) =>
    server.bindAsync(`${config.host}:${config.port}`, credentials(config), (err, bound) =>
      err
        ? reject(new Error(`cannot listen for gRPC on ${config.host}:${config.port}: ${err.message}`))
        : resolve(bound),
    ),
  );
  return { server, port };
};
