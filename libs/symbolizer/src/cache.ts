// A least-recently-used cache bounded by an estimate of bytes held.

export class ByteLru<V> {
  private readonly map = new Map<string, { value: V; bytes: number }>();
  private total = 0;
  constructor(public maxBytes: number) {}

  get(key: string): V | undefined {
    const e = this.map.get(key);
    if (!e) return undefined;
    this.map.delete(key);
    this.map.set(key, e);
    return e.value;
  }

  has(key: string): boolean {
    return this.map.has(key);
  }

  set(key: string, value: V, bytes: number): void {
    const old = this.map.get(key);
    if (old) {
      this.total -= old.bytes;
      this.map.delete(key);
    }
    this.map.set(key, { value, bytes });
    this.total += bytes;
    // Evict oldest entries, but never the one just inserted.
    for (const [k, e] of this.map) {
      if (this.total <= this.maxBytes || k === key) break;
      this.map.delete(k);
      this.total -= e.bytes;
    }
  }

  delete(key: string): void {
    const e = this.map.get(key);
    if (e) {
      this.total -= e.bytes;
      this.map.delete(key);
    }
  }

  get bytes(): number {
    return this.total;
  }

  get size(): number {
    return this.map.size;
  }

  keys(): string[] {
    return [...this.map.keys()];
  }
}
