/**
 * The stock UI's GraphQL documents (../shared/conformance/ui-operations.json, booster-ui 10.2.0)
 * and the variables the UI fills them with, shared by the UI-operations test and the differential
 * conformance harness (e2e/src/conformance), so both send the UI's documents the same way.
 */
import { existsSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

/** Walks up from this file to the first `shared/conformance/ui-operations.json`. */
export const findUiOperations = (): string | undefined => {
  let dir = dirname(fileURLToPath(import.meta.url));
  for (;;) {
    const candidate = join(dir, 'shared', 'conformance', 'ui-operations.json');
    if (existsSync(candidate)) return candidate;
    const parent = dirname(dir);
    if (parent === dir) return undefined;
    dir = parent;
  }
};

/** Every document by its name (groups flattened); empty when the file is absent. */
export const loadUiDocuments = (path = findUiOperations()): Map<string, string> => {
  const documents = new Map<string, string>();
  if (!path) return documents;
  const groups = JSON.parse(readFileSync(path, 'utf8')) as Record<string, Record<string, string>>;
  for (const group of Object.values(groups)) for (const [name, doc] of Object.entries(group)) documents.set(name, doc);
  return documents;
};

const b64 = (s: string) => Buffer.from(s).toString('base64');

/** The seeded entities the variables point at. */
export interface UiEntityIds {
  hostService: string;
  hostServiceId: string;
  hostInstanceId: string;
  k8sServiceId: string;
  k8sInstanceId: string;
}

/**
 * Variables for the documents outside the eBPF, selector and dashboard flows (those depend on
 * earlier answers), as the UI fills them in: IDs of the seeded data, MINUTE durations, page 1.
 */
export const otherUiDocumentVariables = (
  ids: UiEntityIds,
  d: { start: string; end: string; step: string },
  now: number,
): Record<string, Record<string, unknown>> => {
  const paging = { pageNum: 1, pageSize: 20 };
  return {
    getEndpointTopology: {
      endpointId: `${ids.hostServiceId}_${b64('/')}`,
      duration: d,
    },
    getHierarchyInstanceTopology: {
      instanceId: ids.hostInstanceId,
      layer: 'OS_LINUX',
    },
    getHierarchyServiceTopology: {
      serviceId: ids.hostServiceId,
      layer: 'OS_LINUX',
    },
    getInstanceTopology: {
      clientServiceId: ids.hostServiceId,
      serverServiceId: ids.k8sServiceId,
      duration: d,
    },
    getProcessTopology: { serviceInstanceId: ids.hostInstanceId, duration: d },
    getServicesTopology: {
      duration: d,
      serviceIds: [ids.hostServiceId, ids.k8sServiceId],
    },
    queryListLayerLevels: {},
    queryHasQueryTracesV2Support: {},
    querySpans: { traceId: 'no-such-trace' },
    queryTraceSpansFromColdStage: {
      traceId: 'no-such-trace',
      duration: d,
      debug: false,
    },
    queryTraceTagKeys: { duration: d },
    queryTraceTagValues: { tagKey: 'http.method', duration: d },
    queryTraces: {
      condition: {
        serviceId: ids.hostServiceId,
        queryDuration: d,
        traceState: 'ALL',
        queryOrder: 'BY_START_TIME',
        paging,
      },
    },
    queryV2Traces: {
      condition: {
        serviceId: ids.hostServiceId,
        queryDuration: d,
        traceState: 'ALL',
        queryOrder: 'BY_START_TIME',
        paging,
      },
    },
    queryBrowserErrorLogs: {
      condition: { queryDuration: d, paging, category: 'ALL' },
    },
    queryLogTagKeys: { duration: d },
    queryLogTagValues: { tagKey: 'level', duration: d },
    queryLogsByKeywords: {},
    queryServiceLogs: {
      condition: {
        serviceId: ids.hostServiceId,
        queryDuration: d,
        paging,
        queryOrder: 'DES',
      },
    },
    editStrategy: {
      request: {
        serviceId: ids.hostServiceId,
        targets: [
          {
            targetType: 'ON_CPU',
            checkItems: [{ type: 'PROCESS_CPU', threshold: '80', period: 10, count: 3 }],
          },
        ],
      },
    },
    getStrategyList: { serviceId: ids.hostServiceId },
    getMonitoringInstances: { serviceId: ids.hostServiceId, target: 'ON_CPU' },
    getProfileAnalyze: {
      queries: [
        {
          segmentId: 'no-such-segment',
          timeRange: { start: now - 60_000, end: now },
        },
      ],
    },
    getProfileTaskList: { serviceId: ids.hostServiceId, endpointName: '' },
    getProfileTaskLogs: { taskID: 'no-such-task' },
    getProfileTaskSegmentList: { taskID: 'no-such-task' },
    saveProfileTask: {
      creationRequest: {
        serviceId: ids.hostServiceId,
        endpointName: '/',
        startTime: -1,
        duration: 5,
        minDurationThreshold: 0,
        dumpPeriod: 10,
        maxSamplingCount: 5,
      },
    },
    queryAlarmTagKeys: { duration: d },
    queryAlarmTagValues: { tagKey: 'level', duration: d },
    queryAlarms: {
      duration: d,
      paging,
      keyword: '',
      scope: 'Service',
      tags: [],
    },
    queryEvents: {
      condition: {
        time: d,
        paging,
        source: { service: ids.hostService },
        layer: 'OS_LINUX',
      },
    },
    aliveNetworkProfiling: { taskId: 'no-such-task' },
    newNetworkProfiling: {
      request: {
        instanceId: ids.hostInstanceId,
        samplings: [
          {
            minDuration: 0,
            when4xx: true,
            when5xx: true,
            settings: {
              requireCompleteRequest: true,
              requireCompleteResponse: true,
            },
          },
        ],
      },
    },
    fetchContainers: { condition: { serviceInstanceId: ids.k8sInstanceId } },
    fetchDemandPodLogs: {
      condition: {
        serviceInstanceId: ids.k8sInstanceId,
        container: 'shop',
        duration: d,
      },
    },
    getAsyncProfileAnalyze: {
      request: {
        taskId: 'no-such-task',
        instanceIds: [ids.hostInstanceId],
        eventType: 'EXECUTION_SAMPLE',
      },
    },
    getAsyncProfileTaskProcess: { taskId: 'no-such-task' },
    getAsyncTaskList: {
      request: { serviceId: ids.hostServiceId, queryDuration: d, limit: 20 },
    },
    saveAsyncProfileTask: {
      asyncProfilerTaskCreationRequest: {
        serviceId: ids.hostServiceId,
        serviceInstanceIds: [ids.hostInstanceId],
        duration: 60,
        events: ['CPU'],
        execArgs: '',
      },
    },
    getPprofAnalyze: {
      request: { taskId: 'no-such-task', instanceIds: [ids.hostInstanceId] },
    },
    getPprofTaskList: {
      request: { serviceId: ids.hostServiceId, queryDuration: d, limit: 20 },
    },
    getPprofTaskProcess: { taskId: 'no-such-task' },
    savePprofTask: {
      pprofTaskCreationRequest: {
        serviceId: ids.hostServiceId,
        serviceInstanceIds: [ids.hostInstanceId],
        duration: 5,
        events: 'CPU',
        dumpPeriod: 10,
      },
    },
  };
};
