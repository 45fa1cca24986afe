// A hybrid hierarchical backbone from one JSON config: Shunted Transformer stages 1-2 (conv stem,
// multi-scale attention) under Swin stages 3-4 (shifted windows). Prints each stage's feature map,
// the parameter count and the MACs, then saves and reloads the model from one safetensors file.

import { type BackboneConfig, createBackbone, loadBackbone, saveBackbone } from '@swin/backbone';
import * as tf from '@tensorflow/tfjs-core';

const config: BackboneConfig = {
  name: 'shunted-swin-tiny',
  imgSize: 64,
  inChans: 3,
  numClasses: 10,
  stages: [
    {
      dim: 64, // the Shunted stem always outputs 64 channels
      depth: 1,
      downsample: { kind: 'shunted_stem', numConv: 0 },
      block: { kind: 'shunted', numHeads: 2, srRatio: 4, mlpRatio: 2 },
      norm: true,
    },
    {
      dim: 32,
      depth: 1,
      downsample: { kind: 'overlap_patch_embed', patchSize: 3, stride: 2 },
      block: { kind: 'shunted', numHeads: 2, srRatio: 2, mlpRatio: 2 },
      norm: true,
    },
    {
      dim: 48,
      depth: 2,
      downsample: { kind: 'patch_merging' }, // LayerNorm(4 * 32) -> Linear(128 -> 48)
      block: { kind: 'swin', numHeads: 3, windowSize: 2 },
    },
    {
      dim: 64,
      depth: 2,
      downsample: { kind: 'patch_merging' },
      block: { kind: 'swin', numHeads: 4, windowSize: 2 },
    },
  ],
  finalNorm: true,
};

export async function main(log: (line: string) => void): Promise<void> {
  const model = createBackbone(config);
  log(`${config.name}: ${model.numParams().toLocaleString('en-US')} parameters`);
  log(`MACs at 64x64: ${(model.macs(64, 64) / 1e6).toFixed(2)} M`);

  const x = tf.randomNormal([1, 64, 64, 3]) as tf.Tensor4D; // NHWC
  const features = model.forwardFeatures(x);
  features.forEach((f, i) => {
    const { channels, reduction } = model.featureInfo[i];
    log(
      `stage ${i} (${config.stages[i].block.kind}): [${f.shape}], ${channels} channels, stride ${reduction}`,
    );
  });

  // Any input size runs: Swin pads to its windows, the strided convs drop remainders.
  const odd = tf.randomNormal([1, 45, 61, 3]) as tf.Tensor4D;
  const oddFeatures = model.forwardFeatures(odd);
  log(`45x61 input -> stage maps ${oddFeatures.map((f) => `${f.shape[1]}x${f.shape[2]}`).join(', ')}`);

  const logits = model.forward(x);
  const bytes = await saveBackbone(model); // weights + config in one safetensors file
  const reloaded = loadBackbone(bytes);
  const again = reloaded.forward(x);
  const same = tf.tidy(() => tf.all(tf.equal(logits, again)).dataSync()[0] === 1);
  log(`logits [${logits.shape}]; saved ${bytes.length} bytes; reloaded model identical: ${same}`);

  tf.dispose([x, odd, logits, again, ...features, ...oddFeatures]);
  model.dispose();
  reloaded.dispose();
}
