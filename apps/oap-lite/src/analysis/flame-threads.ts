/**
 * Analysis threads for a store that fetches on the event loop (Elasticsearch: its client parses
 * the answers there): the store hands over the stacks a page at a time as they arrive, the thread
 * builds the trees, and a build that passes a limit says so at once, so the store stops fetching.
 */
import { isMainThread, parentPort, workerData } from 'node:worker_threads';
import { lowerThreadPriority, WorkerPool, type WorkerRole } from '../core/worker-pool';
import type { FlameForest } from '../storage/types';
import type { AnalysisBudget } from './analysis-budget';
import { forestBuffers, type StackPage } from './flame-forest';
import { analysisThreadLimits } from './thread-memory';
import { RemoteBuild, TicketBuild, type BudgetTicket, type BuildOutcome } from './remote-build';

const ROLE = 'oap-lite-flame-builder';

type Request = { id: number; begin: BudgetTicket } | { id: number; page: StackPage } | { id: number; end: true };
type Reply = { id: number; outcome: BuildOutcome } | { id: number; error: string };

const pageBuffers = (p: StackPage): ArrayBuffer[] => [p.kernel, p.ends, p.values].map((a) => a.buffer as ArrayBuffer);

/** One analysis in a thread: pages in, then the forest or the budget's error. */
export interface FlameBuild {
  /** False once the build has ended (a limit passed, or the request aborted): stop fetching. */
  readonly open: boolean;
  add(page: StackPage): void;
  /** The forest; throws the budget's error when the build ended early. */
  finish(): Promise<FlameForest>;
  /** Gives up (the fetch failed); the thread forgets the build. */
  cancel(): void;
}

export class FlameThreads {
  private readonly pool: WorkerPool<Request, Reply>;

  constructor(count: number, heapMb?: number, entry: URL = new URL(import.meta.url)) {
    this.pool = new WorkerPool('flame-tree', entry, { role: ROLE }, count, analysisThreadLimits(heapMb));
  }

  begin(budget: AnalysisBudget): FlameBuild {
    const remote = new RemoteBuild(budget);
    let settle!: { resolve: (o: BuildOutcome) => void; reject: (e: Error) => void };
    const outcome = new Promise<BuildOutcome>((resolve, reject) => (settle = { resolve, reject }));
    // Read only through finish(): an early end must not count as an unhandled rejection.
    outcome.catch(() => undefined);
    let open = true;
    const job = this.pool.start({
      reply: (r) => {
        open = false;
        if ('outcome' in r) settle.resolve(r.outcome);
        else settle.reject(new Error(r.error));
        return true;
      },
      fail: (err) => {
        open = false;
        settle.reject(err);
      },
    });
    job.post({ id: job.id, begin: remote.ticket });
    return {
      get open() {
        return open;
      },
      add: (page) => {
        if (open) job.post({ id: job.id, page }, pageBuffers(page));
      },
      finish: async () => {
        try {
          if (open) job.post({ id: job.id, end: true });
          return remote.settle(await outcome);
        } finally {
          remote.release();
        }
      },
      cancel: () => {
        remote.release();
        if (open) job.post({ id: job.id, end: true });
      },
    };
  }

  close(): Promise<void> {
    return this.pool.close();
  }
}

const runBuilder = (): void => {
  lowerThreadPriority();
  const port = parentPort!;
  const builds = new Map<number, TicketBuild>();
  const answer = (id: number, outcome: BuildOutcome) => {
    builds.delete(id);
    port.postMessage({ id, outcome } satisfies Reply, 'forest' in outcome ? forestBuffers(outcome.forest) : []);
  };
  port.on('message', (request: Request) => {
    const { id } = request;
    try {
      if ('begin' in request) {
        builds.set(id, new TicketBuild(request.begin));
        return;
      }
      const build = builds.get(id);
      if (!build) return; // ended early: the rest of its pages are dropped
      if ('page' in request) {
        if (!build.feed((b) => b.addPage(request.page))) answer(id, build.ended!);
        return;
      }
      answer(id, build.finish());
    } catch (err) {
      builds.delete(id);
      port.postMessage({ id, error: (err as Error).message } satisfies Reply);
    }
  });
};

if (!isMainThread && (workerData as WorkerRole | undefined)?.role === ROLE) runBuilder();
