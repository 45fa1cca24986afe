/**
 * `@swin/swin-core`: Swin Transformer (W-MSA / SW-MSA) on TensorFlow.js with the official
 * microsoft/Swin-Transformer state_dict keys. Feature maps are channels-last `[B, H, W, C]`.
 *
 * @packageDocumentation
 */
export { PatchEmbed, type PatchEmbedOptions, patchEmbedMacs } from './patch-embed.js';
export { mergePatches2x2, PatchMerging, patchMergingMacs } from './patch-merging.js';
