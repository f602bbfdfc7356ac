import assert from 'node:assert/strict';
import { readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { test } from 'node:test';
import { readSafetensors, writeSafetensors } from '../../src/checkpoint/safetensors.js';
import type { SafetensorsTensor } from '../../src/checkpoint/safetensors.js';
import { InputFormatError } from '../../src/errors.js';
import { Rng } from '../../src/util/random.js';
import { tmpDir } from '../helpers/tmp.js';

// Bounded: a fixed number of mutations of a ~300-byte file; each read either succeeds or throws.
const ROUNDS = 400;

function sameStructure(a: Map<string, SafetensorsTensor>, b: Map<string, SafetensorsTensor>): boolean {
  return (
    a.size === b.size &&
    [...a].every(([name, t]) => {
      const u = b.get(name);
      return u !== undefined && u.dtype === t.dtype && u.shape.join(',') === t.shape.join(',');
    })
  );
}

test('random byte flips and truncations give a typed error or a consistent result, never a crash', async () => {
  const dir = tmpDir();
  const original = path.join(dir, 'orig.safetensors');
  await writeSafetensors(
    original,
    new Map([
      ['encoder.weight', { shape: [3, 4], data: Float32Array.from({ length: 12 }, (_, i) => i - 5.5) }],
      ['encoder.bias', { shape: [4], data: new Float32Array([0.5, -1, 2, 1e-3]) }],
      ['empty', { shape: [0], data: new Float32Array(0) }],
    ]),
    { format: 'pt' },
  );
  const bytes = readFileSync(original);
  const dataStart = 8 + Number(bytes.readBigUInt64LE(0));
  const reference = await readSafetensors(original);
  const totalElements = [...reference.values()].reduce((s, t) => s + t.data.length, 0);
  const rng = new Rng(13);
  const mutated = path.join(dir, 'mutated.safetensors');
  let errors = 0;
  let successes = 0;
  for (let round = 0; round < ROUNDS; round++) {
    const copy = Buffer.from(bytes);
    let truncatedTo: number | undefined;
    const flips: number[] = [];
    if (round % 10 === 9) {
      truncatedTo = Math.floor(rng.next() * copy.byteLength);
    } else {
      const n = 1 + Math.floor(rng.next() * 3);
      for (let i = 0; i < n; i++) {
        const at = Math.floor(rng.next() * copy.byteLength);
        copy[at] ^= 1 + Math.floor(rng.next() * 255);
        flips.push(at);
      }
    }
    writeFileSync(mutated, truncatedTo === undefined ? copy : copy.subarray(0, truncatedTo));
    let result: Map<string, SafetensorsTensor>;
    try {
      result = await readSafetensors(mutated);
    } catch (error) {
      assert.ok(
        error instanceof InputFormatError,
        `round ${round}: expected an InputFormatError, got ${String(error)}`,
      );
      assert.match((error as Error).message, /mutated\.safetensors/);
      errors++;
      continue;
    }
    successes++;
    assert.equal(truncatedTo, undefined, `round ${round}: a truncated file was accepted`);
    // Whatever parses still tiles the data exactly: the elements add up to the original count.
    const elements = [...result.values()].reduce((s, t) => s + t.data.length, 0);
    assert.equal(elements, totalElements, `round ${round}: element count changed`);
    if (flips.every((at) => at >= dataStart)) {
      // Only tensor bytes changed: same tensors, and each float equals the one its (mutated) bytes encode.
      assert.ok(sameStructure(reference, result), `round ${round}: structure changed`);
      const view = new DataView(copy.buffer, copy.byteOffset + dataStart);
      const header = JSON.parse(bytes.toString('utf8', 8, dataStart)) as Record<
        string,
        { data_offsets: [number, number] }
      >;
      for (const [name, t] of result) {
        const [begin] = header[name].data_offsets;
        t.data.forEach((v, i) => {
          const expected = view.getFloat32(begin + i * 4, true);
          assert.ok(
            Object.is(v, expected) || (Number.isNaN(v) && Number.isNaN(expected)),
            `round ${round}: ${name}[${i}]`,
          );
        });
      }
    }
  }
  // The fuzzer exercised both outcomes.
  assert.ok(errors > 50, `only ${errors} errors`);
  assert.ok(successes > 10, `only ${successes} successes`);
});
