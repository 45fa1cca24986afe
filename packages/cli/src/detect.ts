/**
 * Which family a state_dict belongs to, and in which key layout, from its keys alone (no tensors). The layout
 * tests are the families' own: `detectSwinLayout` (Microsoft vs timm) from `@swin/swin-core`,
 * `isTimmPVTv2StateDict` (official vs timm) from `@swin/pvt`; this file only decides the family.
 */
import { isTimmPVTv2StateDict } from '@swin/pvt';
import { detectSwinLayout } from '@swin/swin-core';

/** A detected family and key layout (`family: 'unknown'` when no rule matched). */
export interface Detection {
  family: 'swin' | 'swin-mlp' | 'shunted' | 'pvt-v1' | 'pvt-v2' | 'unknown';
  /** `microsoft` / `timm` (Swin, Swin-MLP), `official` / `timm` (PVT v2), `official` (Shunted, PVT v1). */
  layout?: string;
  /** The key that decided it. */
  evidence?: string;
}

const has = (keys: readonly string[], re: RegExp): string | undefined => keys.find((k) => re.test(k));

/**
 * Detects the family of a state_dict from its keys:
 * - Swin: `layers.<i>.blocks.<j>.attn.relative_position_bias_table`;
 * - Swin-MLP: `layers.<i>.blocks.<j>.spatial_mlp.*`;
 * - Shunted: `block<i>.<j>.attn.kv1.*` / `attn.local_conv*` (two-scale key/values);
 * - PVT v2: `mlp.dwconv.*` (official `block<i>.<j>.mlp.dwconv.dwconv.*`, timm `stages.<i>.blocks.<j>.mlp.dwconv.*`);
 * - PVT v1: `pos_embed<i>` or `block<i>.<j>.attn.sr.*` without a depthwise conv in the MLP.
 */
export function detectFamily(keys: readonly string[]): Detection {
  let e = has(keys, /(^|\.)layers\.\d+\.blocks\.\d+\.attn\.relative_position_bias_table$/);
  if (e) return { family: 'swin', layout: detectSwinLayout(keys), evidence: e };
  e = has(keys, /(^|\.)layers\.\d+\.blocks\.\d+\.spatial_mlp\./);
  if (e) return { family: 'swin-mlp', layout: detectSwinLayout(keys), evidence: e };
  e = has(keys, /(^|\.)block\d+\.\d+\.attn\.(kv1|local_conv\d?)\./);
  if (e) return { family: 'shunted', layout: 'official', evidence: e };
  e = has(keys, /(^|\.)mlp\.dwconv\./);
  if (e) {
    const rec = Object.fromEntries(keys.map((k) => [k, true]));
    return { family: 'pvt-v2', layout: isTimmPVTv2StateDict(rec) ? 'timm' : 'official', evidence: e };
  }
  e = has(keys, /^pos_embed\d$/) ?? has(keys, /(^|\.)block\d+\.\d+\.attn\.sr\./);
  if (e) return { family: 'pvt-v1', layout: 'official', evidence: e };
  return { family: 'unknown' };
}
