import assert from 'node:assert/strict';
import { test } from 'node:test';
import { parseDecimal, parseInteger } from '../../src/util/number.js';

test('parseDecimal reads plain decimal numbers as Number() does', () => {
  for (const [text, value] of [
    ['0', 0],
    ['-1.5', -1.5],
    ['+2', 2],
    ['.5', 0.5],
    ['5.', 5],
    ['1e3', 1000],
    ['-2.5E-2', -0.025],
    ['0.30000000000000004', 0.30000000000000004],
  ] as const) {
    assert.equal(parseDecimal(text), value, text);
  }
});

test('parseDecimal refuses what Number() reads but trec_eval does not (binary, octal, hex, Infinity, blank)', () => {
  // Number('0b11') is 3 and Number('0o17') is 15; trec_eval's atof reads both as 0.
  for (const text of [
    '0b11',
    '0o17',
    '0x1f',
    'Infinity',
    '-Infinity',
    'NaN',
    '',
    ' ',
    ' 1',
    '1 ',
    '1e',
    'e5',
    '.',
    '1_000',
    '1e400',
  ]) {
    assert.equal(parseDecimal(text), undefined, JSON.stringify(text));
  }
});

test('parseInteger reads decimal integers and refuses the rest, including unsafe ones', () => {
  assert.equal(parseInteger('007'), 7);
  assert.equal(parseInteger('-3'), -3);
  assert.equal(parseInteger('9007199254740991'), 9007199254740991);
  for (const text of ['1.0', '1e3', '0x10', '0b1', '', ' 4', '9007199254740993', 'Infinity']) {
    assert.equal(parseInteger(text), undefined, JSON.stringify(text));
  }
});
