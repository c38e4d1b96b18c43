// A program of an object, and the ways to attach it. Every attach returns a Link.
import { native, type NativeProgramInfo } from './native.js';
import { call } from './log.js';
import { BpfError } from './errors.js';
import { Link, LinkGroup } from './link.js';
import { onlineCpus } from './cpus.js';
import { PERF_COUNT_SW_CPU_CLOCK, PERF_TYPE_SOFTWARE, ProgramType } from './constants.js';

/** What a program needs from the object that owns it. */
export interface ProgramOwner {
  readonly handle: number;
  readonly loaded: boolean;
  assertOpen(op: string): void;
  assertLoaded(op: string): void;
  trackLink(l: Link): void;
  untrackLink(l: Link): void;
  readonly logger: import('./log.js').LibbpfLogger | null | undefined;
}

export interface PerfEventAttachOptions {
  /** CPU to sample on; -1 = any CPU (then `pid` must be >= 0). */
  cpu: number;
  /** Samples per second (perf "freq" mode). Exclusive with `period`. */
  frequency?: number;
  /**
   * Sample every `period` events; for the CPU clock the unit is nanoseconds. Default 9,000,000
   * (9 ms, upstream rover's dump period) when neither is given.
   */
  period?: number;
  /** Only this process/thread; -1 (default) = every task on `cpu`. */
  pid?: number;
  /** perf_event_attr.type; default PERF_TYPE_SOFTWARE. */
  type?: number;
  /** perf_event_attr.config; default PERF_COUNT_SW_CPU_CLOCK. */
  config?: number;
  /**
   * perf_event_attr.inherit: threads/processes created later by `pid` get the event (and the
   * program) too. Only meaningful with pid >= 0.
   */
  inherit?: boolean;
  /**
   * With `inherit`: only threads of the process inherit the event, not processes it forks
   * (perf_event_attr.inherit_thread, kernel >= 5.13).
   */
  inheritThreadsOnly?: boolean;
}

export interface UprobeAttachOptions {
  /** Path of the executable or shared library. */
  binaryPath: string;
  /** Function name resolved by libbpf (ELF symbol), or use `offset`. */
  funcName?: string;
  /** File offset of the probe (or offset inside `funcName`). Default 0. */
  offset?: number;
  /** Only this process; default -1 = every process mapping the binary. */
  pid?: number;
  /** Attach to function return instead of entry. */
  retprobe?: boolean;
}

export const DEFAULT_PERF_PERIOD_NS = 9_000_000;

let tracefsChecked = false;

/**
 * Makes sure tracefs is mounted (mounting it at /sys/kernel/tracing when running as root).
 * Returns what it found or did; never throws (a later attach reports the real error).
 */
export function ensureTracefs(): 'present' | 'mounted' | 'unavailable' {
  try {
    const r = native().ensureTracefs();
    tracefsChecked = true;
    return r;
  } catch {
    return 'unavailable';
  }
}

export class BpfProgram {
  readonly name: string;
  readonly section: string;
  readonly type: ProgramType;
  #owner: ProgramOwner;

  /** @internal created by BpfObject */
  constructor(owner: ProgramOwner, info: NativeProgramInfo) {
    this.#owner = owner;
    this.name = info.name;
    this.section = info.section;
    this.type = info.type;
  }

  /** Before load(): whether this program is loaded with the object (default true). */
  setAutoload(on: boolean): void {
    this.#owner.assertOpen('bpf_program__set_autoload');
    if (this.#owner.loaded) {
      throw new BpfError({ op: 'bpf_program__set_autoload', errno: 16, hint: 'call before load()' });
    }
    call(
      'bpf_program__set_autoload',
      () => native().progSetAutoload(this.#owner.handle, this.name, on),
      this.#owner.logger,
    );
  }

  #link(handle: number, description: string): Link {
    const link = new Link(handle, this.name, description, (l) => this.#owner.untrackLink(l));
    this.#owner.trackLink(link);
    return link;
  }

  /** perf_event program on a perf event (default: software CPU clock) of one CPU. */
  attachPerfEvent(opts: PerfEventAttachOptions): Link {
    const op = 'bpf_program__attach_perf_event';
    this.#owner.assertLoaded(op);
    if (opts.frequency !== undefined && opts.period !== undefined) {
      throw new BpfError({ op, errno: 22, hint: 'give either frequency or period, not both' });
    }
    const isFreq = opts.frequency !== undefined;
    const sample = opts.frequency ?? opts.period ?? DEFAULT_PERF_PERIOD_NS;
    const pid = opts.pid ?? -1;
    const h = call(
      op,
      () =>
        native().attachPerfEvent(
          this.#owner.handle,
          this.name,
          opts.cpu,
          pid,
          sample,
          isFreq,
          opts.type ?? PERF_TYPE_SOFTWARE,
          opts.config ?? PERF_COUNT_SW_CPU_CLOCK,
          opts.inherit ?? false,
          opts.inheritThreadsOnly ?? false,
        ),
      this.#owner.logger,
    );
    return this.#link(h, `perf_event cpu=${opts.cpu} pid=${pid} ${isFreq ? 'freq' : 'period'}=${sample}`);
  }

  /** attachPerfEvent on every online CPU; one LinkGroup to destroy them all. */
  attachPerfEventAllCpus(opts: Omit<PerfEventAttachOptions, 'cpu'> & { cpus?: number[] } = {}): LinkGroup {
    const links: Link[] = [];
    try {
      for (const cpu of opts.cpus ?? onlineCpus()) links.push(this.attachPerfEvent({ ...opts, cpu }));
    } catch (e) {
      for (const l of links) l.destroy();
      throw e;
    }
    return new LinkGroup(links);
  }

  /** Classic tracepoint (SEC("tracepoint/...")), e.g. ("sched", "sched_switch"). Mounts tracefs if needed. */
  attachTracepoint(category: string, name: string): Link {
    const op = 'bpf_program__attach_tracepoint';
    this.#owner.assertLoaded(op);
    if (!tracefsChecked) ensureTracefs();
    const h = call(
      op,
      () => native().attachTracepoint(this.#owner.handle, this.name, category, name),
      this.#owner.logger,
    );
    return this.#link(h, `tracepoint ${category}:${name}`);
  }

  /** Attach by section name (tp_btf/, raw_tp/, fentry/, tracepoint/, uprobe/... with full spec). */
  attach(): Link {
    const op = 'bpf_program__attach';
    this.#owner.assertLoaded(op);
    if (this.section.startsWith('tracepoint/') || this.section.startsWith('tp/')) {
      if (!tracefsChecked) ensureTracefs();
    }
    const h = call(op, () => native().attachAuto(this.#owner.handle, this.name), this.#owner.logger);
    return this.#link(h, this.section);
  }

  /** uprobe / uretprobe on a binary, by function name or file offset. */
  attachUprobe(opts: UprobeAttachOptions): Link {
    const op = 'bpf_program__attach_uprobe_opts';
    this.#owner.assertLoaded(op);
    if (opts.funcName === undefined && opts.offset === undefined) {
      throw new BpfError({ op, errno: 22, hint: 'give funcName or offset' });
    }
    const h = call(
      op,
      () =>
        native().attachUprobe(
          this.#owner.handle,
          this.name,
          opts.retprobe ?? false,
          opts.pid ?? -1,
          opts.binaryPath,
          opts.offset ?? 0,
          opts.funcName ?? null,
        ),
      this.#owner.logger,
    );
    return this.#link(
      h,
      `${opts.retprobe ? 'uretprobe' : 'uprobe'} ${opts.binaryPath}:${opts.funcName ?? ''}+${opts.offset ?? 0}`,
    );
  }
}
