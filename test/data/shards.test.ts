import * as tf from '@tensorflow/tfjs';
import assert from 'node:assert/strict';
import { promises as fs } from 'node:fs';
import path from 'node:path';
import { test } from 'node:test';
import {
  checkShardSet,
  fileFingerprint,
  mergeShards,
  parseShardSpec,
  readShardManifest,
  streamTextRecords,
} from '../../src/data/shards.js';
import { ArgumentError, InputFormatError } from '../../src/errors.js';
import { encodeShard, modelFingerprint } from '../../src/models/sharded-encode.js';
import type { ShardEncoder } from '../../src/models/sharded-encode.js';
import type { Matrix } from '../../src/types.js';
import { tmpDir } from '../helpers/tmp.js';

/** A stand-in model: each text's vector is [length, first char code, last char code] times a weight. */
function fakeEncoder(weight: number): ShardEncoder & { calls: number[]; dispose(): void } {
  const w = tf.variable(tf.tensor1d([weight]), true, `w${weight}-${Math.random()}`);
  const calls: number[] = [];
  return {
    dim: 3,
    pooling: 'mean',
    normalize: false,
    maxSeqLength: 8,
    calls,
    async encode(texts: string[]): Promise<Matrix> {
      calls.push(texts.length);
      const data = new Float32Array(texts.length * 3);
      texts.forEach((t, i) =>
        data.set([t.length * weight, t.charCodeAt(0) * weight, t.charCodeAt(t.length - 1) * weight], i * 3),
      );
      return { data, rows: texts.length, cols: 3 };
    },
    trainableVariables: () => [w],
    dispose: () => w.dispose(),
  };
}

async function corpusFile(dir: string, n: number): Promise<string> {
  const file = path.join(dir, 'corpus.jsonl');
  const lines = Array.from({ length: n }, (_, i) =>
    JSON.stringify({
      _id: `doc${i}`,
      title: i % 3 === 0 ? `T${i}` : '',
      text: `text number ${i}${'x'.repeat(i % 5)}`,
    }),
  );
  await fs.writeFile(file, lines.join('\n') + '\n');
  return file;
}

async function all(
  records: AsyncIterable<{ id: string; text: string }>,
): Promise<{ id: string; text: string }[]> {
  const out = [];
  for await (const r of records) out.push(r);
  return out;
}

test('parseShardSpec', () => {
  assert.deepEqual(parseShardSpec('2/4'), { index: 2, count: 4 });
  for (const bad of ['4/4', '1/0', '-1/2', 'a/b', '1', '1/2/3'])
    assert.throws(() => parseShardSpec(bad), ArgumentError, bad);
});

test('shards cover the corpus once; merge restores file order; resume continues from the last chunk', async () => {
  const dir = tmpDir();
  const file = await corpusFile(dir, 53);
  const corpus = { file: 'corpus.jsonl', ...(await fileFingerprint(file)) };
  const records = await all(streamTextRecords(file));
  assert.equal(records[3].text, 'T3 text number 3xxx');
  const enc = fakeEncoder(1);
  try {
    const dirs = [0, 1, 2].map((i) => path.join(dir, `s${i}`));
    // Shard 1 is "killed" after its first chunk: a stream that throws stands in for the kill.
    let seen = 0;
    async function* dying(): AsyncGenerator<{ id: string; text: string }> {
      for (const r of records) {
        if (seen++ === 20) throw new Error('killed');
        yield r;
      }
    }
    await assert.rejects(
      () =>
        encodeShard(enc, dying(), {
          shard: { index: 1, count: 3 },
          outDir: dirs[1],
          corpus,
          chunkSize: 4,
          batchSize: 2,
        }),
      /killed/,
    );
    const partial = (await readShardManifest(dirs[1]))!;
    assert.equal(partial.complete, false);
    assert.equal(partial.rows, 4);
    await assert.rejects(() => checkShardSet(dirs.slice(1, 2)), /shard 1\/3 is incomplete \(4 rows so far\)/);
    enc.calls.length = 0;
    for (let i = 0; i < 3; i++) {
      await encodeShard(enc, streamTextRecords(file), {
        shard: { index: i, count: 3 },
        outDir: dirs[i],
        corpus,
        chunkSize: 4,
        batchSize: 2,
      });
    }
    // Shard 1 resumed: 18 rows, 4 already done -> 14 more, in chunks of 4 (last 2).
    const m1 = (await readShardManifest(dirs[1]))!;
    assert.equal(m1.rows, 18);
    assert.deepEqual(
      m1.chunks.map((c) => c.rows),
      [4, 4, 4, 4, 2],
    );

    const shards = await checkShardSet([dirs[2], dirs[0], dirs[1]]);
    const merged: string[] = [];
    const vectors: number[] = [];
    for await (const block of mergeShards(shards, 7)) {
      assert.ok(block.ids.length <= 7);
      merged.push(...block.ids);
      vectors.push(...block.vectors.data);
    }
    assert.deepEqual(
      merged,
      records.map((r) => r.id),
    );
    const want = await enc.encode(records.map((r) => r.text));
    assert.deepEqual(vectors, [...want.data]);

    // Set errors name what is wrong.
    await assert.rejects(() => checkShardSet([dirs[0], dirs[1]]), /missing shard 2\/3/);
    await assert.rejects(
      () => checkShardSet([dirs[0], dirs[0], dirs[1], dirs[2]]),
      /shard 0\/3 is given twice/,
    );
    const other = fakeEncoder(2);
    try {
      assert.notEqual(modelFingerprint(other), modelFingerprint(enc));
      const odir = path.join(dir, 'other');
      await encodeShard(other, streamTextRecords(file), {
        shard: { index: 2, count: 3 },
        outDir: odir,
        corpus,
        chunkSize: 4,
        batchSize: 2,
      });
      await assert.rejects(
        () => checkShardSet([dirs[0], dirs[1], odir]),
        (e: Error) =>
          e instanceof InputFormatError && /other: was encoded with another model/.test(e.message),
      );
      // Resuming a directory with another model is refused, and nothing in it is touched.
      await assert.rejects(
        () =>
          encodeShard(other, streamTextRecords(file), {
            shard: { index: 0, count: 3 },
            outDir: dirs[0],
            corpus,
            chunkSize: 4,
            batchSize: 2,
          }),
        /holds a shard encoded with another model .*nothing was changed/,
      );
    } finally {
      other.dispose();
    }
    // A flipped byte in a chunk is caught by its checksum.
    const chunk = path.join(dirs[0], shards[0].manifest.chunks[0].file);
    const bytes = await fs.readFile(chunk);
    bytes[bytes.length - 1] ^= 0x40;
    await fs.writeFile(chunk, bytes);
    await assert.rejects(async () => {
      for await (const _ of mergeShards(shards)) void _;
    }, /chunk-000000\.npy: checksum mismatch/);
  } finally {
    enc.dispose();
  }
});

test('a malformed manifest names the file and field', async () => {
  const dir = tmpDir();
  await fs.writeFile(
    path.join(dir, 'manifest.json'),
    JSON.stringify({
      format: 'dense-retrieval/encode-shard',
      version: 1,
      model: 'm',
      corpus: { sha256: 'x', bytes: 1 },
      shard: { index: 3, count: 2 },
    }),
  );
  await assert.rejects(() => readShardManifest(dir), /manifest\.json: shard manifest: invalid 'shard'/);
  await fs.writeFile(path.join(dir, 'manifest.json'), '{');
  await assert.rejects(() => readShardManifest(dir), InputFormatError);
});
