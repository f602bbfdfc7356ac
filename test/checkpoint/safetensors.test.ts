import assert from 'node:assert/strict';
import { readFileSync, writeFileSync, readdirSync } from 'node:fs';
import path from 'node:path';
import { test } from 'node:test';
import { readSafetensors, writeSafetensors } from '../../src/checkpoint/safetensors.js';
import { InputFormatError } from '../../src/errors.js';
import { tmpDir } from '../helpers/tmp.js';
import { TINY } from '../models/bert-fixture.js';

/** A safetensors file from a header object and data bytes, for malformed-input tests. */
function craft(file: string, header: object, data: Uint8Array = new Uint8Array(0)): string {
  const json = Buffer.from(JSON.stringify(header));
  const len = Buffer.alloc(8);
  len.writeBigUInt64LE(BigInt(json.byteLength));
  writeFileSync(file, Buffer.concat([len, json, data]));
  return file;
}

test('write then read round-trips names, shapes, values and metadata; header is 8-byte aligned', async () => {
  const dir = tmpDir();
  const file = path.join(dir, 'm.safetensors');
  const a = new Float32Array([1.5, -2, 3.25, Number.MIN_VALUE, -0, 1e30]);
  const b = new Float32Array([7]);
  await writeSafetensors(
    file,
    new Map([
      ['b.bias', { shape: [1], data: b }],
      ['a.weight', { shape: [2, 3], data: a }],
    ]),
    { format: 'pt' },
  );
  const bytes = readFileSync(file);
  const headerLen = Number(bytes.readBigUInt64LE(0));
  assert.equal(headerLen % 8, 0);
  const header = JSON.parse(bytes.toString('utf8', 8, 8 + headerLen));
  assert.deepEqual(header.__metadata__, { format: 'pt' });
  assert.deepEqual(header['a.weight'], { dtype: 'F32', shape: [2, 3], data_offsets: [0, 24] });
  assert.deepEqual(header['b.bias'], { dtype: 'F32', shape: [1], data_offsets: [24, 28] });
  assert.equal(bytes.byteLength, 8 + headerLen + 28);
  const back = await readSafetensors(file);
  assert.deepEqual([...back.keys()].sort(), ['a.weight', 'b.bias']);
  assert.deepEqual(back.get('a.weight'), { dtype: 'F32', shape: [2, 3], data: a });
  assert.deepEqual(back.get('b.bias')!.data, b);
  assert.deepEqual(readdirSync(dir), ['m.safetensors'], 'no temp files left behind');
});

test('F16 and BF16 files read as the float32 values they encode', async () => {
  const f32 = await readSafetensors(path.join(TINY, 'model.safetensors'));
  const f16 = await readSafetensors(path.join(TINY, 'model.f16.safetensors'));
  const bf16 = await readSafetensors(path.join(TINY, 'model.bf16.safetensors'));
  const name = 'encoder.layer.1.output.dense.weight';
  const ref = f32.get(name)!;
  const h = f16.get(`bert.${name}`)!;
  const b = bf16.get(name)!;
  assert.equal(h.dtype, 'F16');
  assert.equal(b.dtype, 'BF16');
  assert.deepEqual(h.shape, ref.shape);
  for (let i = 0; i < ref.data.length; i++) {
    // Rounding to half (11-bit mantissa) and bfloat16 (8-bit mantissa) loses at most half an ulp.
    assert.ok(Math.abs(h.data[i] - ref.data[i]) <= Math.abs(ref.data[i]) * 2 ** -11 + 2 ** -25, `f16 ${i}`);
    assert.ok(Math.abs(b.data[i] - ref.data[i]) <= Math.abs(ref.data[i]) * 2 ** -8, `bf16 ${i}`);
  }
});

test('F16 special values: subnormals, infinities, NaN, signed zero', async () => {
  const dir = tmpDir();
  const halves = new Uint16Array([0x0001, 0x3c00, 0xc000, 0x7c00, 0xfc00, 0x7e00, 0x8000, 0x7bff]);
  const file = craft(
    path.join(dir, 'h.safetensors'),
    { x: { dtype: 'F16', shape: [8], data_offsets: [0, 16] } },
    new Uint8Array(halves.buffer),
  );
  const x = (await readSafetensors(file)).get('x')!.data;
  assert.deepEqual(Array.from(x.subarray(0, 5)), [2 ** -24, 1, -2, Infinity, -Infinity]);
  assert.ok(Number.isNaN(x[5]));
  assert.ok(Object.is(x[6], -0));
  assert.equal(x[7], 65504);
});

test('a truncated file is an error naming the file and the tensor', async () => {
  const dir = tmpDir();
  const whole = readFileSync(path.join(TINY, 'model.safetensors'));
  const cut = path.join(dir, 'cut.safetensors');
  writeFileSync(cut, whole.subarray(0, whole.byteLength - 100));
  await assert.rejects(readSafetensors(cut), (e: unknown) => {
    assert.ok(e instanceof InputFormatError);
    assert.match(
      e.message,
      new RegExp(
        `^${cut.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}: truncated safetensors file: tensor \\S+ ends at byte \\d+ of the data but only \\d+ bytes are present$`,
      ),
    );
    return true;
  });
  const headerCut = path.join(dir, 'header.safetensors');
  writeFileSync(headerCut, whole.subarray(0, 50));
  await assert.rejects(
    readSafetensors(headerCut),
    /header\.safetensors: truncated safetensors file: header needs \d+ bytes but only 42 follow/,
  );
  const tiny = path.join(dir, 'tiny.safetensors');
  writeFileSync(tiny, Buffer.from([1, 2, 3]));
  await assert.rejects(readSafetensors(tiny), /tiny\.safetensors: not a safetensors file \(3 bytes\)/);
});

test('malformed headers are errors naming the tensor', async () => {
  const dir = tmpDir();
  const f = (name: string) => path.join(dir, name);
  await assert.rejects(
    readSafetensors(
      craft(
        f('shape.safetensors'),
        { w: { dtype: 'F32', shape: [2, 3], data_offsets: [0, 20] } },
        new Uint8Array(20),
      ),
    ),
    /shape\.safetensors: tensor w: shape \[2, 3\] F32 needs 24 bytes but data_offsets span 20/,
  );
  await assert.rejects(
    readSafetensors(
      craft(
        f('dtype.safetensors'),
        { w: { dtype: 'C64', shape: [1], data_offsets: [0, 8] } },
        new Uint8Array(8),
      ),
    ),
    /dtype\.safetensors: tensor w: unsupported dtype "C64" \(supported: F32, F16, BF16, F64, I64/,
  );
  await assert.rejects(
    readSafetensors(craft(f('offsets.safetensors'), { w: { dtype: 'F32', shape: [1], data_offsets: [4] } })),
    /tensor w: bad data_offsets \[4\]/,
  );
  const bad = f('json.safetensors');
  const len = Buffer.alloc(8);
  len.writeBigUInt64LE(5n);
  writeFileSync(bad, Buffer.concat([len, Buffer.from('{oops')]));
  await assert.rejects(readSafetensors(bad), /json\.safetensors: safetensors header is not valid JSON/);
  const huge = f('huge.safetensors');
  len.writeBigUInt64LE(1n << 40n);
  writeFileSync(huge, Buffer.concat([len, Buffer.from('{}')]));
  await assert.rejects(
    readSafetensors(huge),
    /huge\.safetensors: not a safetensors file \(header length \d+ is implausible\)/,
  );
});

test('writeSafetensors rejects data that does not fill the shape', async () => {
  const dir = tmpDir();
  await assert.rejects(
    writeSafetensors(
      path.join(dir, 'x.safetensors'),
      new Map([['w', { shape: [2, 2], data: new Float32Array(3) }]]),
    ),
    /x\.safetensors: tensor w: shape \[2, 2\] has 4 elements but data has 3/,
  );
});

test('integer buffers such as an I64 position_ids read as float32 values', async () => {
  const dir = tmpDir();
  const ids = new BigInt64Array([0n, 1n, 2n, 511n]);
  const file = craft(
    path.join(dir, 'ids.safetensors'),
    { 'embeddings.position_ids': { dtype: 'I64', shape: [1, 4], data_offsets: [0, 32] } },
    new Uint8Array(ids.buffer),
  );
  const t = (await readSafetensors(file)).get('embeddings.position_ids')!;
  assert.equal(t.dtype, 'I64');
  assert.deepEqual(Array.from(t.data), [0, 1, 2, 511]);
});

test('overlapping data_offsets are refused naming both tensors', async () => {
  const dir = tmpDir();
  // Both tensors claim bytes 0..8: the reader used to accept this, and every embedding came out 0.0.
  const file = craft(
    path.join(dir, 'overlap.safetensors'),
    {
      a: { dtype: 'F32', shape: [2], data_offsets: [0, 8] },
      b: { dtype: 'F32', shape: [2], data_offsets: [4, 12] },
    },
    new Uint8Array(12),
  );
  await assert.rejects(readSafetensors(file), (e: unknown) => {
    assert.ok(e instanceof InputFormatError);
    assert.match(e.message, /overlap\.safetensors: tensors a \[0, 8\) and b \[4, 12\) overlap/);
    return true;
  });
});

test('a gap between tensors and trailing bytes after the last are refused', async () => {
  const dir = tmpDir();
  const gap = craft(
    path.join(dir, 'gap.safetensors'),
    {
      a: { dtype: 'F32', shape: [1], data_offsets: [0, 4] },
      b: { dtype: 'F32', shape: [1], data_offsets: [8, 12] },
    },
    new Uint8Array(12),
  );
  await assert.rejects(
    readSafetensors(gap),
    /gap\.safetensors: gap of 4 bytes in the data before tensor b.*a ends at 4/,
  );
  const lead = craft(
    path.join(dir, 'lead.safetensors'),
    { a: { dtype: 'F32', shape: [1], data_offsets: [4, 8] } },
    new Uint8Array(8),
  );
  await assert.rejects(readSafetensors(lead), /gap of 4 bytes in the data before tensor a/);
  const trailing = craft(
    path.join(dir, 'trailing.safetensors'),
    { a: { dtype: 'F32', shape: [1], data_offsets: [0, 4] } },
    new Uint8Array(7),
  );
  await assert.rejects(
    readSafetensors(trailing),
    /trailing\.safetensors: 3 trailing bytes after the last tensor \(a ends at 4\)/,
  );
});

test('header fields are validated before any allocation', async () => {
  const dir = tmpDir();
  // A header length larger than the file.
  const big = path.join(dir, 'len.safetensors');
  const len = Buffer.alloc(8);
  len.writeBigUInt64LE(1000n);
  writeFileSync(big, Buffer.concat([len, Buffer.from('{}')]));
  await assert.rejects(
    readSafetensors(big),
    /len\.safetensors: truncated safetensors file: header needs 1000 bytes but only 2 follow/,
  );
  // A header length of 2^64 - 1.
  len.writeBigUInt64LE(0xffffffffffffffffn);
  writeFileSync(big, Buffer.concat([len, Buffer.from('{}')]));
  await assert.rejects(readSafetensors(big), /header length 18446744073709551615 is implausible/);
  // A shape whose byte count overflows: refused from the header, nothing allocated.
  const huge = craft(path.join(dir, 'huge.safetensors'), {
    w: { dtype: 'F32', shape: [1e9, 1e9, 1e9], data_offsets: [0, 4] },
  });
  await assert.rejects(
    readSafetensors(huge),
    /tensor w: shape \[1000000000,1000000000,1000000000\] is implausibly large/,
  );
  // A consistent shape/offsets pair larger than the file.
  const past = craft(path.join(dir, 'past.safetensors'), {
    w: { dtype: 'F32', shape: [1e9], data_offsets: [0, 4e9] },
  });
  await assert.rejects(
    readSafetensors(past),
    /tensor w ends at byte 4000000000 of the data but only 0 bytes/,
  );
  // Fields of the wrong type.
  const meta = craft(path.join(dir, 'meta.safetensors'), { __metadata__: 5 });
  await assert.rejects(readSafetensors(meta), /__metadata__ is not a JSON object/);
  const proto = craft(path.join(dir, 'proto.safetensors'), {
    w: { dtype: 'toString', shape: [1], data_offsets: [0, 4] },
  });
  await assert.rejects(readSafetensors(proto), /tensor w: unsupported dtype "toString"/);
  const bad = path.join(dir, 'utf8.safetensors');
  len.writeBigUInt64LE(4n);
  writeFileSync(bad, Buffer.concat([len, Buffer.from([0x7b, 0xff, 0xfe, 0x7d])]));
  await assert.rejects(
    readSafetensors(bad),
    (e: unknown) => e instanceof InputFormatError && /header is not valid UTF-8/.test(e.message),
  );
  await assert.rejects(
    readSafetensors(path.join(dir, 'absent.safetensors')),
    /absent\.safetensors: file not found/,
  );
  await assert.rejects(readSafetensors(dir), (e: unknown) => e instanceof InputFormatError);
});

test('a file over 2 GiB: tensors past the 2 GiB mark are read by position, without reading the file whole', async () => {
  const dir = tmpDir();
  const file = path.join(dir, 'sparse.safetensors');
  // 600M float32 zeros (2.4 GB, a hole in a sparse file) followed by a small tensor at data byte 2.4e9.
  const bigCount = 600_000_000;
  const header = {
    __metadata__: { format: 'pt' },
    big: { dtype: 'F32', shape: [bigCount], data_offsets: [0, bigCount * 4] },
    small: { dtype: 'F32', shape: [3], data_offsets: [bigCount * 4, bigCount * 4 + 12] },
  };
  const json = Buffer.from(JSON.stringify(header));
  const len = Buffer.alloc(8);
  len.writeBigUInt64LE(BigInt(json.byteLength));
  const { openSync, writeSync, closeSync, statSync } = await import('node:fs');
  const fd = openSync(file, 'w');
  writeSync(fd, Buffer.concat([len, json]), 0, 8 + json.byteLength, 0);
  const small = new Float32Array([1.25, -2.5, 3.75]);
  writeSync(fd, new Uint8Array(small.buffer), 0, 12, 8 + json.byteLength + bigCount * 4);
  closeSync(fd);
  assert.ok(statSync(file).size > 2 ** 31);
  const got = await readSafetensors(file, { tensors: ['small'] });
  assert.deepEqual([...got.keys()], ['small']);
  assert.deepEqual(got.get('small')!.shape, [3]);
  assert.deepEqual([...got.get('small')!.data], [1.25, -2.5, 3.75]);
  await assert.rejects(
    readSafetensors(file, { tensors: ['nope'] }),
    /sparse\.safetensors: no tensor named nope/,
  );
});
