import type { Metrics } from '../metrics';
import type { MetadataService } from '../services/metadata-service';
import type { ProfilingService } from '../services/profiling-service';
import type { OapConfig } from '../config';
import type { ContinuousProfilingService } from '../services/continuous-service';
import type { MqeService } from '../services/mqe-service';
import type { NetworkQueryService } from '../services/network-query-service';
import type { NetworkTaskService } from '../services/network-task-service';
import type { UiTemplateService } from '../services/ui-template-service';

/** What every resolver can reach; resolvers stay thin and call these services. */
export interface QueryContext {
  metadata: MetadataService;
  profiling: ProfilingService;
  continuous: ContinuousProfilingService;
  uiTemplates: UiTemplateService;
  mqe: MqeService;
  networkTasks: NetworkTaskService;
  network: NetworkQueryService;
  metrics: Metrics;
  config: OapConfig;
}
