import assert from 'node:assert/strict';
import { test } from 'node:test';
import { ArgumentError } from '../../src/errors.js';
import { chooseMiningIndex, denseMiningRetriever } from '../../src/train/mining-retriever.js';

test('index auto: exact unless building a graph costs less than scanning the corpus once per query', () => {
  assert.equal(chooseMiningIndex(5_183, 809), 'exact'); // SciFact train
  assert.equal(chooseMiningIndex(8_841_823, 502_939), 'hnsw'); // MS MARCO train
  // A large corpus but few queries: one exact scan each is cheaper than the graph.
  assert.equal(chooseMiningIndex(1_000_000, 2_000), 'exact');
  assert.equal(chooseMiningIndex(1_000_000, 50_000), 'hnsw');
  // Many queries over a small corpus: the scan is short.
  assert.equal(chooseMiningIndex(10_000, 1_000_000), 'exact');
});

test('denseMiningRetriever refuses bad options before touching the model', async () => {
  const model = {} as never;
  const corpus = [{ id: 'd', title: '', text: 't' }];
  const expectArg = (p: Promise<unknown>, argument: string) =>
    assert.rejects(p, (e: unknown) => e instanceof ArgumentError && e.argument === argument);
  await expectArg(denseMiningRetriever(model, [], {}), 'corpus');
  await expectArg(denseMiningRetriever(model, corpus, { index: 'ivf' as 'exact' }), 'index');
  await expectArg(denseMiningRetriever(model, corpus, { queryCount: -1 }), 'queryCount');
  await expectArg(denseMiningRetriever(model, corpus, { batch: 3 } as never), 'options');
  await expectArg(denseMiningRetriever(model, corpus, { engine: 'gpu' as 'onnx' }), 'engine');
});
