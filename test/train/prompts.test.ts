import assert from 'node:assert/strict';
import { before, test } from 'node:test';
import { initBackend } from '../../src/backend/index.js';
import { InBatchNegativesLoss } from '../../src/losses/in-batch-negatives.js';
import type { RetrievalLoss, TrainingBatch } from '../../src/losses/types.js';
import { BiEncoder } from '../../src/models/bi-encoder.js';
import { Trainer } from '../../src/train/trainer.js';
import { ToyEncoder } from '../losses/toy-encoder.js';

before(async () => {
  await initBackend();
});

/** A loss that records the batches the trainer hands it. */
function recording(): { loss: RetrievalLoss; seen: TrainingBatch[] } {
  const inner = new InBatchNegativesLoss();
  const seen: TrainingBatch[] = [];
  return {
    seen,
    loss: {
      computeGradients: (q, p, batch, options) => {
        seen.push(batch);
        return inner.computeGradients(q, p, batch, options);
      },
      toJSON: () => inner.toJSON(),
    },
  };
}

const EXAMPLES = Array.from({ length: 8 }, (_, i) => ({
  query: `q${i}`,
  positive: `p${i}`,
  negatives: [`n${i}`],
}));

test("training prepends the towers' query and passage prompts; options override them, '' turns them off", async () => {
  const encoder = Object.assign(new ToyEncoder({ seed: 3 }), {
    prompts: { query: 'query: ', passage: 'passage: ' },
  });
  const model = BiEncoder.tied(encoder);
  for (const [options, qp, dp] of [
    [{}, 'query: ', 'passage: '],
    [{ queryPrompt: 'Q ', documentPrompt: '' }, 'Q ', ''],
  ] as const) {
    const { loss, seen } = recording();
    const trainer = new Trainer({ model, loss, batchSize: 4, steps: 2, quiet: true, ...options });
    await trainer.train(EXAMPLES);
    trainer.dispose();
    assert.equal(seen.length, 2);
    for (const b of seen) {
      b.queries.forEach((q) => assert.match(q, new RegExp(`^${qp}q\\d$`)));
      b.positives.forEach((p) => assert.match(p, new RegExp(`^${dp}p\\d$`)));
      b.negatives!.flat().forEach((n) => assert.match(n, new RegExp(`^${dp}n\\d$`)));
      // Identity of passages stays the raw text: prompts do not change which passage is which.
      assert.ok(b.passageIds!.every((id) => /^[pn]\d$/.test(id)));
    }
  }
  model.dispose();
});
