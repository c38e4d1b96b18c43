import { EventEmitter } from 'node:events';
import { randomUUID } from 'node:crypto';
import type { KubeConfig } from '@kubernetes/client-node';
import type { RoverConfig } from '../config/types.js';
import { type HostInfo, readHostInfo } from './context.js';
import { KubernetesFinder } from './kubernetes/finder.js';
import { ProcFs } from './procfs.js';
import { type FinderDeps, type ProcessFinder, ScannerFinder } from './scanner.js';
import { ProcessTable } from './table.js';
import type { DiscoveredProcess, ProcessChange } from './types.js';

/** pino-compatible subset. */
export interface DiscoveryLogger {
  warn(fields: Record<string, unknown>, message: string): void;
  info?(fields: Record<string, unknown>, message: string): void;
  debug?(fields: Record<string, unknown>, message: string): void;
}

export interface ProcessDiscoveryOptions {
  /** procfs root; default config.host.procMapping ("/proc"). */
  procRoot?: string;
  /** hostname and addresses; default read from the OS. */
  host?: HostInfo;
  /** rover's instance ID (`.Rover.InstanceID`, and what the reporter sends as ebpfAgentID); default a UUID. */
  instanceId?: string;
  /** pids never reported; default [process.pid]. */
  excludePids?: number[];
  /** Kubernetes client configuration; default in-cluster, else $KUBECONFIG / ~/.kube/config. */
  kubeConfig?: KubeConfig;
  logger?: DiscoveryLogger;
  /** Replace the finders built from the configuration (tests, embedding). */
  finders?: ProcessFinder[];
}

const consoleLogger: DiscoveryLogger = {
  warn: (fields, message) => console.warn(`[process-discovery] ${message}`, Object.keys(fields).length ? fields : ''),
};

export interface ProcessDiscoveryEvents {
  change: [ProcessChange];
}

/**
 * Finds the processes to report. Each active finder (host scanner, Kubernetes) runs on its own
 * period; `current()` is the union of their latest results. A 'change' event carries what each
 * scan added and removed (exited processes disappear on the next scan). Reporting them to the
 * backend (reportProcesses / keepAlive) is the reporter's job: see toEBPFProcessProperties and
 * toPingPkg in ./types.ts.
 */
export class ProcessDiscovery extends EventEmitter<ProcessDiscoveryEvents> {
  readonly instanceId: string;
  readonly host: HostInfo;
  private readonly finders: ProcessFinder[];
  private readonly results = new Map<ProcessFinder, Map<string, DiscoveredProcess>>();
  private readonly timers = new Map<ProcessFinder, NodeJS.Timeout>();
  private readonly log: DiscoveryLogger;
  private running = false;
  private inflight = new Set<Promise<unknown>>();

  constructor(
    readonly config: RoverConfig,
    opts: ProcessDiscoveryOptions = {},
  ) {
    super();
    this.instanceId = opts.instanceId ?? randomUUID();
    this.host = opts.host ?? readHostInfo();
    this.log = opts.logger ?? consoleLogger;
    const proc = new ProcFs(opts.procRoot ?? config.host.procMapping);
    const table = new ProcessTable(proc, { excludePids: opts.excludePids ?? [process.pid] });
    const deps: FinderDeps = {
      table,
      host: this.host,
      instanceId: this.instanceId,
      warn: (message, fields = {}) => this.log.warn(fields, message),
    };
    if (opts.finders) {
      this.finders = opts.finders;
    } else {
      const pd = config.processDiscovery;
      this.finders = [];
      if (pd.scanner.active) this.finders.push(new ScannerFinder(pd.scanner, deps));
      if (pd.kubernetes.active) {
        this.finders.push(
          new KubernetesFinder(pd.kubernetes, deps, {
            clusterName: config.core.clusterName,
            ...(opts.kubeConfig ? { kubeConfig: opts.kubeConfig } : {}),
          }),
        );
      }
    }
    if (this.finders.length === 0) {
      throw new Error('no process finder is active (process_discovery.scanner.active / kubernetes.active)');
    }
  }

  /** Initializes the finders (errors reject: e.g. unknown Kubernetes node), runs a first scan, then schedules. */
  async start(): Promise<void> {
    if (this.running) return;
    for (const f of this.finders) await f.init?.();
    this.running = true;
    await Promise.all(this.finders.map((f) => this.runFinder(f)));
    for (const f of this.finders) this.schedule(f);
  }

  async stop(): Promise<void> {
    this.running = false;
    for (const t of this.timers.values()) clearTimeout(t);
    this.timers.clear();
    await Promise.allSettled([...this.inflight]);
    for (const f of this.finders) f.close?.();
  }

  /** Runs every finder now and returns the combined change. */
  async refresh(): Promise<ProcessChange> {
    const changes = await Promise.all(this.finders.map((f) => this.runFinder(f)));
    return {
      added: changes.flatMap((c) => c.added),
      removed: changes.flatMap((c) => c.removed),
    };
  }

  /** The processes found by the latest scans, ordered by pid. */
  current(): DiscoveredProcess[] {
    const all: DiscoveredProcess[] = [];
    for (const m of this.results.values()) all.push(...m.values());
    return all.sort((a, b) => a.pid - b.pid || a.key.localeCompare(b.key));
  }

  findByPid(pid: number): DiscoveredProcess[] {
    return this.current().filter((p) => p.pid === pid);
  }

  findByKey(key: string): DiscoveredProcess | undefined {
    for (const m of this.results.values()) {
      const p = m.get(key);
      if (p) return p;
    }
    return undefined;
  }

  private schedule(f: ProcessFinder): void {
    if (!this.running) return;
    const t = setTimeout(() => {
      void this.runFinder(f).finally(() => this.schedule(f));
    }, f.periodMs);
    t.unref();
    this.timers.set(f, t);
  }

  private runFinder(f: ProcessFinder): Promise<ProcessChange> {
    const p = this.scanWith(f);
    this.inflight.add(p);
    return p.finally(() => this.inflight.delete(p));
  }

  private async scanWith(f: ProcessFinder): Promise<ProcessChange> {
    let found: DiscoveredProcess[];
    try {
      found = await f.scan();
    } catch (err) {
      this.log.warn({ finder: f.name, err: (err as Error).message }, 'process scan failed, keeping the previous result');
      return { added: [], removed: [] };
    }
    const prev = this.results.get(f) ?? new Map<string, DiscoveredProcess>();
    const next = new Map<string, DiscoveredProcess>();
    for (const p of found) next.set(p.key, p);
    const added = [...next.values()].filter((p) => !prev.has(p.key));
    const removed = [...prev.values()].filter((p) => !next.has(p.key));
    this.results.set(f, next);
    const change = { added, removed };
    if (added.length || removed.length) this.emit('change', change);
    return change;
  }
}
