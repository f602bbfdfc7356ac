import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import path from 'node:path';
import { test } from 'node:test';
import { optionalFloat, optionalInt } from '../../src/cli/args.js';
import { readTexts } from '../../src/cli/commands/encode.js';
import { readIdLines } from '../../src/cli/commands/index-build.js';
import { UsageError } from '../../src/cli/errors.js';
import { main } from '../../src/cli/main.js';
import { InputFormatError } from '../../src/errors.js';
import { tmpDir } from '../helpers/tmp.js';

function bytes(name: string, ...parts: (string | number[])[]): string {
  const f = path.join(tmpDir(), name);
  writeFileSync(
    f,
    Buffer.concat(parts.map((p) => (typeof p === 'string' ? Buffer.from(p) : Buffer.from(p)))),
  );
  return f;
}

function isErrorAt(f: string, line: number, message: RegExp) {
  return (e: unknown) => {
    assert.ok(e instanceof InputFormatError, String(e));
    assert.equal(e.file, f);
    assert.equal(e.line, line);
    assert.match(e.message, message);
    return true;
  };
}

test('issue 13: an id file with invalid UTF-8 is an error naming file and line (d4\\xff and d4\\xfe stay apart)', async () => {
  const f = bytes('ids.txt', 'd1\nd4', [0xff], '\nd4', [0xfe], '\n');
  await assert.rejects(readIdLines(f), isErrorAt(f, 2, /invalid UTF-8/));
  assert.deepEqual(await readIdLines(bytes('ok.txt', '\uFEFFd1\r\n d2 \n')), ['d1', 'd2']);
  const blank = bytes('blank.txt', 'd1\n\nd2\n');
  await assert.rejects(readIdLines(blank), isErrorAt(blank, 2, /empty id/));
});

test('issue 13: a .txt or .jsonl text file with invalid UTF-8 is an error naming file and line', async () => {
  const txt = bytes('t.txt', 'fine\n', [0xe2, 0x82], 'x\n');
  await assert.rejects(readTexts(txt), isErrorAt(txt, 2, /invalid UTF-8/));
  const jsonl = bytes('t.jsonl', '{"text":"a"}\n{"text":"', [0xc0, 0xaf], '"}\n');
  await assert.rejects(readTexts(jsonl), isErrorAt(jsonl, 2, /invalid UTF-8/));
  // Row i is line i+1: blank lines inside are kept, the final newline adds no row.
  assert.deepEqual(await readTexts(bytes('u.txt', 'a\n\nb\u00e9\n')), ['a', '', 'b\u00e9']);
});

test('issue 13: numeric CLI flags use the strict decimal grammar', () => {
  for (const v of ['0x10', '0b11', '1e3', ' 4', '', '99999999999999999999']) {
    assert.throws(() => optionalInt({ k: v }, 'k'), UsageError, JSON.stringify(v));
  }
  assert.equal(optionalInt({ k: '-7' }, 'k'), -7);
  for (const v of ['0x10', '0b11', 'Infinity', '', ' ', '1e999']) {
    assert.throws(() => optionalFloat({ lr: v }, 'lr'), UsageError, JSON.stringify(v));
  }
  assert.equal(optionalFloat({ lr: '2e-5' }, 'lr'), 2e-5);
});

test('issue 13: --threads uses the strict grammar too (Number() reads 0x2 as 2)', async () => {
  let stderr = '';
  const write = process.stderr.write.bind(process.stderr);
  process.stderr.write = ((chunk: string | Uint8Array) => {
    stderr += chunk.toString();
    return true;
  }) as typeof process.stderr.write;
  let code: number;
  try {
    code = await main(['encode', '--threads', '0x2', '--model', 'nowhere']);
  } finally {
    process.stderr.write = write;
  }
  assert.equal(code, 2);
  assert.match(stderr, /--threads must be an integer from 1 to 8, got '0x2'/);
});
