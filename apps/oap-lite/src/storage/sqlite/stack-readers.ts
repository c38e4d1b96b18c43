/**
 * Reader workers for the heavy read of the SQLite store (aggregated profiling stacks): each
 * worker thread opens the database file with a connection of its own (WAL lets it read while the
 * main connection writes) and runs stack-query.ts there, so the event loop that serves ingest and
 * light queries never waits on that query. A request goes to the worker with the fewest in
 * flight; a worker that dies fails its requests and is replaced on the next one.
 *
 * The same module is the worker's entry: in the bundle (one file) the worker runs that file,
 * which starts here instead of the server (main.ts starts only on the main thread).
 */
import Database from 'better-sqlite3';
import { isMainThread, parentPort, Worker, workerData } from 'node:worker_threads';
import type { AggregatedStack, StackFrame } from '../types';
import { queryStackParts, type StackQuery, type StackRows } from './stack-query';

const ROLE = 'oap-lite-sqlite-stack-reader';

interface ReaderData {
  role: typeof ROLE;
  path: string;
}

type Request = StackQuery & { id: number };
/**
 * A result goes in parts of PART_ROWS rows, then `done`: the main thread deserializes each part as
 * its own message, never a whole 100 MB result in one stretch.
 */
type Reply = { id: number; part: StackRows } | { id: number; done: true } | { id: number; error: string };

const PART_ROWS = 500;

interface Reader {
  worker: Worker;
  inFlight: Map<
    number,
    { stacks: AggregatedStack[]; resolve: (stacks: AggregatedStack[]) => void; reject: (err: Error) => void }
  >;
}

export class StackReaders {
  private readonly readers: Array<Reader | null>;
  private nextId = 1;
  private closed = false;

  constructor(
    private readonly path: string,
    count: number,
    /** The module that hosts the worker: this file under tsx, the bundle when built. */
    private readonly entry: URL = new URL(import.meta.url),
  ) {
    this.readers = new Array<Reader | null>(count).fill(null);
  }

  /**
   * The aggregated stacks of the query. Each part is parsed as it arrives (one message, a few
   * milliseconds), so the main thread never holds the whole result as text nor parses it at once.
   */
  read(query: StackQuery): Promise<AggregatedStack[]> {
    if (this.closed) return Promise.reject(new Error('SqliteStorage is closed'));
    const reader = this.pick();
    const id = this.nextId++;
    return new Promise<AggregatedStack[]>((resolve, reject) => {
      reader.inFlight.set(id, { stacks: [], resolve, reject });
      reader.worker.postMessage({ id, ...query } satisfies Request);
    });
  }

  private pick(): Reader {
    let best = -1;
    for (let i = 0; i < this.readers.length; i++) {
      const r = this.readers[i];
      if (!r) {
        best = i;
        break;
      }
      if (best < 0 || r.inFlight.size < this.readers[best]!.inFlight.size) best = i;
    }
    return this.readers[best] ?? this.spawn(best);
  }

  private spawn(slot: number): Reader {
    const workerData: ReaderData = { role: ROLE, path: this.path };
    const worker = this.entry.pathname.endsWith('.ts')
      ? // Under tsx (tests, benchmarks) this file is TypeScript: the worker registers tsx's loader first.
        new Worker(
          `import(${JSON.stringify(import.meta.resolve('tsx/esm/api'))})` +
            `.then((tsx) => { tsx.register(); return import(${JSON.stringify(this.entry.href)}); })`,
          { eval: true, workerData },
        )
      : new Worker(this.entry, { workerData });
    worker.unref();
    const reader: Reader = { worker, inFlight: new Map() };
    const failAll = (err: Error) => {
      if (this.readers[slot] === reader) this.readers[slot] = null;
      for (const p of reader.inFlight.values()) p.reject(err);
      reader.inFlight.clear();
    };
    worker.on('message', (reply: Reply) => {
      const p = reader.inFlight.get(reply.id);
      if (!p) return;
      if ('part' in reply) {
        const { frames, values } = reply.part;
        for (let i = 0; i < frames.length; i++) {
          p.stacks.push({ frames: JSON.parse(frames[i]!) as StackFrame[], value: values[i]! });
        }
        return;
      }
      reader.inFlight.delete(reply.id);
      if ('error' in reply) p.reject(new Error(reply.error));
      else p.resolve(p.stacks);
    });
    worker.on('error', (err) => failAll(new Error(`SQLite reader thread failed: ${err.message}`)));
    worker.on('exit', (code) => failAll(new Error(`SQLite reader thread exited (code ${code})`)));
    this.readers[slot] = reader;
    return reader;
  }

  async close(): Promise<void> {
    this.closed = true;
    const running = this.readers.filter((r): r is Reader => r !== null);
    this.readers.fill(null);
    await Promise.all(running.map((r) => r.worker.terminate()));
  }
}

const runReader = (data: ReaderData): void => {
  const db = new Database(data.path, { fileMustExist: true });
  db.pragma('busy_timeout = 5000');
  db.pragma('cache_size = -32000');
  parentPort!.on('message', (request: Request) => {
    try {
      queryStackParts(db, request, PART_ROWS, (part) =>
        parentPort!.postMessage({ id: request.id, part } satisfies Reply),
      );
    } catch (err) {
      parentPort!.postMessage({ id: request.id, error: (err as Error).message } satisfies Reply);
      return;
    }
    parentPort!.postMessage({ id: request.id, done: true } satisfies Reply);
  });
};

if (!isMainThread && (workerData as ReaderData | undefined)?.role === ROLE) runReader(workerData as ReaderData);
