// One built object opened through its spec (objects.ts), loaded, with what hangs off it: the
// links, ring buffers, event counters and the target table binding. close() releases all of it.
import {
  BpfObject,
  destroyAll,
  destroyAllInBackground,
  type BpfMap,
  type Detachable,
  type GlobalValue,
  type LibbpfLogger,
  type RingBuffer,
  type RingBufferOptions,
} from '@swlite/libbpf-ts';
import { OBJECTS, type BpfProgramName, type RodataOf } from '../objects.js';
import { bpfObjectPath } from '../paths.js';
import { CounterDeltas } from './counters.js';
import type { TargetTable } from './targets.js';

type MapName<N extends BpfProgramName> = keyof (typeof OBJECTS)[N]['maps'] & string;

export interface LoadOptions<N extends BpfProgramName> {
  /** Directory with the *.bpf.o files (default: bpfObjectDir()). */
  objectDir?: string | undefined;
  /** libbpf log sink for this object (default: the global libbpf-ts logger). */
  logger?: LibbpfLogger | null | undefined;
  rodata?: RodataOf<N>;
  maxEntries?: Partial<Record<MapName<N>, number>>;
  /** Programs to load or not (the others load). */
  autoload?: Record<string, boolean>;
}

export class LoadedObject<N extends BpfProgramName> {
  readonly obj: BpfObject;
  readonly counters: CounterDeltas;
  #links: Detachable[] = [];
  #rings: RingBuffer[] = [];
  #targets: TargetTable | undefined;

  private constructor(obj: BpfObject, name: N) {
    this.obj = obj;
    this.counters = new CounterDeltas(obj.map('counters'), OBJECTS[name].counters);
  }

  /** Opens, configures and loads dist/<name>.bpf.o; nothing is left open when it throws. */
  static load<N extends BpfProgramName>(name: N, opts: LoadOptions<N> = {}): LoadedObject<N> {
    const rodata: Record<string, GlobalValue> = {};
    for (const [k, v] of Object.entries(opts.rodata ?? {})) if (v !== undefined) rodata[k] = v as GlobalValue;
    const maxEntries: Record<string, number> = {};
    for (const [k, v] of Object.entries(opts.maxEntries ?? {})) if (v !== undefined) maxEntries[k] = v as number;
    const obj = BpfObject.openAndLoad(bpfObjectPath(name, opts.objectDir), {
      ...(Object.keys(rodata).length ? { rodata } : {}), // an object without knobs has no .rodata
      maxEntries,
      ...(opts.autoload ? { autoload: opts.autoload } : {}),
      ...(opts.logger !== undefined ? { logger: opts.logger } : {}),
    });
    try {
      return new LoadedObject(obj, name);
    } catch (e) {
      obj.close();
      throw e;
    }
  }

  map(name: MapName<N>): BpfMap {
    return this.obj.map(name);
  }

  /** Mirrors `targets` into the object's target_tgids map until close(). */
  bindTargets(targets: TargetTable): void {
    targets.bind(this.obj.map('target_tgids'));
    this.#targets = targets;
  }

  /** Keeps a link to destroy at detach()/close(). */
  attach(link: Detachable): void {
    this.#links.push(link);
  }

  ringBuffer(name: MapName<N>, onRecord: (rec: Buffer) => void, opts?: RingBufferOptions): RingBuffer {
    const rb = this.obj.ringBuffer(name, onRecord, opts);
    this.#rings.push(rb);
    return rb;
  }

  /** Destroys the links (every one, even when one fails): the programs stop running. */
  detach(): void {
    const links = this.#links;
    this.#links = [];
    try {
      destroyAll(links);
    } catch {
      // every link went (destroyAll goes on past a failure); nothing is left to retry
    }
  }

  /**
   * Resolves when the links that close() left to a thread are detached (the programs may run
   * until then, into maps nobody reads).
   */
  detached: Promise<void> = Promise.resolve();

  /**
   * Closes the ring buffers and the object and unbinds the target table, leaving the links that
   * detach() did not take to a thread (`detached`): a tracepoint's or uprobe's detach waits for
   * the kernel, seconds for a network task's 33 links on a busy machine.
   */
  close(): void {
    const links = this.#links;
    this.#links = [];
    this.detached = destroyAllInBackground(links).catch(() => {
      // every link went (destroyAllInBackground goes on past a failure); nothing is left to retry
    });
    for (const rb of this.#rings) rb.close();
    this.#rings = [];
    this.#targets?.unbind();
    this.#targets = undefined;
    this.obj.close();
  }
}
