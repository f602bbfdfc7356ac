/**
 * dense-retrieval: train, evaluate and serve dense retrievers (bi-encoders) on TensorFlow.js.
 *
 * Every building block is exported from here; see the README for a quickstart.
 * @packageDocumentation
 */

export * from './errors.js';
export { initBackend, ensureBackend, currentBackend, wasmBinaryDir, BACKEND_ORDER } from './backend/index.js';
export type { BackendName, InitBackendOptions } from './backend/index.js';
export {
  registerWasmKernels,
  unregisterWasmKernels,
  registeredWasmKernels,
} from './backend/kernels/index.js';
export { createProgress } from './util/progress.js';
export type { Progress, ProgressOptions } from './util/progress.js';
export { writeFileAtomic, writeDirAtomic, removeStaleTemps } from './util/atomic.js';
export { checkMatrixShape, matrixFromRows, matrixRow } from './util/matrix.js';
export { cosSim, dotScore, l2NormalizeRows, semanticSearch } from './util/similarity.js';
export type { SemanticSearchHit, SemanticSearchOptions } from './util/similarity.js';
export type { Qrels, Run, Matrix, CorpusDoc, QueryRecord } from './types.js';
export {
  rankDocuments,
  compareIds,
  ndcgAt,
  mrrAt,
  recallAt,
  precisionAt,
  mapAt,
  averagePrecision,
  evaluateRun,
} from './eval/metrics.js';
export type { EvaluateOptions, Evaluation } from './eval/metrics.js';
export {
  parseMeasures,
  formatTrecValue,
  formatTrecLine,
  DEFAULT_CUTOFFS,
  SUPPORTED_MEASURES,
} from './eval/measures.js';
export type { MeasureSpec, MeasureFamily } from './eval/measures.js';
export {
  inTrecOrder,
  formatMeasureLine,
  measureAggregation,
  TREC_MEASURE_ORDER,
  IPREC_RECALL_LEVELS,
  SUCCESS_CUTOFFS,
} from './eval/measures.js';
export {
  compareRuns,
  pairedTTest,
  wilcoxonTest,
  randomizationTest,
  correctPValues,
} from './eval/significance.js';
export type {
  CompareRunsOptions,
  RunComparison,
  PairComparison,
  SignificanceTest,
  Correction,
  TestResult,
} from './eval/significance.js';
export { formatComparison, formatPerQueryDifferences, SIGNIFICANCE_MARKER } from './eval/compare.js';
export type { ComparisonFormat, ComparisonReportOptions } from './eval/compare.js';
export { optimizeFusionWeights } from './eval/fusion-weights.js';
export type { OptimizeFusionOptions, FusionWeights } from './eval/fusion-weights.js';
export { readJsonl } from './data/jsonl.js';
export { readQrels, readQrelsWithFormat, writeQrels } from './data/qrels.js';
export type { QrelsFormat } from './data/qrels.js';
export { readRun, writeRun } from './data/run.js';
export type { WriteRunOptions } from './data/run.js';
export { loadBeir, streamCorpus, readQueries, listBeirSplits } from './data/beir.js';
export type { BeirDataset } from './data/beir.js';
export { TextTokenizer, BUNDLED_TOKENIZERS } from './tokenize/tokenizer.js';
export type { EncodedBatch, TokenizeOptions } from './tokenize/tokenizer.js';
export {
  resolveModelSource,
  isHubId,
  HubError,
  REQUIRED_HUB_FILES,
  OPTIONAL_HUB_FILES,
  redactCredentials,
} from './checkpoint/hub.js';
export type { HubOptions } from './checkpoint/hub.js';
export { defaultCacheDir, modelCacheDir, COMPLETE_MARKER } from './checkpoint/cache.js';
export { Rng, deriveSeed } from './util/random.js';
export { parseDecimal, parseInteger } from './util/number.js';
export {
  WarmupCosineScheduler,
  LinearScheduler,
  ConstantScheduler,
  WarmupConstantScheduler,
  setOptimizerLearningRate,
} from './optim/schedulers.js';
export type { LrScheduler, WarmupCosineOptions, LinearOptions } from './optim/schedulers.js';
export { AdamW, clipGradNorm, defaultNoDecay } from './optim/adamw.js';
export type { AdamWOptions, AdamWStateManifest } from './optim/adamw.js';
export { InBatchNegativesLoss } from './losses/in-batch-negatives.js';
export type { InBatchNegativesOptions, Similarity } from './losses/in-batch-negatives.js';
export { CachedInBatchNegativesLoss } from './losses/cached-in-batch-negatives.js';
export type { CachedInBatchNegativesOptions } from './losses/cached-in-batch-negatives.js';
export type {
  TrainableEncoder,
  TrainingBatch,
  GradientResult,
  RetrievalLoss,
  EmbeddingLoss,
  LossContext,
} from './losses/types.js';
export { MatryoshkaLoss } from './losses/matryoshka.js';
export type { MatryoshkaOptions, MatryoshkaInner } from './losses/matryoshka.js';
export { MarginMSELoss } from './losses/margin-mse.js';
export type { MarginMSEOptions } from './losses/margin-mse.js';
export { DistillKLDivLoss } from './losses/distill-kl.js';
export type { DistillKLDivOptions } from './losses/distill-kl.js';
export { GISTEmbedLoss, CachedGISTEmbedLoss } from './losses/gist-embed.js';
export type { GISTEmbedOptions, GuideEncoder } from './losses/gist-embed.js';
export { CachedLoss } from './losses/cached.js';
export { plainGradients, cachedGradients } from './losses/gradients.js';
export { BiEncoder, BI_ENCODER_CONFIG } from './models/bi-encoder.js';
export type {
  BiEncoderConfig,
  BiEncoderOptions,
  TowerEncoder,
  TowerEncodeOptions,
} from './models/bi-encoder.js';
export { loadRetrievalModel, towerEncoder } from './models/load-retrieval-model.js';
export type { LoadRetrievalModelOptions, Tower } from './models/load-retrieval-model.js';
export { checkOptionKeys } from './util/options.js';
export { mineHardNegatives, mineHardNegativeQueries } from './train/hard-negatives.js';
export type {
  MineHardNegativesOptions,
  MinedDocument,
  MinedQuery,
  MiningHits,
  MiningSummary,
  NegativeSampling,
  SkippedCounts,
} from './train/hard-negatives.js';
export { mineHardNegativesToJsonl, minedLines } from './train/hard-negatives-jsonl.js';
export type {
  MinedLineForm,
  MineHardNegativesToJsonlOptions,
  MiningReport,
} from './train/hard-negatives-jsonl.js';
export { bm25MiningRetriever, chooseMiningIndex, denseMiningRetriever } from './train/mining-retriever.js';
export type {
  DenseMiningRetrieverOptions,
  MiningIndexKind,
  MiningRetriever,
} from './train/mining-retriever.js';
export { examplesFromQrels, passageText } from './train/examples.js';
export type { TrainingExample } from './train/examples.js';
export { readTrainingFile, streamTrainingExamples, TRAINING_FILE_FIELDS } from './train/training-data.js';
export type { TrainingFileOptions } from './train/training-data.js';
export { NoDuplicatesBatchSampler } from './train/sampler.js';
export type { SamplerState } from './train/sampler.js';
export { MultiDatasetBatchSampler, MULTI_DATASET_SAMPLINGS } from './train/multi-dataset-sampler.js';
export type { MultiDatasetSampling, DatasetBatch } from './train/multi-dataset-sampler.js';
export { drawNegatives } from './train/negative-pool.js';
export type { ExampleKey } from './train/negative-pool.js';
export { TrainingStream } from './train/training-stream.js';
export type { TrainingData, TrainingDataState } from './train/training-stream.js';
export { Trainer, saveModelInto, TRAIN_LOG, CHECKPOINTS_DIR } from './train/trainer.js';
export type { TrainerOptions, TrainResult, StepRecord } from './train/trainer.js';
export type { TrainerState, BestModelState } from './train/checkpoint.js';
export { EarlyStopping, isImprovement } from './train/early-stopping.js';
export type { BestModelOptions, BestEvaluation } from './train/best-checkpoint.js';
export { EVAL_LOG, formatEvaluationLine, readEvaluationLog } from './train/eval-log.js';
export type { EvaluationRecord } from './train/eval-log.js';
export { MODEL_CARD, writeModelCard } from './train/model-card.js';
export type { ModelCardOptions, ModelCardEvaluation, ModelCardResult } from './train/model-card.js';
export { describeModelDir, formatArchitecture } from './train/model-architecture.js';
export type { ModelArchitecture, ModuleDescription } from './train/model-architecture.js';
export { BertModel, parseBertConfig } from './models/architectures/bert.js';
export type { BertConfig, BertInputs, BertForwardOptions } from './models/architectures/bert.js';
export {
  SUPPORTED_MODEL_TYPES,
  architectureFor,
  parseEncoderConfig,
  randomEncoder,
  encoderFromWeights,
} from './models/architectures/registry.js';
export type { Architecture, ModelType } from './models/architectures/registry.js';
export type {
  TransformerEncoder,
  EncoderConfig,
  EncoderInputs,
  EncoderForwardOptions,
  HfTensor,
} from './models/architectures/encoder.js';
export { pool, l2Normalize, POOLING_MODES } from './models/pooling.js';
export type { PoolingMode } from './models/pooling.js';
export { SentenceEncoder } from './models/sentence-encoder.js';
export { saveAsRouter, ROUTER_TYPE } from './models/modules/router.js';
export type {
  EncodeOptions,
  EmbedOptions,
  SentenceEncoderInit,
  FromScratchOptions,
} from './models/sentence-encoder.js';
export { encodeParallel } from './models/parallel-encode.js';
export type { ParallelEncodeOptions } from './models/parallel-encode.js';
export { ENGINE_CHOICES, isEngineChoice } from './engines/types.js';
export type { EngineChoice, EngineName, InferenceEngine, TokenBatch } from './engines/types.js';
export { defaultEngine } from './engines/select.js';
export { loadModel, loadBert, loadTransformer, loadTokenizerFor, SCRATCH_PREFIX } from './models/load.js';
export { SCRATCH_CONFIGS, scratchConfigFile } from './checkpoint/scratch.js';
export type { LoadModelOptions } from './models/load.js';
export { readSafetensors, writeSafetensors } from './checkpoint/safetensors.js';
export type {
  SafetensorsTensor,
  SafetensorsInput,
  ReadSafetensorsOptions,
} from './checkpoint/safetensors.js';
export { writeModelDir, verifyModelDir, MODEL_MANIFEST } from './checkpoint/model-dir.js';
export { buildOnnxModel } from './export/onnx-model.js';
export type { OnnxModelOptions } from './export/onnx-model.js';
export { exportOnnx } from './export/export-onnx.js';
export type { ExportOnnxOptions, ExportResult } from './export/export-onnx.js';
export type { SaveOptions, OverwriteMode, ModelManifest } from './checkpoint/model-dir.js';
export {
  parsePoolingConfig,
  readSentenceTransformersLayout,
  writeSentenceTransformersFiles,
  readSimilarityFnName,
  writeSimilarityFnName,
  ST_SIMILARITIES,
} from './checkpoint/sentence-transformers.js';
export type {
  SentenceTransformersLayout,
  SentenceTransformersSettings,
  StSimilarity,
} from './checkpoint/sentence-transformers.js';
export {
  vectorSidecarPaths,
  readIdLines,
  writeVectorSidecars,
  readVectorsMeta,
  readVectorIds,
} from './data/vector-sidecar.js';
export type { VectorsMeta } from './data/vector-sidecar.js';
export { readNpy, readNpyBlocks, readNpyInfo, readNpyRows, writeNpy } from './data/npy.js';
export type { NpyInfo } from './data/npy.js';
export { readNpyCodes, writeNpyCodes } from './data/npy-codes.js';
export type { NpyCodes } from './data/npy-codes.js';
export type { Metric, SearchResult, SearchOptions, VectorIndex } from './index/types.js';
export { ExactIndex } from './index/exact.js';
export type { ExactIndexOptions } from './index/exact.js';
export { HnswIndex, HNSW_DEFAULTS, chooseMipsTransform, MIPS_NORM_SPREAD } from './index/hnsw.js';
export {
  defaultEfSearch,
  DEFAULT_EF_MEASUREMENTS,
  DEFAULT_EF_MEASUREMENTS_M16,
  DEFAULT_EF_MARGIN,
} from './index/hnsw-defaults.js';
export type { EfCurve } from './index/hnsw-defaults.js';
export type { HnswIndexOptions } from './index/hnsw.js';
export { Bm25Index, lengthToNormByte, normByteToLength } from './index/bm25.js';
export type { Bm25Options } from './index/bm25.js';
export { analyzeEnglish, standardTokenize, LUCENE_ENGLISH_STOP_WORDS } from './index/analyzer.js';
export { fuse } from './index/fuse.js';
export type { FuseOptions } from './index/fuse.js';
export { normalizeRun, FUSION_METHODS, SCORE_NORMS } from './index/fuse.js';
export type { FusionMethod, ScoreNorm } from './index/fuse.js';
export { measureRecall, recallOfResults, measureIndex } from './index/recall.js';
export type { IndexReport } from './index/recall.js';
export { Int8Index } from './index/int8.js';
export type { Int8IndexOptions } from './index/int8.js';
export { BinaryIndex } from './index/binary.js';
export type { BinaryIndexOptions } from './index/binary.js';
export type { QuantizedIndexOptions, QuantizedIndex } from './index/quantized.js';
export { truncateEmbeddings } from './util/truncate.js';
export { buildTunedHnsw } from './index/tune-build.js';
export type { BuildTunedOptions } from './index/tune-build.js';
export type { TuneOptions, HnswTuning, HnswSpace, TunedCandidate } from './index/tune.js';
export { searchResultToRun } from './index/result-run.js';
export { loadVectorIndex, readIndexKind } from './index/load.js';
export { INDEX_FORMAT_VERSION } from './index/container.js';
export { quantizeEmbeddings, calibrationRanges, packSignBits, ScalarQuantizer } from './util/quantize.js';
export type { Precision, QuantizationRanges, QuantizeOptions, QuantizedEmbeddings } from './util/quantize.js';
export type { IndexKind } from './index/container.js';
export {
  RetrievalEvaluator,
  formatEvaluationTable,
  metricOfSimilarity,
  RECALL_WARNING,
} from './eval/retrieval-evaluator.js';
export type {
  RetrievalBiEncoder,
  RetrievalEvaluatorOptions,
  EvaluationRow,
  EvaluationTable,
  EvaluatorIndex,
  RetrievalEncoder,
} from './eval/retrieval-evaluator.js';
export { createEvaluationCallback } from './train/evaluation-callback.js';
export type { EvaluationCallbackOptions } from './train/evaluation-callback.js';
export {
  PgvectorIndex,
  readPgvectorReference,
  REFERENCE_FORMAT as PGVECTOR_REFERENCE_FORMAT,
} from './index/pgvector.js';
export type {
  PgvectorIndexOptions,
  PgvectorSearchOptions,
  PgvectorIndexMethod,
  PgvectorReference,
} from './index/pgvector.js';
export { DatabaseError } from './index/pg-client.js';
export {
  parseShardSpec,
  fileFingerprint,
  readShardManifest,
  checkShardSet,
  mergeShards,
  streamTextRecords,
  SHARD_MANIFEST,
} from './data/shards.js';
export type { ShardSpec, ShardManifest, ShardChunk } from './data/shards.js';
export { encodeShard, modelFingerprint } from './models/sharded-encode.js';
export type { EncodeShardOptions, ShardEncoder } from './models/sharded-encode.js';
