import assert from 'node:assert/strict';
import { cpSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { before, test } from 'node:test';
import * as tf from '@tensorflow/tfjs';
import { initBackend } from '../../../src/backend/index.js';
import { readSafetensors } from '../../../src/checkpoint/safetensors.js';
import { InputFormatError } from '../../../src/errors.js';
import { SentenceEncoder } from '../../../src/models/sentence-encoder.js';
import { REPO_ROOT } from '../../helpers/cli.js';
import { tmpDir } from '../../helpers/tmp.js';
import { archDir } from '../architectures/fixtures.js';
import { matrixRows, maxAbsDiff } from '../bert-fixture.js';

/** The Dense module after the RoBERTa fixture's mean pooling (references: scripts/make_architecture_fixtures.py). */

before(async () => {
  await initBackend();
});

const DENSE = path.join(REPO_ROOT, 'test', 'fixtures', 'dense');
const ref = JSON.parse(readFileSync(path.join(DENSE, 'reference.json'), 'utf8')) as {
  dense: number[][];
  dense_normalized: number[][];
  R: number[][];
  loss: number;
  grad_linear_weight: number[][];
};
const texts = (
  JSON.parse(readFileSync(path.join(archDir('roberta'), 'reference.json'), 'utf8')) as { texts: string[] }
).texts;

/** The RoBERTa fixture with `2_Dense` (and `3_Normalize` when `normalize`). */
function withDense(normalize: boolean): string {
  const dir = path.join(tmpDir('dr-dense-'), 'model');
  cpSync(archDir('roberta'), dir, { recursive: true });
  cpSync(DENSE, path.join(dir, '2_Dense'), { recursive: true });
  const modules = [
    { idx: 0, name: '0', path: '', type: 'sentence_transformers.models.Transformer' },
    { idx: 1, name: '1', path: '1_Pooling', type: 'sentence_transformers.models.Pooling' },
    { idx: 2, name: '2', path: '2_Dense', type: 'sentence_transformers.models.Dense' },
  ];
  if (normalize)
    modules.push({ idx: 3, name: '3', path: '3_Normalize', type: 'sentence_transformers.models.Normalize' });
  writeFileSync(path.join(dir, 'modules.json'), JSON.stringify(modules));
  return dir;
}

test('Dense on and off, with and without Normalize, match the reference; the saved model keeps the module', async () => {
  for (const normalize of [false, true]) {
    const encoder = await SentenceEncoder.load(withDense(normalize), { quiet: true });
    assert.equal(encoder.dim, 8);
    const m = await encoder.encode(texts, { quiet: true });
    const diff = maxAbsDiff(matrixRows(m), normalize ? ref.dense_normalized : ref.dense);
    assert.ok(diff < 1e-4, `normalize ${normalize}: max abs diff ${diff}`);
    const dir = path.join(tmpDir('dr-dense-saved-'), 'm');
    await encoder.save(dir);
    const modules = JSON.parse(readFileSync(path.join(dir, 'modules.json'), 'utf8')) as {
      path: string;
      type: string;
    }[];
    assert.deepEqual(
      modules.map((x) => x.path),
      normalize ? ['', '1_Pooling', '2_Dense', '3_Normalize'] : ['', '1_Pooling', '2_Dense'],
    );
    assert.deepEqual(
      JSON.parse(readFileSync(path.join(dir, '2_Dense', 'config.json'), 'utf8')),
      JSON.parse(readFileSync(path.join(DENSE, 'config.json'), 'utf8')),
    );
    assert.deepEqual(
      [...(await readSafetensors(path.join(dir, '2_Dense', 'model.safetensors'))).keys()].sort(),
      ['linear.bias', 'linear.weight'],
    );
    const again = await SentenceEncoder.load(dir, { quiet: true });
    assert.deepEqual(Array.from((await again.encode(texts, { quiet: true })).data), Array.from(m.data));
    again.dispose();
    encoder.dispose();
  }
  // Dense off: the plain fixture gives the 16-wide mean pooling.
  const plain = await SentenceEncoder.load(archDir('roberta'), { quiet: true });
  assert.equal(plain.dim, 16);
  plain.dispose();
});

test('Dense is trainable: its gradient matches torch autograd', async () => {
  const encoder = await SentenceEncoder.load(withDense(false), { quiet: true });
  const vars = encoder.trainableVariables();
  const kernel = encoder.dense[0].kernel;
  assert.ok(vars.includes(kernel));
  const r = tf.tensor2d(ref.R);
  const { value, grads } = tf.variableGrads(
    () => tf.sum(tf.mul(encoder.embed(texts), r)) as tf.Scalar,
    [kernel],
  );
  assert.ok(Math.abs(value.dataSync()[0] - ref.loss) <= 1e-4 * Math.abs(ref.loss));
  const g = tf.transpose(grads[kernel.name]);
  const scale = Math.max(...ref.grad_linear_weight.flat().map(Math.abs));
  assert.ok(maxAbsDiff(g.arraySync() as number[][], ref.grad_linear_weight) <= 1e-4 * scale);
  tf.dispose([value, g, r, ...Object.values(grads)]);
  encoder.dispose();
});

test('a bad Dense folder is an error naming its file', async () => {
  const dir = withDense(false);
  writeFileSync(
    path.join(dir, '2_Dense', 'config.json'),
    JSON.stringify({
      in_features: 16,
      out_features: 8,
      bias: true,
      activation_function: 'torch.nn.modules.activation.Softsign',
    }),
  );
  await assert.rejects(
    SentenceEncoder.load(dir, { quiet: true }),
    (e: unknown) =>
      e instanceof InputFormatError &&
      e.message.includes('2_Dense/config.json: unsupported activation_function'),
  );
  writeFileSync(
    path.join(dir, '2_Dense', 'config.json'),
    JSON.stringify({ in_features: 16, out_features: 4 }),
  );
  await assert.rejects(SentenceEncoder.load(dir, { quiet: true }), /linear\.weight must be \[4, 16\]/);
});
