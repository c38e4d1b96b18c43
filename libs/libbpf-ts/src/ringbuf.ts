// RingBuffer over a BPF_MAP_TYPE_RINGBUF map.
//
// Consumption model: ring_buffer__consume() (non-blocking) polled from a timer on the event loop
// (default every 20 ms). Each record is copied into a Buffer of its own and handed to the
// callback; nothing blocks the loop. poll() can also be called directly (e.g. right before
// stopping).
//
// With `drainer`, a native thread empties the kernel's ring into a bounded queue between polls.
//
// With `borrow`, records are instead copied into one reused arena and the callback gets a view of
// it that is valid only until it returns: no allocation per record, which matters for large
// records at a steady rate (stack snapshots: ~33 KB each, a hundred per second per busy CPU,
// whose Buffers otherwise keep the garbage collector busy).
import { native } from './native.js';
import { call } from './log.js';
import { BpfError } from './errors.js';
import { MapType } from './constants.js';
import type { BpfMap, MapOwner } from './map.js';

export interface RingBufferOptions {
  /** Poll interval in ms (default 20). 0 = no timer: call poll() yourself. */
  intervalMs?: number;
  /** At most this many records per poll (default: all available). */
  maxRecordsPerPoll?: number;
  /** Keep the process alive while polling (default false: the timer is unref'd). */
  ref?: boolean;
  /** Called when the callback throws (default: rethrown from the timer). */
  onError?: (e: unknown) => void;
  /** Hand the callback views of a reused arena, valid only during the call (see above). */
  borrow?: boolean;
  /** Borrow mode: the arena's initial size (default 256 KiB; grows to the largest record). */
  arenaBytes?: number;
  /** Borrow mode: most records per native call (default 1024; more are read by further calls). */
  arenaRecords?: number;
  /**
   * A native thread moves the records out of the kernel's ring every `intervalMs` (default 10;
   * up to 8 times that while the ring stays empty)
   * into a queue of about `maxBytes`, which poll() empties first: the ring does not fill while
   * the event loop is busy elsewhere. Past `maxBytes` the ring fills as without it.
   */
  drainer?: { maxBytes: number; intervalMs?: number };
}

export class RingBuffer {
  #handle: number;
  #timer: NodeJS.Timeout | undefined;
  #closed = false;
  #obj: MapOwner;
  #opts: RingBufferOptions;
  #arena: Buffer | undefined;
  #spans: Uint32Array | undefined;
  #polling = false;
  /** Records delivered so far. */
  records = 0;

  constructor(
    map: BpfMap,
    readonly onRecord: (record: Buffer) => void,
    opts: RingBufferOptions = {},
  ) {
    if (map.type !== MapType.RINGBUF) {
      throw new BpfError({
        op: 'ring_buffer__new',
        errno: 22,
        message: `map ${map.name} is not a RINGBUF`,
        hint: 'pass a BPF_MAP_TYPE_RINGBUF map',
      });
    }
    const obj = map.owner;
    this.#obj = obj;
    this.#opts = opts;
    this.#handle = call(
      'ring_buffer__new',
      () => native().ringNew(obj.handle, map.fd, opts.borrow === true),
      obj.logger,
    );
    if (opts.borrow) {
      this.#arena = Buffer.allocUnsafeSlow(opts.arenaBytes ?? 256 * 1024);
      this.#spans = new Uint32Array(2 * (opts.arenaRecords ?? 1024));
    }
    obj.trackChild(this);
    if (opts.drainer) {
      const { maxBytes, intervalMs = 10 } = opts.drainer;
      call('ring_buffer drainer', () => native().ringStartDrainer(this.#handle, maxBytes, intervalMs), obj.logger);
    }
    const interval = opts.intervalMs ?? 20;
    if (interval > 0) {
      this.#timer = setInterval(() => {
        try {
          this.poll();
        } catch (e) {
          if (opts.onError) opts.onError(e);
          else throw e;
        }
      }, interval);
      if (!opts.ref) this.#timer.unref();
    }
  }

  /** The epoll fd libbpf uses (for callers that want to watch it themselves). */
  get epollFd(): number {
    return native().ringEpollFd(this.#handle);
  }

  /** Consumes what is available now; returns the number of records delivered. */
  poll(): number {
    if (this.#closed) return 0;
    if (this.#arena) {
      // A poll from inside a callback would overwrite the arena the outer poll is handing out.
      if (this.#polling) return 0;
      this.#polling = true;
      try {
        return this.#pollArena();
      } finally {
        this.#polling = false;
      }
    }
    const recs = call(
      'ring_buffer__consume',
      () => native().ringConsume(this.#handle, this.#opts.maxRecordsPerPoll ?? 0),
      this.#obj.logger,
    );
    for (const r of recs) {
      this.records++;
      this.onRecord(r);
    }
    return recs.length;
  }

  #pollArena(): number {
    const limit = this.#opts.maxRecordsPerPoll ?? 0;
    let delivered = 0;
    while (!this.#closed) {
      const arena = this.#arena!;
      const spans = this.#spans!;
      const r = call(
        'ring_buffer__consume',
        () => native().ringConsumeInto(this.#handle, arena, spans, limit ? limit - delivered : 0),
        this.#obj.logger,
      );
      if (r < 0) {
        // A record larger than the arena is waiting: grow to the next power of two.
        this.#arena = Buffer.allocUnsafeSlow(2 ** Math.ceil(Math.log2(-r)));
        continue;
      }
      const n = Math.floor(r / 2);
      for (let i = 0; i < n; i++) {
        const off = spans[2 * i]!;
        this.records++;
        delivered++;
        this.onRecord(arena.subarray(off, off + spans[2 * i + 1]!));
      }
      if (r % 2 === 0 || (limit && delivered >= limit)) break;
    }
    return delivered;
  }

  get closed(): boolean {
    return this.#closed;
  }

  /** Stops polling and frees the ring buffer manager. Safe to call twice. */
  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    if (this.#timer) clearInterval(this.#timer);
    this.#obj.untrackChild(this);
    native().ringFree(this.#handle);
  }
}
