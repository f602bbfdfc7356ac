import assert from 'node:assert/strict';
import { test } from 'node:test';
import { formatTrecLine, formatTrecValue, parseMeasures } from '../../src/eval/measures.js';

const keys = (names: string[]) => parseMeasures(names).map((m) => m.key);

test('parseMeasures reads trec_eval -m names and comma lists', () => {
  assert.deepEqual(keys(['ndcg_cut.5,10', 'map']), ['ndcg_cut_5', 'ndcg_cut_10', 'map']);
  assert.deepEqual(keys(['ndcg_cut.10,map,recip_rank,P.10,recall.100']), [
    'ndcg_cut_10',
    'map',
    'recip_rank',
    'P_10',
    'recall_100',
  ]);
  assert.deepEqual(keys(['map_cut.100', 'P_5', 'ndcg', 'P.5']), ['map_cut_100', 'P_5', 'ndcg']);
  assert.deepEqual(keys(['recall']), [
    'recall_5',
    'recall_10',
    'recall_15',
    'recall_20',
    'recall_30',
    'recall_100',
    'recall_200',
    'recall_500',
    'recall_1000',
  ]);
});

test('parseMeasures names what it cannot parse', () => {
  assert.throws(() => parseMeasures(['mrr']), /measures: unsupported measure 'mrr'; supported: ndcg_cut\.K/);
  assert.throws(() => parseMeasures(['10']), /unsupported measure '10'/);
  assert.throws(() => parseMeasures(['map,5']), /unsupported measure '5'/);
  assert.throws(
    () => parseMeasures(['P.0']),
    /measures: cutoff '0' of measure 'P.0' must be a positive integer/,
  );
  assert.throws(() => parseMeasures(['ndcg_cut.23.4']), /cutoff '23.4' of measure 'ndcg_cut.23.4'/);
  assert.throws(() => parseMeasures([' , ']), /measures: no measure given/);
});

test('formatTrecValue rounds like C printf %.4f (exact halves to even)', () => {
  assert.equal(formatTrecValue(0.03125), '0.0312');
  assert.equal(formatTrecValue(0.09375), '0.0938');
  assert.equal(formatTrecValue(0.15625), '0.1562');
  assert.equal(formatTrecValue(1 / 3), '0.3333');
  assert.equal(formatTrecValue(0.66666), '0.6667');
  assert.equal(formatTrecValue(1), '1.0000');
  assert.equal(formatTrecValue(0), '0.0000');
});

test('formatTrecLine pads the measure name like trec_eval', () => {
  assert.equal(formatTrecLine('P_10', 'all', 0.25), 'P_10                  \tall\t0.2500');
});
