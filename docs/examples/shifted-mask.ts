// The SW-MSA attention mask of a shifted Swin block: region ids and the 0 / -100 mask.
import { regionIds, shiftedWindowMask } from '@swin/shifted-mask';

export async function main(log: (line: string) => void): Promise<void> {
  const [H, W, window, shift] = [8, 8, 4, 2];
  const ids = regionIds(H, W, window, shift); // Int32Array [H*W], the 3x3 regions of the rolled map
  log(`region ids of the rolled ${H}x${W} map (window ${window}, shift ${shift}):`);
  for (let h = 0; h < H; h++) log(`  ${Array.from(ids.slice(h * W, (h + 1) * W)).join(' ')}`);
  const mask = shiftedWindowMask(H, W, window, shift); // cached [nW, N, N]; do not dispose
  const data = mask.dataSync();
  const N = window * window;
  for (let w = 0; w < mask.shape[0]; w++) {
    let blocked = 0;
    for (let i = 0; i < N * N; i++) if (data[w * N * N + i] === -100) blocked++;
    log(`window ${w}: ${blocked} of ${N * N} token pairs masked with -100`);
  }
}
