/** The connection to Elasticsearch shared by the domain stores (see elasticsearch-storage.ts). */
import { Client, SniffingTransport, errors, type estypes } from '@elastic/elasticsearch';
import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { BulkProcessor, type BulkLog, type BulkOperation, type BulkResponseItem } from './bulk-processor';
import { errorText, isRetryable, statusOf } from './es-errors';
import { dayBounds, indexNames, type IndexNames } from './indices';
import { installIndices } from './install';

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
  /** Threads that build analyses' flame-graph trees (default 2, as many as analyses run at once by default). */
  analysisThreads?: number;
  /**
   * How long installing the indices may wait out shards not started yet and other transient
   * failures once Elasticsearch answers (default 120 s; other nodes may be installing them too).
   */
  startupWaitMs?: number;
  /** Heap limit (MB) of each analysis thread (analysis/thread-memory.ts); none when absent. */
  analysisThreadHeapMb?: number;
  log?: BulkLog;
  metrics?: { storageBuffered?: { set(n: number): void }; storageDropped?: { inc(n?: number): void } };
}

export type Doc = Record<string, unknown>;

export const silentLog: BulkLog = { info() {}, warn() {}, error() {} };
// Ref'd on purpose: every wait has a caller awaiting its outcome (init, a durable write), and
// the retry loops end once the storage is closed; an unref'd timer let a test's event loop drain.
export const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

export const sha256Hex = (...parts: Array<string | number>): string => {
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
export const docId = (id: string): string => (Buffer.byteLength(id) > 500 ? `sha256-${sha256Hex(id)}` : id);

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

/** Hits per page of a search. */
export const PAGE = 1000;

/**
 * The Elasticsearch cluster every Elasticsearch domain store works on: the client, the bulk
 * processor for records, and the helpers the stores share (optimistic merges, paging, deletes,
 * waiting out outages).
 */
export class EsConnection {
  readonly names: IndexNames;
  readonly target: string;
  private readonly nodes: string[];
  private client: Client | null = null;
  private probe: Client | null = null;
  private bulkProcessor: BulkProcessor | null = null;
  private isClosed = false;
  private serverVersion = '';
  readonly log: BulkLog;
  private readonly bufferLimit: number;
  /** Schedule upserts waiting for Elasticsearch. */
  private pendingDurable = 0;

  constructor(readonly o: ElasticsearchStorageOptions) {
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

  async open(): Promise<void> {
    if (this.isClosed) throw new Error('ElasticsearchStorage: init() after close()');
    if (this.client) return;
    this.probe = new Client({ ...this.clientOptions(), Transport: PLAIN_JSON });
    const major = await this.waitForElasticsearch(this.probe);
    const client = new Client({ ...this.clientOptions(), Transport: major >= 8 ? compatibleWith(major) : PLAIN_JSON });
    const boundMs = this.o.startupWaitMs ?? 120_000;
    try {
      await installIndices(
        client,
        this.names,
        { number_of_shards: 1, number_of_replicas: this.o.replicas ?? 1 },
        { log: this.log, target: this.target, boundMs, deadline: Date.now() + boundMs, closed: () => this.isClosed },
      );
    } catch (err) {
      await client.close();
      throw err;
    }
    this.client = client;
    const flushIntervalMs = this.o.flushIntervalMs ?? (this.o.flushIntervalSeconds ?? 1) * 1000;
    this.bulkProcessor = new BulkProcessor({
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
    this.o.metrics?.storageBuffered?.set((this.bulkProcessor?.bufferedRecords ?? 0) + this.pendingDurable);
  }

  /**
   * Polls GET / until Elasticsearch answers; returns the major version. The cluster's status is
   * not waited for: a red index of another program on a shared cluster must not keep oap-lite
   * from starting; oap-lite's own indices are waited for when they are installed (startup.ts).
   */
  private async waitForElasticsearch(probe: Client): Promise<number> {
    let attempt = 0;
    let lastLog = 0;
    const started = Date.now();
    for (;;) {
      if (this.isClosed)
        throw new Error(`ElasticsearchStorage closed while waiting for Elasticsearch at ${this.target}`);
      try {
        const info = await probe.info();
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

  get closed(): boolean {
    return this.isClosed;
  }

  /** The bulk processor of records; throws before init() and after close(). */
  get bulk(): BulkProcessor {
    if (!this.bulkProcessor)
      throw new Error(this.isClosed ? 'ElasticsearchStorage is closed' : 'ElasticsearchStorage: call init() first');
    return this.bulkProcessor;
  }

  async close(): Promise<void> {
    if (this.isClosed) return;
    this.isClosed = true;
    const bulk = this.bulkProcessor;
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
    this.bulkProcessor = null;
    const c = this.client;
    const p = this.probe;
    this.client = this.probe = null;
    await Promise.allSettled([c?.close(), p?.close()]);
  }

  get es(): Client {
    if (!this.client)
      throw new Error(this.isClosed ? 'ElasticsearchStorage is closed' : 'ElasticsearchStorage: call init() first');
    return this.client;
  }

  async getDoc(index: string, id: string): Promise<{ source: Doc; seqNo: number; primaryTerm: number } | null> {
    const r = await this.es.get<Doc>({ index, id }, { ignore: [404] });
    if (!r.found || !r._source) return null;
    return { source: r._source, seqNo: r._seq_no!, primaryTerm: r._primary_term! };
  }

  /** Read-modify-write of one document with optimistic concurrency. */
  async mergeUpsert(index: string, id: string, merge: (old: Doc | null) => Doc): Promise<void> {
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

  async bulkWrite(operations: unknown[]): Promise<estypes.BulkResponseItem[]> {
    if (operations.length === 0) return [];
    const r = await this.es.bulk({ operations, refresh: true });
    return r.items.map((i) => Object.values(i)[0]!);
  }

  throwItemErrors(items: estypes.BulkResponseItem[], ignore: number[] = []): void {
    for (const it of items) {
      if (it.error && !ignore.includes(it.status)) {
        throw new Error(
          `Elasticsearch refused a write to index ${it._index} (status ${it.status}): ${it.error.type}: ${it.error.reason ?? ''}`,
        );
      }
    }
  }

  /** Every hit of a query, paged with search_after over `sort` (which must be unique per doc). */
  async searchAll(
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
  async deleteMatching(index: string | string[], query: estypes.QueryDslQueryContainer): Promise<number> {
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
  async untilDurable<T>(what: string, fn: () => Promise<T>): Promise<T> {
    const buffered = (this.bulkProcessor?.bufferedRecords ?? 0) + this.pendingDurable;
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
          if (!isRetryable(err) || this.isClosed) throw err;
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

  private async sendBulk(ops: BulkOperation[]): Promise<BulkResponseItem[]> {
    const operations: unknown[] = [];
    for (const op of ops) {
      operations.push(op.action);
      if (op.doc !== undefined) operations.push(op.doc);
    }
    const r = await this.es.bulk({ operations, refresh: true });
    return r.items.map((i) => Object.values(i)[0] as BulkResponseItem);
  }

  /** Daily indices of a pattern that end before the cut (`whole`) or hold it (`partial`). */
  async dailyIndicesBefore(
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
}
