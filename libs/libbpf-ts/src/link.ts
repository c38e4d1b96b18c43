// A Link is one attachment of a program (a bpf_link in libbpf). destroy() detaches it.
import { native } from './native.js';
import { call } from './log.js';

export interface Detachable {
  destroy(): void;
  readonly destroyed: boolean;
}

export class Link implements Detachable {
  #handle: number;
  #destroyed = false;
  #onDestroy: ((l: Link) => void) | undefined;

  /** @internal created by BpfProgram.attach*() */
  constructor(
    handle: number,
    readonly program: string,
    readonly description: string,
    onDestroy?: (l: Link) => void,
  ) {
    this.#handle = handle;
    this.#onDestroy = onDestroy;
  }

  get destroyed(): boolean {
    return this.#destroyed;
  }

  /** Detaches the program. Safe to call more than once. */
  destroy(): void {
    if (this.#destroyed) return;
    this.#destroyed = true;
    call('bpf_link__destroy', () => native().linkDestroy(this.#handle));
    this.#onDestroy?.(this);
  }

  /** @internal for destroyAll: the native handle, the link then counting as destroyed. */
  takeHandle(): number | undefined {
    if (this.#destroyed) return undefined;
    this.#destroyed = true;
    return this.#handle;
  }

  /** @internal for destroyAll, once the native link is gone. */
  afterDestroy(): void {
    this.#onDestroy?.(this);
  }
}

/** The native links among `items` (groups opened up), taken for destroying, and the rest. */
function takeAll(items: Iterable<Detachable>): { taken: Link[]; handles: number[]; others: Detachable[] } {
  const taken: Link[] = [];
  const handles: number[] = [];
  const others: Detachable[] = [];
  const collect = (d: Detachable): void => {
    if (d instanceof LinkGroup) d.links.forEach(collect);
    else if (!(d instanceof Link)) others.push(d);
    else {
      const h = d.takeHandle();
      if (h === undefined) return;
      taken.push(d);
      handles.push(h);
    }
  };
  for (const d of items) collect(d);
  return { taken, handles, others };
}

/** Destroys each of `others` even when one throws; returns the first error. */
function destroyEach(others: Detachable[], first?: unknown): unknown {
  for (const d of others) {
    try {
      d.destroy();
    } catch (e) {
      first ??= e;
    }
  }
  return first;
}

/**
 * Destroys every one of `items`, the native links among them all at once (a tracepoint or uprobe
 * detach waits for an RCU grace period in the kernel: one by one they add up to seconds). Every
 * item goes even when one throws; the first error is rethrown at the end.
 */
export function destroyAll(items: Iterable<Detachable>): void {
  const { taken, handles, others } = takeAll(items);
  let first: unknown;
  if (handles.length) {
    try {
      call('bpf_link__destroy', () => native().linksDestroy(handles));
    } catch (e) {
      first = e;
    }
  }
  for (const l of taken) l.afterDestroy();
  first = destroyEach(others, first);
  if (first) throw first;
}

/**
 * As destroyAll, without waiting: the links count as destroyed at once and are detached on a
 * thread, so a caller's event loop never waits on the kernel. The programs may run until the
 * promise resolves.
 */
export async function destroyAllInBackground(items: Iterable<Detachable>): Promise<void> {
  const { taken, handles, others } = takeAll(items);
  const first = destroyEach(others);
  const detached = handles.length ? native().linksDestroyInBackground(handles) : Promise.resolve(0);
  try {
    await detached;
  } finally {
    for (const l of taken) l.afterDestroy();
  }
  if (first) throw first;
}

/** Several links handled as one (e.g. one perf event per CPU). */
export class LinkGroup implements Detachable {
  constructor(readonly links: Link[]) {}

  get destroyed(): boolean {
    return this.links.every((l) => l.destroyed);
  }

  destroy(): void {
    destroyAll(this.links);
  }
}
