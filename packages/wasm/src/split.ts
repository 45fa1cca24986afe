import type { SmallGemmAttrs } from '@swin/nn';

/**
 * How one kernel call is cut into independent tasks for the kernel pool (pool.ts): pure arithmetic on
 * sizes and byte offsets, the same on every thread count. Every task computes whole output rows / groups
 * with exactly the instructions the single call would use, so split results are bit-identical.
 *
 * @internal
 */

/**
 * Least work one task should carry, in multiply-adds (GEMM) or floats (elementwise), so that the cost of
 * waking a worker (tens of microseconds) stays small against it. Measured in headless Chromium (see the
 * package README).
 */
export const MIN_TASK_WORK = {
  /** multiply-adds of a GEMM task (`n k m` per group) */
  gemm: 256 * 1024,
  /** floats of a GELU / erf task (the erf polynomial: ~40 flops per float) */
  gelu: 32 * 1024,
  /** floats of a LayerNorm task (3 passes) */
  layerNorm: 128 * 1024,
  /** floats of a head split / merge task (a copy) */
  copy: 128 * 1024,
} as const;

/** How many tasks each thread gets at most (more tasks: better balance, more per-task overhead). */
export const TASKS_PER_THREAD = 4;

/** Tasks for `work` units when a task should carry at least `minWork`: 1 .. threads * TASKS_PER_THREAD. */
export function taskCount(work: number, minWork: number, threads: number, maxTasks = 64): number {
  if (threads < 2) return 1;
  return Math.max(1, Math.min(threads * TASKS_PER_THREAD, maxTasks, Math.floor(work / minWork)));
}

/** `count` near-equal contiguous ranges covering `[0, total)` (no empty range; fewer if total < count). */
export function evenRanges(total: number, count: number): [number, number][] {
  const c = Math.max(1, Math.min(count, total));
  const out: [number, number][] = [];
  for (let i = 0; i < c; i++) {
    const lo = Math.floor((i * total) / c);
    const hi = Math.floor(((i + 1) * total) / c);
    if (hi > lo) out.push([lo, hi]);
  }
  return out;
}

/** Byte offsets of one SwinSmallGemm call (-1: absent input). `out[0]` is C, then the gradient sums. */
export interface GemmPointers {
  a: number;
  b: number;
  out: number[];
  scratch: number;
  bias: number;
  mask: number;
  probs: number;
}

/**
 * Group ranges `[g0, g1)` a SwinSmallGemm call can be cut into, about `parts` of them, each runnable as the
 * same kernel on shifted pointers (see {@link gemmChunk}). The kernel indexes the bias with `g % nB` and the
 * mask with `floor(g / heads) % nMk` counting `g` from the range start, so a range must not wrap either
 * index: one that starts off a multiple of `nB` (of `heads`) ends by the next multiple, and no range crosses
 * a multiple of the mask period `heads * nMk`. A `dsm` call with gradient sums (accumulated over groups) is
 * not cut.
 */
export function gemmRanges(a: SmallGemmAttrs, ptr: GemmPointers, parts: number): [number, number][] {
  const whole: [number, number][] = [[0, a.G]];
  if (parts < 2 || a.G < 2) return whole;
  if (a.kind === 'dsm' && (a.biasGrad || a.maskGrad)) return whole;
  const hasBias = a.kind === 'attn' && ptr.bias >= 0;
  const hasMask = a.kind === 'attn' && ptr.mask >= 0;
  const nB = hasBias ? a.nB : 1;
  const heads = hasMask ? a.heads : 1;
  const cuts = new Set<number>([0, a.G]);
  for (const [lo] of evenRanges(a.G, parts)) cuts.add(lo);
  if (hasMask) for (let g = heads * a.nMk; g < a.G; g += heads * a.nMk) cuts.add(g);
  // a range starting off a multiple of nB (heads) ends at the next one
  for (const g of [...cuts]) {
    if (g % nB !== 0) cuts.add(Math.min(a.G, Math.ceil(g / nB) * nB));
    if (g % heads !== 0) cuts.add(Math.min(a.G, Math.ceil(g / heads) * heads));
  }
  const sorted = [...cuts].sort((x, y) => x - y);
  const out: [number, number][] = [];
  for (let i = 1; i < sorted.length; i++) if (sorted[i] > sorted[i - 1]) out.push([sorted[i - 1], sorted[i]]);
  return out;
}

/** The attrs and pointers of groups `[g0, g1)` of a call, with its own `scratch` (see {@link gemmRanges}). */
export function gemmChunk(
  a: SmallGemmAttrs,
  ptr: GemmPointers,
  g0: number,
  g1: number,
  scratch: number,
): { attrs: SmallGemmAttrs; ptr: GemmPointers } {
  const rowBytes = a.n * a.m * 4;
  return {
    attrs: { ...a, G: g1 - g0 },
    ptr: {
      a: ptr.a + g0 * a.sAg * 4,
      b: ptr.b + g0 * a.sBg * 4,
      out: [ptr.out[0] + g0 * rowBytes, ...ptr.out.slice(1)],
      scratch,
      bias: ptr.bias >= 0 ? ptr.bias + (g0 % a.nB) * a.sBiasG * 4 : -1,
      mask: ptr.mask >= 0 ? ptr.mask + (Math.floor(g0 / a.heads) % a.nMk) * a.sMaskG * 4 : -1,
      probs: ptr.probs >= 0 ? ptr.probs + g0 * rowBytes : -1,
    },
  };
}

/** One task of an exported kernel function. */
export interface FnTask {
  fn: string;
  args: number[];
}

/**
 * Tasks of the elementwise module's functions that can be cut (the others, e.g. `lnBwd` which sums over
 * rows, give null). `args` is the function's argument list (byte offsets and sizes, see elementwise.ts).
 */
export function elementwiseTasks(fn: string, args: readonly number[], threads: number): FnTask[] | null {
  const cut = (
    total: number,
    perUnit: number,
    minWork: number,
    make: (lo: number, hi: number) => number[],
  ) => {
    const count = taskCount(total * perUnit, minWork, threads);
    if (count < 2) return null;
    return evenRanges(total, count).map(([lo, hi]) => ({ fn, args: make(lo, hi) }));
  };
  switch (fn) {
    case 'gelu':
    case 'erf': {
      const [x, y, n4] = args;
      return cut(n4, 4, MIN_TASK_WORK.gelu, (lo, hi) => [x + 16 * lo, y + 16 * lo, hi - lo]);
    }
    case 'geluGrad': {
      const [x, dy, dx, n4] = args;
      return cut(n4, 4, MIN_TASK_WORK.gelu, (lo, hi) => [x + 16 * lo, dy + 16 * lo, dx + 16 * lo, hi - lo]);
    }
    case 'lnFwd': {
      const [x, g, b, y, mean, rstd, rows, C4, invC, eps] = args;
      const rb = C4 * 16;
      return cut(rows, 4 * C4, MIN_TASK_WORK.layerNorm, (lo, hi) => [
        x + rb * lo,
        g,
        b,
        y + rb * lo,
        mean + 4 * lo,
        rstd + 4 * lo,
        hi - lo,
        C4,
        invC,
        eps,
      ]);
    }
    case 'tokToHeads':
    case 'headsToTok': {
      // (src, dst, B, N, H, D4, S, off): cut over B (token rows b N .. , head blocks b H ..)
      const [src, dst, B, N, H, D4, S, off] = args;
      const tokStep = N * S * 4;
      const headStep = H * N * D4 * 16;
      const toHeads = fn === 'tokToHeads';
      return cut(B, N * H * D4 * 4, MIN_TASK_WORK.copy, (lo, hi) => [
        src + lo * (toHeads ? tokStep : headStep),
        dst + lo * (toHeads ? headStep : tokStep),
        hi - lo,
        N,
        H,
        D4,
        S,
        off,
      ]);
    }
    default:
      return null;
  }
}
