/**
 * A few worker threads that run one kind of heavy job (the SQLite profiling read, flame-tree
 * builds) so the event loop that serves ingest and light queries never waits on it. A job goes to
 * the thread with the fewest jobs in flight; a thread that dies fails its jobs and is replaced on
 * the next one.
 *
 * The module that asks for a pool is also the worker's entry: in the bundle (one file) the worker
 * runs that file, which starts the role named in workerData instead of the server (main.ts starts
 * only on the main thread). A worker lowers its own priority (lowerThreadPriority), so on a busy
 * machine the kernel gives the event loop the CPU first.
 */
import { setPriority } from 'node:os';
import { Worker, type ResourceLimits, type TransferListItem } from 'node:worker_threads';

/**
 * Niceness of a worker thread (Linux keeps one per thread). At 10 a busy worker gets about a tenth
 * of a core the event loop also wants, and an idle machine still gives the worker everything.
 * (19 starves analyses whenever the machine is busy with anything else, and bench:contention on a
 * shared 2-core machine showed no ingest gain from it.) The thread that writes uploads keeps the
 * process' priority: it is on the ingest path.
 */
const WORKER_NICENESS = 10;

/** What every pool's workerData carries: which role the worker starts. */
export interface WorkerRole {
  role: string;
}

/** Receives a job's replies until one of them ends it. */
export interface ReplyHandler<R> {
  /** A reply for the job; returns true when it was the job's last. */
  reply(message: R): boolean;
  /** The job's thread failed or exited. */
  fail(err: Error): void;
}

/** A job's side of the channel to its thread. */
export interface Job<Q> {
  readonly id: number;
  post(message: Q, transfer?: readonly TransferListItem[]): void;
}

export interface WorkerPoolOptions {
  /** V8 heap limits of each thread: a thread that passes them dies (and is replaced), not the process. */
  resourceLimits?: ResourceLimits;
  /** The error a thread's jobs fail with when it died of its heap limit (default: the pool's "thread failed"). */
  outOfMemory?: () => Error;
}

interface Slot<R> {
  worker: Worker;
  jobs: Map<number, ReplyHandler<R>>;
}

export class WorkerPool<Q extends { id: number }, R extends { id: number }> {
  private readonly slots: Array<Slot<R> | null>;
  private nextId = 1;
  private closed = false;

  constructor(
    /** Named in errors: "<name> thread failed". */
    private readonly name: string,
    /** The module that hosts the worker: the caller's file under tsx, the bundle when built. */
    private readonly entry: URL,
    private readonly data: WorkerRole,
    size: number,
    private readonly options: WorkerPoolOptions = {},
  ) {
    this.slots = new Array<Slot<R> | null>(Math.max(1, size)).fill(null);
  }

  /** Starts a job on the least busy thread; its replies go to `handler` until one ends it. */
  start(handler: ReplyHandler<R>): Job<Q> {
    if (this.closed) throw new Error(`${this.name}: the pool is closed`);
    const slot = this.pick();
    const id = this.nextId++;
    slot.jobs.set(id, handler);
    return {
      id,
      post: (message, transfer) => {
        if (slot.jobs.has(id)) slot.worker.postMessage(message, transfer);
      },
    };
  }

  private pick(): Slot<R> {
    let best = -1;
    for (let i = 0; i < this.slots.length; i++) {
      const s = this.slots[i];
      if (!s) {
        best = i;
        break;
      }
      if (best < 0 || s.jobs.size < this.slots[best]!.jobs.size) best = i;
    }
    return this.slots[best] ?? this.spawn(best);
  }

  private spawn(at: number): Slot<R> {
    const worker = this.entry.pathname.endsWith('.ts')
      ? // Under tsx (tests, benchmarks) the entry is TypeScript: the worker registers tsx's loader first.
        new Worker(
          `import(${JSON.stringify(import.meta.resolve('tsx/esm/api'))})` +
            `.then((tsx) => { tsx.register(); return import(${JSON.stringify(this.entry.href)}); })`,
          { eval: true, workerData: this.data, resourceLimits: this.options.resourceLimits },
        )
      : new Worker(this.entry, { workerData: this.data, resourceLimits: this.options.resourceLimits });
    worker.unref();
    const slot: Slot<R> = { worker, jobs: new Map() };
    const failAll = (err: Error) => {
      if (this.slots[at] === slot) this.slots[at] = null;
      for (const job of slot.jobs.values()) job.fail(err);
      slot.jobs.clear();
    };
    worker.on('message', (reply: R) => {
      const job = slot.jobs.get(reply.id);
      if (job?.reply(reply)) slot.jobs.delete(reply.id);
    });
    worker.on('error', (err: Error & { code?: string }) =>
      failAll(
        err.code === 'ERR_WORKER_OUT_OF_MEMORY' && this.options.outOfMemory
          ? this.options.outOfMemory()
          : new Error(`${this.name} thread failed: ${err.message}`),
      ),
    );
    worker.on('exit', (code) => failAll(new Error(`${this.name} thread exited (code ${code})`)));
    this.slots[at] = slot;
    return slot;
  }

  async close(): Promise<void> {
    this.closed = true;
    const running = this.slots.filter((s): s is Slot<R> => s !== null);
    this.slots.fill(null);
    await Promise.all(running.map((s) => s.worker.terminate()));
  }
}

/** Called first in a worker: the event loop's thread keeps its priority, this one yields to it. */
export const lowerThreadPriority = (): void => {
  try {
    // pid 0: on Linux the calling thread only.
    setPriority(WORKER_NICENESS);
  } catch {
    // Not permitted (some containers): the worker runs at the process' priority.
  }
};
