import { gsonJson } from '../gson';
import type { TargetDescription } from './description';

/**
 * Network profiling of one instance's processes. Its tasks come from createEBPFNetworkProfiling
 * or a continuous report, and its data does not arrive as stacks through EBPFProfilingService.
 */
export const network: TargetDescription = {
  type: 'NETWORK',
  commandArg: 'NETWORK',
  storageCode: 2,
  durationAggregate: 'duration',
  fixedTimeRefusal: 'NETWORK profiling is created with createEBPFNetworkProfiling',
  processSelection: 'task-instance',
  continuousPolicy: true,
  continuousReportCase: 'network',
  continuousExtension: (report) => networkExtensionJson(report.network?.samplingURIRegexes ?? []),
  upload: null,
};

/**
 * The OAP's network extension for a triggered NETWORK task: one sampling rule per URI regex,
 * every 4xx/5xx request with complete request and response. (The OAP builds one rule per URI
 * but forgets to set the regex on it; we keep the regex, which is what the rule is for.)
 */
const networkExtensionJson = (uriRegexes: string[]): string =>
  gsonJson({
    networkSamplings: uriRegexes.map((uriRegex) => ({
      uriRegex,
      minDuration: 0,
      when4xx: true,
      when5xx: true,
      settings: { requireCompleteRequest: true, requireCompleteResponse: true },
    })),
  });
