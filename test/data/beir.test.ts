import assert from 'node:assert/strict';
import { mkdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { test } from 'node:test';
import { listBeirSplits, loadBeir, readQueries, streamCorpus } from '../../src/data/beir.js';
import { readQrels, writeQrels } from '../../src/data/qrels.js';
import { InputFormatError } from '../../src/errors.js';
import { tmpDir } from '../helpers/tmp.js';
import { SCIFACT_DIR } from '../helpers/data.js';
import { examplesFromQrels } from '../../src/train/examples.js';
import { Bm25Index } from '../../src/index/bm25.js';
import { searchResultToRun } from '../../src/index/result-run.js';
import { evaluateRun } from '../../src/eval/metrics.js';

function dataset(files: Record<string, string>): string {
  const dir = tmpDir();
  for (const [name, content] of Object.entries(files)) {
    mkdirSync(path.dirname(path.join(dir, name)), { recursive: true });
    writeFileSync(path.join(dir, name), content);
  }
  return dir;
}

const GOOD = {
  'corpus.jsonl':
    '{"_id":"d1","title":"T1","text":"one"}\n{"_id":"d2","text":"two"}\n{"_id":3,"text":"three"}\n',
  'queries.jsonl':
    '{"_id":"q1","text":"first?"}\n{"_id":"q2","text":"second?"}\n{"_id":"q3","text":"third?"}\n',
  'qrels/test.tsv': 'query-id\tcorpus-id\tscore\nq1\td1\t1\nq2\td2\t2\n',
  'qrels/train.tsv': 'query-id\tcorpus-id\tscore\nq3\td1\t1\n',
};

async function corpusOf(file: string) {
  const docs = [];
  for await (const doc of streamCorpus(file)) docs.push(doc);
  return docs;
}

async function rejectsAt(promise: Promise<unknown>, file: string, line: number | undefined, message: RegExp) {
  await assert.rejects(promise, (e: unknown) => {
    assert.ok(e instanceof InputFormatError, String(e));
    assert.equal(e.file, file);
    assert.equal(e.line, line);
    assert.match(e.message, message);
    return true;
  });
}

test('loadBeir loads corpus, the split qrels and only the queries judged in the split', async () => {
  const dir = dataset(GOOD);
  const data = await loadBeir(dir);
  assert.deepEqual(data.corpus, [
    { id: 'd1', title: 'T1', text: 'one' },
    { id: 'd2', title: '', text: 'two' },
    { id: '3', title: '', text: 'three' },
  ]);
  assert.deepEqual(
    [...data.queries],
    [
      ['q1', 'first?'],
      ['q2', 'second?'],
    ],
  );
  assert.equal(data.qrels.get('q2')?.get('d2'), 2);
  const train = await loadBeir(dir, { split: 'train' });
  assert.deepEqual([...train.queries.keys()], ['q3']);
  assert.deepEqual(await listBeirSplits(dir), ['test', 'train']);
});

test('loadBeir: a missing split lists the available ones', async () => {
  const dir = dataset(GOOD);
  await rejectsAt(
    loadBeir(dir, { split: 'dev' }),
    path.join(dir, 'qrels', 'dev.tsv'),
    undefined,
    /no split 'dev' in BEIR dataset .* \(available splits: test, train\)/,
  );
});

test('loadBeir: qrels judging an unknown query are an error', async () => {
  const dir = dataset({ ...GOOD, 'qrels/test.tsv': 'query-id\tcorpus-id\tscore\nq9\td1\t1\n' });
  await assert.rejects(loadBeir(dir), /qrels judge query 'q9', which .*queries\.jsonl does not contain/);
});

test('corpus errors name file and line: missing field, duplicate id, bad JSON, empty file', async () => {
  const dir = dataset({
    'missing.jsonl': '{"_id":"d1","text":"a"}\n{"title":"no id","text":"b"}\n',
    'notext.jsonl': '{"_id":"d1"}\n',
    'dup.jsonl': '{"_id":"d1","text":"a"}\n{"_id":"d2","text":"b"}\n{"_id":"d1","text":"c"}\n',
    'bad.jsonl': '{"_id":"d1","text":"a"}\nnot json\n',
    'array.jsonl': '["d1","a"]\n',
    'wrongtype.jsonl': '{"_id":"d1","text":["a"]}\n',
    'empty.jsonl': '\n',
  });
  const f = (name: string) => path.join(dir, name);
  await rejectsAt(corpusOf(f('missing.jsonl')), f('missing.jsonl'), 2, /:2: missing field '_id'/);
  await rejectsAt(corpusOf(f('notext.jsonl')), f('notext.jsonl'), 1, /:1: missing field 'text'/);
  await rejectsAt(
    corpusOf(f('dup.jsonl')),
    f('dup.jsonl'),
    3,
    /duplicate document id 'd1' \(first at line 1\)/,
  );
  await rejectsAt(corpusOf(f('bad.jsonl')), f('bad.jsonl'), 2, /:2: invalid JSON/);
  await rejectsAt(corpusOf(f('array.jsonl')), f('array.jsonl'), 1, /expected a JSON object, got an array/);
  await rejectsAt(corpusOf(f('wrongtype.jsonl')), f('wrongtype.jsonl'), 1, /field 'text' must be a string/);
  await rejectsAt(corpusOf(f('empty.jsonl')), f('empty.jsonl'), undefined, /empty file: no documents/);
});

test('queries errors name file and line: duplicate id, missing text, empty file', async () => {
  const dir = dataset({
    'dup.jsonl': '{"_id":"q1","text":"a"}\n{"_id":"q1","text":"b"}\n',
    'notext.jsonl': '{"_id":"q1"}\n',
    'empty.jsonl': '',
  });
  const f = (name: string) => path.join(dir, name);
  await rejectsAt(
    readQueries(f('dup.jsonl')),
    f('dup.jsonl'),
    2,
    /duplicate query id 'q1' \(first at line 1\)/,
  );
  await rejectsAt(readQueries(f('notext.jsonl')), f('notext.jsonl'), 1, /missing field 'text'/);
  await rejectsAt(readQueries(f('empty.jsonl')), f('empty.jsonl'), undefined, /empty file: no queries/);
});

const SCIFACT = SCIFACT_DIR;

test('loads the real SciFact test split', async () => {
  const dir = SCIFACT;
  const data = await loadBeir(dir);
  assert.equal(data.corpus.length, 5183);
  assert.equal(data.queries.size, 300);
  assert.equal(
    [...data.qrels.values()].reduce((n, m) => n + m.size, 0),
    339,
  );
});

test('SciFact qrels read through the BEIR and TREC paths agree', async () => {
  const beir = await readQrels(path.join(SCIFACT, 'qrels', 'test.tsv'));
  const f = path.join(tmpDir(), 'scifact.qrels');
  await writeQrels(f, beir);
  assert.deepEqual(await readQrels(f), beir);
});

test('loadBeir: a missing data directory says so (not "no qrels/*.tsv found")', async () => {
  const dir = path.join(tmpDir(), 'scifcat');
  await assert.rejects(
    loadBeir(dir),
    (e: unknown) =>
      e instanceof InputFormatError &&
      e.file === dir &&
      /: no such directory \(a BEIR dataset directory holds/.test(e.message),
  );
  const file = path.join(tmpDir(), 'corpus.jsonl');
  writeFileSync(file, '');
  await assert.rejects(loadBeir(file), /corpus\.jsonl: is a file; expected a BEIR dataset directory/);
});

test('issue 12: numeric JSON ids are kept exactly as written (corpus and queries), never rounded', async () => {
  const dir = dataset({
    'corpus.jsonl':
      '{"_id": 1234567890123456789, "title": "", "text": "macrophages"}\n' +
      '{"_id": 1234567890123456788, "text": "other"}\n{"_id": 1.50, "text": "x"}\n{"_id": -0, "text": "y"}\n' +
      '{"_id": 12, "text": 7.0, "title": 1e2}\n',
    'queries.jsonl': '{"_id": 9007199254740993, "text": "where do macrophages come from"}\n',
    'qrels/test.tsv': 'query-id\tcorpus-id\tscore\n9007199254740993\t1234567890123456789\t1\n',
  });
  const { corpus, queries, qrels } = await loadBeir(dir);
  assert.deepEqual(
    corpus.map((d) => d.id),
    ['1234567890123456789', '1234567890123456788', '1.50', '-0', '12'],
  );
  assert.deepEqual(corpus[4], { id: '12', title: '1e2', text: '7.0' });
  assert.deepEqual([...queries.keys()], ['9007199254740993']);
  const examples = examplesFromQrels({ queries, corpus, qrels });
  assert.deepEqual(examples, [
    {
      query: 'where do macrophages come from',
      positive: 'macrophages',
      queryId: '9007199254740993',
      positiveId: '1234567890123456789',
    },
  ]);
});

test('issue 13: invalid UTF-8 in a corpus or queries line is an error naming file and line', async () => {
  const dir = dataset(GOOD);
  const corpus = path.join(dir, 'corpus.jsonl');
  writeFileSync(
    corpus,
    Buffer.concat([
      Buffer.from('{"_id":"d4","text":"a"}\n{"_id":"d4'),
      Buffer.from([0xff]),
      Buffer.from('","text":"b"}\n'),
    ]),
  );
  await rejectsAt(corpusOf(corpus), corpus, 2, /invalid UTF-8/);
  const queries = path.join(dir, 'queries.jsonl');
  writeFileSync(
    queries,
    Buffer.concat([Buffer.from('{"_id":"q'), Buffer.from([0xc3, 0x28]), Buffer.from('","text":"b"}\n')]),
  );
  await rejectsAt(readQueries(queries), queries, 1, /invalid UTF-8/);
});

test('issue 12: with a numeric corpus id, BM25 retrieval scores nDCG@10 1.0 (the id read back matches the qrels)', async () => {
  const dir = dataset({
    'corpus.jsonl':
      '{"_id": 1234567890123456789, "title": "", "text": "macrophages are seeded before birth"}\n' +
      '{"_id": "d2", "title": "", "text": "obesity and quality of life"}\n',
    'queries.jsonl': '{"_id": "q1", "text": "when are macrophages seeded"}\n',
    'qrels/test.tsv': 'query-id\tcorpus-id\tscore\nq1\t1234567890123456789\t1\n',
  });
  const { corpus, queries, qrels } = await loadBeir(dir);
  const bm25 = new Bm25Index();
  bm25.addDocuments(corpus);
  const result = bm25.search([...queries.values()], 2);
  assert.equal(result.ids[0][0], '1234567890123456789');
  const run = searchResultToRun(result, [...queries.keys()]);
  assert.equal(evaluateRun(qrels, run, ['ndcg_cut.10']).mean.ndcg_cut_10, 1);
});
