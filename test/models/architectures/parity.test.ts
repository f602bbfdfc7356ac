import assert from 'node:assert/strict';
import { copyFileSync, cpSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { before, test } from 'node:test';
import * as tf from '@tensorflow/tfjs';
import { initBackend } from '../../../src/backend/index.js';
import { readSafetensors } from '../../../src/checkpoint/safetensors.js';
import { encoderFromWeights, parseEncoderConfig } from '../../../src/models/architectures/registry.js';
import type { TransformerEncoder } from '../../../src/models/architectures/encoder.js';
import { pool, POOLING_MODES } from '../../../src/models/pooling.js';
import type { PoolingMode } from '../../../src/models/pooling.js';
import { SentenceEncoder } from '../../../src/models/sentence-encoder.js';
import { tmpDir } from '../../helpers/tmp.js';
import { matrixRows, maxAbsDiff } from '../bert-fixture.js';
import { ARCH_FIXTURES, archDir } from './fixtures.js';

/** Parity of each architecture with the float64 torch references of scripts/make_architecture_fixtures.py. */

interface Reference {
  texts: string[];
  input_ids: number[][];
  attention_mask: number[][];
  pooled: Record<'f32' | 'f16' | 'bf16', Record<PoolingMode, number[][]>>;
  grad_check: {
    R: number[][];
    loss: number;
    grads: { hf: string; name: string; linear: boolean; shape: number[]; values: number[] }[];
  };
}

const reference = (arch: string): Reference =>
  JSON.parse(readFileSync(path.join(archDir(arch), 'reference.json'), 'utf8')) as Reference;

before(async () => {
  await initBackend();
});

async function fromFile(arch: string, file: string): Promise<TransformerEncoder> {
  const configFile = path.join(archDir(arch), 'config.json');
  const config = parseEncoderConfig(JSON.parse(readFileSync(configFile, 'utf8')), configFile);
  const weights = new Map<string, tf.Tensor>();
  for (const [name, t] of await readSafetensors(path.join(archDir(arch), file)))
    weights.set(name, tf.tensor(t.data, t.shape, 'float32'));
  try {
    return encoderFromWeights(config, weights, file);
  } finally {
    tf.dispose([...weights.values()]);
  }
}

function inputs(ref: Reference): { inputIds: tf.Tensor2D; attentionMask: tf.Tensor2D } {
  return {
    inputIds: tf.tensor2d(ref.input_ids, undefined, 'int32'),
    attentionMask: tf.tensor2d(ref.attention_mask, undefined, 'int32'),
  };
}

const WEIGHT_FILES = [
  ['model.safetensors', 'f32'],
  ['model.prefixed.safetensors', 'f32'],
  ['model.f16.safetensors', 'f16'],
  ['model.bf16.safetensors', 'bf16'],
] as const;

for (const arch of ARCH_FIXTURES) {
  test(`${arch}: padded mixed-length batch matches the reference in every pooling mode for F32/F16/BF16 weights, with and without prefix`, async () => {
    const ref = reference(arch);
    for (const [file, dtype] of WEIGHT_FILES) {
      const model = await fromFile(arch, file);
      const x = inputs(ref);
      const before = tf.memory().numTensors;
      const hidden = model.forward(x);
      for (const mode of POOLING_MODES) {
        const pooled = pool(hidden, x.attentionMask, mode);
        const diff = maxAbsDiff(pooled.arraySync(), ref.pooled[dtype][mode]);
        assert.ok(diff < 1e-4, `${arch} ${file} ${mode}: max abs diff ${diff}`);
        pooled.dispose();
      }
      hidden.dispose();
      assert.equal(tf.memory().numTensors, before, 'forward leaks no tensors');
      tf.dispose([x.inputIds, x.attentionMask]);
      model.dispose();
    }
  });

  test(`${arch}: loss and gradients of one step match torch autograd within 1e-4 relative`, async () => {
    const ref = reference(arch);
    const model = await fromFile(arch, 'model.safetensors');
    const x = inputs(ref);
    const r = tf.tensor2d(ref.grad_check.R);
    const vars = model.variables();
    const { value, grads } = tf.variableGrads(
      () => tf.sum(tf.mul(tf.tanh(pool(model.forward(x), x.attentionMask, 'mean')), r)) as tf.Scalar,
      [...vars.values()],
    );
    const loss = value.dataSync()[0];
    assert.ok(
      Math.abs(loss - ref.grad_check.loss) <= 1e-4 * Math.abs(ref.grad_check.loss),
      `loss ${loss} vs ${ref.grad_check.loss}`,
    );
    for (const g of ref.grad_check.grads) {
      const v = vars.get(g.name);
      assert.ok(v !== undefined, `${g.name} is a trainable variable`);
      const ours = g.linear ? tf.transpose(grads[v.name]) : grads[v.name].clone();
      assert.deepEqual(ours.shape, g.shape, g.hf);
      const scale = Math.max(...g.values.map(Math.abs));
      const diff = maxAbsDiff(ours.dataSync(), g.values);
      assert.ok(
        scale > 0 && diff <= 1e-4 * scale,
        `${arch} d/d ${g.hf}: max abs diff ${diff}, scale ${scale}`,
      );
      ours.dispose();
    }
    tf.dispose([value, ...Object.values(grads), r, x.inputIds, x.attentionMask]);
    model.dispose();
  });

  test(`${arch}: SentenceEncoder.load encodes texts as the reference; save and load back give identical embeddings`, async () => {
    const ref = reference(arch);
    const encoder = await SentenceEncoder.load(archDir(arch), { quiet: true });
    assert.equal(encoder.pooling, 'mean');
    const batch = encoder.tokenizer.encodeBatch(ref.texts);
    assert.deepEqual(Array.from(batch.inputIds), ref.input_ids.flat(), 'tokenizer ids (pads included)');
    const m = await encoder.encode(ref.texts, { quiet: true, batchSize: 3 });
    const diff = maxAbsDiff(matrixRows(m), ref.pooled.f32.mean);
    assert.ok(diff < 1e-4, `encode: max abs diff ${diff}`);
    const dir = path.join(tmpDir('dr-arch-'), 'saved');
    await encoder.save(dir);
    const savedConfig = JSON.parse(readFileSync(path.join(dir, 'config.json'), 'utf8')) as Record<
      string,
      unknown
    >;
    const original = JSON.parse(readFileSync(path.join(archDir(arch), 'config.json'), 'utf8')) as Record<
      string,
      unknown
    >;
    assert.deepEqual(
      Object.keys(savedConfig).sort(),
      Object.keys(original).sort(),
      'config.json keeps the architecture own fields',
    );
    const savedNames = [...(await readSafetensors(path.join(dir, 'model.safetensors'))).keys()].sort();
    const originalNames = [
      ...(await readSafetensors(path.join(archDir(arch), 'model.safetensors'))).keys(),
    ].sort();
    assert.deepEqual(savedNames, originalNames, 'saved tensors carry the HF names');
    const again = await SentenceEncoder.load(dir, { quiet: true });
    const m2 = await again.encode(ref.texts, { quiet: true, batchSize: 3 });
    assert.deepEqual(Array.from(m2.data), Array.from(m.data));
    encoder.dispose();
    again.dispose();
  });
}

for (const arch of ARCH_FIXTURES) {
  test(`${arch}: SentenceEncoder.load of the checkpoint with F16 / BF16 / prefixed weights encodes as the reference`, async () => {
    const ref = reference(arch);
    for (const [file, dtype] of WEIGHT_FILES.slice(1)) {
      // The fixture directory with this variant as its model.safetensors, as a checkpoint would ship it.
      const dir = path.join(tmpDir('dr-arch-variant-'), arch);
      cpSync(archDir(arch), dir, { recursive: true });
      copyFileSync(path.join(archDir(arch), file), path.join(dir, 'model.safetensors'));
      const encoder = await SentenceEncoder.load(dir, { quiet: true });
      const m = await encoder.encode(ref.texts, { quiet: true, batchSize: 4 });
      const diff = maxAbsDiff(matrixRows(m), ref.pooled[dtype].mean);
      assert.ok(diff < 1e-4, `${file}: max abs diff ${diff}`);
      encoder.dispose();
    }
  });
}
