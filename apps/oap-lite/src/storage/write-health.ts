/**
 * Whether storage can write, as health reports it. A full disk shows first as a failed write
 * (SQLITE_FULL, ENOSPC): the first one of an episode is logged with the path and its free space,
 * later ones are not; the first write that succeeds again ends the episode (logged once too).
 * `watchWrites` puts a store's write methods under this watch, so no store needs to know.
 */
import { statfsSync } from 'node:fs';

/** What a storage backend answers to /healthcheck and checkHealth. */
export interface StorageHealth {
  /** The backend answers (the file reads, Elasticsearch responds). */
  reachable: boolean;
  /** Writes can be stored now. */
  writable: boolean;
  /** Why not, for people: empty when healthy. */
  details: string;
}

export interface HealthLog {
  error(obj: object, msg: string): void;
  info(obj: object, msg: string): void;
}

const DISK_FULL = /SQLITE_FULL|ENOSPC|database or disk is full|no space left on device/i;

export const isDiskFull = (err: unknown): boolean => {
  const e = err as { code?: unknown; message?: unknown } | null;
  return DISK_FULL.test(String(e?.code ?? '')) || DISK_FULL.test(String(e?.message ?? ''));
};

/** Bytes an unprivileged writer may still use on the filesystem of `path`; null when unknown. */
export const freeBytes = (path: string): number | null => {
  try {
    const s = statfsSync(path);
    return s.bavail * s.bsize;
  } catch {
    return null;
  }
};

/** Thrown for a write refused because the disk is full: retryable once space returns. */
export class StorageFullError extends Error {
  override name = 'StorageFullError';
}

export class DiskFullEpisodes {
  private since: number | null = null;

  constructor(
    /** The directory whose filesystem holds the data. */
    readonly path: string,
    private readonly log: HealthLog,
  ) {}

  /** Whether the last write failed for want of space (and none succeeded since). */
  get full(): boolean {
    return this.since !== null;
  }

  /** Notes a failed write; true when it failed for want of space. */
  failed(err: unknown): boolean {
    if (!isDiskFull(err)) return false;
    if (this.since === null) {
      this.since = Date.now();
      this.log.error(
        { path: this.path, freeBytes: freeBytes(this.path), err: (err as Error).message },
        'storage cannot write: the disk is full; writes fail until space returns',
      );
    }
    return true;
  }

  succeeded(): void {
    if (this.since === null) return;
    this.log.info(
      { path: this.path, freeBytes: freeBytes(this.path), fullForMs: Date.now() - this.since },
      'storage writes again: disk space returned',
    );
    this.since = null;
  }
}

/** Store methods that only read; every other method is watched as a write. */
const READ_METHOD = /^(list|get|query|count|find|estimate)/;

/**
 * The store with its write methods watched: a disk-full failure is noted (and rethrown as a
 * StorageFullError naming the path), a success ends an episode.
 */
export const watchWrites = <T extends object>(store: T, episodes: DiskFullEpisodes): T =>
  new Proxy(store, {
    get(target, key, receiver) {
      const value = Reflect.get(target, key, receiver) as unknown;
      if (typeof value !== 'function') return value;
      // Bound to the store itself, so its own calls (private helpers included) bypass the watch.
      if (typeof key !== 'string' || READ_METHOD.test(key)) return (value as (...a: unknown[]) => unknown).bind(target);
      return async (...args: unknown[]) => {
        try {
          const result = await (value as (...a: unknown[]) => unknown).apply(target, args);
          episodes.succeeded();
          return result;
        } catch (err) {
          if (episodes.failed(err)) {
            throw new StorageFullError(
              `storage cannot write: the disk holding ${episodes.path} is full (${(err as Error).message}); retry when space returns`,
            );
          }
          throw err;
        }
      };
    },
  });
