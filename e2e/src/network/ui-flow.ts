/**
 * What the stock UI asks for around a NETWORK task, with its own documents where it has them
 * (booster-ui 10.2: create, keep alive, list tasks, process topology) and the dashboard's reads of
 * a process relation (execExpression on process_relation_* metrics, readRecords on the sampled
 * records).
 */
import { execExpression, graphqlOk, loadUiDocuments, type ExpressionResultJson } from '@swlite/testkit';

export interface Duration {
  start: string;
  end: string;
  step: string;
}

export interface SamplingRule {
  uriRegex?: string;
  minDuration?: number;
  when4xx: boolean;
  when5xx: boolean;
  settings: {
    requireCompleteRequest: boolean;
    maxRequestSize?: number;
    requireCompleteResponse: boolean;
    maxResponseSize?: number;
  };
}

export interface TopologyNode {
  id: string;
  name: string;
  isReal: boolean;
  serviceName: string;
  serviceInstanceName: string;
}

export interface TopologyCall {
  id: string;
  source: string;
  target: string;
  detectPoints: string[];
  sourceComponents: string[];
  targetComponents: string[];
}

export interface TaskView {
  taskId: string;
  fixedTriggerDuration: number;
  taskStartTime: number;
  targetType: string;
}

export interface RecordRow {
  id: string;
  name: string;
  value: string;
  refId: string | null;
}

const READ_RECORDS = `query readRecords($condition: RecordCondition!, $duration: Duration!) {
  readRecords(condition: $condition, duration: $duration) { id name value refId } }`;

const QUERY_TRACE = `query ($traceId: ID!) { trace: queryTrace(traceId: $traceId) {
  spans { traceId attachedEvents { event tags { key value } } } } }`;

/** The ProcessRelation dashboard's entity: two processes of one instance. */
export const relationEntity = (service: string, instance: string, client: string, server: string) => ({
  scope: 'ProcessRelation',
  serviceName: service,
  normal: true,
  serviceInstanceName: instance,
  processName: client,
  destServiceName: service,
  destNormal: true,
  destServiceInstanceName: instance,
  destProcessName: server,
});

export type RelationEntity = ReturnType<typeof relationEntity>;

export class NetworkUi {
  readonly #docs: Map<string, string>;

  constructor(
    private readonly url: string,
    docs = loadUiDocuments(),
  ) {
    this.#docs = docs;
  }

  #doc(name: string): string {
    const doc = this.#docs.get(name);
    if (!doc) throw new Error(`the UI's document ${name} is not in shared/conformance/ui-operations.json`);
    return doc;
  }

  async create(
    instanceId: string,
    samplings: SamplingRule[],
  ): Promise<{ status: boolean; errorReason: string | null; id: string | null }> {
    const r = await graphqlOk(this.url, this.#doc('newNetworkProfiling'), { request: { instanceId, samplings } });
    return r.createEBPFNetworkProfiling;
  }

  async keep(taskId: string): Promise<{ status: boolean; errorReason: string | null }> {
    return (await graphqlOk(this.url, this.#doc('aliveNetworkProfiling'), { taskId })).keepEBPFNetworkProfiling;
  }

  async tasks(serviceId: string, serviceInstanceId: string): Promise<TaskView[]> {
    const r = await graphqlOk(this.url, this.#doc('getEBPFTasks'), {
      serviceId,
      serviceInstanceId,
      targets: ['NETWORK'],
      triggerType: 'FIXED_TIME',
    });
    return r.queryEBPFTasks;
  }

  async topology(
    serviceInstanceId: string,
    duration: Duration,
  ): Promise<{ nodes: TopologyNode[]; calls: TopologyCall[] }> {
    return (await graphqlOk(this.url, this.#doc('getProcessTopology'), { serviceInstanceId, duration })).topology;
  }

  /** Per minute (epoch ms of its start) the values of a metric, one series per label set. */
  async metric(
    expression: string,
    entity: RelationEntity,
    duration: Duration,
  ): Promise<Map<string, Map<number, number>>> {
    const r: ExpressionResultJson = await execExpression(this.url, expression, entity, duration);
    if (r.error) throw new Error(`${expression}: ${r.error}`);
    const series = new Map<string, Map<number, number>>();
    for (const result of r.results) {
      const key = result.metric.labels.map((l) => `${l.key}=${l.value ?? ''}`).join(',');
      const values = new Map<number, number>();
      for (const v of result.values) if (v.id !== null && v.value !== null) values.set(Number(v.id), Number(v.value));
      series.set(key, values);
    }
    return series;
  }

  async records(name: string, parentEntity: RelationEntity, duration: Duration): Promise<RecordRow[]> {
    const r = await graphqlOk(this.url, READ_RECORDS, {
      condition: { name, parentEntity, topN: 100, order: 'DES' },
      duration,
    });
    return r.readRecords;
  }

  async attachedEvents(
    traceId: string,
  ): Promise<Array<{ event: string; tags: Array<{ key: string; value: string }> }>> {
    const { trace } = await graphqlOk(this.url, QUERY_TRACE, { traceId });
    return trace.spans.flatMap((s: { attachedEvents: unknown[] }) => s.attachedEvents);
  }
}
