import assert from 'node:assert/strict';
import { readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { before, test } from 'node:test';
import { parse } from 'yaml';
import { initBackend } from '../../src/backend/index.js';
import { ArgumentError } from '../../src/errors.js';
import { BiEncoder } from '../../src/models/bi-encoder.js';
import { loadRetrievalModel } from '../../src/models/load-retrieval-model.js';
import { MODEL_CARD, writeModelCard } from '../../src/train/model-card.js';
import type { ModelCardOptions } from '../../src/train/model-card.js';
import { tmpDir } from '../helpers/tmp.js';
import { tinyConfig } from './tiny-bert.js';

before(async () => {
  await initBackend();
});

/** Split a card into its YAML front matter (parsed strictly) and Markdown body. */
function parseCard(text: string): { meta: Record<string, unknown>; body: string } {
  const m = /^---\n([\s\S]*?)\n---\n([\s\S]*)$/.exec(text);
  assert.ok(m, 'the card starts with a --- front matter block');
  return { meta: parse(m[1], { strict: true, uniqueKeys: true }) as Record<string, unknown>, body: m[2] };
}

const OPTIONS: ModelCardOptions = {
  baseModel: 'sentence-transformers/all-MiniLM-L6-v2',
  datasets: ['scifact'],
  trainingExamples: 36,
  language: ['en'],
  license: 'apache-2.0',
  loss: {
    kind: 'cached-in-batch-negatives',
    similarity: 'cosine',
    scale: 20,
    symmetric: false,
    miniBatchSize: 8,
  },
  hyperparameters: { batch_size: 32, learning_rate: 2e-5, notes: 'a|b: "c"' },
  evaluation: {
    dataset: 'scifact',
    split: 'test',
    metrics: { ndcg_cut_10: 0.41234, recall_100: 0.8, num_q: 12 },
    step: 20,
    selectedBy: 'ndcg_cut_10',
  },
  evaluationHistory: [
    { step: 10, epoch: 0, metrics: { ndcg_cut_10: 0.3, recall_100: 0.7, num_q: 12 } },
    { step: 20, epoch: 1, metrics: { ndcg_cut_10: 0.41234, recall_100: 0.8, num_q: 12 } },
  ],
};

async function savedModel(dir: string, untied = false): Promise<void> {
  const a = await loadRetrievalModel(`scratch:${tinyConfig(tmpDir())}`, {
    quiet: true,
    similarity: 'cosine',
  });
  if (!untied) {
    await a.save(dir);
    a.dispose();
    return;
  }
  const b = await loadRetrievalModel(`scratch:${tinyConfig(tmpDir())}`, { quiet: true, seed: 7 });
  const model = BiEncoder.untied(a.queryEncoder, b.queryEncoder, { similarity: 'cosine' });
  await model.save(dir);
  model.dispose();
}

test('the card is Hugging Face front matter + the sentence-transformers sections, from the saved files', async () => {
  const dir = path.join(tmpDir(), 'scifact-minilm');
  await savedModel(dir);
  const r = await writeModelCard(dir, OPTIONS);
  assert.deepEqual(r, { file: path.join(dir, MODEL_CARD), written: true });
  const { meta, body } = parseCard(readFileSync(r.file, 'utf8'));
  assert.equal(meta.library_name, 'sentence-transformers');
  assert.equal(meta.pipeline_tag, 'sentence-similarity');
  assert.equal(meta.base_model, 'sentence-transformers/all-MiniLM-L6-v2');
  assert.deepEqual(meta.datasets, ['scifact']);
  assert.deepEqual(meta.language, ['en']);
  assert.equal(meta.license, 'apache-2.0');
  const tags = meta.tags as string[];
  for (const t of [
    'sentence-transformers',
    'sentence-similarity',
    'dataset_size:36',
    'loss:CachedMultipleNegativesRankingLoss',
  ])
    assert.ok(tags.includes(t), t);
  assert.deepEqual(meta.metrics, ['ndcg_cut_10', 'recall_100']);
  assert.deepEqual(meta['model-index'], [
    {
      name: 'scifact-minilm',
      results: [
        {
          task: { type: 'information-retrieval', name: 'Information Retrieval' },
          dataset: { name: 'scifact (test)', type: 'scifact', split: 'test' },
          metrics: [
            { type: 'ndcg_cut_10', value: 0.41234, name: 'nDCG@10' },
            { type: 'recall_100', value: 0.8, name: 'Recall@100' },
          ],
        },
      ],
    },
  ]);
  // The architecture as `print(SentenceTransformer(dir))`, read from the files just saved.
  const st = JSON.parse(readFileSync(path.join(dir, 'sentence_bert_config.json'), 'utf8'));
  assert.match(
    body,
    new RegExp(
      String.raw`\(0\): Transformer\(\{'max_seq_length': ${st.max_seq_length}, 'do_lower_case': False\}\) with Transformer model: BertModel\n` +
        String.raw`  \(1\): Pooling\(\{'word_embedding_dimension': 16, 'pooling_mode_\w+': True`,
    ),
  );
  assert.match(body, /- \*\*Output Dimensionality:\*\* 16 dimensions/);
  assert.match(body, /- \*\*Similarity Function:\*\* Cosine Similarity/);
  assert.match(body, /\| ndcg_cut_10 \| 0\.4123 \|\n\| recall_100 \| 0\.8000 \|\n\| num_q \| 12 \|/);
  assert.match(body, /\| \*\*20\*\* \| \*\*1\*\* \| \*\*0\.4123\*\* \| \*\*0\.8000\*\* \|/);
  assert.match(body, /\| `notes` \| a\\\|b: "c" \|/);
  assert.match(body, /"miniBatchSize": 8/);
  assert.match(body, /model = SentenceTransformer\("scifact-minilm"\)/);
  assert.match(body, /await loadRetrievalModel\("scifact-minilm"\)/);
  assert.match(body, /- dense-retrieval: \d+\.\d+\.\d+/);
});

test('an untied model shows its Router routes; a local base model is not a Hub id', async () => {
  const dir = tmpDir();
  await savedModel(dir, true);
  await writeModelCard(dir, { baseModel: '/models/base' });
  const { meta, body } = parseCard(readFileSync(path.join(dir, MODEL_CARD), 'utf8'));
  assert.equal(meta.base_model, undefined);
  assert.equal(meta['model-index'], undefined, 'no evaluation, no model-index');
  assert.match(body, /\(0\): Router\(\n {4}\(query\): \[\n {6}\(0\): Transformer/);
  assert.match(body, /\(document\): \[/);
  assert.match(body, /encode_query\(queries\)/);
  assert.match(body, /- \*\*Base model:\*\* `\/models\/base`/);
});

test('a README.md someone else wrote (or edited) is never replaced without overwrite; ours is', async () => {
  const dir = tmpDir();
  await savedModel(dir);
  const file = path.join(dir, MODEL_CARD);
  writeFileSync(file, '# My notes\n');
  assert.deepEqual(await writeModelCard(dir, OPTIONS), { file, written: false });
  assert.equal(readFileSync(file, 'utf8'), '# My notes\n');

  assert.equal((await writeModelCard(dir, { ...OPTIONS, overwrite: true })).written, true);
  assert.equal(
    (await writeModelCard(dir, { ...OPTIONS, datasets: ['nfcorpus'] })).written,
    true,
    'ours: rewritten',
  );
  assert.deepEqual(parseCard(readFileSync(file, 'utf8')).meta.datasets, ['nfcorpus']);

  const edited = readFileSync(file, 'utf8').replace('# ', '# Edited: ');
  writeFileSync(file, edited);
  assert.equal((await writeModelCard(dir, OPTIONS)).written, false, "an edited card is the user's");
  assert.equal(readFileSync(file, 'utf8'), edited);
});

test('writeModelCard errors: no saved model, unknown option', async () => {
  await assert.rejects(
    writeModelCard(tmpDir(), OPTIONS),
    (e: unknown) =>
      e instanceof ArgumentError && /dir: .* holds no saved model \(no modules.json\)/.test(e.message),
  );
  const dir = tmpDir();
  await savedModel(dir);
  await assert.rejects(writeModelCard(dir, { dataset: 'x' } as unknown as ModelCardOptions), /dataset/);
});
