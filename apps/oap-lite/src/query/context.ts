import type { OapConfig } from '../config';
import type { Metrics } from '../metrics';
import type { StorageHealth } from '../storage/write-health';
import type { ContinuousProfilingService } from '../services/continuous-service';
import type { MetadataService } from '../services/metadata-service';
import type { MqeService } from '../services/mqe-service';
import type { NetworkQueryService } from '../services/network-query-service';
import type { NetworkTaskService } from '../services/network-task-service';
import type { ProfilingService } from '../services/profiling-service';
import type { UiTemplateService } from '../services/ui-template-service';
import type { AnalysisScope } from './analysis-scope';

/** The services every resolver can reach; resolvers stay thin and call these. */
export interface ServerContext {
  metadata: MetadataService;
  profiling: ProfilingService;
  /** Network profiling tasks (create, keep alive). */
  network: NetworkTaskService;
  continuous: ContinuousProfilingService;
  uiTemplates: UiTemplateService;
  mqe: MqeService;
  /** Network profiling reads: process topology, sampled records, attached events. */
  networkQuery: NetworkQueryService;
  metrics: Metrics;
  config: OapConfig;
  /** Storage's health (storage/write-health.ts), for /healthcheck and checkHealth. */
  health: () => Promise<StorageHealth>;
}

/** What a resolver receives: the services plus what belongs to its request. */
export interface QueryContext extends ServerContext {
  analysis: AnalysisScope;
}
