import { type Conv2d, DepthwiseConv2d, normal } from '@swin/nn';
import * as tf from '@tensorflow/tfjs-core';

/**
 * Re-initialises a convolution the way every `_init_weights` of the official Shunted code does:
 * weight ~ N(0, sqrt(2 / fan_out)) with `fan_out = kh * kw * out_channels / groups`, bias = 0.
 * (Linear layers already default to trunc_normal(0.02) / zeros and LayerNorm to ones / zeros in @swin/nn.)
 */
export function officialConvInit(conv: Conv2d | DepthwiseConv2d): void {
  let fanOut: number;
  if (conv instanceof DepthwiseConv2d) {
    fanOut = conv.kernel * conv.kernel; // groups = channels
  } else {
    fanOut = conv.kernel[0] * conv.kernel[1] * conv.outChannels;
  }
  const std = Math.sqrt(2 / fanOut);
  tf.tidy(() => {
    conv.weight.assign(normal(std)(conv.weight.shape));
    if (conv.bias) conv.bias.assign(tf.zerosLike(conv.bias));
  });
}
