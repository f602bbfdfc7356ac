import assert from 'node:assert/strict';
import { before, test } from 'node:test';
import { initBackend } from '../../src/backend/index.js';
import { ArgumentError } from '../../src/errors.js';
import { InBatchNegativesLoss } from '../../src/losses/in-batch-negatives.js';
import { BiEncoder } from '../../src/models/bi-encoder.js';
import type { TrainingExample } from '../../src/train/examples.js';
import { Trainer } from '../../src/train/trainer.js';
import { ToyEncoder } from '../losses/toy-encoder.js';

before(async () => {
  await initBackend();
});

const examples = (n: number): TrainingExample[] =>
  Array.from({ length: n }, (_, i) => ({ query: `query ${i}`, positive: `passage ${i}` }));

function trainer(options: Partial<ConstructorParameters<typeof Trainer>[0]>): Trainer {
  const model = BiEncoder.tied(new ToyEncoder({ seed: 1, vocab: 64, embed: 8, hidden: 8, dim: 8 }));
  return new Trainer({ model, loss: new InBatchNegativesLoss(), batchSize: 8, quiet: true, ...options });
}

test('a warmup longer than the run is refused up front, with the step arithmetic', async () => {
  const t = trainer({ epochs: 2, warmupSteps: 100 });
  // 30 examples at batch 8: 3 full batches per epoch (the rest is dropped), 6 steps in 2 epochs.
  await assert.rejects(
    t.train(examples(30)),
    (e: unknown) =>
      e instanceof ArgumentError &&
      e.argument === 'warmupSteps' &&
      /\(100\) must not exceed the number of training steps: 2 epoch\(s\) of 30 examples = 6 steps at batch 8 \(1 epoch = 3 steps at batch 8\)/.test(
        e.message,
      ),
  );
  t.dispose();
  const s = trainer({ steps: 4, warmupSteps: 5 });
  await assert.rejects(
    s.train(examples(30)),
    /warmupSteps: \(5\) must not exceed the number of training steps: steps is 4/,
  );
  s.dispose();
});

test('training examples with unknown or missing fields name the field', async () => {
  const t = trainer({ steps: 1 });
  const pos = [{ query: 'q', pos: 'p' }, ...examples(10)] as unknown as TrainingExample[];
  await assert.rejects(
    t.train(pos),
    /examples: example 0 has unknown field\(s\) 'pos'; the fields are query, positive, negatives/,
  );
  const missing = [...examples(10), { query: 'q' }] as unknown as TrainingExample[];
  await assert.rejects(t.train(missing), /examples: example 10: 'positive' must be a string, got nothing/);
  t.dispose();
});
