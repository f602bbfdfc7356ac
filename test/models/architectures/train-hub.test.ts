import assert from 'node:assert/strict';
import { readdirSync, readFileSync, statSync } from 'node:fs';
import path from 'node:path';
import { after, before, test } from 'node:test';
import * as tf from '@tensorflow/tfjs';
import { initBackend } from '../../../src/backend/index.js';
import { loadBeir } from '../../../src/data/beir.js';
import { InBatchNegativesLoss } from '../../../src/losses/in-batch-negatives.js';
import { BiEncoder } from '../../../src/models/bi-encoder.js';
import { loadRetrievalModel } from '../../../src/models/load-retrieval-model.js';
import { DenseModule } from '../../../src/models/modules/dense.js';
import { saveAsRouter } from '../../../src/models/modules/router.js';
import { SentenceEncoder } from '../../../src/models/sentence-encoder.js';
import { examplesFromQrels } from '../../../src/train/examples.js';
import { Trainer } from '../../../src/train/trainer.js';
import { SCIFACT_DIR } from '../../helpers/data.js';
import { serveFiles, startLoopbackServer } from '../../helpers/http-server.js';
import type { LoopbackServer } from '../../helpers/http-server.js';
import { tmpDir } from '../../helpers/tmp.js';
import { matrixRows, maxAbsDiff } from '../bert-fixture.js';
import { ARCH_FIXTURES, archDir } from './fixtures.js';

/** Each architecture from the Hub (loopback server) and through a short training run. */

before(async () => {
  await initBackend();
});

const servers: LoopbackServer[] = [];
after(async () => {
  for (const s of servers) await s.close();
});

/** The files of a fixture that make up its checkpoint (not the extra weight variants or the reference). */
function checkpointFiles(dir: string, prefix = ''): Record<string, Uint8Array> {
  const out: Record<string, Uint8Array> = {};
  for (const name of readdirSync(dir)) {
    const file = path.join(dir, name);
    if (statSync(file).isDirectory()) Object.assign(out, checkpointFiles(file, `${prefix}${name}/`));
    else if (name === 'reference.json' || /^model\..+\.safetensors$/.test(name)) continue;
    else out[prefix + name] = readFileSync(file);
  }
  return out;
}

/** Every file under `dir`, as repository paths. */
function allFiles(dir: string, prefix = ''): Record<string, Uint8Array> {
  const out: Record<string, Uint8Array> = {};
  for (const name of readdirSync(dir)) {
    const file = path.join(dir, name);
    if (statSync(file).isDirectory()) Object.assign(out, allFiles(file, `${prefix}${name}/`));
    else out[prefix + name] = readFileSync(file);
  }
  return out;
}

const mean = (xs: number[]): number => xs.reduce((a, b) => a + b, 0) / xs.length;

for (const arch of ARCH_FIXTURES) {
  test(`${arch}: a hub id resolves through the loopback server and encodes as the reference`, async () => {
    const files = checkpointFiles(archDir(arch));
    const server = await startLoopbackServer(
      serveFiles(
        Object.fromEntries(Object.entries(files).map(([f, b]) => [`/org/${arch}/resolve/main/${f}`, b])),
      ),
    );
    servers.push(server);
    const encoder = await SentenceEncoder.load(`org/${arch}`, {
      endpoint: server.url,
      cacheDir: tmpDir(),
      quiet: true,
    });
    const ref = JSON.parse(readFileSync(path.join(archDir(arch), 'reference.json'), 'utf8')) as {
      texts: string[];
      pooled: { f32: { mean: number[][] } };
    };
    const m = await encoder.encode(ref.texts, { quiet: true });
    const diff = maxAbsDiff(matrixRows(m), ref.pooled.f32.mean);
    assert.ok(diff < 1e-4, `max abs diff ${diff}`);
    const asked = new Set(server.requests.map((r) => r.path.replace(`/org/${arch}/resolve/main/`, '')));
    for (const f of Object.keys(files)) assert.ok(asked.has(f), `${f} was fetched`);
    encoder.dispose();
  });

  test(`${arch}: an untied Router model (two routes with Dense, one normalizing) downloads through the loopback hub and encodes as saved`, async () => {
    const load = async (pooling: 'cls' | 'mean', normalize: boolean): Promise<SentenceEncoder> => {
      const base = await SentenceEncoder.load(archDir(arch), { quiet: true, pooling, normalize });
      return new SentenceEncoder({
        model: base.model,
        tokenizer: base.tokenizer,
        pooling,
        normalize,
        maxSeqLength: 32,
        dense: [await DenseModule.load(path.join(archDir('dense')))],
        prompts: pooling === 'cls' ? { query: 'query: ' } : {},
      });
    };
    const model = BiEncoder.untied(await load('cls', false), await load('mean', true), {
      similarity: 'cosine',
    });
    const saved = path.join(tmpDir(), 'router');
    await saveAsRouter(model, saved);
    // As on the Hub: the files of the directory, without our manifest (a Python-written Router has none).
    const files = allFiles(saved);
    delete files['dense_retrieval_manifest.json'];
    const repo = `org/router-${arch}`;
    const server = await startLoopbackServer(
      serveFiles(
        Object.fromEntries(Object.entries(files).map(([f, b]) => [`/${repo}/resolve/main/${f}`, b])),
      ),
    );
    servers.push(server);
    const loaded = await loadRetrievalModel(repo, { endpoint: server.url, cacheDir: tmpDir(), quiet: true });
    assert.equal(loaded.tied, false);
    assert.equal(loaded.similarity, 'cosine');
    const texts = ['a short query', 'dense retrieval maps queries and passages to vectors of numbers.'];
    for (const tower of ['encodeQueries', 'encodePassages'] as const) {
      const a = await model[tower](texts, { quiet: true });
      const b = await loaded[tower](texts, { quiet: true });
      assert.equal(b.cols, 8);
      assert.deepEqual(Array.from(b.data), Array.from(a.data), tower);
    }
    // Every file of the model (both routes' Transformer, Pooling, Dense folders) was fetched, and nothing at
    // the root that a Router model does not have was required.
    const asked = new Set(server.requests.map((r) => r.path.replace(`/${repo}/resolve/main/`, '')));
    for (const f of Object.keys(files)) assert.ok(asked.has(f), `${f} was fetched`);
    for (const f of ['config.json', 'model.safetensors', 'tokenizer.json']) {
      assert.ok(!asked.has(f), `the Router model's root ${f} was not asked for`);
    }
    loaded.dispose();
    model.dispose();
  });

  test(`${arch}: Trainer lowers the loss on SciFact pairs; the saved model loads back to identical embeddings`, async () => {
    const encoder = await SentenceEncoder.load(archDir(arch), { quiet: true, maxSeqLength: 24 });
    const examples = examplesFromQrels(await loadBeir(SCIFACT_DIR, { split: 'train' })).slice(0, 32);
    const bi = BiEncoder.tied(encoder, { similarity: 'cosine' });
    const counts: number[] = [];
    const trainer = new Trainer({
      model: bi,
      loss: new InBatchNegativesLoss({ similarity: 'cosine' }),
      batchSize: 8,
      steps: 40,
      seed: 1,
      lr: 1e-2,
      warmupSteps: 2,
      quiet: true,
      onStep: () => {
        counts.push(tf.memory().numTensors);
      },
    });
    const { losses } = await trainer.train(examples);
    const first = mean(losses.slice(0, 4));
    const last = mean(losses.slice(-8));
    // Falls, and ends below chance (ln 8, a uniform guess among the batch's 8 passages).
    assert.ok(
      last < 0.85 * first && last < Math.log(8) - 0.1,
      `loss ${first.toFixed(3)} -> ${last.toFixed(3)}`,
    );
    assert.equal(new Set(counts.slice(1)).size, 1, `numTensors per step: ${counts.join(',')}`);
    const dir = path.join(tmpDir(), 'trained');
    await encoder.save(dir);
    const again = await SentenceEncoder.load(dir, { quiet: true, maxSeqLength: 24 });
    const texts = examples.slice(0, 5).map((e) => e.query);
    const a = await encoder.encode(texts, { quiet: true });
    const b = await again.encode(texts, { quiet: true });
    assert.deepEqual(Array.from(b.data), Array.from(a.data));
    trainer.optimizer.dispose();
    bi.dispose();
    again.dispose();
  });
}
