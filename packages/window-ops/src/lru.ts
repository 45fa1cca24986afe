import type * as tf from '@tensorflow/tfjs-core';
import { assertPositiveInt } from './validate.js';

/**
 * A bounded least-recently-used cache of kept static tensors (index tensors, masks, permutations), keyed
 * by a caller-built string that should start with the backend name (`${tf.getBackend()}|...`), so each
 * backend gets its own tensors. Every value that leaves the cache (eviction, replacement, `delete`,
 * `clear`) has its tensors disposed exactly once; an entry whose tensors were disposed from outside
 * (e.g. an engine reset) counts as a miss and is rebuilt.
 *
 * Used by `@swin/window-ops` (permutations), `@swin/rel-pos-bias` and `@swin/shifted-mask`.
 *
 * @typeParam V An entry: one tensor or a record of tensors, listed by `tensorsOf`.
 */
export class TensorLruCache<V> {
  private readonly map = new Map<string, V>();
  private limit: number;

  /**
   * @param capacity Maximum number of entries (a positive integer).
   * @param tensorsOf The tensors an entry owns (disposed when it leaves the cache).
   */
  constructor(
    capacity: number,
    private readonly tensorsOf: (value: V) => readonly tf.Tensor[],
  ) {
    assertPositiveInt('TensorLruCache', 'capacity', capacity);
    this.limit = capacity;
  }

  /** Number of cached entries. */
  get size(): number {
    return this.map.size;
  }

  /** Maximum number of entries; lowering it evicts the least recently used ones immediately. */
  get capacity(): number {
    return this.limit;
  }

  set capacity(n: number) {
    assertPositiveInt('TensorLruCache.capacity', 'n', n);
    this.limit = n;
    this.evictOverflow();
  }

  /**
   * The live entry under `key` (marked most recently used), or `undefined` if absent or if any of its
   * tensors was disposed from outside (that stale entry is then dropped).
   */
  get(key: string): V | undefined {
    const value = this.map.get(key);
    if (value === undefined) return undefined;
    this.map.delete(key);
    if (this.tensorsOf(value).some((t) => t.isDisposed)) {
      this.release(value);
      return undefined;
    }
    this.map.set(key, value); // most recently used goes last
    return value;
  }

  /** The live entry under `key`, or the result of `create()` (whose tensors must be `tf.keep`-ed), stored. */
  getOrCreate(key: string, create: () => V): V {
    const hit = this.get(key);
    if (hit !== undefined) return hit;
    const value = create();
    this.set(key, value);
    return value;
  }

  /** Stores `value` under `key` as the most recently used entry, releasing a replaced one; then evicts. */
  set(key: string, value: V): void {
    const old = this.map.get(key);
    if (old !== undefined) {
      this.map.delete(key);
      if (old !== value) this.release(old);
    }
    this.map.set(key, value);
    this.evictOverflow();
  }

  /** Removes and releases the entry under `key`, if any. */
  delete(key: string): void {
    const value = this.map.get(key);
    if (value === undefined) return;
    this.map.delete(key);
    this.release(value);
  }

  /** Removes and releases every entry. */
  clear(): void {
    const values = [...this.map.values()];
    this.map.clear();
    for (const v of values) this.release(v);
  }

  private release(value: V): void {
    for (const t of this.tensorsOf(value)) if (!t.isDisposed) t.dispose();
  }

  private evictOverflow(): void {
    while (this.map.size > this.limit) {
      const oldest = this.map.keys().next().value as string;
      const v = this.map.get(oldest) as V;
      this.map.delete(oldest);
      this.release(v);
    }
  }
}
