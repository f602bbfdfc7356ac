import { promises as fs } from 'node:fs';
import path from 'node:path';
import { loadBeir } from '../../data/beir.js';
import { Bm25Index } from '../../index/bm25.js';
import { BI_ENCODER_CONFIG, BiEncoder } from '../../models/bi-encoder.js';
import { loadRetrievalModel } from '../../models/load-retrieval-model.js';
import { POOLING_MODES } from '../../models/pooling.js';
import type { SentenceEncoder } from '../../models/sentence-encoder.js';
import { examplesFromQrels, passageText } from '../../train/examples.js';
import type { TrainingExample } from '../../train/examples.js';
import { mineHardNegatives } from '../../train/hard-negatives.js';
import { bm25MiningRetriever } from '../../train/mining-retriever.js';
import { createEvaluationCallback } from '../../train/evaluation-callback.js';
import { CHECKPOINTS_DIR, Trainer, saveModelInto, TRAIN_LOG } from '../../train/trainer.js';
import { latestCheckpoint } from '../../train/checkpoint.js';
import { EVAL_LOG } from '../../train/eval-log.js';
import { bestModelFlags } from '../train-best-flags.js';
import { writeTrainModelCard } from '../train-model-card.js';
import { optionalChoice, optionalFloat, optionalInt, optionalString, requireString } from '../args.js';
import type { Command } from '../command.js';
import { UsageError } from '../errors.js';
import { LOSS_HELP, LOSS_OPTIONS, buildLoss, checkLossData, parseLossFlags } from './train-loss.js';
import { readTrainFiles } from './train-files.js';
import { MULTI_DATASET_SAMPLINGS } from '../../train/multi-dataset-sampler.js';

/** BM25 ranks hard negatives are mined from (sentence-transformers' `mine_hard_negatives` defaults to the top too). */
const NEGATIVE_RANGE = { rangeMin: 0, rangeMax: 50 };

function positiveFloat(name: string, v: number | undefined): void {
  if (v !== undefined && !(v > 0)) throw new UsageError(`--${name} must be > 0, got ${v}`);
}

/** `dense-retrieval train`: fine-tune (or train from scratch) a bi-encoder on a BEIR split's qrels. */
export const trainCommand: Command = {
  name: 'train',
  summary: 'train a bi-encoder on the (query, relevant document) pairs of a BEIR split',
  help: `Usage: dense-retrieval train --model SRC --data BEIR_DIR --out DIR [options]
       dense-retrieval train --model SRC --train-file FILE [--data BEIR_DIR] --out DIR [options]

Train a bi-encoder with in-batch negatives on the qrels of a BEIR split (one example per judged
pair with grade >= 1; documents as "title text") or on JSONL training files (--train-file), with
AdamW, gradient clipping at norm 1 and a linear-warmup + cosine learning rate. DIR receives the
final model (sentence-transformers layout, loadable by 'encode --model DIR'; with --untied one
sentence-transformers Router model with a query and a document route, which 'encode --tower
query|passage' and 'evaluate-model' use), the log DIR/${TRAIN_LOG}, checkpoints DIR/checkpoints/step-N
and a model card DIR/README.md (Hugging Face format: what the model is, how it was trained and
evaluated, how to load it; a README.md you wrote is never replaced).

An existing, non-empty DIR is refused unless --resume (continue from its newest checkpoint) or
--overwrite (start afresh: its model files, log and checkpoints are replaced; other files are left).

Options:
  --model SRC             model directory (a tied or untied bi-encoder continues as it is), hub
                          id, or scratch:<config.json> (random init with the bundled
                          bert-base-uncased tokenizer) (required)
  --data BEIR_DIR         BEIR dataset directory (corpus.jsonl, queries.jsonl, qrels/) (required
                          without --train-file; with it, resolves the files' query_id/positive_id/
                          negative_ids)
  --train-file FILE       train on a JSONL training file instead of the qrels: one example per line,
                          {"query", "positive", "negatives"?, "scores"?} or with ids into --data
                          {"query_id", "positive_id", "negative_ids"?, "scores"?} (as 'mine' writes);
                          repeat it to train on several datasets, each batch from one of them
  --sampling S            round-robin|proportional: how batches of several --train-file datasets
                          interleave (default proportional: every batch of every dataset, in a random
                          order; round-robin: one batch per dataset in turn, until one runs out)
  --group-size N          passages per query and step: the positive and N-1 negatives drawn from the
                          example's negatives anew each epoch (Tevatron's train_group_size), so a line
                          may carry a pool of more negatives than a step uses
  --split NAME            qrels split to train on (default train)
  --out DIR               output directory (required; see --resume and --overwrite)
  --batch-size N          queries per batch (default 32)
  --epochs N              passes over the data (default 1, unless --steps)
  --steps N               number of updates instead of epochs
  --lr X                  peak learning rate (default 2e-5)
  --min-lr X              final learning rate of the cosine (default 0)
  --warmup N              warmup updates (default 10% of the total)
  --pooling MODE          cls|mean|max|mean_sqrt_len_tokens|weightedmean|lasttoken (default: the model's own)
  --max-length N          truncate texts to N tokens (default: the model's max_seq_length)
                          N is saved as the trained model's max_seq_length, so inference
                          truncates at N tokens too (as sentence-transformers does)
  --untied                separate query and passage encoders (both start from --model)
  --similarity S          dot|cosine (default: --model's own, else dot); saved with the model, and
                          the default metric of evaluate-model and index build
  --scale X               logit scale (default 1 for dot, 20 for cosine)
  --symmetric             also rank queries for each passage
  --hard-negatives N      add N BM25 hard negatives per query (from the top ${NEGATIVE_RANGE.rangeMax}, never a judged positive)
  --cache-mini-batch N    gradient caching with this mini-batch (large batches in bounded memory)
${LOSS_HELP}
  --max-grad-norm X       clip gradients to this global norm (default 1)
  --checkpoint-every N    checkpoint every N updates (default 500)
  --eval-split NAME       evaluate nDCG@10 and recall@100 on this split (exhaustive search over the
                          corpus) after training, and every --eval-every N updates: one line per
                          evaluation on stderr (none with --quiet), the history in
                          DIR/${EVAL_LOG}, the results also in DIR/${TRAIN_LOG}
  --eval-every N          evaluation interval (needs --eval-split)
  --metric NAME           keep the checkpoint with the best NAME (a trec_eval measure, e.g.
                          ndcg_cut_10 or ndcg_cut.10; also computed) over the evaluations: DIR
                          holds the best model at the end, not the last (needs --eval-split)
  --patience N            stop after N evaluations in a row without a better --metric
  --seed N                seed of sampling, dropout and scratch init (default 42)
  --query-prompt TEXT     prepend TEXT to training queries (default: the model's "query" prompt)
  --document-prompt TEXT  prepend TEXT to training passages (default: the model's "document" or
                          "passage" prompt); '' turns a prompt off
  --resume                continue from the newest checkpoint in DIR
  --overwrite             train afresh into an existing DIR, replacing its model, log and checkpoints
  --quiet                 no progress bar, no evaluation lines
  -h, --help              show this help
`,
  options: {
    model: { type: 'string' },
    data: { type: 'string' },
    'train-file': { type: 'string', multiple: true },
    sampling: { type: 'string' },
    'group-size': { type: 'string' },
    split: { type: 'string' },
    out: { type: 'string' },
    'batch-size': { type: 'string' },
    epochs: { type: 'string' },
    steps: { type: 'string' },
    lr: { type: 'string' },
    'min-lr': { type: 'string' },
    warmup: { type: 'string' },
    pooling: { type: 'string' },
    'max-length': { type: 'string' },
    untied: { type: 'boolean' },
    similarity: { type: 'string' },
    scale: { type: 'string' },
    symmetric: { type: 'boolean' },
    'hard-negatives': { type: 'string' },
    'cache-mini-batch': { type: 'string' },
    'max-grad-norm': { type: 'string' },
    'checkpoint-every': { type: 'string' },
    'eval-split': { type: 'string' },
    'eval-every': { type: 'string' },
    metric: { type: 'string' },
    patience: { type: 'string' },
    seed: { type: 'string' },
    'query-prompt': { type: 'string' },
    'document-prompt': { type: 'string' },
    resume: { type: 'boolean' },
    overwrite: { type: 'boolean' },
    quiet: { type: 'boolean' },
    ...LOSS_OPTIONS,
  },
  needsBackend: true,
  async run(values) {
    const source = requireString(values, 'model');
    const trainFiles = (values['train-file'] as string[] | undefined) ?? [];
    const data = trainFiles.length > 0 ? optionalString(values, 'data') : requireString(values, 'data');
    const out = requireString(values, 'out');
    const split = typeof values.split === 'string' ? values.split : 'train';
    const batchSize = optionalInt(values, 'batch-size', 1) ?? 32;
    let epochs = optionalInt(values, 'epochs', 1);
    const steps = optionalInt(values, 'steps', 1);
    if (epochs !== undefined && steps !== undefined)
      throw new UsageError('--epochs and --steps exclude each other');
    if (steps === undefined) epochs ??= 1;
    const lr = optionalFloat(values, 'lr') ?? 2e-5;
    const minLr = optionalFloat(values, 'min-lr') ?? 0;
    const warmupSteps = optionalInt(values, 'warmup', 0);
    const pooling = optionalChoice(values, 'pooling', POOLING_MODES);
    const maxSeqLength = optionalInt(values, 'max-length', 3);
    const similarity = optionalChoice(values, 'similarity', ['dot', 'cosine'] as const);
    const scale = optionalFloat(values, 'scale');
    const hardNegatives = optionalInt(values, 'hard-negatives', 0) ?? 0;
    if (trainFiles.length > 0 && hardNegatives > 0) {
      throw new UsageError(
        '--hard-negatives mines from the qrels; a --train-file carries its own negatives (write them with mine)',
      );
    }
    const sampling = optionalChoice(values, 'sampling', MULTI_DATASET_SAMPLINGS);
    if (sampling !== undefined && trainFiles.length < 2) {
      throw new UsageError('--sampling interleaves several datasets: give two or more --train-file');
    }
    const groupSize = optionalInt(values, 'group-size', 1);
    if (trainFiles.length > 0 && values.split !== undefined) {
      throw new UsageError('--split chooses the qrels to train on; with --train-file the file is the data');
    }
    const miniBatch = optionalInt(values, 'cache-mini-batch', 1);
    const maxGradNorm = optionalFloat(values, 'max-grad-norm') ?? 1;
    const checkpointEvery = optionalInt(values, 'checkpoint-every', 1) ?? 500;
    const seed = optionalInt(values, 'seed', 0) ?? 42;
    const evalSplit = typeof values['eval-split'] === 'string' ? values['eval-split'] : undefined;
    const evaluateEvery = optionalInt(values, 'eval-every', 1);
    if (evaluateEvery !== undefined && evalSplit === undefined)
      throw new UsageError('--eval-every needs --eval-split');
    if (evalSplit !== undefined && data === undefined) throw new UsageError('--eval-split needs --data');
    const best = bestModelFlags(values, evalSplit);
    const quiet = values.quiet === true;
    positiveFloat('lr', lr);
    positiveFloat('scale', scale);
    if (minLr < 0) throw new UsageError(`--min-lr must be >= 0, got ${minLr}`);
    if (maxGradNorm < 0) throw new UsageError(`--max-grad-norm must be >= 0, got ${maxGradNorm}`);
    const say = (m: string) => process.stderr.write(`dense-retrieval: ${m}\n`);
    const resume = values.resume === true;
    const overwrite = values.overwrite === true;
    if (resume && overwrite) throw new UsageError('--resume and --overwrite exclude each other');
    const lossChoice = parseLossFlags(values, { scale, symmetric: values.symmetric === true, miniBatch });
    await checkOutDir(out, { resume, overwrite });

    // Data first: a bad dataset should fail before a model is loaded.
    const beir = trainFiles.length > 0 ? undefined : await loadBeir(data!, { split });
    const { corpus, queries, qrels } = beir ?? { corpus: [], queries: new Map(), qrels: new Map() };
    let examples: TrainingExample[] = beir ? examplesFromQrels({ queries, corpus, qrels }) : [];
    const files = trainFiles.length > 0 ? await readTrainFiles(trainFiles, data) : undefined;
    const count = files === undefined ? 0 : Object.values(files).reduce((n, d) => n + d.length, 0);
    if (hardNegatives > 0) {
      const bm25 = new Bm25Index();
      bm25.addDocuments(corpus);
      const mined = await mineHardNegatives({
        queries,
        corpus,
        qrels,
        ...NEGATIVE_RANGE,
        numNegatives: hardNegatives,
        quiet,
        ...bm25MiningRetriever(bm25),
      });
      const byId = new Map(corpus.map((d) => [d.id, d] as const));
      const before = examples.length;
      examples = examples.flatMap((e) => {
        const ids = mined.get(e.queryId!) ?? [];
        if (ids.length < hardNegatives) return [];
        return [{ ...e, negatives: ids.map((id) => passageText(byId.get(id)!)), negativeIds: ids }];
      });
      say(
        `mined ${hardNegatives} BM25 hard negative(s) per query; kept ${examples.length} of ${before} examples`,
      );
    }

    checkLossData(lossChoice, files ? Object.values(files).flat() : examples);

    let evaluate: ((m: BiEncoder, step: number) => Promise<Record<string, number>>) | undefined;
    if (evalSplit !== undefined) {
      const dev = await loadBeir(data!, { split: evalSplit });
      const run = createEvaluationCallback({ ...dev, measures: best.measures });
      // The Trainer prints one line per evaluation (respecting --quiet) and writes DIR/eval_log.jsonl.
      evaluate = (m) => run(m);
    }

    const loadOptions = { pooling, maxSeqLength, quiet, similarity };
    // A saved bi-encoder (tied or untied) continues as it is, with its own similarity by default.
    let model = await loadRetrievalModel(source, { ...loadOptions, seed });
    if (values.untied === true && model.tied) {
      // Untie: a second copy of the same source is the passage tower (a scratch source gets its own seed).
      let second: BiEncoder<SentenceEncoder> | undefined;
      try {
        second = await loadRetrievalModel(source, { ...loadOptions, seed: seed + 1 });
        const tied = model;
        model = BiEncoder.untied(tied.queryEncoder, second.queryEncoder, {
          similarity: tied.similarityIsDefault ? similarity : tied.similarity,
        });
      } catch (error) {
        model.dispose();
        second?.dispose();
        throw error;
      }
    }
    let freeLoss = (): void => undefined;
    try {
      // The loss takes the model's similarity (the Trainer gives it): it is set once, on the model.
      const built = await buildLoss(lossChoice, model, { quiet });
      const { loss } = built;
      freeLoss = built.dispose;
      const trainer = new Trainer({
        model,
        loss,
        batchSize,
        epochs,
        steps,
        lr,
        minLr,
        warmupSteps,
        maxGradNorm,
        seed,
        queryPrompt: typeof values['query-prompt'] === 'string' ? values['query-prompt'] : undefined,
        documentPrompt: typeof values['document-prompt'] === 'string' ? values['document-prompt'] : undefined,
        outputDir: out,
        checkpointEvery,
        evaluate,
        evaluateEvery,
        ...best.trainer,
        quiet,
      });
      say(
        `training on ${files ? `${count} pairs of ${trainFiles.join(', ')}` : `${examples.length} pairs of ${data} (${split})`}` +
          `${trainFiles.length > 1 ? ` (${sampling ?? 'proportional'} sampling)` : ''}` +
          `${groupSize === undefined ? '' : `, group size ${groupSize}`}, batch ${batchSize}` +
          `${built.describe}, ${model.tied ? 'tied' : 'untied'} towers, ${model.similarity}`,
      );
      if (overwrite) await clearRun(out);
      const result = await trainer.train(
        files === undefined && groupSize === undefined
          ? examples
          : { datasets: files ?? examples, sampling, groupSize },
        { resume },
      );
      trainer.dispose();
      await saveModelInto(model, out);
      const card = await writeTrainModelCard({
        out,
        source,
        datasets: files ? trainFiles.map((f) => path.basename(f)) : [path.basename(path.resolve(data!))],
        evalSplit,
        trainingExamples: files ? count : examples.length,
        loss: trainer.loss.toJSON(),
        hyperparameters: {
          batch_size: batchSize,
          steps: result.totalSteps,
          learning_rate: lr,
          min_lr: minLr,
          warmup_steps: warmupSteps ?? Math.floor(result.totalSteps * 0.1),
          lr_scheduler: 'warmup-cosine',
          optimizer: 'AdamW (weight decay 0.01)',
          max_grad_norm: maxGradNorm,
          seed,
          max_seq_length: maxSeqLength,
          hard_negatives: hardNegatives || undefined,
          eval_every: evaluateEvery,
          metric_for_best_model: best.trainer.metricForBestModel,
          early_stopping_patience: best.trainer.earlyStoppingPatience,
        },
        result,
      });
      if (!card.written) say(`${card.file} is not a model card dense-retrieval wrote: left as it is`);
      if (maxSeqLength !== undefined) {
        say(
          `saved max_seq_length: ${maxSeqLength} with the model (from --max-length): encoding with it truncates at ${maxSeqLength} tokens too`,
        );
      }
      const losses = result.losses;
      const summary =
        losses.length === 0
          ? 'nothing left to train'
          : `loss ${losses[0].toFixed(4)} -> ${losses[losses.length - 1].toFixed(4)}`;
      say(
        `trained ${result.step}/${result.totalSteps} steps` +
          `${result.resumedFrom > 0 ? ` (resumed from step ${result.resumedFrom})` : ''}` +
          `${result.stoppedEarly ? ' (early stopping)' : ''}, ${summary}; model saved to ${out}`,
      );
      if (result.best !== undefined) {
        say(
          `saved the best model: step ${result.best.step}, ${result.best.metric} ${result.best.value.toFixed(4)}`,
        );
      }
    } finally {
      freeLoss();
      model.dispose();
    }
  },
};

/** Files of a directory that mean "a trained model or a run is here". */
async function entries(dir: string): Promise<string[] | undefined> {
  try {
    return await fs.readdir(dir);
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    if (code === 'ENOENT') return undefined;
    if (code === 'ENOTDIR') throw new UsageError(`--out ${dir} is a file, not a directory`);
    throw error;
  }
}

/**
 * The one rule for an existing --out: a non-empty directory is refused unless --resume (continue its
 * newest checkpoint) or --overwrite (start afresh). A --resume with nothing to resume from is refused too
 * when a model is there: continuing would silently replace it.
 */
async function checkOutDir(out: string, flags: { resume: boolean; overwrite: boolean }): Promise<void> {
  const found = await entries(out);
  if (found === undefined || found.length === 0) return;
  if (flags.overwrite) return;
  const checkpoint = await latestCheckpoint(path.join(out, CHECKPOINTS_DIR));
  if (flags.resume) {
    const hasModel = found.some((f) => ['config.json', BI_ENCODER_CONFIG, 'modules.json'].includes(f));
    if (checkpoint === undefined && hasModel) {
      throw new UsageError(
        `--resume: ${out} holds a model but no checkpoint to resume from; use --overwrite to train afresh, ` +
          'or another --out',
      );
    }
    return;
  }
  throw new UsageError(
    `--out ${out} already exists and is not empty${checkpoint === undefined ? '' : ' (it holds checkpoints)'}; ` +
      'give --resume to continue its run, --overwrite to train afresh (replacing its model, log and ' +
      'checkpoints), or another --out',
  );
}

/** --overwrite: remove the previous run's checkpoints and log (the model files are replaced on save). */
async function clearRun(out: string): Promise<void> {
  await fs.rm(path.join(out, CHECKPOINTS_DIR), { recursive: true, force: true });
  await fs.rm(path.join(out, TRAIN_LOG), { force: true });
  await fs.rm(path.join(out, EVAL_LOG), { force: true });
}
