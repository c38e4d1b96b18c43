/**
 * The Elasticsearch storage of oap-lite (indices: see indices.ts; the connection and shared helpers:
 * connection.ts; one store per domain in *-store.ts).
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
import type { Client } from '@elastic/elasticsearch';
import { FlameThreads } from '../../analysis/flame-threads';
import { DomainStorage } from '../domain-storage';
import type { StorageHealth } from '../write-health';
import { EsConnection, type ElasticsearchStorageOptions } from './connection';
import { indexNames, type IndexNames } from './indices';
import { EsMetadataStore } from './metadata-store';
import { EsMeterStore } from './meter-store';
import { EsNetworkStore } from './network-store';
import { EsPolicyStore } from './policy-store';
import { EsProfilingDataStore } from './profiling-data-store';
import { EsTaskStore } from './task-store';
import { EsUiTemplateStore } from './ui-template-store';

export { type ElasticsearchStorageOptions } from './connection';

export class ElasticsearchStorage extends DomainStorage {
  private readonly connection: EsConnection;
  private readonly flameThreads: FlameThreads;
  readonly metadata: EsMetadataStore;
  readonly tasks: EsTaskStore;
  readonly profilingData: EsProfilingDataStore;
  readonly policies: EsPolicyStore;
  readonly uiTemplates: EsUiTemplateStore;
  readonly meters: EsMeterStore;
  readonly network: EsNetworkStore;

  constructor(options: ElasticsearchStorageOptions) {
    super();
    const c = new EsConnection(options);
    this.connection = c;
    this.metadata = new EsMetadataStore(c);
    this.tasks = new EsTaskStore(c);
    this.flameThreads = new FlameThreads(options.analysisThreads ?? 2, options.analysisThreadHeapMb);
    this.profilingData = new EsProfilingDataStore(c, this.flameThreads);
    this.policies = new EsPolicyStore(c);
    this.uiTemplates = new EsUiTemplateStore(c);
    this.meters = new EsMeterStore(c);
    this.network = new EsNetworkStore(c);
  }

  get names(): IndexNames {
    return this.connection.names;
  }

  /** The cluster's nodes, as given. */
  get target(): string {
    return this.connection.target;
  }

  /** The server's version, known after init(). */
  get version(): string {
    return this.connection.version;
  }

  async init(): Promise<void> {
    await this.connection.open();
  }

  async close(): Promise<void> {
    await this.flameThreads.close();
    await this.connection.close();
  }

  /**
   * Reachable when the cluster answers a health request within a few seconds; writable unless its
   * status is red or bulk writes are failing (they wait in the bounded buffer meanwhile).
   */
  async health(): Promise<StorageHealth> {
    let status: string;
    try {
      status = (await this.connection.es.cluster.health({ timeout: '2s' }, { requestTimeout: 3_000, maxRetries: 0 }))
        .status;
    } catch (err) {
      return {
        reachable: false,
        writable: false,
        details: `Elasticsearch ${this.target} does not answer: ${(err as Error).message}`,
      };
    }
    if (status === 'red') {
      return { reachable: true, writable: false, details: `Elasticsearch ${this.target} cluster status is red` };
    }
    const bulk = this.connection.bulk;
    if (bulk.retrying) {
      return {
        reachable: true,
        writable: false,
        details: `writes to Elasticsearch ${this.target} fail and are retried (${bulk.bufferedRecords} records buffered)`,
      };
    }
    return { reachable: true, writable: true, details: '' };
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
