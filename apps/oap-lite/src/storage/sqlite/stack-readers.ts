/**
 * Reader threads for the heavy reads of the SQLite store: each opens the database file with a
 * connection of its own (WAL lets it read while the main connection writes) and runs
 * stack-query.ts there. An analysis is done whole in the thread: the rows go straight into the
 * tree builder as they are read, so an analysis over its limits stops part-way through the read,
 * and what crosses back to the event loop is the finished forest, as typed arrays.
 */
import Database from 'better-sqlite3';
import { isMainThread, parentPort, workerData } from 'node:worker_threads';
import { forestBuffers } from '../../analysis/flame-forest';
import { RemoteBuild, TicketBuild, type BudgetTicket, type BuildOutcome } from '../../analysis/remote-build';
import type { AnalysisBudget } from '../../analysis/analysis-budget';
import { analysisThreadLimits } from '../../analysis/thread-memory';
import { lowerThreadPriority, WorkerPool, type WorkerRole } from '../../core/worker-pool';
import type { AggregatedStack, FlameForest, StackFrame } from '../types';
import { queryStackParts, type StackQuery, type StackRows } from './stack-query';

const ROLE = 'oap-lite-sqlite-stack-reader';

interface ReaderData extends WorkerRole {
  path: string;
}

type Request = { id: number; query: StackQuery } & ({ kind: 'stacks' } | { kind: 'analyze'; ticket: BudgetTicket });
/**
 * A stacks result goes in parts of PART_ROWS rows, then `done`: the main thread deserializes each
 * part as its own message, never a whole 100 MB result in one stretch.
 */
type Reply =
  | { id: number; part: StackRows }
  | { id: number; done: true }
  | { id: number; outcome: BuildOutcome }
  | { id: number; error: string };

const PART_ROWS = 500;
/** Rows the analysis reads between two looks at the stop flag (the builder looks every 256 stacks too). */
const ANALYSIS_PART_ROWS = 256;
/** Page cache of a reader's connection (KiB); see runReader. */
const READER_CACHE_KIB = 4096;

export class StackReaders {
  private readonly pool: WorkerPool<Request, Reply>;

  constructor(path: string, count: number, heapMb?: number, entry: URL = new URL(import.meta.url)) {
    const data: ReaderData = { role: ROLE, path };
    this.pool = new WorkerPool('SQLite reader', entry, data, count, analysisThreadLimits(heapMb));
  }

  /**
   * The aggregated stacks of the query. Each part is parsed as it arrives (one message, a few
   * milliseconds), so the main thread never holds the whole result as text nor parses it at once.
   */
  read(query: StackQuery): Promise<AggregatedStack[]> {
    return new Promise<AggregatedStack[]>((resolve, reject) => {
      const stacks: AggregatedStack[] = [];
      const job = this.pool.start({
        reply: (r) => {
          if ('part' in r) {
            for (let i = 0; i < r.part.frames.length; i++) {
              stacks.push({ frames: JSON.parse(r.part.frames[i]!) as StackFrame[], value: r.part.values[i]! });
            }
            return false;
          }
          if ('error' in r) reject(new Error(r.error));
          else resolve(stacks);
          return true;
        },
        fail: reject,
      });
      job.post({ id: job.id, kind: 'stacks', query });
    });
  }

  /** The query's stacks merged into flame-graph trees in a reader thread, within the budget. */
  async analyze(query: StackQuery, budget: AnalysisBudget): Promise<FlameForest> {
    const remote = new RemoteBuild(budget);
    try {
      const outcome = await new Promise<BuildOutcome>((resolve, reject) => {
        const job = this.pool.start({
          reply: (r) => {
            if ('outcome' in r) resolve(r.outcome);
            else reject(new Error('error' in r ? r.error : 'unexpected reply from the SQLite reader'));
            return true;
          },
          fail: reject,
        });
        job.post({ id: job.id, kind: 'analyze', query, ticket: remote.ticket });
      });
      return remote.settle(outcome);
    } finally {
      remote.release();
    }
  }

  close(): Promise<void> {
    return this.pool.close();
  }
}

const analyze = (db: Database.Database, query: StackQuery, ticket: BudgetTicket): BuildOutcome => {
  const build = new TicketBuild(ticket);
  build.feed((builder) =>
    queryStackParts(db, query, ANALYSIS_PART_ROWS, (part) => {
      for (let i = 0; i < part.frames.length; i++) {
        builder.add(JSON.parse(part.frames[i]!) as StackFrame[], part.values[i]!);
      }
    }),
  );
  return build.finish();
};

const runReader = (data: ReaderData): void => {
  lowerThreadPriority();
  const db = new Database(data.path, { fileMustExist: true });
  db.pragma('busy_timeout = 5000');
  // A reader's cache starts empty at nearly every read (SQLite drops it when the writer has
  // committed since, which under ingest is always), and an analysis reads each page once: a
  // larger cache only held up to its size of one analysis' pages in the thread's malloc heap.
  db.pragma(`cache_size = -${READER_CACHE_KIB}`);
  const port = parentPort!;
  port.on('message', (request: Request) => {
    const { id } = request;
    try {
      if (request.kind === 'analyze') {
        const outcome = analyze(db, request.query, request.ticket);
        port.postMessage({ id, outcome } satisfies Reply, 'forest' in outcome ? forestBuffers(outcome.forest) : []);
        return;
      }
      queryStackParts(db, request.query, PART_ROWS, (part) => port.postMessage({ id, part } satisfies Reply));
    } catch (err) {
      port.postMessage({ id, error: (err as Error).message } satisfies Reply);
      return;
    }
    port.postMessage({ id, done: true } satisfies Reply);
  });
};

if (!isMainThread && (workerData as ReaderData | undefined)?.role === ROLE) runReader(workerData as ReaderData);
