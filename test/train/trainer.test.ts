import assert from 'node:assert/strict';
import { existsSync, readFileSync, readdirSync } from 'node:fs';
import path from 'node:path';
import { before, test } from 'node:test';
import * as tf from '@tensorflow/tfjs';
import { initBackend } from '../../src/backend/index.js';
import { ArgumentError, BackendError } from '../../src/errors.js';
import type { RetrievalLoss } from '../../src/losses/types.js';
import { CachedInBatchNegativesLoss } from '../../src/losses/cached-in-batch-negatives.js';
import { InBatchNegativesLoss } from '../../src/losses/in-batch-negatives.js';
import { BiEncoder } from '../../src/models/bi-encoder.js';
import type { TrainingExample } from '../../src/train/examples.js';
import { Trainer } from '../../src/train/trainer.js';
import type { StepRecord } from '../../src/train/trainer.js';
import { ToyEncoder } from '../losses/toy-encoder.js';
import { tmpDir } from '../helpers/tmp.js';
import { tinyConfig } from './tiny-bert.js';
import { loadBeir } from '../../src/data/beir.js';
import { SentenceEncoder } from '../../src/models/sentence-encoder.js';
import { examplesFromQrels } from '../../src/train/examples.js';
import { SCIFACT_DIR } from '../helpers/data.js';

before(async () => {
  await initBackend();
});

const TOPICS = 'river mountain desert ocean forest glacier volcano canyon meadow island swamp tundra'.split(
  ' ',
);
const EXTRA = 'red blue green gold silver black white amber'.split(' ');

function data(withNegatives = false): TrainingExample[] {
  return TOPICS.flatMap((t, i) =>
    EXTRA.slice(0, 3).map((c, j) => ({
      query: `what about the ${c} ${t}`,
      positive: `a ${t} that is ${c} and ${EXTRA[(i + j + 3) % EXTRA.length]}`,
      negatives: withNegatives ? [`a ${TOPICS[(i + 1) % TOPICS.length]} that is ${c}`] : undefined,
    })),
  );
}

function model(seed = 1): BiEncoder<ToyEncoder> {
  return BiEncoder.tied(new ToyEncoder({ seed, vocab: 128, embed: 16, hidden: 32, dim: 16 }));
}

const mean = (xs: number[]) => xs.reduce((a, b) => a + b, 0) / xs.length;

for (const [name, loss] of [
  ['plain', new InBatchNegativesLoss()],
  ['cached', new CachedInBatchNegativesLoss({ miniBatchSize: 4 })],
] as const) {
  test(`training lowers the loss and leaks no tensors across steps (${name} loss)`, async () => {
    const m = model();
    const counts: number[] = [];
    const trainer = new Trainer({
      model: m,
      loss,
      batchSize: 6,
      steps: 60,
      lr: 0.01,
      warmupSteps: 5,
      quiet: true,
      onStep: () => {
        counts.push(tf.memory().numTensors);
      },
    });
    const { losses, step } = await trainer.train(data());
    assert.equal(step, 60);
    assert.equal(losses.length, 60);
    assert.ok(
      mean(losses.slice(-10)) < 0.6 * mean(losses.slice(0, 10)),
      `${mean(losses.slice(0, 10))} -> ${mean(losses.slice(-10))}`,
    );
    // After the first update created the optimizer's moments, the tensor count never moves.
    assert.deepEqual(
      new Set(counts.slice(1)),
      new Set([counts[1]]),
      `numTensors per step: ${counts.join(',')}`,
    );
    trainer.optimizer.dispose();
    m.dispose();
  });
}

test('dispose() frees the optimizer state train() leaves behind, and nothing else', async () => {
  const m = model();
  const before = tf.memory().numTensors;
  const trainer = new Trainer({
    model: m,
    loss: new InBatchNegativesLoss(),
    batchSize: 6,
    steps: 3,
    quiet: true,
  });
  await trainer.train(data());
  assert.ok(tf.memory().numTensors > before, 'AdamW moments are kept for a further train() call');
  trainer.dispose();
  assert.equal(tf.memory().numTensors, before);
  m.dispose();
});

test('the progress bar shows loss, learning rate, examples/s and ETA on a TTY', async () => {
  let drawn = '';
  const stream = {
    isTTY: true,
    columns: 200,
    write: (chunk: string) => {
      drawn += chunk;
      return true;
    },
  } as unknown as NodeJS.WriteStream;
  const m = model();
  const trainer = new Trainer({
    model: m,
    loss: new InBatchNegativesLoss(),
    batchSize: 4,
    steps: 3,
    lr: 0.01,
    progressStream: stream,
  });
  await trainer.train(data());
  assert.match(
    drawn,
    /train \[#+\] 3\/3 [\d.]+ steps\/s ETA \d\d:\d\d loss=\d\.\d{4} lr=\d\.\d\de-\d ex\/s=[\d.]+/,
  );
  trainer.optimizer.dispose();
  m.dispose();
});

test('same seed => identical runs; another seed => another run', async () => {
  const run = async (seed: number) => {
    const m = model();
    const t = new Trainer({
      model: m,
      loss: new InBatchNegativesLoss(),
      batchSize: 4,
      steps: 5,
      lr: 0.01,
      seed,
      quiet: true,
    });
    const { losses } = await t.train(data(true));
    t.optimizer.dispose();
    m.dispose();
    return losses;
  };
  const a = await run(3);
  assert.deepEqual(await run(3), a);
  assert.notDeepEqual(await run(4), a);
});

test('a killed run resumes from its checkpoint to the same loss curve, with a clean log', async () => {
  const examples = data(true);
  const options = (m: BiEncoder) => ({
    model: m,
    loss: new CachedInBatchNegativesLoss({ miniBatchSize: 3 }),
    batchSize: 5,
    steps: 6,
    lr: 0.01,
    warmupSteps: 2,
    seed: 9,
    checkpointEvery: 3,
    quiet: true,
  });
  const straightModel = model();
  const straight = new Trainer({ ...options(straightModel), outputDir: tmpDir() });
  const full = await straight.train(examples);

  const dir = tmpDir();
  const killedModel = model();
  const killed = new Trainer({
    ...options(killedModel),
    outputDir: dir,
    onStep: (r: StepRecord) => {
      if (r.step === 4) throw new Error('killed');
    },
  });
  await assert.rejects(killed.train(examples), /killed/);
  assert.deepEqual(readdirSync(path.join(dir, 'checkpoints')), ['step-00000003']);
  killed.optimizer.dispose();

  const freshModel = model(99); // different init: the checkpoint must overwrite it
  const resumed = new Trainer({ ...options(freshModel), outputDir: dir });
  const second = await resumed.train(examples, { resume: true });
  assert.equal(second.resumedFrom, 3);
  assert.deepEqual(second.losses, full.losses.slice(3));
  const a = straightModel.trainableVariables();
  const b = freshModel.trainableVariables();
  a.forEach((v, i) => assert.deepEqual(v.dataSync(), b[i].dataSync(), v.name));

  const log = readFileSync(path.join(dir, 'train_log.jsonl'), 'utf8')
    .trim()
    .split('\n')
    .map((l) => JSON.parse(l) as StepRecord);
  assert.deepEqual(
    log.map((r) => r.step),
    [1, 2, 3, 4, 5, 6],
  );
  assert.deepEqual(
    log.map((r) => r.loss),
    full.losses,
  );
  assert.deepEqual(readdirSync(path.join(dir, 'checkpoints')), ['step-00000003', 'step-00000006']);
  for (const f of ['weights.bin', 'weights.json', 'optimizer.bin', 'optimizer.json', 'trainer_state.json']) {
    assert.ok(existsSync(path.join(dir, 'checkpoints', 'step-00000006', f)), f);
  }
  for (const t of [straight, resumed]) t.optimizer.dispose();
  for (const m of [straightModel, killedModel, freshModel]) m.dispose();
});

test('resuming with another configuration or other data is refused', async () => {
  const dir = tmpDir();
  const m = model();
  const base = {
    model: m,
    loss: new InBatchNegativesLoss(),
    batchSize: 4,
    steps: 2,
    lr: 0.01,
    outputDir: dir,
    checkpointEvery: 2,
    quiet: true,
  };
  await new Trainer(base).train(data());
  await assert.rejects(
    new Trainer({ ...base, steps: 4 }).train(data(), { resume: true }),
    (e: unknown) =>
      e instanceof ArgumentError &&
      /resume: checkpoint .*step-00000002 has totalSteps 2 but this run has 4/.test(e.message),
  );
  await assert.rejects(
    new Trainer(base).train(data()),
    /outputDir: .* holds checkpoints of an earlier run; resume it or use another directory/,
  );
  await assert.rejects(
    new Trainer(base).train(data().slice(1), { resume: true }),
    /resume: checkpoint .* was trained on other examples/,
  );
  m.dispose();
});

test('evaluation runs every N steps and at the end, and lands in the log', async () => {
  const dir = tmpDir();
  const m = model();
  const seen: number[] = [];
  const trainer = new Trainer({
    model: m,
    loss: new InBatchNegativesLoss(),
    batchSize: 4,
    epochs: 1,
    lr: 0.01,
    outputDir: dir,
    evaluateEvery: 4,
    evaluate: async (_model, step) => {
      seen.push(step);
      return { score: step / 10 };
    },
    quiet: true,
  });
  const result = await trainer.train(data());
  assert.equal(result.totalSteps, 9, '36 examples / 4 per batch = one epoch of 9 steps');
  assert.deepEqual(seen, [4, 8, 9]);
  const evals = readFileSync(path.join(dir, 'train_log.jsonl'), 'utf8')
    .trim()
    .split('\n')
    .map((l) => JSON.parse(l) as StepRecord)
    .filter((r) => r.eval);
  assert.deepEqual(
    evals.map((r) => r.eval),
    [{ score: 0.4 }, { score: 0.8 }, { score: 0.9 }],
  );
  trainer.optimizer.dispose();
  m.dispose();
});

test('bad training setups are named errors', async () => {
  const m = model();
  const loss = new InBatchNegativesLoss();
  const expectArg = async (fn: () => unknown, argument: string, message: RegExp) => {
    await assert.rejects(
      async () => fn(),
      (e: unknown) => {
        assert.ok(e instanceof ArgumentError, String(e));
        assert.equal(e.argument, argument);
        assert.match(e.message, message);
        return true;
      },
    );
  };
  await expectArg(
    () => new Trainer({ model: m, loss, batchSize: 4, quiet: true }),
    'epochs',
    /give exactly one of epochs or steps/,
  );
  await expectArg(
    () => new Trainer({ model: m, loss, batchSize: 4, steps: 2, epochs: 1 }),
    'epochs',
    /exactly one/,
  );
  await expectArg(
    () => new Trainer({ model: m, loss, batchSize: 64, steps: 2, quiet: true }).train(data()),
    'batchSize',
    /batchSize: \(64\) is larger than the 36 training examples/,
  );
  await expectArg(
    () => new Trainer({ model: m, loss, batchSize: 4, steps: 2, quiet: true }).train([]),
    'examples',
    /no training examples \(are there positives in the qrels\?\)/,
  );
  await expectArg(
    () =>
      new Trainer({ model: m, loss, batchSize: 4, steps: 10, lr: 1e-5, minLr: 1e-4, quiet: true }).train(
        data(),
      ),
    'minLr',
    /must not exceed maxLr/,
  );
  await expectArg(
    () =>
      new Trainer({ model: m, loss, batchSize: 4, steps: 10, warmupSteps: 20, quiet: true }).train(data()),
    'warmupSteps',
    /\(20\) must not exceed the number of training steps: steps is 10/,
  );
  const mixed = [...data(true).slice(0, 3), ...data().slice(3)];
  await expectArg(
    () => new Trainer({ model: m, loss, batchSize: 4, steps: 2, quiet: true }).train(mixed),
    'examples',
    /example 3 has 0 hard negatives but example 0 has 1/,
  );
  await expectArg(
    () => new Trainer({ model: m, loss, batchSize: 1, steps: 2, quiet: true }).train(data()),
    'batchSize',
    /1 without hard negatives leaves no negatives at all/,
  );
  await expectArg(
    () => new Trainer({ model: m, loss, batchSize: 4, steps: 2, checkpointEvery: 1 }),
    'checkpointEvery',
    /needs outputDir/,
  );
  await expectArg(
    () =>
      new Trainer({ model: m, loss, batchSize: 4, steps: 2, quiet: true }).train(data(), { resume: true }),
    'resume',
    /needs outputDir/,
  );
  m.dispose();
});

const SCIFACT = SCIFACT_DIR;

test('a tiny BERT from scratch lowers its loss on a SciFact train subset (wasm, no tensor growth)', async () => {
  const dir = tmpDir();
  const encoder = await SentenceEncoder.fromScratch(tinyConfig(dir, 0.1, 32), undefined, {
    seed: 1,
    maxSeqLength: 32,
  });
  const examples = examplesFromQrels(await loadBeir(SCIFACT, { split: 'train' })).slice(0, 48);
  const bi = BiEncoder.tied(encoder, { similarity: 'cosine' });
  const counts: number[] = [];
  const trainer = new Trainer({
    model: bi,
    loss: new InBatchNegativesLoss({ similarity: 'cosine' }),
    batchSize: 8,
    steps: 24,
    lr: 2e-3,
    warmupSteps: 2,
    quiet: true,
    onStep: () => {
      counts.push(tf.memory().numTensors);
    },
  });
  const { losses } = await trainer.train(examples);
  const first = mean(losses.slice(0, 6));
  const last = mean(losses.slice(-6));
  assert.ok(last < 0.7 * first, `loss ${first.toFixed(3)} -> ${last.toFixed(3)}`);
  assert.equal(new Set(counts.slice(1)).size, 1, `numTensors per step: ${counts.join(',')}`);
  trainer.optimizer.dispose();
  bi.dispose();
});

test('resume is exact on a tiny BERT with dropout (fresh encoder, checkpointed weights and moments)', async () => {
  const dir = tmpDir();
  const config = tinyConfig(dir, 0.2);
  const examples = data(true).slice(0, 12);
  const run = async (outputDir: string, kill: boolean, resume: boolean, seed: number) => {
    const encoder = await SentenceEncoder.fromScratch(config, undefined, { seed, maxSeqLength: 16 });
    const bi = BiEncoder.tied(encoder);
    const trainer = new Trainer({
      model: bi,
      loss: new CachedInBatchNegativesLoss({ miniBatchSize: 2 }),
      batchSize: 4,
      steps: 4,
      lr: 1e-3,
      seed: 5,
      outputDir,
      checkpointEvery: 2,
      quiet: true,
      onStep: (r) => {
        if (kill && r.step === 3) throw new Error('killed');
      },
    });
    try {
      return (await trainer.train(examples, { resume })).losses;
    } finally {
      trainer.optimizer.dispose();
      bi.dispose();
    }
  };
  const straight = await run(path.join(dir, 'a'), false, false, 1);
  await assert.rejects(run(path.join(dir, 'b'), true, false, 1), /killed/);
  const resumed = await run(path.join(dir, 'b'), false, true, 7);
  assert.equal(straight.length, 4);
  assert.deepEqual(resumed, straight.slice(2));
});

test('a wasm abort inside a training step becomes a BackendError explaining memory; other errors pass unchanged', async () => {
  const RuntimeError = (globalThis as unknown as { WebAssembly: { RuntimeError: new (m: string) => Error } })
    .WebAssembly.RuntimeError;
  const throwing = (error: Error): RetrievalLoss => ({
    computeGradients: () => {
      throw error;
    },
    toJSON: () => ({ kind: 'stub' }),
  });
  const run = (loss: RetrievalLoss) => {
    const m = model();
    const trainer = new Trainer({ model: m, loss, batchSize: 6, steps: 2, quiet: true });
    return trainer.train(data()).finally(() => {
      trainer.dispose();
      m.dispose();
    });
  };
  const abort = new RuntimeError('Aborted(). Build with -sASSERTIONS for more info.');
  await assert.rejects(run(throwing(abort)), (e: unknown) => {
    assert.ok(e instanceof BackendError, String(e));
    assert.match(
      e.message,
      /training step 1 \(batch size 6\) aborted inside the tfjs wasm module \(Aborted\(\)/,
    );
    assert.match(e.message, /4 GiB heap/);
    assert.match(
      e.message,
      /CachedInBatchNegativesLoss\(\{ miniBatchSize: \d+ \}\) \(CLI: --cache-mini-batch \d+\)/,
    );
    assert.equal((e as Error & { cause?: unknown }).cause, abort);
    return true;
  });
  const oob = new RuntimeError('memory access out of bounds');
  await assert.rejects(
    run(throwing(oob)),
    (e: unknown) => e instanceof BackendError && /out of bounds/.test(e.message),
  );
  const other = new ArgumentError('batch', 'is empty');
  await assert.rejects(run(throwing(other)), (e: unknown) => e === other);
});
