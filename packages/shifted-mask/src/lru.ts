/**
 * A tiny bounded least-recently-used map. `release` is called on every value that leaves the
 * map (eviction, `delete`, `clear`), so cached tensors are disposed exactly once.
 * @internal
 */
export class Lru<V> {
  private readonly map = new Map<string, V>();

  constructor(
    private readonly limit: number,
    private readonly release: (value: V) => void,
  ) {}

  get size(): number {
    return this.map.size;
  }

  get(key: string): V | undefined {
    const value = this.map.get(key);
    if (value !== undefined) {
      // Re-insert to mark as most recently used.
      this.map.delete(key);
      this.map.set(key, value);
    }
    return value;
  }

  set(key: string, value: V): void {
    const old = this.map.get(key);
    if (old !== undefined) {
      this.map.delete(key);
      if (old !== value) this.release(old);
    }
    this.map.set(key, value);
    while (this.map.size > this.limit) {
      const oldest = this.map.keys().next().value as string;
      const v = this.map.get(oldest) as V;
      this.map.delete(oldest);
      this.release(v);
    }
  }

  delete(key: string): void {
    const value = this.map.get(key);
    if (value === undefined) return;
    this.map.delete(key);
    this.release(value);
  }

  clear(): void {
    const values = [...this.map.values()];
    this.map.clear();
    for (const v of values) this.release(v);
  }
}
