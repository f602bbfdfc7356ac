import assert from 'node:assert/strict';
import { readFile } from 'node:fs/promises';
import { test } from 'node:test';
import { assembleHammingWat, generatedModule, OUT_PATH } from '../../scripts/build-hamming-wasm.js';
import { HAMMING_WASM_BASE64 } from '../../src/index/hamming-wasm.js';

test('the committed kernel bytes are src/index/hamming.wat assembled again (wabt)', async () => {
  const bytes = await assembleHammingWat();
  assert.deepEqual(Buffer.from(HAMMING_WASM_BASE64, 'base64'), Buffer.from(bytes));
  // And the generated file is exactly what the script writes (rerun it after editing the WAT).
  assert.equal(await readFile(OUT_PATH, 'utf8'), generatedModule(bytes));
});
