// Build a model by name, run it, and read its feature pyramid. The weights here are random (createModel);
// loadPretrained(name, { weights }) builds the same model with a checkpoint's weights in it.
import { createModel, extractFeatures, listModels, resolveModel, topK } from '@swin/models';
import * as tf from '@tensorflow/tfjs-core';

export async function main(log: (line: string) => void): Promise<void> {
  log(`PVT v2 models: ${listModels('pvt_v2*').join(', ')}`);
  const { name, tag, pretrainedCfg } = resolveModel('pvt_v2_b0');
  log(
    `${name}.${tag}: input ${pretrainedCfg.inputSize.join('x')}, crop ${pretrainedCfg.cropPct}, ${pretrainedCfg.interpolation}`,
  );

  const model = createModel('pvt_v2_b0');
  log(
    `${(model.numParams() / 1e6).toFixed(2)} M parameters, ${(model.macs(224, 224) / 1e9).toFixed(2)} GMACs at 224`,
  );
  const x = tf.randomUniform<tf.Rank.R4>([1, 224, 224, 3], -2, 2, 'float32', 7); // NHWC, already normalised
  try {
    const logits = model.forward(x); // [1, 1000]
    const [best] = topK(logits, 1)[0];
    log(`logits [${logits.shape}], top-1 of random weights: class ${best.index} (${best.label})`);
    logits.dispose();

    const { features, info } = await extractFeatures(model, x); // one NHWC map per stage
    for (const [i, f] of features.entries()) {
      log(`stage ${i}: [${f.shape}], stride ${info[i].reduction}, ${info[i].channels} channels`);
    }
    tf.dispose(features);
  } finally {
    x.dispose();
    model.dispose();
  }
}
