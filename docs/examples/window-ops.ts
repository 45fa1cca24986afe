// Shifted windows with @swin/window-ops alone: pad an odd-sized map, roll + partition it in one gather,
// and undo both. Runs in the docs page and in the test suite.

import {
  cropTo,
  cyclicShift,
  padToWindow,
  shiftedWindowPartition,
  shiftedWindowReverse,
  windowPartition,
} from '@swin/window-ops';
import * as tf from '@tensorflow/tfjs-core';

export async function main(log: (line: string) => void): Promise<void> {
  const x = tf.randomNormal([1, 13, 21, 8]) as tf.Tensor4D; // [B, H, W, C], not a multiple of the window
  const { padded, H, W } = padToWindow(x, 7); // [1, 14, 21, 8]
  log(`input [${x.shape}] padded to [${padded.shape}]`);

  const windows = shiftedWindowPartition(padded, 7, 3); // roll by -3, then 7x7 windows: [6, 7, 7, 8]
  log(`shifted windows [${windows.shape}] (${windows.shape[0]} windows of ${7 * 7} tokens)`);

  // The fused gather is bit-identical to torch.roll followed by window_partition.
  const unfused = windowPartition(cyclicShift(padded, [-3, -3]), 7);
  const same = tf.all(tf.equal(windows, unfused)).dataSync()[0] === 1;
  log(`fused gather equals roll + partition: ${same}`);

  const back = cropTo(shiftedWindowReverse(windows, 7, 3, 14, 21), H, W); // [1, 13, 21, 8]
  const maxErr = tf.max(tf.abs(tf.sub(back, x))).dataSync()[0];
  log(`reverse + unshift + crop gives [${back.shape}], max |difference| = ${maxErr}`);
  tf.dispose([x, padded, windows, unfused, back]);
}
