/**
 * `@swin/models`: one registry of every timm and official model name of the implemented families with its
 * pretrained configuration, configs from timm constructor kwargs, ImageNet-1k labels and top-k predictions.
 *
 * @packageDocumentation
 */
export {
  buildFromConfig,
  createModel,
  createResolved,
  type FamilyConfig,
  type ModelOverrides,
  type RegistryModel,
} from './create.js';
export { IMAGENET_1K_LABELS } from './imagenet-1k.js';
export { configFromTimmKwargs, KwargError, type TimmKwargsOptions } from './kwargs.js';
export {
  cfgImageSize,
  copyPretrainedCfg,
  IMAGENET_DEFAULT_MEAN,
  IMAGENET_DEFAULT_STD,
  type Interpolation,
  type PretrainedCfg,
} from './pretrained.js';
export {
  ARCHITECTURES,
  type ArchEntry,
  DEPRECATED_NAMES,
  type ListModelsOptions,
  listModels,
  type ModelFamily,
  modelTags,
  PRETRAINED_CFGS,
  type ResolvedModel,
  resolveModel,
  suggestNames,
  UnknownModelError,
} from './registry.js';
export { labelsFor, type Prediction, type TopKOptions, topK } from './topk.js';
