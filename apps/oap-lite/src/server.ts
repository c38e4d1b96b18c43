/**
 * Composition root: storage, services, the gRPC and HTTP servers, and the TTL keeper.
 * `startOapLite` is what main.ts, the tests and the benchmarks start.
 */
import type * as grpc from '@grpc/grpc-js';
import type { Logger } from 'pino';
import { createLog } from './log';
import type { OapConfig } from './config';
import { createMetrics, type Metrics } from './metrics';
import { createHttpServer, type RestServer } from './query/http-server';
import { continuousResolvers } from './query/resolvers/continuous';
import { mqeResolvers } from './query/resolvers/mqe';
import { networkResolvers } from './query/resolvers/network';
import { uiTemplateResolvers } from './query/resolvers/ui-templates';
import { continuousHandlers } from './receivers/continuous-receiver';
import { startGrpcServer } from './receivers/grpc-server';
import { meterHandlers } from './receivers/meter-receiver';
import { InputLimits } from './receivers/input-limits';
import { processHandlers } from './receivers/process-receiver';
import { profilingHandlers } from './receivers/profiling-receiver';
import { ContinuousProfilingService } from './services/continuous-service';
import { MetadataService } from './services/metadata-service';
import { MeterService } from './services/meter-service';
import { MqeService } from './services/mqe-service';
import { NetworkMeterAnalyzer } from './services/network-meter-analyzer';
import { NetworkQueryService } from './services/network-query-service';
import { NetworkTaskService } from './services/network-task-service';
import { SampledTraceService } from './services/sampled-trace-service';
import { logHandlers } from './receivers/log-receiver';
import { spanEventHandlers } from './receivers/span-event-receiver';
import { networkMqeMetrics } from './services/network-meter-rules';
import { SAMPLED_TRACE_TABLES } from './storage/domains/network';
import { ProfilingService } from './services/profiling-service';
import { UiTemplateService } from './services/ui-template-service';
import { createStorage } from './storage';
import type { Storage } from './storage/types';

export interface OapLite {
  grpcPort: number;
  httpPort: number;
  storage: Storage;
  metrics: Metrics;
  stop(): Promise<void>;
}

const DAY_MS = 86_400_000;

export const startOapLite = async (config: OapConfig, log: Logger = createLog(config.logLevel)): Promise<OapLite> => {
  const metrics = createMetrics();
  const storage = createStorage(config.storage, { log, metrics });
  await storage.init();

  const metadata = new MetadataService(storage, Date.now, config.receiver);
  const inputLimits = new InputLimits(config.receiver);
  const profiling = new ProfilingService(storage, { minTaskDurationSeconds: config.minTaskDurationSeconds });
  const continuous = new ContinuousProfilingService(storage);
  const network = new NetworkTaskService(storage, Date.now, config.networkTask);
  const uiTemplates = new UiTemplateService(storage, () => metadata.listLayers());
  const networkEntities = new NetworkMeterAnalyzer(storage);
  const meters = new MeterService(storage, undefined, networkEntities);
  const sampledTraces = new SampledTraceService(storage, networkEntities);
  const mqe = new MqeService(storage, [...meters.metrics(), ...networkMqeMetrics()], SAMPLED_TRACE_TABLES);
  const networkQuery = new NetworkQueryService(storage);

  let grpcServer: grpc.Server | undefined;
  let httpServer: RestServer | undefined;
  try {
    await uiTemplates.initialize();
    const started = await startGrpcServer(config.grpc, {
      process: processHandlers(metadata, metrics, inputLimits),
      profiling: profilingHandlers(profiling, metrics, log, inputLimits, config.staging),
      continuous: continuousHandlers(continuous, inputLimits),
      meter: meterHandlers(meters, metrics, log, inputLimits),
      log: logHandlers(sampledTraces, log),
      spanEvents: spanEventHandlers(storage, log),
    });
    grpcServer = started.server;
    const context = {
      metadata,
      profiling,
      network,
      networkQuery,
      continuous,
      uiTemplates,
      mqe,
      metrics,
      config,
      health: () => storage.health(),
    };
    httpServer = createHttpServer({
      context,
      log,
      extraResolvers: [continuousResolvers, uiTemplateResolvers, mqeResolvers, networkResolvers],
    });
    const server = httpServer;
    const httpPort = await new Promise<number>((resolve, reject) => {
      server.once('error', (err) =>
        reject(new Error(`cannot listen for HTTP on ${config.rest.host}:${config.rest.port}: ${err.message}`)),
      );
      server.listen(config.rest.port, config.rest.host, () => {
        const address = server.address();
        resolve(typeof address === 'object' && address ? address.port : config.rest.port);
      });
    });

    const keeper = setInterval(() => {
      const now = Date.now();
      storage
        .deleteExpired(now - config.ttl.recordDays * DAY_MS, now - config.ttl.metricsDays * DAY_MS)
        .then((n) => n > 0 && log.info({ deleted: n }, 'TTL keeper removed expired data'))
        .catch((err: Error) => log.warn({ err: err.message }, 'TTL keeper failed'));
    }, config.ttl.keeperPeriodMinutes * 60_000);
    keeper.unref();

    log.info({ grpcPort: started.port, httpPort, storage: config.storage.kind }, 'oap-lite started');
    return {
      grpcPort: started.port,
      httpPort,
      storage,
      metrics,
      stop: async () => {
        clearInterval(keeper);
        // Calls in flight get a moment to finish; then connections are cut.
        await new Promise<void>((resolve) => {
          const force = setTimeout(() => {
            started.server.forceShutdown();
            resolve();
          }, 2_000);
          started.server.tryShutdown(() => {
            clearTimeout(force);
            resolve();
          });
        });
        const closed = new Promise<void>((resolve) => server.close(() => resolve()));
        server.closeAllConnections();
        await closed;
        await storage.close();
      },
    };
  } catch (err) {
    grpcServer?.forceShutdown();
    httpServer?.close();
    await storage.close();
    throw err;
  }
};
