import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import path from 'node:path';
import { test } from 'node:test';
import { readJsonl } from '../../src/data/jsonl.js';
import { InputFormatError } from '../../src/errors.js';
import { tmpDir } from '../helpers/tmp.js';

async function collect(file: string) {
  const out = [];
  for await (const item of readJsonl(file)) out.push(item);
  return out;
}

test('readJsonl streams values with their line numbers, skipping blank lines and a BOM', async () => {
  const f = path.join(tmpDir(), 'a.jsonl');
  writeFileSync(f, '\uFEFF{"a":1}\n\n[2]\r\n"x"\n');
  assert.deepEqual(await collect(f), [
    { value: { a: 1 }, line: 1 },
    { value: [2], line: 3 },
    { value: 'x', line: 4 },
  ]);
});

test('readJsonl names file and line of invalid JSON', async () => {
  const f = path.join(tmpDir(), 'b.jsonl');
  writeFileSync(f, '{"a":1}\n{"a":\n');
  await assert.rejects(collect(f), (e: unknown) => {
    assert.ok(e instanceof InputFormatError);
    assert.equal(e.line, 2);
    assert.match(e.message, new RegExp(`^${f.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}:2: invalid JSON`));
    return true;
  });
});

test('readJsonl on a missing file fails with ENOENT', async () => {
  await assert.rejects(collect(path.join(tmpDir(), 'none.jsonl')), { code: 'ENOENT' });
});

test('readJsonl on a directory is an InputFormatError naming it', async () => {
  const dir = tmpDir();
  await assert.rejects(
    collect(dir),
    (e: unknown) => e instanceof InputFormatError && e.message === `${dir}: is a directory, not a file`,
  );
});
