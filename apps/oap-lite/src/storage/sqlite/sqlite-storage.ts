/**
 * The embedded storage of oap-lite: one SQLite file (see connection.ts) through better-sqlite3,
 * one store per domain.
 */
import { DomainStorage } from '../domain-storage';
import { DiskFullEpisodes, freeBytes, watchWrites, type HealthLog, type StorageHealth } from '../write-health';
import { SqliteConnection } from './connection';
import { SqliteMetadataStore } from './metadata-store';
import { SqliteMeterStore } from './meter-store';
import { SqliteNetworkStore } from './network-store';
import { SqlitePolicyStore } from './policy-store';
import { SqliteProfilingDataStore } from './profiling-data-store';
import { SqliteTaskStore } from './task-store';
import { StackReaders } from './stack-readers';
import { SqliteWriteThread } from './write-thread';
import { SqliteUiTemplateStore } from './ui-template-store';

export interface SqliteStorageOptions {
  /** Directory of the database file; created when missing. */
  dataDir: string;
  fileName?: string;
  /** Where a full disk is reported (once per episode). */
  log?: HealthLog;
  /**
   * Threads that run the heavy profiling-stacks read on connections of their own (0: on the main
   * thread, which then waits on it).
   */
  readThreads?: number;
  /**
   * Profiling uploads (and the schedules they extend) are written by a thread of their own with
   * its own connection, in group commits, so the event loop never waits on them (false: on the
   * main thread).
   */
  writeThread?: boolean;
  /** Heap limit (MB) of each reader thread (analysis/thread-memory.ts); none when absent. */
  analysisThreadHeapMb?: number;
  /** Below this many free bytes on the data directory's filesystem, health says writes may fail. */
  minFreeBytes?: number;
}

/** Default of SqliteStorageOptions.minFreeBytes: room for a few upload streams. */
export const DEFAULT_MIN_FREE_BYTES = 16 * 1024 * 1024;

const silentLog: HealthLog = { error: () => undefined, info: () => undefined };

export class SqliteStorage extends DomainStorage {
  private readonly connection: SqliteConnection;
  private readonly episodes: DiskFullEpisodes;
  private readonly minFreeBytes: number;
  private readonly readers: StackReaders | null;
  private readonly writer: SqliteWriteThread | null;
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
    this.minFreeBytes = options.minFreeBytes ?? DEFAULT_MIN_FREE_BYTES;
    const episodes = new DiskFullEpisodes(options.dataDir, options.log ?? silentLog);
    this.episodes = episodes;
    this.metadata = watchWrites(new SqliteMetadataStore(c), episodes);
    this.writer = options.writeThread ? new SqliteWriteThread(c.path) : null;
    this.tasks = watchWrites(new SqliteTaskStore(c, this.writer), episodes);
    this.readers = options.readThreads
      ? new StackReaders(c.path, options.readThreads, options.analysisThreadHeapMb)
      : null;
    this.profilingData = watchWrites(new SqliteProfilingDataStore(c, this.readers, this.writer), episodes);
    this.policies = watchWrites(new SqlitePolicyStore(c), episodes);
    this.uiTemplates = watchWrites(new SqliteUiTemplateStore(c), episodes);
    this.meters = watchWrites(new SqliteMeterStore(c), episodes);
    this.network = watchWrites(new SqliteNetworkStore(c), episodes);
  }

  /**
   * Reads the file, then judges writing: refused while a disk-full episode lasts (a probe write
   * ends it as soon as space returns, so health recovers without waiting for an agent), doubtful
   * when the filesystem has less than minFreeBytes left.
   */
  async health(): Promise<StorageHealth> {
    try {
      this.connection.conn.prepare('SELECT COUNT(*) FROM schema_version').get();
    } catch (err) {
      return { reachable: false, writable: false, details: `cannot read ${this.path}: ${(err as Error).message}` };
    }
    if (this.episodes.full) {
      try {
        this.connection.probeWrite();
        this.episodes.succeeded();
      } catch (err) {
        this.episodes.failed(err);
        return {
          reachable: true,
          writable: false,
          details: `the disk holding ${this.path} is full (${freeBytes(this.episodes.path) ?? 'unknown'} bytes free): ${(err as Error).message}`,
        };
      }
    }
    const free = freeBytes(this.episodes.path);
    if (free !== null && free < this.minFreeBytes) {
      return {
        reachable: true,
        writable: false,
        details: `only ${free} bytes free on the disk holding ${this.path} (less than ${this.minFreeBytes})`,
      };
    }
    return { reachable: true, writable: true, details: '' };
  }

  /** The database file. */
  get path(): string {
    return this.connection.path;
  }

  async init(): Promise<void> {
    this.connection.open();
  }

  async close(): Promise<void> {
    await this.writer?.close();
    await this.readers?.close();
    this.connection.close();
  }
}
