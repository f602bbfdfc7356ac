import assert from 'node:assert/strict';
import { before, test } from 'node:test';
import { initBackend } from '../../src/backend/index.js';
import { ArgumentError } from '../../src/errors.js';
import { CachedInBatchNegativesLoss } from '../../src/losses/cached-in-batch-negatives.js';
import { InBatchNegativesLoss } from '../../src/losses/in-batch-negatives.js';
import { BiEncoder } from '../../src/models/bi-encoder.js';
import { Trainer } from '../../src/train/trainer.js';
import { ToyEncoder } from '../losses/toy-encoder.js';

before(async () => {
  await initBackend();
});

const EXAMPLES = ['river', 'desert', 'ocean', 'forest'].map((t) => ({
  query: `the ${t}`,
  positive: `a ${t} here`,
}));

for (const [name, make] of [
  ['plain', (o: object) => new InBatchNegativesLoss(o)],
  ['cached', (o: object) => new CachedInBatchNegativesLoss({ miniBatchSize: 2, ...o })],
] as const) {
  test(`the ${name} loss takes the model's similarity; a different one on the loss is refused`, async () => {
    const model = BiEncoder.tied(new ToyEncoder({ seed: 1 }), { similarity: 'cosine' });
    const trainer = new Trainer({ model, loss: make({}), batchSize: 2, steps: 1, quiet: true });
    const loss = trainer.loss as InBatchNegativesLoss;
    assert.equal(loss.similarity, 'cosine');
    assert.equal(loss.scale, 20, "cosine's default scale");
    // The trained similarity is the one checkpoints and logs record.
    const { losses } = await trainer.train(EXAMPLES);
    assert.equal(losses.length, 1);
    trainer.dispose();
    // An explicit scale is kept when the similarity comes from the model.
    const scaled = new Trainer({ model, loss: make({ scale: 5 }), batchSize: 2, steps: 1 });
    assert.equal((scaled.loss as InBatchNegativesLoss).scale, 5);
    scaled.dispose();
    assert.throws(
      () => new Trainer({ model, loss: make({ similarity: 'dot' }), batchSize: 2, steps: 1 }),
      (e: unknown) => {
        assert.ok(e instanceof ArgumentError);
        assert.match(
          e.message,
          /similarity: the loss was given 'dot' but the model's similarity is 'cosine'/,
        );
        return true;
      },
    );
    // The same value twice is fine.
    const same = new Trainer({ model, loss: make({ similarity: 'cosine' }), batchSize: 2, steps: 1 });
    assert.equal((same.loss as InBatchNegativesLoss).similarity, 'cosine');
    same.dispose();
    assert.throws(
      () => make({ similarty: 'dot' }),
      /unknown option 'similarty' \(did you mean 'similarity'\?\)/,
    );
  });
}
