import type { Handler } from '../runner.js';
import { preprocessHandlers } from './preprocess.js';
import { pvtHandlers } from './pvt.js';
import { shuntedHandlers } from './shunted.js';
import { swinHandlers } from './swin.js';
import { swinMlpHandlers } from './swin-mlp.js';
import { windowHandlers } from './window.js';

export { preprocessHandlers, pvtHandlers, shuntedHandlers, swinHandlers, swinMlpHandlers, windowHandlers };

/** Every parity handler; the runner uses the first one whose `matches` accepts a fixture. */
export const HANDLERS: readonly Handler[] = [
  ...windowHandlers,
  ...swinHandlers,
  ...swinMlpHandlers,
  ...shuntedHandlers,
  ...pvtHandlers,
  ...preprocessHandlers,
];
