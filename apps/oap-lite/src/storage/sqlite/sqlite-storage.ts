/**
 * The embedded storage of oap-lite: one SQLite file (see connection.ts) through better-sqlite3,
 * one store per domain.
 */
import { DomainStorage } from '../domain-storage';
import { SqliteConnection } from './connection';
import { SqliteMetadataStore } from './metadata-store';
import { SqliteMeterStore } from './meter-store';
import { SqliteNetworkStore } from './network-store';
import { SqlitePolicyStore } from './policy-store';
import { SqliteProfilingDataStore } from './profiling-data-store';
import { SqliteTaskStore } from './task-store';
import { SqliteUiTemplateStore } from './ui-template-store';

export interface SqliteStorageOptions {
  /** Directory of the database file; created when missing. */
  dataDir: string;
  fileName?: string;
}

export class SqliteStorage extends DomainStorage {
  private readonly connection: SqliteConnection;
  readonly metadata: SqliteMetadataStore;
  readonly tasks: SqliteTaskStore;
  readonly profilingData: SqliteProfilingDataStore;
  readonly policies: SqlitePolicyStore;
  readonly uiTemplates: SqliteUiTemplateStore;
  readonly meters: SqliteMeterStore;
  readonly network: SqliteNetworkStore;

  constructor(options: SqliteStorageOptions) {
    super();
    const c = new SqliteConnection(options.dataDir, options.fileName);
    this.connection = c;
    this.metadata = new SqliteMetadataStore(c);
    this.tasks = new SqliteTaskStore(c);
    this.profilingData = new SqliteProfilingDataStore(c);
    this.policies = new SqlitePolicyStore(c);
    this.uiTemplates = new SqliteUiTemplateStore(c);
    this.meters = new SqliteMeterStore(c);
    this.network = new SqliteNetworkStore(c);
  }

  /** The database file. */
  get path(): string {
    return this.connection.path;
  }

  async init(): Promise<void> {
    this.connection.open();
  }

  async close(): Promise<void> {
    this.connection.close();
  }
}
