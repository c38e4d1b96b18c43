// RingBuffer over a BPF_MAP_TYPE_RINGBUF map.
//
// Consumption model: ring_buffer__consume() (non-blocking) polled from a timer on the event loop
// (default every 20 ms). Each record is copied into a Buffer and handed to the callback; nothing
// blocks the loop. poll() can also be called directly (e.g. right before stopping).
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
}

export class RingBuffer {
  #handle: number;
  #timer: NodeJS.Timeout | undefined;
  #closed = false;
  #obj: MapOwner;
  #opts: RingBufferOptions;
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
    this.#handle = call('ring_buffer__new', () => native().ringNew(obj.handle, map.fd), obj.logger);
    obj.trackChild(this);
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
