/**
 * Reports discovered processes to the backend and keeps them alive, as upstream rover does:
 * new processes are reported (the backend answers their process IDs), every heartbeat sends a
 * keepAlive for all reported ones, exited ones are simply no longer kept alive. A backend that
 * is down is retried on the next heartbeat; nothing is lost, the set is re-reported.
 */
import type { Logger } from 'pino';
import type { BackendConnection } from '../backend/connection';
import type { ProcessDiscovery } from './discovery';
import { matchDownstream, toEBPFProcessProperties, toPingPkg, type DiscoveredProcess } from './types';

export interface ReportedProcess {
  processId: string;
  process: DiscoveredProcess;
}

export class ProcessReporter {
  private readonly reported = new Map<string, ReportedProcess>();
  private readonly byProcessId = new Map<string, ReportedProcess>();
  private timer: NodeJS.Timeout | undefined;
  private running: Promise<void> | undefined;
  private backendUp = true;
  private changes = 0;

  constructor(
    private readonly backend: BackendConnection,
    private readonly discovery: ProcessDiscovery,
    private readonly agentId: string,
    private readonly heartbeatMs: number,
    private readonly log: Logger,
  ) {}

  start(): void {
    this.discovery.on('change', () => void this.tick());
    this.timer = setInterval(() => void this.tick(), this.heartbeatMs);
    void this.tick();
  }

  stop(): void {
    if (this.timer) clearInterval(this.timer);
  }

  /** The live process the backend knows under this ID, if any. */
  byId(processId: string): ReportedProcess | undefined {
    return this.byProcessId.get(processId);
  }

  /** Changes whenever the reported set does: a caller that follows it can skip unchanged rounds. */
  get version(): number {
    return this.changes;
  }

  all(): ReportedProcess[] {
    return [...this.reported.values()];
  }

  /** One report + keepAlive round; concurrent calls share the round in progress. */
  tick(): Promise<void> {
    this.running ??= this.round().finally(() => (this.running = undefined));
    return this.running;
  }

  private async round(): Promise<void> {
    const current = this.discovery.current();
    const live = new Set(current.map((p) => p.key));
    for (const [key, r] of this.reported) {
      if (!live.has(key)) {
        this.reported.delete(key);
        this.changes++;
        if (this.byProcessId.get(r.processId) === r) this.byProcessId.delete(r.processId);
      }
    }
    const fresh = current.filter((p) => !this.reported.has(p.key));
    try {
      if (fresh.length > 0) {
        const answer = await this.backend.reportProcesses({
          ebpfAgentID: this.agentId,
          processes: fresh.map(toEBPFProcessProperties),
        });
        for (const process of fresh) {
          let processId: string | undefined;
          for (const downstream of answer.processes) {
            processId = matchDownstream(process, downstream);
            if (processId) break;
          }
          if (!processId) continue;
          const r = { processId, process };
          this.reported.set(process.key, r);
          this.changes++;
          this.byProcessId.set(processId, r);
        }
        this.log.debug({ reported: fresh.length }, 'reported processes');
      }
      const known = [...this.reported.values()];
      if (known.length > 0) {
        await this.backend.keepAlive({
          ebpfAgentID: this.agentId,
          processes: known.map((r) => toPingPkg(r.process)),
        });
      }
      if (!this.backendUp) this.log.info({ backend: this.backend.address }, 'backend reachable again');
      this.backendUp = true;
    } catch (err) {
      if (this.backendUp) {
        this.log.warn(
          { backend: this.backend.address, err: (err as Error).message },
          'cannot report processes; will retry every heartbeat',
        );
      }
      this.backendUp = false;
    }
  }
}
