/**
 * The NETWORK target: network.bpf.o (tracepoints, and uprobes on the OpenSSL of the task's
 * processes for the plaintext of TLS, see tls-probes.ts) feeds a NetworkAnalyzer through
 * KernelFeed; every report interval (profiling.task.network.report_interval) the run flushes the
 * analyzer and sends meters, sampled-trace logs and span attached events through the context's
 * reporter. Its drain() carries no upload payloads, only the kernel's event and loss counts.
 */
import { existsSync } from 'node:fs';
import { networkInterfaces } from 'node:os';
import { NetworkObserver, networkObjectExists, networkTracepoints } from '@swlite/bpf';
import { bpfAvailable, ProgramType } from '@swlite/libbpf-ts';
import type { Logger } from 'pino';
import { HTTP_DURATION_BUCKETS_MS, HTTP_SIZE_BUCKETS, SOCKET_BUCKETS_NS } from './analyze/accumulators';
import { NetworkAnalyzer } from './analyze/analyzer';
import type { MonitoredProcess } from './analyze/connections';
import { KernelFeed } from './kernel-feed';
import { TlsFileFinder } from './tls-probes';
import type { NetworkTargetContext, TargetDrain, TargetModule, TargetRun } from '../target';

const TRACEFS = ['/sys/kernel/tracing/events', '/sys/kernel/debug/tracing/events'];

/** Null when the object is built, tracepoint programs load and every tracepoint exists. */
export const networkRefusal = (): string | null => {
  if (!networkObjectExists()) return 'network.bpf.o is not built';
  const probe = bpfAvailable(ProgramType.TRACEPOINT);
  if (!probe.ok) return `the kernel refuses tracepoint BPF programs (${probe.reason})`;
  const root = TRACEFS.find((d) => existsSync(d));
  if (!root) return `no tracefs events directory (${TRACEFS.join(', ')})`;
  const missing = networkTracepoints().filter((t) => !existsSync(`${root}/${t}`));
  return missing.length ? `missing tracepoints: ${missing.join(', ')}` : null;
};

/** This host's interface addresses (a peer there is "local"). */
const hostAddresses = (): Set<string> =>
  new Set(['0.0.0.0', ...Object.values(networkInterfaces()).flatMap((list) => (list ?? []).map((i) => i.address))]);

/** bpf_ktime_get_ns() and process.hrtime.bigint() share CLOCK_MONOTONIC: its zero on the wall clock. */
const monotonicZeroEpochNs = (): bigint => BigInt(Date.now()) * 1_000_000n - process.hrtime.bigint();

export class NetworkRun implements TargetRun {
  readonly #pids: Set<number>;
  readonly #analyzer: NetworkAnalyzer;
  readonly #feed: KernelFeed;
  readonly #observer: NetworkObserver;
  readonly #timer: NodeJS.Timeout;
  /** Each monitored process as last seen, so its identity outlives its exit by one report. */
  readonly #known = new Map<number, MonitoredProcess>();
  /** Processes removed since the last report: their last interval still goes with it. */
  readonly #leaving = new Set<number>();
  readonly #tlsFinder = new TlsFileFinder();
  /** Files whose OpenSSL is probed (device:inode), or was found unprobeable. */
  readonly #tlsFiles = new Set<string>();
  #last = { events: 0, lost: 0 };
  /** Whether the kernel was told to meter HTTP/1 (or not) yet. */
  #meteringDecided = false;
  #sending: Promise<void> = Promise.resolve();

  constructor(
    pids: readonly number[],
    private readonly net: NetworkTargetContext,
    private readonly log: Logger,
    opts: { reportIntervalMs: number; meterPrefix: string },
  ) {
    this.#pids = new Set(pids);
    // As upstream, the configured prefix is joined to the names with '_'.
    this.#analyzer = new NetworkAnalyzer({
      meterPrefix: `${opts.meterPrefix}_`,
      bootTimeEpochNs: monotonicZeroEpochNs(),
    });
    this.#feed = new KernelFeed(this.#analyzer, (pid, fd, gen, dir, until) =>
      this.#observer.skipUntil(pid, fd, gen, dir, until),
    );
    this.#observer = new NetworkObserver({
      onRecord: (r) => this.#feed.record(r),
      httpBuckets: { durationMs: HTTP_DURATION_BUCKETS_MS, size: HTTP_SIZE_BUCKETS, socketNs: SOCKET_BUCKETS_NS },
      // Until the task's rules are known (they come with the command that starts it, else the
      // first report decides) the exchanges rules could sample, those with a trace header, come
      // as records; the kernel meters the rest.
      kernelMeters: 'untraced',
    });
    this.#observer.start([...this.#pids]);
    for (const pid of this.#pids) this.#probeTls(pid);
    this.#timer = setInterval(() => void this.report(), opts.reportIntervalMs);
    this.#timer.unref();
  }

  /** The task's ExtensionConfigJSON (HTTP sampling rules). */
  updateExtensionConfig(json: string): void {
    this.#analyzer.updateExtensionConfig(json);
    this.#meterInKernel();
  }

  /**
   * Without a sampling rule no exchange needs its headers or body: the kernel meters HTTP/1
   * connections itself and sends no data. With rules only a request carrying a trace context can
   * be sampled (sampling.ts): the kernel sends those exchanges as records, for the parser to count
   * and sample, and meters the others. A metered connection takes the change at its next request
   * (the parser starts on a message boundary; the bytes it did not see are a gap between messages).
   */
  #meterInKernel(): void {
    this.#meteringDecided = true;
    this.#observer.setKernelMeters(this.#analyzer.rules.empty ? 'all' : 'untraced');
  }

  addProcess(pid: number): void {
    this.#pids.add(pid);
    this.#leaving.delete(pid);
    this.#observer.addTarget(pid);
    this.#probeTls(pid);
  }

  /**
   * Probes the OpenSSL files of a process not probed yet (each file's symbols are read once per
   * run; then a call costs a read of its maps); one that fails is logged, not retried.
   */
  #probeTls(pid: number): void {
    let files;
    try {
      files = this.#tlsFinder.files(pid);
    } catch (err) {
      this.log.debug({ pid, err: (err as Error).message }, 'no TLS probing: the process maps cannot be read');
      return;
    }
    for (const f of files) {
      if (this.#tlsFiles.has(f.id)) continue;
      this.#tlsFiles.add(f.id);
      try {
        this.#observer.attachTls(f.path, f.functions);
        this.log.info({ pid, file: f.path, functions: f.functions }, 'TLS plaintext probed');
      } catch (err) {
        this.log.warn({ pid, file: f.path, err: (err as Error).message }, 'TLS plaintext not probed');
      }
    }
  }

  /**
   * Stops watching the process. What it did since the last report (its last requests before it
   * exited) is still reported once, under the identity it had, and then forgotten.
   */
  removeProcess(pid: number): void {
    this.#observer.removeTarget(pid);
    this.#pids.delete(pid);
    this.#leaving.add(pid);
  }

  /** Flushes the interval and sends it; resolves when the backend took it (errors are logged). */
  report(): Promise<void> {
    if (!this.#meteringDecided) this.#meterInKernel();
    // A library loaded since (dlopen: e.g. Python's ssl module) is probed from now on.
    for (const pid of this.#pids) this.#probeTls(pid);
    this.#observer.poll();
    // the kernel keeps the connections of an exited process (no close syscall): only watched ones count
    const watched = (pid: number) => this.#pids.has(pid) || this.#leaving.has(pid);
    this.#feed.totals(this.#observer.connections().filter((c) => watched(c.tgid)));
    const http = this.#observer.httpTotals();
    const done = this.#feed.http(http.filter((c) => watched(c.tgid)));
    this.#observer.forgetHttp([...done, ...http.filter((c) => !watched(c.tgid))]);
    const processes = new Map<number, MonitoredProcess>();
    for (const pid of this.#pids) {
      // an exited process may leave discovery before the task hears of it
      const p = this.net.process(pid) ?? this.#known.get(pid);
      if (!p) continue;
      processes.set(pid, p);
      this.#known.set(pid, p);
    }
    for (const pid of this.#leaving) {
      const p = this.#known.get(pid);
      if (p) processes.set(pid, p);
    }
    const now = Date.now();
    const out = this.#analyzer.flush({ processes, hostAddresses: hostAddresses() }, now);
    // the interval's end: the meters' timestamp, and what a test needs to group its own samples alike
    this.log.debug(
      { at: now, collections: out.meters.length, logs: out.logs.length, events: out.events.length },
      'network profiling report',
    );
    for (const pid of this.#leaving) {
      this.#feed.forget(pid);
      this.#analyzer.forgetProcess(pid);
      this.#known.delete(pid);
    }
    this.#leaving.clear();
    const send = async (): Promise<void> => {
      if (out.meters.length) await this.net.reporter.meters(out.meters);
      for (const { service, logs } of out.logs) await this.net.reporter.logs(service, logs);
      if (out.events.length) await this.net.reporter.events(out.events);
    };
    this.#sending = this.#sending.then(send).catch((err: Error) => {
      this.log.warn({ err: err.message }, 'network profiling report not sent');
    });
    return this.#sending;
  }

  drain(): TargetDrain {
    const s = this.#observer.stats();
    // a status code the kernel found no slot for is an exchange whose code is missing from the meters
    const lost = s.ringBufferFull + s.connectionsNotTracked + s.statusesLost;
    const out: TargetDrain = {
      payloads: new Map(),
      samples: s.events - this.#last.events,
      lost: lost - this.#last.lost,
      lostDetail: {
        ringBufferFull: s.ringBufferFull,
        connectionsNotTracked: s.connectionsNotTracked,
        statusCodesLost: s.statusesLost,
      },
    };
    this.#last = { events: s.events, lost };
    return out;
  }

  stop(): TargetDrain {
    clearInterval(this.#timer);
    void this.report();
    const out = this.drain();
    this.#observer.stop();
    return out;
  }

  /** Resolves when every report started so far has been sent (or failed). */
  settled(): Promise<void> {
    return this.#sending;
  }
}

export const network: TargetModule = {
  create: (type, ctx) => {
    let refusal: string | null | undefined;
    const cfg = ctx.config.task.network;
    return {
      type,
      unavailable: () => {
        if (!ctx.network) return 'network profiling has no reporter in this rover';
        return refusal === undefined ? (refusal = networkRefusal()) : refusal;
      },
      start: (pids) => {
        if (!ctx.network) throw new Error('network profiling has no reporter in this rover');
        return new NetworkRun(pids, ctx.network, ctx.log, {
          reportIntervalMs: cfg.reportIntervalMs,
          meterPrefix: cfg.meterPrefix,
        });
      },
      continuousReport: { targetTask: 'network', network: { samplingURIRegexes: [] } },
    };
  },
};
