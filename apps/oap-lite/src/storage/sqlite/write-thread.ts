/**
 * The writer thread of the SQLite store: it owns the connection that writes profiling uploads, so
 * the event loop never waits on an insert, an index page or a commit. WAL lets the event loop's
 * connection and the reader threads read while it writes.
 *
 * Group commit: whatever writes arrive while a transaction runs are committed together by the
 * next one (profiling-writes.ts), up to GROUP_RECORDS records, each upload in a savepoint of its
 * own. A write's promise settles only after its transaction committed, so an upload is
 * acknowledged once its data is in the database file (WAL, synchronous=NORMAL: it survives the
 * process being killed, as every write of this store does).
 */
import Database from 'better-sqlite3';
import { isMainThread, parentPort, workerData } from 'node:worker_threads';
import { WorkerPool, type WorkerRole } from '../../core/worker-pool';
import type { ProfilingDataRecord } from '../types';
import { ProfilingWrites, type GroupWrite } from './profiling-writes';
import { decodeRecords, encodeRecords, wireBuffers, type WireRecords } from './upload-wire';

const ROLE = 'oap-lite-sqlite-writer';

/**
 * Records one transaction takes at most: a transaction holds SQLite's write lock, which the event
 * loop's own small writes (process reports, tasks) wait for, so it stays short (tens of ms).
 */
const GROUP_RECORDS = 5_000;

interface WriterData extends WorkerRole {
  path: string;
}

/** A write as it crosses: profiling records in their wire form (upload-wire.ts), or one statement. */
type WireWrite = { records: WireRecords } | { sql: string; params: unknown[] };
type RequestBody = { kind: 'write'; write: WireWrite } | { kind: 'expire'; before: number };
type Request = { id: number } & RequestBody;
/** An error crosses as its message and SQLite code, which write-health reads (SQLITE_FULL). */
type Reply = { id: number; result: number } | { id: number; error: { message: string; code?: string } };

export class SqliteWriteThread {
  private readonly pool: WorkerPool<Request, Reply>;
  private readonly inFlight = new Set<Promise<unknown>>();
  /**
   * Requests not yet sent, sent one per turn of the event loop: when a group commits, its uploads'
   * handlers all continue at once, and encoding all their next writes in one stretch would keep
   * the event loop from every other request meanwhile.
   */
  private readonly outbox: Array<() => void> = [];
  private sending = false;

  constructor(path: string, entry: URL = new URL(import.meta.url)) {
    const data: WriterData = { role: ROLE, path };
    this.pool = new WorkerPool('SQLite writer', entry, data, 1);
  }

  /** Stores the records (all or nothing); resolves once they committed. */
  writeProfilingData(records: readonly ProfilingDataRecord[]): Promise<void> {
    return this.request(() => {
      const wire = encodeRecords(records);
      return { body: { kind: 'write', write: { records: wire } }, transfer: wireBuffers(wire) };
    }).then(() => undefined);
  }

  /** Runs one statement of another store in the writer's transactions (no caller waits for SQLite's lock). */
  run(sql: string, params: unknown[]): Promise<void> {
    return this.request(() => ({ body: { kind: 'write', write: { sql, params } } })).then(() => undefined);
  }

  /** TTL of profiling data, on the writer's connection (its caches must forget what goes). */
  deleteExpired(before: number): Promise<number> {
    return this.request(() => ({ body: { kind: 'expire', before } }));
  }

  /** Sends what `make` builds, in its turn; resolves with the writer's reply. */
  private request(make: () => { body: RequestBody; transfer?: ArrayBuffer[] }): Promise<number> {
    const done = new Promise<number>((resolve, reject) => {
      this.outbox.push(() => {
        try {
          const { body, transfer } = make();
          const job = this.pool.start({
            reply: (r) => {
              if ('error' in r) reject(Object.assign(new Error(r.error.message), { code: r.error.code }));
              else resolve(r.result);
              return true;
            },
            fail: reject,
          });
          job.post({ ...body, id: job.id }, transfer);
        } catch (err) {
          reject(err as Error);
        }
      });
      if (!this.sending) {
        this.sending = true;
        setImmediate(this.sendNext);
      }
    });
    this.inFlight.add(done);
    const forget = () => this.inFlight.delete(done);
    done.then(forget, forget);
    return done;
  }

  private readonly sendNext = (): void => {
    this.outbox.shift()?.();
    if (this.outbox.length > 0) setImmediate(this.sendNext);
    else this.sending = false;
  };

  /** Waits for the writes already sent, then stops the thread. */
  async close(): Promise<void> {
    await Promise.allSettled([...this.inFlight]);
    await this.pool.close();
  }
}

const errorReply = (id: number, err: unknown): Reply => {
  const e = err as { message?: unknown; code?: unknown };
  return { id, error: { message: String(e?.message ?? err), code: typeof e?.code === 'string' ? e.code : undefined } };
};

const runWriter = (data: WriterData): void => {
  const db = new Database(data.path, { fileMustExist: true });
  db.pragma('journal_mode = WAL');
  db.pragma('synchronous = NORMAL');
  db.pragma('busy_timeout = 5000');
  db.pragma('cache_size = -32000');
  const writes = new ProfilingWrites(db);
  const port = parentPort!;
  const queue: Request[] = [];
  let scheduled = false;

  const commitWaiting = (): void => {
    scheduled = false;
    while (queue.length > 0) {
      const group: Array<{ id: number; write: GroupWrite }> = [];
      let records = 0;
      while (queue.length > 0 && (group.length === 0 || records < GROUP_RECORDS)) {
        const next = queue[0]!;
        if (next.kind === 'expire') {
          if (group.length > 0) break;
          queue.shift();
          try {
            port.postMessage({ id: next.id, result: writes.deleteExpired(next.before) } satisfies Reply);
          } catch (err) {
            port.postMessage(errorReply(next.id, err));
          }
          continue;
        }
        queue.shift();
        const write: GroupWrite = 'records' in next.write ? { records: decodeRecords(next.write.records) } : next.write;
        group.push({ id: next.id, write });
        records += 'records' in write ? write.records.length : 1;
      }
      if (group.length === 0) continue;
      let outcomes: Array<Error | null>;
      try {
        outcomes = writes.commitGroup(group.map((g) => g.write));
      } catch (err) {
        for (const g of group) port.postMessage(errorReply(g.id, err));
        continue;
      }
      group.forEach((g, i) =>
        port.postMessage(outcomes[i] ? errorReply(g.id, outcomes[i]) : ({ id: g.id, result: 0 } satisfies Reply)),
      );
      // Let the messages that came meanwhile in: they join the next group.
      if (queue.length > 0) {
        scheduled = true;
        setImmediate(commitWaiting);
        return;
      }
    }
  };

  port.on('message', (request: Request) => {
    queue.push(request);
    if (!scheduled) {
      scheduled = true;
      // After the messages already waiting were delivered: they commit in one transaction.
      setImmediate(commitWaiting);
    }
  });
};

if (!isMainThread && (workerData as WriterData | undefined)?.role === ROLE) runWriter(workerData as WriterData);
