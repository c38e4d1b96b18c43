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
}

/** Several links handled as one (e.g. one perf event per CPU). */
export class LinkGroup implements Detachable {
  constructor(readonly links: Link[]) {}

  get destroyed(): boolean {
    return this.links.every((l) => l.destroyed);
  }

  destroy(): void {
    let first: unknown;
    for (const l of this.links) {
      try {
        l.destroy();
      } catch (e) {
        first ??= e;
      }
    }
    if (first) throw first;
  }
}
