/**
 * The GraphQL operations the CLI sends (src/operations.graphql), with the types graphql-codegen
 * derives from them and the query-protocol SDL of @swlite/protocol (src/generated/graphql.ts).
 */
import type { ProfilingTargetType, ProfilingTriggerType } from '@swlite/protocol';
import type { OapClient } from './client';
import { UserError } from './errors';
import {
  AnalysisDocument,
  CreateFixedTimeTaskDocument,
  CreateNetworkTaskDocument,
  EdgeMetricsDocument,
  FindServiceDocument,
  ListInstancesDocument,
  ListProcessesDocument,
  ListServicesDocument,
  KeepNetworkTaskDocument,
  PrepareTaskDocument,
  ProcessTopologyDocument,
  SampledExchangeDocument,
  SchedulesDocument,
  TasksDocument,
  TimeInfoDocument,
  type AnalysisQuery,
  type CreateFixedTimeTaskMutationVariables,
  type Duration,
  type EbpfNetworkSamplingRule,
  type EbpfProfilingAnalyzeAggregateType,
  type EdgeMetricsQuery,
  type Entity,
  type ListInstancesQuery,
  type ProcessFieldsFragment,
  type ProcessTopologyQuery,
  type SampledExchangeQuery,
  type SchedulesQuery,
  type ServiceFieldsFragment,
  type TaskFieldsFragment,
} from './generated/graphql';

export type AggregateType = EbpfProfilingAnalyzeAggregateType;
export type Service = ServiceFieldsFragment;
export type Instance = ListInstancesQuery['listInstances'][number];
export type Process = ProcessFieldsFragment;
export type Task = TaskFieldsFragment;
export type Schedule = SchedulesQuery['queryEBPFProfilingSchedules'][number];
export type Analysis = AnalysisQuery['analysisEBPFProfilingResult'];
export type SamplingRule = EbpfNetworkSamplingRule;
export type ProcessTopology = NonNullable<ProcessTopologyQuery['getProcessTopology']>;
export type TopologyNode = ProcessTopology['nodes'][number];
export type TopologyCall = ProcessTopology['calls'][number];
export type EdgeMetrics = EdgeMetricsQuery;
export type RelationEntity = Entity;
export type AttachedEvent = NonNullable<SampledExchangeQuery['queryTrace']>['spans'][number]['attachedEvents'][number];

/** A query-protocol Duration (MINUTE step) covering [from, to], written in the server's time zone. */
export const minuteDuration = (from: number, to: number, timezone: string | null | undefined) => {
  const m = /^([+-])(\d{2}):?(\d{2})$/.exec(timezone ?? '');
  const offsetMs = m
    ? (m[1] === '-' ? -1 : 1) * (Number(m[2]) * 60 + Number(m[3])) * 60_000
    : -new Date().getTimezoneOffset() * 60_000;
  const fmt = (t: number) => {
    const d = new Date(t + offsetMs);
    const p = (n: number) => String(n).padStart(2, '0');
    return `${d.getUTCFullYear()}-${p(d.getUTCMonth() + 1)}-${p(d.getUTCDate())} ${p(d.getUTCHours())}${p(d.getUTCMinutes())}`;
  };
  return { start: fmt(from), end: fmt(to), step: 'MINUTE' } satisfies Duration;
};

export class OapApi {
  constructor(readonly client: OapClient) {}

  async timeInfo(): Promise<{
    timezone: string | null;
    currentTimestamp: number;
  }> {
    const data = await this.client.request(TimeInfoDocument, {});
    return {
      timezone: data.getTimeInfo?.timezone ?? null,
      currentTimestamp: Number(data.getTimeInfo?.currentTimestamp ?? Date.now()),
    };
  }

  /** A Duration for the last `minutes` minutes, in the server's clock and time zone. */
  async recentDuration(minutes: number): Promise<Duration> {
    const { timezone, currentTimestamp } = await this.timeInfo();
    return minuteDuration(currentTimestamp - minutes * 60_000, currentTimestamp, timezone);
  }

  async listServices(layer?: string): Promise<Service[]> {
    return (await this.client.request(ListServicesDocument, { layer: layer ?? null })).listServices;
  }

  /** The service with this name (or ID); otherwise a UserError naming the known services. */
  async resolveService(nameOrId: string): Promise<Service> {
    const data = await this.client.request(FindServiceDocument, { name: nameOrId });
    const found = data.findService ?? data.getService;
    if (found) return found;
    const known = (await this.listServices()).map((s) => s.name).sort();
    throw new UserError(
      `unknown service "${nameOrId}"; ` +
        (known.length
          ? `known services: ${known.slice(0, 20).join(', ')}${known.length > 20 ? ', …' : ''}`
          : 'oap-lite knows no services yet (is a rover reporting processes?)'),
    );
  }

  async listInstances(serviceId: string, duration: Duration): Promise<Instance[]> {
    return (await this.client.request(ListInstancesDocument, { duration, serviceId })).listInstances;
  }

  /** The instance of the service with this name (or ID) seen in `duration`; otherwise a UserError naming those seen. */
  async resolveInstance(service: Service, nameOrId: string, duration: Duration, since: string): Promise<Instance[]> {
    const instances = await this.listInstances(service.id, duration);
    const wanted = instances.filter((i) => i.name === nameOrId || i.id === nameOrId);
    if (!wanted.length) {
      throw new UserError(
        `service ${service.name} has no instance "${nameOrId}" seen in ${since}; instances: ${instances.map((i) => i.name).join(', ') || '(none)'}`,
      );
    }
    return wanted;
  }

  async listProcesses(instanceId: string, duration: Duration): Promise<Process[]> {
    return (await this.client.request(ListProcessesDocument, { duration, instanceId })).listProcesses;
  }

  async queryTasks(
    filter: {
      serviceId?: string;
      targets?: ProfilingTargetType[];
      triggerType?: ProfilingTriggerType;
    } = {},
  ): Promise<Task[]> {
    const data = await this.client.request(TasksDocument, {
      serviceId: filter.serviceId ?? null,
      targets: filter.targets ?? null,
      triggerType: filter.triggerType ?? null,
    });
    return data.queryEBPFProfilingTasks;
  }

  async prepareTask(serviceId: string): Promise<{ couldProfiling: boolean; processLabels: string[] }> {
    return (await this.client.request(PrepareTaskDocument, { serviceId })).queryPrepareCreateEBPFProfilingTaskData;
  }

  /** Creates a fixed-time task and returns its ID; the server's refusal becomes a UserError. */
  async createFixedTimeTask(request: CreateFixedTimeTaskMutationVariables['request']): Promise<string> {
    const result = (await this.client.request(CreateFixedTimeTaskDocument, { request }))
      .createEBPFProfilingFixedTimeTask;
    if (!result.status || !result.id)
      throw new UserError(`oap-lite did not create the task: ${result.errorReason ?? 'no reason given'}`);
    return result.id;
  }

  async schedules(taskId: string): Promise<Schedule[]> {
    return (await this.client.request(SchedulesDocument, { taskId })).queryEBPFProfilingSchedules;
  }

  async analysis(
    scheduleIds: string[],
    ranges: Array<{ start: number; end: number }>,
    aggregateType: AggregateType,
  ): Promise<Analysis> {
    const data = await this.client.request(AnalysisDocument, { scheduleIds, ranges, aggregateType });
    return data.analysisEBPFProfilingResult;
  }

  /** Creates a network profiling task for the instance; the server's refusal becomes a UserError. */
  async createNetworkTask(instanceId: string, samplings: SamplingRule[]): Promise<string> {
    const result = (
      await this.client.request(CreateNetworkTaskDocument, {
        // no rules: none sent, as a task without sampling is asked for
        request: { instanceId, samplings: samplings.length ? samplings : undefined },
      })
    ).createEBPFNetworkProfiling;
    if (!result.status || !result.id)
      throw new UserError(`oap-lite did not create the task: ${result.errorReason ?? 'no reason given'}`);
    return result.id;
  }

  /** Keeps a network task running (the OAP extends it by 10 minutes when less than one is left). */
  async keepNetworkTask(taskId: string): Promise<{ status: boolean; errorReason: string | null }> {
    return (await this.client.request(KeepNetworkTaskDocument, { taskId })).keepEBPFNetworkProfiling;
  }

  async processTopology(serviceInstanceId: string, duration: Duration): Promise<ProcessTopology> {
    const data = await this.client.request(ProcessTopologyDocument, { serviceInstanceId, duration });
    return data.getProcessTopology ?? { nodes: [], calls: [] };
  }

  /** The ProcessRelation metrics and sampled records of one edge (one request). */
  async edgeMetrics(entity: RelationEntity, duration: Duration, topN: number): Promise<EdgeMetrics> {
    return this.client.request(EdgeMetricsDocument, { entity, duration, topN });
  }

  /** The events rover attached to a sampled trace (none when it sent none, or the server keeps none). */
  async attachedEvents(traceId: string): Promise<AttachedEvent[]> {
    const data = await this.client.request(SampledExchangeDocument, { traceId });
    return (data.queryTrace?.spans ?? []).flatMap((s) => s.attachedEvents);
  }
}
