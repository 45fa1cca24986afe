// What each docs example must print: checked in Node (examples.test.ts) and in the built site (e2e/site.test.ts).
export const expectations: Record<string, RegExp[]> = {
  'window-ops': [/padded to \[1,14,21,8\]/, /roll \+ partition: true/, /max \|difference\| = 0$/m],
  'shifted-mask': [/window 0: 0 of 256/, /window 3: \d+ of 256/],
  'use-a-model': [
    /pvt_v2_b0\.in1k: input 3x224x224, crop 0\.9, bicubic/,
    /3\.\d\d M parameters/,
    /logits \[1,1000\], top-1 of random weights: class \d+/,
    /stage 0: \[1,56,56,32\], stride 4, 32 channels/,
    /stage 3: \[1,7,7,256\], stride 32, 256 channels/,
  ],
  'hybrid-backbone': [
    /stage 0 \(shunted\): \[1,16,16,64\], 64 channels, stride 4/,
    /stage 3 \(swin\): \[1,2,2,64\], 64 channels, stride 32/,
    /45x61 input -> stage maps 11x15, 6x8, 3x4, 2x2/,
    /reloaded model identical: true/,
  ],
};
