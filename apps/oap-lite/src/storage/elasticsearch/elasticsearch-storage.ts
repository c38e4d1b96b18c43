/**
 * The Elasticsearch storage of oap-lite (indices: see indices.ts).
 *
 * - Client: @elastic/elasticsearch v9. At init a probe with plain `application/json` headers reads
 *   the server's version, then the real client sends `compatible-with=<major>` media types (a v9
 *   client otherwise sends compatible-with=9, which 8.x refuses).
 * - init() waits for Elasticsearch (backoff, a log line every 10 s), installs the records template
 *   and the metadata indices, and refuses to start on an incompatible existing mapping, naming the
 *   index and the field.
 * - Profiling data goes through a BulkProcessor (bulkActions / flushInterval / concurrentRequests,
 *   refresh on flush); writeProfilingData resolves when its records are durable and searchable.
 *   While Elasticsearch is down, data and schedule upserts wait in a bounded buffer and are retried.
 * - Merging upserts (services, instances, processes, schedules) are read-modify-write with
 *   optimistic concurrency (if_seq_no / if_primary_term), so several oap-lite nodes can share one
 *   cluster.
 * - Document ids follow the OAP: data record id = sha256(scheduleId, stackIdList, uploadTime as a
 *   little-endian long), prefixed by its record table as in the merged records index; task record id
 *   = sha256(logicalId, createTime LE); schedule id = taskId_scheduleId; label id = serviceId_label.
 * - Metric values are added with a compare-and-set per document: read (mget, with _seq_no and
 *   _primary_term), add, write back with if_seq_no / if_primary_term (op_type create for a new
 *   document), and redo the documents that another writer changed meanwhile (409). Several
 *   oap-lite nodes can add to the same minute without losing an addition. A failed bulk request is
 *   not retried: whether it was applied is unknown, and a retry could add twice.
 * - No scripts and no _delete_by_query are used (neither is available everywhere): TTL drops whole
 *   daily indices, and deletes the few remaining expired documents by id.
 */
import { Client, SniffingTransport, errors, type estypes } from '@elastic/elasticsearch';
import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { MAX_TIME_BUCKET, MINUTE_MS, avgValue, labelsFromKey, labelsKey, mergeMetricValues } from '../metrics';
import { assertValidProfilingRecord, canonicalFramesJson } from '../profiling';
import type {
  AggregatedStack,
  ContinuousPolicyRecord,
  DetectType,
  InstanceRecord,
  MetricValueRecord,
  ProcessFilter,
  ProcessRecord,
  ProfilingDataRecord,
  ScheduleRecord,
  ServiceRecord,
  StackFrame,
  Storage,
  TargetType,
  TaskFilter,
  TaskRecord,
  TimeRange,
  TriggerType,
  UiTemplateRecord,
} from '../types';
import { BulkProcessor, type BulkLog, type BulkOperation, type BulkResponseItem } from './bulk-processor';
import {
  MANAGEMENT_POLICY,
  MANAGEMENT_UI_TEMPLATE,
  METADATA_INDICES,
  METRICS_PROPERTIES,
  RECORDS_PROPERTIES,
  RECORD_TABLE_DATA,
  RECORD_TABLE_STACK,
  compareMapping,
  dayBounds,
  indexNames,
  minuteTimeBucket,
  minuteTimeBucketStart,
  secondTimeBucket,
  utcDay,
  type IndexNames,
} from './indices';

export interface ElasticsearchStorageOptions {
  /** "host:port[,host:port...]" or full URLs. */
  clusterNodes: string;
  protocol?: 'http' | 'https';
  namespace?: string;
  user?: string;
  password?: string;
  caPath?: string;
  bulkActions?: number;
  flushIntervalSeconds?: number;
  /** Overrides flushIntervalSeconds (tests). */
  flushIntervalMs?: number;
  concurrentRequests?: number;
  /** Records (data records and pending schedule upserts) kept while Elasticsearch is unreachable. */
  bufferLimit?: number;
  /** Duplicate groups the fast analysis path handles before it falls back to the exact one (tests). */
  dedupeGroupLimit?: number;
  /** Replicas of new indices (the OAP's default is 1). */
  replicas?: number;
  log?: BulkLog;
  metrics?: { storageBuffered?: { set(n: number): void }; storageDropped?: { inc(n?: number): void } };
}

type Doc = Record<string, unknown>;

const silentLog: BulkLog = { info() {}, warn() {}, error() {} };
// Ref'd on purpose: every wait has a caller awaiting its outcome (init, a durable write), and
// the retry loops end once the storage is closed; an unref'd timer let a test's event loop drain.
const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

const statusOf = (err: unknown): number | undefined =>
  (err as { meta?: { statusCode?: number } } | null)?.meta?.statusCode;

/** Errors worth waiting out: no connection, timeouts, 429 and 5xx. */
export const isRetryable = (err: unknown): boolean => {
  if (
    err instanceof errors.ConnectionError ||
    err instanceof errors.TimeoutError ||
    err instanceof errors.NoLivingConnectionsError
  ) {
    return true;
  }
  const status = statusOf(err) ?? 0;
  return status === 429 || status >= 500;
};

const errorText = (err: unknown): string => {
  const body = (err as { meta?: { body?: { error?: { type?: string; reason?: string } } } })?.meta?.body;
  if (body?.error?.type) return `${body.error.type}: ${body.error.reason ?? ''}`;
  return (err as Error)?.message ?? String(err);
};

const sha256Hex = (...parts: Array<string | number>): string => {
  const h = createHash('sha256');
  for (const p of parts) {
    if (typeof p === 'number') {
      const b = Buffer.alloc(8);
      b.writeBigInt64LE(BigInt(Math.trunc(p)));
      h.update(b);
    } else h.update(p, 'utf8');
  }
  return h.digest('hex');
};

/** Elasticsearch ids are at most 512 bytes: longer ids are replaced by their hash. */
const docId = (id: string): string => (Buffer.byteLength(id) > 500 ? `sha256-${sha256Hex(id)}` : id);

/** The metric values going into one metrics document. */
interface MetricDocWrite {
  index: string;
  id: string;
  records: MetricValueRecord[];
}

/**
 * A metrics document with the records added: `summation`/`count`/`value` for the label-less
 * record, the `datatable_*` maps (label-set key → number) for labeled ones; `value` as the OAP
 * calculates it.
 */
const addToMetricDoc = (old: Doc | null, records: readonly MetricValueRecord[]): Doc => {
  const first = records[0]!;
  const doc: Doc = {
    metric_table: first.metric,
    entity_id: first.entityId,
    service_id: records[records.length - 1]!.serviceId,
    time_bucket: minuteTimeBucket(first.timeBucket),
  };
  let summation = old?.count !== undefined ? Number(old.summation) : undefined;
  let count = old?.count !== undefined ? Number(old.count) : undefined;
  const sums: Record<string, number> = { ...((old?.datatable_summation ?? {}) as Record<string, number>) };
  const counts: Record<string, number> = { ...((old?.datatable_count ?? {}) as Record<string, number>) };
  for (const r of records) {
    const key = labelsKey(r.labels);
    if (key === '') {
      summation = (summation ?? 0) + r.summation;
      count = (count ?? 0) + r.count;
    } else {
      sums[key] = (sums[key] ?? 0) + r.summation;
      counts[key] = (counts[key] ?? 0) + r.count;
    }
  }
  if (count !== undefined) Object.assign(doc, { summation, count, value: avgValue(summation ?? 0, count) });
  if (Object.keys(counts).length > 0) {
    const values: Record<string, number> = {};
    for (const key of Object.keys(counts)) values[key] = avgValue(sums[key] ?? 0, counts[key]!);
    Object.assign(doc, { datatable_summation: sums, datatable_count: counts, datatable_value: values });
  }
  return doc;
};

/** A transport that sends the given vendored media types. */
const transportWith = (json: string, ndjson: string, accept: string): typeof SniffingTransport =>
  class extends SniffingTransport {
    constructor(opts: ConstructorParameters<typeof SniffingTransport>[0]) {
      super({ ...opts, vendoredHeaders: { jsonContentType: json, ndjsonContentType: ndjson, accept } });
    }
  };

const PLAIN_JSON = transportWith('application/json', 'application/x-ndjson', 'application/json, text/plain');
const compatibleWith = (major: number): typeof SniffingTransport =>
  transportWith(
    `application/vnd.elasticsearch+json; compatible-with=${major}`,
    `application/vnd.elasticsearch+x-ndjson; compatible-with=${major}`,
    `application/vnd.elasticsearch+json; compatible-with=${major},text/plain`,
  );

/** Cache limits of the write path. */
const STACK_CACHE_LIMIT = 200_000;
/** Duplicate groups the fast path handles before the exact composite path is used. */
const DUP_LIMIT = 10_000;
const COMPOSITE_PAGE = 5_000;
const PAGE = 1000;

export class ElasticsearchStorage implements Storage {
  readonly names: IndexNames;
  readonly target: string;
  private readonly nodes: string[];
  private client: Client | null = null;
  private probe: Client | null = null;
  private bulk: BulkProcessor | null = null;
  private closed = false;
  private serverVersion = '';
  private readonly log: BulkLog;
  private readonly bufferLimit: number;
  /** Schedule upserts waiting for Elasticsearch. */
  private pendingDurable = 0;
  /** frames key → stack hash. */
  private readonly stackHashes = new Map<string, string>();
  private readonly symbolIds = new Map<string, number>();
  /** "day|hash" of stack documents known to be stored. */
  private readonly stacksStored = new Set<string>();

  constructor(private readonly o: ElasticsearchStorageOptions) {
    this.names = indexNames(o.namespace ?? '');
    const protocol = o.protocol ?? 'http';
    this.nodes = o.clusterNodes
      .split(',')
      .map((n) => n.trim())
      .filter(Boolean)
      .map((n) => (/^https?:\/\//.test(n) ? n : `${protocol}://${n}`));
    if (this.nodes.length === 0)
      throw new Error('elasticsearch storage: clusterNodes is empty (SW_STORAGE_ES_CLUSTER_NODES)');
    this.target = this.nodes.join(',');
    this.log = o.log ?? silentLog;
    this.bufferLimit = o.bufferLimit ?? 500_000;
  }

  /** The server's version, known after init(). */
  get version(): string {
    return this.serverVersion;
  }

  private clientOptions(): Omit<ConstructorParameters<typeof Client>[0], 'Transport'> {
    return {
      nodes: this.nodes,
      ...(this.o.user ? { auth: { username: this.o.user, password: this.o.password ?? '' } } : {}),
      ...(this.o.caPath ? { tls: { ca: readFileSync(this.o.caPath) } } : {}),
      maxRetries: 1,
      requestTimeout: 30_000,
    };
  }

  // ---------------------------------------------------------------- lifecycle

  async init(): Promise<void> {
    if (this.closed) throw new Error('ElasticsearchStorage: init() after close()');
    if (this.client) return;
    this.probe = new Client({ ...this.clientOptions(), Transport: PLAIN_JSON });
    const major = await this.waitForElasticsearch(this.probe);
    const client = new Client({ ...this.clientOptions(), Transport: major >= 8 ? compatibleWith(major) : PLAIN_JSON });
    await this.install(client);
    this.client = client;
    const flushIntervalMs = this.o.flushIntervalMs ?? (this.o.flushIntervalSeconds ?? 1) * 1000;
    this.bulk = new BulkProcessor({
      send: (ops) => this.sendBulk(ops),
      bulkActions: this.o.bulkActions ?? 5000,
      flushIntervalMs,
      concurrentRequests: this.o.concurrentRequests ?? 2,
      bufferLimit: this.bufferLimit,
      target: this.target,
      log: this.log,
      onBuffered: () => this.reportBuffered(),
      onDropped: (n) => this.o.metrics?.storageDropped?.inc(n),
      retryable: isRetryable,
      external: () => this.pendingDurable,
    });
    this.log.info(
      { target: this.target, version: this.serverVersion, prefix: this.names.prefix },
      `elasticsearch storage ready (Elasticsearch ${this.serverVersion} at ${this.target}, indices ${this.names.prefix}*)`,
    );
  }

  private reportBuffered(): void {
    this.o.metrics?.storageBuffered?.set((this.bulk?.bufferedRecords ?? 0) + this.pendingDurable);
  }

  /** Polls GET / until Elasticsearch answers and the cluster is at least yellow; returns the major version. */
  private async waitForElasticsearch(probe: Client): Promise<number> {
    let attempt = 0;
    let lastLog = 0;
    const started = Date.now();
    for (;;) {
      if (this.closed) throw new Error(`ElasticsearchStorage closed while waiting for Elasticsearch at ${this.target}`);
      try {
        const info = await probe.info();
        await probe.cluster.health({ wait_for_status: 'yellow', timeout: '30s' });
        this.serverVersion = info.version.number;
        const major = Number.parseInt(info.version.number, 10);
        if (!(major >= 7))
          throw new Error(
            `unsupported Elasticsearch version ${info.version.number} at ${this.target} (need 7.x or newer)`,
          );
        if (attempt > 0)
          this.log.info(
            { target: this.target, waitedMs: Date.now() - started },
            `Elasticsearch at ${this.target} answers`,
          );
        return major;
      } catch (err) {
        const status = statusOf(err);
        if (status === 401 || status === 403) {
          throw new Error(
            `Elasticsearch at ${this.target} refused the credentials (status ${status}): check SW_ES_USER / SW_ES_PASSWORD`,
          );
        }
        if (err instanceof errors.ProductNotSupportedError) {
          throw new Error(`the server at ${this.target} is not Elasticsearch: ${(err as Error).message}`);
        }
        if (!isRetryable(err) && !(err instanceof errors.ResponseError)) throw err;
        attempt++;
        const now = Date.now();
        if (attempt === 1 || now - lastLog >= 10_000) {
          lastLog = now;
          this.log.warn(
            { target: this.target, attempt, err: errorText(err) },
            `waiting for Elasticsearch at ${this.target} (${Math.round((now - started) / 1000)} s so far): ${errorText(err)}`,
          );
        }
        await sleep(Math.min(5_000, 200 * 2 ** Math.min(attempt, 6)));
      }
    }
  }

  private indexSettings(): estypes.IndicesIndexSettings {
    return { number_of_shards: 1, number_of_replicas: this.o.replicas ?? 1 };
  }

  /** Creates the template and the metadata indices; checks existing mappings. */
  private async install(client: Client): Promise<void> {
    const n = this.names;
    await client.indices.putIndexTemplate({
      name: n.recordsTemplate,
      index_patterns: [n.recordsPattern],
      priority: 10,
      template: {
        settings: this.indexSettings(),
        mappings: { dynamic: 'strict', properties: RECORDS_PROPERTIES },
        aliases: { [n.recordsAlias]: {} },
      },
      _meta: { created_by: 'oap-lite' },
    });
    await client.indices.putIndexTemplate({
      name: n.metricsTemplate,
      index_patterns: [n.metricsPattern],
      priority: 10,
      template: {
        settings: this.indexSettings(),
        mappings: { dynamic: 'strict', properties: METRICS_PROPERTIES },
        aliases: { [n.metricsAlias]: {} },
      },
      _meta: { created_by: 'oap-lite' },
    });
    // Existing daily indices must be compatible too.
    for (const [pattern, wanted] of [
      [n.recordsPattern, RECORDS_PROPERTIES],
      [n.metricsPattern, METRICS_PROPERTIES],
    ] as const) {
      const daily = await client.indices.getMapping({
        index: pattern,
        allow_no_indices: true,
        expand_wildcards: 'open',
      });
      for (const [index, m] of Object.entries(daily)) {
        await this.checkMapping(client, index, m.mappings?.properties, wanted);
      }
    }
    for (const def of METADATA_INDICES) {
      const index = n.metadata(def.model);
      const exists = await client.indices.exists({ index });
      if (!exists) {
        try {
          await client.indices.create({
            index,
            settings: this.indexSettings(),
            mappings: { dynamic: 'strict', properties: def.properties },
          });
          continue;
        } catch (err) {
          // Another oap-lite node created it first: check it like any existing index.
          if (
            (err as { meta?: { body?: { error?: { type?: string } } } }).meta?.body?.error?.type !==
            'resource_already_exists_exception'
          ) {
            throw err;
          }
        }
      }
      const got = await client.indices.getMapping({ index });
      const mapping = Object.values(got)[0]?.mappings;
      await this.checkMapping(client, index, mapping?.properties, def.properties);
    }
    await client.cluster.health({ index: n.allMetadata, wait_for_status: 'yellow', timeout: '60s' });
  }

  private async checkMapping(
    client: Client,
    index: string,
    existing: Record<string, estypes.MappingProperty> | undefined,
    wanted: Record<string, estypes.MappingProperty>,
  ): Promise<void> {
    const { conflict, missing } = compareMapping(existing, wanted);
    if (conflict) {
      throw new Error(
        `Elasticsearch index ${index} has an incompatible mapping: ${conflict}. ` +
          `It was created by another program or another oap-lite version: delete it, or use another SW_NAMESPACE.`,
      );
    }
    if (Object.keys(missing).length > 0) {
      try {
        await client.indices.putMapping({ index, properties: missing });
        this.log.info({ index, fields: Object.keys(missing) }, `added fields to the mapping of ${index}`);
      } catch (err) {
        throw new Error(
          `cannot add fields ${Object.keys(missing).join(', ')} to Elasticsearch index ${index}: ${errorText(err)}`,
        );
      }
    }
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    const bulk = this.bulk;
    if (bulk) {
      const drained = await bulk.drain(bulk.retrying ? 2_000 : 15_000);
      if (!drained) {
        this.log.error(
          { buffered: bulk.bufferedRecords, target: this.target },
          `closing with ${bulk.bufferedRecords} records not yet written to Elasticsearch at ${this.target}: they are lost`,
        );
      }
      bulk.close('Elasticsearch storage closed before the records were written');
    }
    this.bulk = null;
    const c = this.client;
    const p = this.probe;
    this.client = this.probe = null;
    await Promise.allSettled([c?.close(), p?.close()]);
  }

  private get es(): Client {
    if (!this.client)
      throw new Error(this.closed ? 'ElasticsearchStorage is closed' : 'ElasticsearchStorage: call init() first');
    return this.client;
  }

  // ---------------------------------------------------------------- helpers

  private async getDoc(index: string, id: string): Promise<{ source: Doc; seqNo: number; primaryTerm: number } | null> {
    const r = await this.es.get<Doc>({ index, id }, { ignore: [404] });
    if (!r.found || !r._source) return null;
    return { source: r._source, seqNo: r._seq_no!, primaryTerm: r._primary_term! };
  }

  /** Read-modify-write of one document with optimistic concurrency. */
  private async mergeUpsert(index: string, id: string, merge: (old: Doc | null) => Doc): Promise<void> {
    for (let attempt = 0; ; attempt++) {
      const old = await this.getDoc(index, id);
      const document = merge(old?.source ?? null);
      try {
        await this.es.index({
          index,
          id,
          document,
          refresh: true,
          ...(old ? { if_seq_no: old.seqNo, if_primary_term: old.primaryTerm } : { op_type: 'create' as const }),
        });
        return;
      } catch (err) {
        if (statusOf(err) !== 409 || attempt >= 50) throw err;
      }
    }
  }

  private async bulkWrite(operations: unknown[]): Promise<estypes.BulkResponseItem[]> {
    if (operations.length === 0) return [];
    const r = await this.es.bulk({ operations, refresh: true });
    return r.items.map((i) => Object.values(i)[0]!);
  }

  private throwItemErrors(items: estypes.BulkResponseItem[], ignore: number[] = []): void {
    for (const it of items) {
      if (it.error && !ignore.includes(it.status)) {
        throw new Error(
          `Elasticsearch refused a write to index ${it._index} (status ${it.status}): ${it.error.type}: ${it.error.reason ?? ''}`,
        );
      }
    }
  }

  /** Every hit of a query, paged with search_after over `sort` (which must be unique per doc). */
  private async searchAll(
    index: string,
    query: estypes.QueryDslQueryContainer,
    sort: estypes.SortCombinations[],
  ): Promise<Doc[]> {
    const out: Doc[] = [];
    let after: estypes.SortResults | undefined;
    for (;;) {
      const r = await this.es.search<Doc>({
        index,
        query,
        sort,
        size: PAGE,
        ...(after ? { search_after: after } : {}),
        track_total_hits: false,
      });
      const hits = r.hits.hits;
      for (const h of hits) if (h._source) out.push(h._source);
      if (hits.length < PAGE) return out;
      after = hits[hits.length - 1]!.sort;
    }
  }

  /** Deletes every document matching the query (search, then delete by id), returns how many went. */
  private async deleteMatching(index: string | string[], query: estypes.QueryDslQueryContainer): Promise<number> {
    let deleted = 0;
    for (let round = 0; round < 100_000; round++) {
      const r = await this.es.search({
        index,
        query,
        size: PAGE,
        _source: false,
        track_total_hits: false,
        allow_no_indices: true,
        ignore_unavailable: true,
      });
      const hits = r.hits.hits;
      if (hits.length === 0) break;
      const items = await this.bulkWrite(hits.map((h) => ({ delete: { _index: h._index, _id: h._id } })));
      deleted += items.filter((i) => i.status === 200).length;
      if (hits.length < PAGE) break;
    }
    return deleted;
  }

  /** Waits out Elasticsearch outages for a write that must not be lost (bounded by bufferLimit). */
  private async untilDurable<T>(what: string, fn: () => Promise<T>): Promise<T> {
    const buffered = (this.bulk?.bufferedRecords ?? 0) + this.pendingDurable;
    if (buffered + 1 > this.bufferLimit) {
      this.o.metrics?.storageDropped?.inc(1);
      const msg = `Elasticsearch storage buffer full: ${buffered} records are waiting for ${this.target} (bufferLimit ${this.bufferLimit}); ${what} refused`;
      this.log.error({ buffered, bufferLimit: this.bufferLimit }, msg);
      throw new Error(msg);
    }
    this.pendingDurable++;
    this.reportBuffered();
    let attempt = 0;
    let lastLog = 0;
    try {
      for (;;) {
        try {
          return await fn();
        } catch (err) {
          if (!isRetryable(err) || this.closed) throw err;
          attempt++;
          const now = Date.now();
          if (attempt === 1 || now - lastLog >= 10_000) {
            lastLog = now;
            this.log.warn(
              { target: this.target, what, err: errorText(err) },
              `Elasticsearch at ${this.target} unavailable: ${what} waits and retries`,
            );
          }
          await sleep(Math.min(5_000, 100 * 2 ** Math.min(attempt, 6)));
        }
      }
    } finally {
      this.pendingDurable--;
      this.reportBuffered();
    }
  }

  // ---------------------------------------------------------------- services / instances

  async upsertService(service: ServiceRecord): Promise<void> {
    await this.mergeUpsert(this.names.metadata('service_traffic'), docId(service.id), (old) => {
      const layers = old ? [...((old.layers as string[]) ?? [])] : [];
      for (const l of service.layers) if (!layers.includes(l)) layers.push(l);
      return {
        id: service.id,
        service_traffic_name: service.name,
        short_name: service.shortName,
        service_group: service.group,
        normal: service.normal,
        layers,
        last_ping: Math.max(Number(old?.last_ping ?? -Infinity), service.lastSeen),
      };
    });
  }

  private toService = (d: Doc): ServiceRecord => ({
    id: String(d.id),
    name: String(d.service_traffic_name),
    shortName: String(d.short_name),
    group: String(d.service_group ?? ''),
    normal: Boolean(d.normal),
    layers: (d.layers as string[]) ?? [],
    lastSeen: Number(d.last_ping),
  });

  async listServices(layer?: string): Promise<ServiceRecord[]> {
    const query = layer === undefined ? { match_all: {} } : { term: { layers: layer } };
    return (
      await this.searchAll(this.names.metadata('service_traffic'), query, [
        { service_traffic_name: 'asc' },
        { id: 'asc' },
      ])
    ).map(this.toService);
  }

  async getService(id: string): Promise<ServiceRecord | null> {
    const d = await this.getDoc(this.names.metadata('service_traffic'), docId(id));
    return d ? this.toService(d.source) : null;
  }

  async upsertInstance(instance: InstanceRecord): Promise<void> {
    await this.mergeUpsert(this.names.metadata('instance_traffic'), docId(instance.id), (old) => ({
      id: instance.id,
      service_id: instance.serviceId,
      instance_traffic_name: instance.name,
      layer: instance.layer,
      properties: instance.attributes ?? [],
      last_ping: Math.max(Number(old?.last_ping ?? -Infinity), instance.lastSeen),
    }));
  }

  private toInstance = (d: Doc): InstanceRecord => ({
    id: String(d.id),
    serviceId: String(d.service_id),
    name: String(d.instance_traffic_name),
    layer: String(d.layer),
    attributes: (d.properties as InstanceRecord['attributes']) ?? [],
    lastSeen: Number(d.last_ping),
  });

  async listInstances(serviceId: string, seenSince?: number): Promise<InstanceRecord[]> {
    const filter: estypes.QueryDslQueryContainer[] = [{ term: { service_id: serviceId } }];
    if (seenSince !== undefined) filter.push({ range: { last_ping: { gte: seenSince } } });
    return (
      await this.searchAll(this.names.metadata('instance_traffic'), { bool: { filter } }, [
        { instance_traffic_name: 'asc' },
        { id: 'asc' },
      ])
    ).map(this.toInstance);
  }

  async getInstance(id: string): Promise<InstanceRecord | null> {
    const d = await this.getDoc(this.names.metadata('instance_traffic'), docId(id));
    return d ? this.toInstance(d.source) : null;
  }

  // ---------------------------------------------------------------- processes

  private processDoc(p: ProcessRecord, firstSeen: number): Doc {
    return {
      id: p.id,
      name: p.name,
      service_id: p.serviceId,
      service_name: p.serviceName,
      instance_id: p.instanceId,
      instance_name: p.instanceName,
      layer: p.layer,
      agent_id: p.agentId,
      detect_type: p.detectType,
      labels: p.labels ?? [],
      properties: p.properties ?? {},
      profiling_support_status: p.profilingSupported,
      first_ping: firstSeen,
      last_ping: p.lastSeen,
    };
  }

  private toProcess = (d: Doc): ProcessRecord => ({
    id: String(d.id),
    name: String(d.name),
    serviceId: String(d.service_id),
    serviceName: String(d.service_name),
    instanceId: String(d.instance_id),
    instanceName: String(d.instance_name),
    layer: String(d.layer),
    agentId: String(d.agent_id),
    detectType: String(d.detect_type) as DetectType,
    labels: (d.labels as string[]) ?? [],
    properties: (d.properties as Record<string, string>) ?? {},
    profilingSupported: Boolean(d.profiling_support_status),
    firstSeen: Number(d.first_ping),
    lastSeen: Number(d.last_ping),
  });

  async upsertProcesses(processes: ProcessRecord[]): Promise<void> {
    if (processes.length === 0) return;
    const index = this.names.metadata('process_traffic');
    // The last report of a process in the batch wins; firstSeen keeps the oldest of all.
    let pending = new Map<string, ProcessRecord & { minFirst: number }>();
    for (const p of processes) {
      const known = pending.get(p.id);
      pending.set(p.id, { ...p, minFirst: Math.min(p.firstSeen, known?.minFirst ?? Infinity) });
    }
    for (let attempt = 0; pending.size > 0; attempt++) {
      const ids = [...pending.keys()];
      const got = await this.es.mget<Doc>({ index, ids: ids.map(docId) });
      const ops: unknown[] = [];
      const order: string[] = [];
      got.docs.forEach((d, i) => {
        const p = pending.get(ids[i]!)!;
        const found = 'found' in d && d.found && d._source;
        const first = found ? Math.min(Number(d._source!.first_ping), p.minFirst) : p.minFirst;
        ops.push(
          found
            ? {
                index: {
                  _index: index,
                  _id: docId(p.id),
                  if_seq_no: (d as { _seq_no: number })._seq_no,
                  if_primary_term: (d as { _primary_term: number })._primary_term,
                },
              }
            : { create: { _index: index, _id: docId(p.id) } },
          this.processDoc(p, first),
        );
        order.push(p.id);
      });
      const items = await this.bulkWrite(ops);
      const retry = new Map<string, ProcessRecord & { minFirst: number }>();
      items.forEach((it, i) => {
        if (it.status === 409 && attempt < 50) retry.set(order[i]!, pending.get(order[i]!)!);
      });
      this.throwItemErrors(items, attempt < 50 ? [409] : []);
      pending = retry;
    }
  }

  private processQuery(filter: ProcessFilter): estypes.QueryDslQueryContainer {
    const f: estypes.QueryDslQueryContainer[] = [];
    if (filter.serviceId !== undefined) f.push({ term: { service_id: filter.serviceId } });
    if (filter.instanceId !== undefined) f.push({ term: { instance_id: filter.instanceId } });
    if (filter.agentId !== undefined) f.push({ term: { agent_id: filter.agentId } });
    if (filter.seenSince !== undefined) f.push({ range: { last_ping: { gte: filter.seenSince } } });
    if (filter.seenUntil !== undefined) {
      f.push({ range: { last_ping: { lte: filter.seenUntil } } }, { range: { first_ping: { lte: filter.seenUntil } } });
    }
    if (filter.profilingSupported !== undefined)
      f.push({ term: { profiling_support_status: filter.profilingSupported } });
    return { bool: { filter: f } };
  }

  async listProcesses(filter: ProcessFilter): Promise<ProcessRecord[]> {
    return (
      await this.searchAll(this.names.metadata('process_traffic'), this.processQuery(filter), [
        { name: 'asc' },
        { id: 'asc' },
      ])
    ).map(this.toProcess);
  }

  async countProcesses(filter: ProcessFilter): Promise<number> {
    return (await this.es.count({ index: this.names.metadata('process_traffic'), query: this.processQuery(filter) }))
      .count;
  }

  async getProcess(id: string): Promise<ProcessRecord | null> {
    const d = await this.getDoc(this.names.metadata('process_traffic'), docId(id));
    return d ? this.toProcess(d.source) : null;
  }

  async getProcesses(ids: string[]): Promise<ProcessRecord[]> {
    const unique = [...new Set(ids)];
    const out: ProcessRecord[] = [];
    for (let i = 0; i < unique.length; i += PAGE) {
      const r = await this.es.mget<Doc>({
        index: this.names.metadata('process_traffic'),
        ids: unique.slice(i, i + PAGE).map(docId),
      });
      for (const d of r.docs) if ('found' in d && d.found && d._source) out.push(this.toProcess(d._source));
    }
    return out;
  }

  async addServiceLabels(serviceId: string, labels: string[]): Promise<void> {
    const index = this.names.metadata('service_label');
    const ops: unknown[] = [];
    for (const label of new Set(labels)) {
      ops.push({ index: { _index: index, _id: docId(`${serviceId}_${label}`) } }, { service_id: serviceId, label });
    }
    this.throwItemErrors(await this.bulkWrite(ops));
  }

  async listServiceLabels(serviceId: string): Promise<string[]> {
    return (
      await this.searchAll(this.names.metadata('service_label'), { term: { service_id: serviceId } }, [
        { label: 'asc' },
      ])
    ).map((d) => String(d.label));
  }

  // ---------------------------------------------------------------- tasks and schedules

  async saveTask(task: TaskRecord): Promise<void> {
    await this.es.index({
      index: this.names.metadata('ebpf_profiling_task'),
      id: sha256Hex(task.taskId, task.createTime),
      refresh: true,
      document: {
        logical_id: task.taskId,
        service_id: task.serviceId,
        instance_id: task.instanceId ?? '',
        process_labels: task.processLabels ?? [],
        start_time: task.startTime,
        trigger_type: task.triggerType,
        target_type: task.targetType,
        fixed_trigger_duration: task.fixedTriggerDuration,
        create_time: task.createTime,
        last_update_time: task.lastUpdateTime,
        extension_config_json: task.extensionConfigJson ?? '',
        continuous_profiling_json: task.continuousProfilingJson ?? '',
      },
    });
  }

  private toTask = (d: Doc): TaskRecord => ({
    taskId: String(d.logical_id),
    serviceId: String(d.service_id),
    instanceId: String(d.instance_id ?? ''),
    processLabels: (d.process_labels as string[]) ?? [],
    startTime: Number(d.start_time),
    triggerType: String(d.trigger_type) as TriggerType,
    targetType: String(d.target_type) as TargetType,
    fixedTriggerDuration: Number(d.fixed_trigger_duration),
    createTime: Number(d.create_time),
    lastUpdateTime: Number(d.last_update_time),
    extensionConfigJson: String(d.extension_config_json ?? ''),
    continuousProfilingJson: String(d.continuous_profiling_json ?? ''),
  });

  private taskSort: estypes.SortCombinations[] = [{ create_time: 'desc' }, { logical_id: 'asc' }];

  async queryTasks(filter: TaskFilter): Promise<TaskRecord[]> {
    const f: estypes.QueryDslQueryContainer[] = [];
    if (filter.serviceId !== undefined) f.push({ term: { service_id: filter.serviceId } });
    if (filter.serviceIds && filter.serviceIds.length > 0) f.push({ terms: { service_id: filter.serviceIds } });
    if (filter.instanceId !== undefined) f.push({ term: { instance_id: filter.instanceId } });
    if (filter.targetTypes && filter.targetTypes.length > 0) f.push({ terms: { target_type: filter.targetTypes } });
    if (filter.triggerType !== undefined) f.push({ term: { trigger_type: filter.triggerType } });
    if (filter.startTimeFrom) f.push({ range: { start_time: { gte: filter.startTimeFrom } } });
    if (filter.startTimeTo) f.push({ range: { start_time: { lte: filter.startTimeTo } } });
    if (filter.updatedAfter !== undefined) f.push({ range: { last_update_time: { gt: filter.updatedAfter } } });
    return (
      await this.searchAll(this.names.metadata('ebpf_profiling_task'), { bool: { filter: f } }, this.taskSort)
    ).map(this.toTask);
  }

  async getTaskRecords(taskId: string): Promise<TaskRecord[]> {
    return (
      await this.searchAll(this.names.metadata('ebpf_profiling_task'), { term: { logical_id: taskId } }, this.taskSort)
    ).map(this.toTask);
  }

  async upsertSchedule(schedule: ScheduleRecord): Promise<void> {
    const index = this.names.metadata('ebpf_profiling_schedule');
    await this.untilDurable(`schedule ${schedule.scheduleId}`, () =>
      this.mergeUpsert(index, docId(`${schedule.taskId}_${schedule.scheduleId}`), (old) => ({
        ebpf_profiling_schedule_id: schedule.scheduleId,
        task_id: schedule.taskId,
        process_id: schedule.processId,
        start_time: old ? Number(old.start_time) : schedule.startTime,
        end_time: Math.max(Number(old?.end_time ?? -Infinity), schedule.endTime),
      })),
    );
  }

  async querySchedules(taskId: string): Promise<ScheduleRecord[]> {
    const docs = await this.searchAll(this.names.metadata('ebpf_profiling_schedule'), { term: { task_id: taskId } }, [
      { start_time: 'asc' },
      { ebpf_profiling_schedule_id: 'asc' },
    ]);
    return docs.map((d) => ({
      scheduleId: String(d.ebpf_profiling_schedule_id),
      taskId: String(d.task_id),
      processId: String(d.process_id),
      startTime: Number(d.start_time),
      endTime: Number(d.end_time),
    }));
  }

  // ---------------------------------------------------------------- profiling data

  private stackKey(frames: readonly StackFrame[]): string {
    let key = '';
    for (const f of frames) {
      let id = this.symbolIds.get(f.symbol);
      if (id === undefined) {
        id = this.symbolIds.size;
        this.symbolIds.set(f.symbol, id);
      }
      key += (f.stackType === 'KERNEL_SPACE' ? 'K' : 'U') + id.toString(36);
    }
    return key;
  }

  private stackHash(frames: readonly StackFrame[]): { hash: string; json?: string } {
    if (this.stackHashes.size > STACK_CACHE_LIMIT || this.symbolIds.size > 5 * STACK_CACHE_LIMIT) {
      this.stackHashes.clear();
      this.symbolIds.clear();
    }
    const k = this.stackKey(frames);
    const known = this.stackHashes.get(k);
    if (known) return { hash: known };
    const json = canonicalFramesJson(frames);
    const hash = createHash('sha1').update(json).digest('hex');
    this.stackHashes.set(k, hash);
    return { hash, json };
  }

  private async sendBulk(ops: BulkOperation[]): Promise<BulkResponseItem[]> {
    const operations: unknown[] = [];
    for (const op of ops) {
      operations.push(op.action);
      if (op.doc !== undefined) operations.push(op.doc);
    }
    const r = await this.es.bulk({ operations, refresh: true });
    return r.items.map((i) => Object.values(i)[0] as BulkResponseItem);
  }

  async writeProfilingData(records: ProfilingDataRecord[]): Promise<void> {
    if (!Array.isArray(records)) throw new TypeError('writeProfilingData: records must be an array');
    const days: string[] = [];
    for (let i = 0; i < records.length; i++) {
      assertValidProfilingRecord(records[i], i);
      try {
        days.push(utcDay(records[i]!.uploadTime));
      } catch {
        throw new TypeError(
          `invalid profiling data record #${i}: uploadTime ${records[i]!.uploadTime} is out of range`,
        );
      }
    }
    if (records.length === 0) return;
    const bulk = this.bulk;
    if (!bulk)
      throw new Error(this.closed ? 'ElasticsearchStorage is closed' : 'ElasticsearchStorage: call init() first');

    const stackOps = new Map<string, BulkOperation>();
    const recordOps = new Map<string, BulkOperation>();
    for (let i = 0; i < records.length; i++) {
      const r = records[i]!;
      const day = days[i]!;
      const index = this.names.recordsDay(day);
      const { hash } = this.stackHash(r.frames);
      const stackKey = `${day}|${hash}`;
      if (!this.stacksStored.has(stackKey) && !stackOps.has(stackKey)) {
        stackOps.set(stackKey, {
          action: { create: { _index: index, _id: `${RECORD_TABLE_STACK}_${hash}` } },
          doc: {
            record_table: RECORD_TABLE_STACK,
            stack_hash: hash,
            time_bucket: secondTimeBucket(r.uploadTime),
            frames: r.frames.map((f) => ({ symbol: f.symbol, stackType: f.stackType })),
          },
          records: 0,
          okStatuses: [409],
        });
      }
      const id = `${RECORD_TABLE_DATA}_${sha256Hex(r.scheduleId, r.stackIdList, r.uploadTime)}`;
      const durationValue = r.targetType === 'ON_CPU' ? r.count : r.duration;
      recordOps.delete(id); // a later duplicate in the batch wins (and keeps its own place)
      recordOps.set(id, {
        action: { index: { _index: index, _id: id } },
        doc: {
          record_table: RECORD_TABLE_DATA,
          schedule_id: r.scheduleId,
          task_id: r.taskId,
          stack_id: r.stackIdList,
          target_type: r.targetType,
          upload_time: r.uploadTime,
          time_bucket: secondTimeBucket(r.uploadTime),
          stack_hash: hash,
          dump_count: r.count,
          duration: r.duration,
          duration_value: durationValue,
          dedupe_count: `${hash}:${r.uploadTime}:${r.count}`,
          dedupe_duration: `${hash}:${r.uploadTime}:${durationValue}`,
        },
        records: 1,
      });
    }
    await bulk.add([...stackOps.values(), ...recordOps.values()]);
    if (this.stacksStored.size + stackOps.size > STACK_CACHE_LIMIT) this.stacksStored.clear();
    for (const k of stackOps.keys()) this.stacksStored.add(k);
  }

  async queryProfilingStacks(
    scheduleIds: string[],
    ranges: TimeRange[],
    aggregate: 'COUNT' | 'DURATION',
  ): Promise<AggregatedStack[]> {
    const valid = ranges.filter((r) => Number.isFinite(r.start) && Number.isFinite(r.end) && r.start <= r.end);
    const schedules = [...new Set(scheduleIds)];
    if (schedules.length === 0 || valid.length === 0) return [];
    const valueField = aggregate === 'COUNT' ? 'dump_count' : 'duration_value';
    const dedupeField = aggregate === 'COUNT' ? 'dedupe_count' : 'dedupe_duration';
    const query: estypes.QueryDslQueryContainer = {
      bool: {
        filter: [
          { term: { record_table: RECORD_TABLE_DATA } },
          { terms: { schedule_id: schedules } },
          {
            bool: {
              should: valid.map((r) => ({ range: { upload_time: { gte: r.start, lte: r.end } } })),
              minimum_should_match: 1,
            },
          },
        ],
      },
    };
    const sums =
      (await this.aggregateFast(query, valueField, dedupeField)) ?? (await this.aggregateExact(query, valueField));
    if (sums.size === 0) return [];
    const ordered = [...sums.entries()].sort(
      (a, b) => a[1].first - b[1].first || (a[0] < b[0] ? -1 : a[0] > b[0] ? 1 : 0),
    );
    const frames = await this.loadStacks(ordered.map(([hash, s]) => ({ hash, day: utcDay(s.first) })));
    const out: AggregatedStack[] = [];
    for (const [hash, s] of ordered) {
      const f = frames.get(hash);
      if (!f) {
        this.log.warn({ hash }, `stack ${hash} has records but no stored frames; left out of the analysis`);
        continue;
      }
      out.push({ frames: f.map((x) => ({ symbol: x.symbol, stackType: x.stackType })), value: s.value });
    }
    return out;
  }

  /**
   * Sums per stack in Elasticsearch (composite over stack_hash with sum and min), corrected for the
   * dedupe rule: a terms aggregation over the record's dedupe key ("hash:uploadTime:value",
   * min_doc_count 2) finds every group of n identical records, and (n-1)·value is taken off.
   * A key lives in one daily index (one shard), so its count is exact; when there are as many
   * groups as the aggregation returns at most, null sends the caller to the exact path.
   */
  private async aggregateFast(
    query: estypes.QueryDslQueryContainer,
    valueField: string,
    dedupeField: string,
  ): Promise<Map<string, { value: number; first: number }> | null> {
    const limit = this.o.dedupeGroupLimit ?? DUP_LIMIT;
    const dups = await this.es.search({
      index: this.names.recordsPattern,
      allow_no_indices: true,
      ignore_unavailable: true,
      size: 0,
      query,
      aggs: { d: { terms: { field: dedupeField, min_doc_count: 2, size: limit } } },
    });
    const dupBuckets =
      (dups.aggregations?.d as { buckets: Array<{ key: string; doc_count: number }> } | undefined)?.buckets ?? [];
    if (dupBuckets.length >= limit) return null;
    const correction = new Map<string, number>();
    for (const b of dupBuckets) {
      const [hash, , value] = b.key.split(':');
      correction.set(hash!, (correction.get(hash!) ?? 0) + Number(value) * (b.doc_count - 1));
    }
    const out = new Map<string, { value: number; first: number }>();
    const buckets = this.compositeBuckets<{ key: { h: string }; total: { value: number }; first: { value: number } }>(
      query,
      COMPOSITE_PAGE,
      [{ h: { terms: { field: 'stack_hash' } } }],
      { total: { sum: { field: valueField } }, first: { min: { field: 'upload_time' } } },
    );
    for await (const b of buckets) {
      out.set(b.key.h, { value: b.total.value - (correction.get(b.key.h) ?? 0), first: b.first.value });
    }
    return out;
  }

  /** Every bucket of a composite aggregation over the record indices, page after page. */
  private async *compositeBuckets<B>(
    query: estypes.QueryDslQueryContainer,
    pageSize: number,
    sources: Array<Record<string, estypes.AggregationsCompositeAggregationSource>>,
    subAggs?: Record<string, estypes.AggregationsAggregationContainer>,
  ): AsyncGenerator<B> {
    let after: Record<string, string | number> | undefined;
    for (;;) {
      const r = await this.es.search({
        index: this.names.recordsPattern,
        allow_no_indices: true,
        ignore_unavailable: true,
        size: 0,
        query,
        aggs: {
          c: {
            composite: { size: pageSize, sources, ...(after ? { after } : {}) },
            ...(subAggs ? { aggs: subAggs } : {}),
          },
        },
      });
      const agg = (r.aggregations?.c ?? { buckets: [] }) as {
        buckets: B[];
        after_key?: Record<string, string | number>;
      };
      yield* agg.buckets;
      if (agg.buckets.length < pageSize || !agg.after_key) return;
      after = agg.after_key;
    }
  }

  /** Exact dedupe: one composite bucket per distinct (stack, uploadTime, value). */
  private async aggregateExact(
    query: estypes.QueryDslQueryContainer,
    valueField: string,
  ): Promise<Map<string, { value: number; first: number }>> {
    const out = new Map<string, { value: number; first: number }>();
    const buckets = this.compositeBuckets<{ key: { h: string; t: number; v: number } }>(query, 10_000, [
      { h: { terms: { field: 'stack_hash' } } },
      { t: { terms: { field: 'upload_time' } } },
      { v: { terms: { field: valueField } } },
    ]);
    for await (const { key } of buckets) {
      const acc = out.get(key.h);
      if (acc) {
        acc.value += key.v;
        acc.first = Math.min(acc.first, key.t);
      } else out.set(key.h, { value: key.v, first: key.t });
    }
    return out;
  }

  /** Frames of stacks, read from the daily index of their first record (any daily index as a fallback). */
  private async loadStacks(wanted: Array<{ hash: string; day: string }>): Promise<Map<string, StackFrame[]>> {
    const out = new Map<string, StackFrame[]>();
    for (let i = 0; i < wanted.length; i += PAGE) {
      const part = wanted.slice(i, i + PAGE);
      const r = await this.es.mget<{ frames: StackFrame[] }>({
        docs: part.map((w) => ({
          _index: this.names.recordsDay(w.day),
          _id: `${RECORD_TABLE_STACK}_${w.hash}`,
          _source: ['frames'],
        })),
      });
      r.docs.forEach((d, j) => {
        if ('found' in d && d.found && d._source) out.set(part[j]!.hash, d._source.frames);
      });
    }
    const missing = wanted.filter((w) => !out.has(w.hash)).map((w) => `${RECORD_TABLE_STACK}_${w.hash}`);
    for (let i = 0; i < missing.length; i += PAGE) {
      const r = await this.es.search<{ stack_hash: string; frames: StackFrame[] }>({
        index: this.names.recordsPattern,
        allow_no_indices: true,
        query: { ids: { values: missing.slice(i, i + PAGE) } },
        size: 10_000,
        _source: ['stack_hash', 'frames'],
      });
      for (const h of r.hits.hits) if (h._source) out.set(h._source.stack_hash, h._source.frames);
    }
    return out;
  }

  // ---------------------------------------------------------------- continuous profiling, UI templates

  async savePolicy(policy: ContinuousPolicyRecord): Promise<void> {
    await this.es.index({
      index: this.names.metadata('management'),
      id: docId(`${MANAGEMENT_POLICY}_${policy.serviceId}`),
      refresh: true,
      document: {
        management_table: MANAGEMENT_POLICY,
        service_id: policy.serviceId,
        uuid: policy.uuid,
        configuration_json: policy.configurationJson,
        update_time: policy.updateTime,
      },
    });
  }

  async getPolicies(serviceIds: string[]): Promise<ContinuousPolicyRecord[]> {
    const unique = [...new Set(serviceIds)];
    if (unique.length === 0) return [];
    const r = await this.es.mget<Doc>({
      index: this.names.metadata('management'),
      ids: unique.map((s) => docId(`${MANAGEMENT_POLICY}_${s}`)),
    });
    const out: ContinuousPolicyRecord[] = [];
    for (const d of r.docs) {
      if (!('found' in d) || !d.found || !d._source) continue;
      const s = d._source;
      out.push({
        serviceId: String(s.service_id),
        uuid: String(s.uuid),
        configurationJson: String(s.configuration_json),
        updateTime: Number(s.update_time),
      });
    }
    return out.sort((a, b) => (a.serviceId < b.serviceId ? -1 : a.serviceId > b.serviceId ? 1 : 0));
  }

  async saveUiTemplate(template: UiTemplateRecord): Promise<void> {
    await this.es.index({
      index: this.names.metadata('management'),
      id: docId(`${MANAGEMENT_UI_TEMPLATE}_${template.id}`),
      refresh: true,
      document: {
        management_table: MANAGEMENT_UI_TEMPLATE,
        template_id: template.id,
        configuration: template.configuration,
        activated: template.activated,
        disabled: template.disabled,
        update_time: template.updateTime,
      },
    });
  }

  private toTemplate = (d: Doc): UiTemplateRecord => ({
    id: String(d.template_id),
    configuration: String(d.configuration),
    activated: Boolean(d.activated),
    disabled: Boolean(d.disabled),
    updateTime: Number(d.update_time),
  });

  async getUiTemplate(id: string): Promise<UiTemplateRecord | null> {
    const d = await this.getDoc(this.names.metadata('management'), docId(`${MANAGEMENT_UI_TEMPLATE}_${id}`));
    return d ? this.toTemplate(d.source) : null;
  }

  async listUiTemplates(includeDisabled: boolean): Promise<UiTemplateRecord[]> {
    const filter: estypes.QueryDslQueryContainer[] = [{ term: { management_table: MANAGEMENT_UI_TEMPLATE } }];
    if (!includeDisabled) filter.push({ term: { disabled: false } });
    return (
      await this.searchAll(this.names.metadata('management'), { bool: { filter } }, [{ template_id: 'asc' }])
    ).map(this.toTemplate);
  }

  // ---------------------------------------------------------------- metrics

  async addMetricValues(records: MetricValueRecord[]): Promise<void> {
    const merged = mergeMetricValues(records);
    // One document per (metric, minute, entity); the label sets of a labeled metric share it.
    const byDoc = new Map<string, MetricDocWrite>();
    for (const r of merged) {
      const index = this.names.metricsDay(utcDay(r.timeBucket));
      const id = docId(`${r.metric}_${minuteTimeBucket(r.timeBucket)}_${r.entityId}`);
      const key = `${index}/${id}`;
      const doc = byDoc.get(key);
      if (doc) doc.records.push(r);
      else byDoc.set(key, { index, id, records: [r] });
    }
    let pending = [...byDoc.values()];
    for (let attempt = 1; pending.length > 0; attempt++) {
      if (attempt > 50) {
        throw new Error(
          `metric values: ${pending.length} documents still conflicting after 50 attempts; not all added`,
        );
      }
      if (attempt > 1) await sleep(Math.floor(Math.random() * 20 * attempt));
      const got = await this.es.mget<Doc>({ docs: pending.map((d) => ({ _index: d.index, _id: d.id })) });
      const operations: unknown[] = [];
      pending.forEach((d, i) => {
        const g = got.docs[i];
        if (g && 'error' in g && g.error.type !== 'index_not_found_exception') {
          throw new Error(
            `cannot read metric document ${d.id} from ${d.index}: ${g.error.type}: ${g.error.reason ?? ''}`,
          );
        }
        const found = g && 'found' in g && g.found ? g : null;
        operations.push(
          found
            ? { index: { _index: d.index, _id: d.id, if_seq_no: found._seq_no, if_primary_term: found._primary_term } }
            : { create: { _index: d.index, _id: d.id } },
          addToMetricDoc(found?._source ?? null, d.records),
        );
      });
      const items = await this.bulkWrite(operations);
      const retry: MetricDocWrite[] = [];
      const failed: string[] = [];
      items.forEach((it, i) => {
        if (!it.error) return;
        // 409: another writer changed (or created) it since the read; 429: rejected, not applied.
        if (it.status === 409 || it.status === 429) retry.push(pending[i]!);
        else failed.push(`${it._index}/${it._id} (status ${it.status}): ${it.error.type}: ${it.error.reason ?? ''}`);
      });
      if (failed.length > 0) {
        throw new Error(`Elasticsearch refused ${failed.length} metric documents, e.g. ${failed[0]}`);
      }
      pending = retry;
    }
  }

  async queryMetricValues(metric: string, entityId: string, range: TimeRange): Promise<MetricValueRecord[]> {
    const start = Math.max(0, Math.ceil(range.start / MINUTE_MS) * MINUTE_MS);
    const end = Math.min(MAX_TIME_BUCKET, Math.floor(range.end / MINUTE_MS) * MINUTE_MS);
    if (!(start <= end)) return [];
    const docs = await this.searchAll(
      this.names.metricsPattern,
      {
        bool: {
          filter: [
            { term: { metric_table: metric } },
            { term: { entity_id: entityId } },
            { range: { time_bucket: { gte: minuteTimeBucket(start), lte: minuteTimeBucket(end) } } },
          ],
        },
      },
      [{ time_bucket: 'asc' }],
    );
    const out: MetricValueRecord[] = [];
    for (const d of docs) {
      const base = {
        metric,
        entityId,
        serviceId: String(d.service_id ?? ''),
        timeBucket: minuteTimeBucketStart(Number(d.time_bucket)),
      };
      if (d.count !== undefined) {
        out.push({ ...base, labels: {}, summation: Number(d.summation), count: Number(d.count) });
      }
      const sums = (d.datatable_summation ?? {}) as Record<string, number>;
      const counts = (d.datatable_count ?? {}) as Record<string, number>;
      for (const key of Object.keys(counts).sort()) {
        out.push({
          ...base,
          labels: labelsFromKey(key),
          summation: Number(sums[key] ?? 0),
          count: Number(counts[key]),
        });
      }
    }
    return out;
  }

  // ---------------------------------------------------------------- TTL

  /** Daily indices of a pattern that end before the cut (`whole`) or hold it (`partial`). */
  private async dailyIndicesBefore(
    pattern: string,
    prefix: string,
    before: number,
  ): Promise<{ whole: string[]; partial: string[] }> {
    const existing = Object.keys(
      await this.es.indices.get({ index: pattern, allow_no_indices: true, expand_wildcards: 'open' }),
    );
    const whole: string[] = [];
    const partial: string[] = [];
    for (const index of existing) {
      const day = index.slice(prefix.length);
      if (!/^\d{8}$/.test(day)) continue;
      const { start, end } = dayBounds(day);
      if (end < before) whole.push(index);
      else if (start < before) partial.push(index);
    }
    return { whole, partial };
  }

  async deleteExpired(recordsBefore: number, metricsBefore: number): Promise<number> {
    const n = this.names;
    let total = 0;
    // Whole daily indices older than the cut go at once; the day holding the cut loses its expired documents one by one.
    const records = await this.dailyIndicesBefore(n.recordsPattern, n.recordsDay(''), recordsBefore);
    if (records.whole.length > 0) {
      const counted = await this.es.count({
        index: records.whole,
        query: { term: { record_table: RECORD_TABLE_DATA } },
      });
      await this.es.indices.delete({ index: records.whole });
      total += counted.count;
      this.stacksStored.clear();
    }
    if (records.partial.length > 0) {
      total += await this.deleteMatching(records.partial, {
        bool: {
          filter: [{ term: { record_table: RECORD_TABLE_DATA } }, { range: { upload_time: { lt: recordsBefore } } }],
        },
      });
    }
    const metrics = await this.dailyIndicesBefore(n.metricsPattern, n.metricsDay(''), metricsBefore);
    if (metrics.whole.length > 0) {
      total += (await this.es.count({ index: metrics.whole })).count;
      await this.es.indices.delete({ index: metrics.whole });
    }
    if (metrics.partial.length > 0) {
      const firstKept = minuteTimeBucket(Math.ceil(metricsBefore / MINUTE_MS) * MINUTE_MS);
      total += await this.deleteMatching(metrics.partial, { range: { time_bucket: { lt: firstKept } } });
    }
    total += await this.deleteMatching(n.metadata('ebpf_profiling_schedule'), {
      range: { end_time: { lt: recordsBefore } },
    });
    total += await this.deleteMatching(n.metadata('ebpf_profiling_task'), {
      range: { create_time: { lt: recordsBefore } },
    });
    total += await this.deleteMatching(n.metadata('process_traffic'), { range: { last_ping: { lt: metricsBefore } } });
    total += await this.deleteMatching(n.metadata('instance_traffic'), {
      range: { last_ping: { lt: metricsBefore } },
    });
    total += await this.deleteMatching(n.metadata('service_traffic'), { range: { last_ping: { lt: metricsBefore } } });
    return total;
  }
}

/** Deletes every index and the template of a namespace (tests and tools; never called by oap-lite itself). */
export const dropNamespace = async (client: Client, namespace: string): Promise<void> => {
  const n = indexNames(namespace);
  const daily = Object.keys(
    await client.indices.get({
      index: [n.recordsPattern, n.metricsPattern],
      allow_no_indices: true,
      expand_wildcards: 'all',
    }),
  );
  const all = [...n.allMetadata, ...daily];
  await client.indices.delete({ index: all, ignore_unavailable: true, allow_no_indices: true });
  await client.indices.deleteIndexTemplate({ name: n.recordsTemplate }, { ignore: [404] });
  await client.indices.deleteIndexTemplate({ name: n.metricsTemplate }, { ignore: [404] });
};
