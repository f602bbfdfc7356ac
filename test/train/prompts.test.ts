import assert from 'node:assert/strict';
import { cpSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { before, test } from 'node:test';
import * as tf from '@tensorflow/tfjs';
import { initBackend } from '../../src/backend/index.js';
import { CachedInBatchNegativesLoss } from '../../src/losses/cached-in-batch-negatives.js';
import { InBatchNegativesLoss } from '../../src/losses/in-batch-negatives.js';
import type { RetrievalLoss, TrainableEncoder, TrainingBatch } from '../../src/losses/types.js';
import { BiEncoder } from '../../src/models/bi-encoder.js';
import { SentenceEncoder } from '../../src/models/sentence-encoder.js';
import { promptedTower } from '../../src/train/prompted-tower.js';
import { Trainer } from '../../src/train/trainer.js';
import { ToyEncoder } from '../losses/toy-encoder.js';
import { archDir } from '../models/architectures/fixtures.js';
import { matrixRows, maxAbsDiff } from '../models/bert-fixture.js';
import { tmpDir } from '../helpers/tmp.js';

before(async () => {
  await initBackend();
});

/** A loss that records the batches and the towers the trainer hands it. */
function recording(inner: RetrievalLoss = new InBatchNegativesLoss()): {
  loss: RetrievalLoss;
  seen: TrainingBatch[];
  towers: [TrainableEncoder, TrainableEncoder][];
} {
  const seen: TrainingBatch[] = [];
  const towers: [TrainableEncoder, TrainableEncoder][] = [];
  return {
    seen,
    towers,
    loss: {
      computeGradients: (q, p, batch, options) => {
        seen.push(batch);
        towers.push([q, p]);
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

test("training applies the towers' query and passage prompts; options override them, '' turns them off", async () => {
  const encoder = Object.assign(new ToyEncoder({ seed: 3 }), {
    prompts: { query: 'query: ', passage: 'passage: ' },
  });
  // What the encoder itself embeds (a toy encoder knows no prompt option: the tower prepends the prompt).
  const embedded: string[] = [];
  const embed = encoder.embed.bind(encoder);
  encoder.embed = (texts, options) => {
    embedded.push(...texts);
    return embed(texts, options);
  };
  const model = BiEncoder.tied(encoder);
  for (const [options, qp, dp] of [
    [{}, 'query: ', 'passage: '],
    [{ queryPrompt: 'Q ', documentPrompt: '' }, 'Q ', ''],
  ] as const) {
    embedded.length = 0;
    const { loss, seen } = recording();
    const trainer = new Trainer({ model, loss, batchSize: 4, steps: 2, quiet: true, ...options });
    await trainer.train(EXAMPLES);
    trainer.dispose();
    assert.equal(seen.length, 2);
    for (const b of seen) {
      // The batch holds the texts as given; passage identity stays the raw text.
      b.queries.forEach((q) => assert.match(q, /^q\d$/));
      b.positives.forEach((p) => assert.match(p, /^p\d$/));
      assert.ok(b.passageIds!.every((id) => /^[pn]\d$/.test(id)));
    }
    const queries = embedded.filter((t) => t.includes('q'));
    const passages = embedded.filter((t) => !t.includes('q'));
    assert.equal(queries.length, 8);
    assert.equal(passages.length, 16);
    queries.forEach((q) => assert.match(q, new RegExp(`^${qp}q\\d$`)));
    passages.forEach((p) => assert.match(p, new RegExp(`^${dp}[pn]\\d$`)));
  }
  model.dispose();
});

interface PromptReference {
  texts: string[];
  prompt: { mean_including_prompt: number[][]; mean_excluding_prompt: number[][] };
}

/** A copy of a fixture with e5 prompts, and include_prompt false when asked. */
function withPrompts(arch: string, includePrompt: boolean): string {
  const dir = path.join(tmpDir('dr-train-prompts-'), arch);
  cpSync(archDir(arch), dir, { recursive: true });
  writeFileSync(
    path.join(dir, 'config_sentence_transformers.json'),
    JSON.stringify({ prompts: { query: 'query: ', document: 'passage: ' } }),
  );
  const poolingFile = path.join(dir, '1_Pooling', 'config.json');
  const pooling = JSON.parse(readFileSync(poolingFile, 'utf8')) as Record<string, unknown>;
  writeFileSync(poolingFile, JSON.stringify({ ...pooling, include_prompt: includePrompt }));
  return dir;
}

for (const loss of ['plain', 'cached'] as const) {
  test(`include_prompt false holds in training (${loss} loss): the towers a Trainer step uses pool without the prompt tokens (reference)`, async () => {
    const ref = JSON.parse(
      readFileSync(path.join(archDir('roberta'), 'reference.json'), 'utf8'),
    ) as PromptReference;
    const check = async (includePrompt: boolean, expected: number[][]) => {
      const encoder = await SentenceEncoder.load(withPrompts('roberta', includePrompt), { quiet: true });
      const model = BiEncoder.tied(encoder);
      const inner =
        loss === 'plain' ? new InBatchNegativesLoss() : new CachedInBatchNegativesLoss({ miniBatchSize: 2 });
      const rec = recording(inner);
      // lr 0: the step must not move the weights, so the towers can be checked against the reference after it.
      const trainer = new Trainer({ model, loss: rec.loss, batchSize: 4, steps: 1, lr: 0, quiet: true });
      await trainer.train(EXAMPLES);
      const [queryTower] = rec.towers[0];
      const before = tf.memory().numTensors;
      const emb = queryTower.embed(ref.texts, { training: false });
      const diff = maxAbsDiff(emb.arraySync() as number[][], expected);
      emb.dispose();
      assert.equal(tf.memory().numTensors, before);
      assert.ok(diff < 1e-4, `include_prompt ${includePrompt}: max abs diff ${diff}`);
      // And what the tower embeds is what encodeQuery gives.
      const q = await encoder.encodeQuery(ref.texts, { quiet: true });
      assert.ok(maxAbsDiff(matrixRows(q), expected) < 1e-4);
      trainer.dispose();
      model.dispose();
    };
    await check(false, ref.prompt.mean_excluding_prompt);
    await check(true, ref.prompt.mean_including_prompt);
  });
}

test('a prompted tower shares the variables and is sized by the memory guard with the prompt tokens counted', async () => {
  const encoder = await SentenceEncoder.load(withPrompts('distilbert', false), { quiet: true });
  const view = promptedTower(encoder, 'query: ') as TrainableEncoder & {
    bert: unknown;
    maxSeqLength: number;
    tokenizer: { tokenLength(text: string, options?: { maxLength?: number }): number };
  };
  assert.equal(view.bert, encoder.bert);
  assert.equal(view.maxSeqLength, encoder.maxSeqLength);
  assert.deepEqual(view.trainableVariables(), encoder.trainableVariables());
  const text = 'dense retrieval maps texts to vectors';
  assert.equal(view.tokenizer.tokenLength(text), encoder.tokenizer.tokenLength(`query: ${text}`));
  assert.ok(view.tokenizer.tokenLength(text) > encoder.tokenizer.tokenLength(text));
  assert.equal(promptedTower(encoder, ''), encoder, 'no prompt: the encoder itself');
  encoder.dispose();
});
