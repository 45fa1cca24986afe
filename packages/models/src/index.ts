/**
 * `@swin/models`: one registry of every timm and official model name of the implemented families with its
 * pretrained configuration, configs from timm constructor kwargs, ImageNet-1k labels and top-k predictions.
 *
 * @packageDocumentation
 */
export {
  BACKBONE_ARCHITECTURE,
  type BackboneHubSpec,
  backboneHubConfig,
  backboneHubFiles,
  backboneHubSpec,
  isBackboneHubConfig,
} from './backbone-hub.js';
export {
  buildFromConfig,
  countParams,
  createModel,
  createResolved,
  type FamilyConfig,
  type ModelOverrides,
  type RegistryModel,
  swinStageWindowBackbone,
} from './create.js';
export { HUB_WEIGHT_FILES, type HubModelSpec, hubModelSpec, parseShardIndex } from './hub.js';
export { IMAGENET_1K_LABELS } from './imagenet-1k.js';
export { configFromTimmKwargs, KwargError, type TimmKwargsOptions } from './kwargs.js';
export {
  defaultWeights,
  hfHubBaseUrl,
  type LoadedModel,
  type LoadPretrainedOptions,
  loadPretrained,
} from './load.js';
export {
  type ClassificationPipeline,
  disposeFeatures,
  type ExtractedFeatures,
  extractFeatures,
  type ImageInput,
  type PipelineOptions,
  pipeline,
  preprocessImage,
} from './pipeline.js';
export {
  attachPretrainedCfg,
  cfgImageSize,
  copyPretrainedCfg,
  IMAGENET_DEFAULT_MEAN,
  IMAGENET_DEFAULT_STD,
  type Interpolation,
  type PretrainedCfg,
  pretrainedCfgOf,
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
export { isTimmTransform, transformImage } from './transform.js';
export { type LoadWeightsOptions, loadWeights, type WeightsReport } from './weights.js';
export { configFromYacs, isSwinYacsConfig, type PlainValue, toPlain, type YacsModel } from './yacs.js';
