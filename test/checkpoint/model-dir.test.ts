import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { cpSync, existsSync, mkdirSync, readFileSync, readdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { before, test } from 'node:test';
import { initBackend } from '../../src/backend/index.js';
import { loadModel } from '../../src/models/load.js';
import { MODEL_MANIFEST, verifyModelDir } from '../../src/checkpoint/model-dir.js';
import { ArgumentError, InputFormatError } from '../../src/errors.js';
import { BiEncoder } from '../../src/models/bi-encoder.js';
import { SentenceEncoder } from '../../src/models/sentence-encoder.js';
import { Rng } from '../../src/util/random.js';
import { tmpDir } from '../helpers/tmp.js';
import { tinyConfig } from '../train/tiny-bert.js';
import { plainTower } from '../models/plain-tower.js';

before(async () => {
  await initBackend();
});

const TEXTS = ['what causes rain', 'Rain forms when water vapour condenses.'];

async function tiny(dir: string, seed: number, pooling: 'mean' | 'cls' = 'mean'): Promise<SentenceEncoder> {
  return SentenceEncoder.fromScratch(tinyConfig(dir), undefined, { seed, pooling });
}

test('save keeps the other files of the directory (training log, checkpoints) and writes a manifest', async () => {
  const dir = tmpDir();
  const out = path.join(dir, 'run');
  mkdirSync(path.join(out, 'checkpoints', 'step-00000010'), { recursive: true });
  writeFileSync(path.join(out, 'train_log.jsonl'), '{"step":1}\n');
  writeFileSync(path.join(out, 'checkpoints', 'step-00000010', 'weights.bin'), 'w');
  const enc = await tiny(dir, 1);
  await enc.save(out);
  assert.equal(readFileSync(path.join(out, 'train_log.jsonl'), 'utf8'), '{"step":1}\n');
  assert.ok(existsSync(path.join(out, 'checkpoints', 'step-00000010', 'weights.bin')));
  const manifest = JSON.parse(readFileSync(path.join(out, MODEL_MANIFEST), 'utf8'));
  const listed = manifest.files.map((f: { path: string }) => f.path);
  assert.ok(listed.includes('model.safetensors') && listed.includes('1_Pooling/config.json'));
  assert.ok(!listed.includes('train_log.jsonl'), 'files the model did not write are not listed');
  assert.equal(await verifyModelDir(out), true);
  // Saving again over the model: still loads, still keeps the log; no hidden staging left in the parent.
  const other = await tiny(dir, 2, 'cls');
  await other.save(out);
  assert.ok(existsSync(path.join(out, 'train_log.jsonl')));
  assert.deepEqual(
    readdirSync(dir).filter((n) => n.startsWith('.')),
    [],
  );
  const back = await loadModel(out, { quiet: true });
  assert.equal(back.pooling, 'cls');
  assert.deepEqual(
    (await back.encode(TEXTS, { quiet: true })).data,
    (await other.encode(TEXTS, { quiet: true })).data,
  );
  // Replacing the directory is explicit.
  await other.save(out, { overwrite: 'replace' });
  assert.ok(!existsSync(path.join(out, 'train_log.jsonl')));
  assert.ok(!existsSync(path.join(out, 'checkpoints')));
  await assert.rejects(
    other.save(out, { overwrite: 'all' as never }),
    (e: unknown) => e instanceof ArgumentError && /overwrite: must be 'files' or 'replace'/.test(e.message),
  );
  for (const m of [enc, other, back]) m.dispose();
});

test('a directory left mixed by an interrupted save is refused naming the file', async () => {
  const dir = tmpDir();
  const a = await tiny(dir, 1, 'mean');
  const b = await tiny(dir, 2, 'cls');
  const dirA = path.join(dir, 'a');
  const dirB = path.join(dir, 'b');
  await a.save(dirA);
  await b.save(dirB);
  // What a kill after B's manifest and pooling config but before its weights leaves (the manifest goes
  // first): new pooling config, old weights. Before manifests this encoded silently with exit 0.
  const mixed = path.join(dir, 'mixed');
  cpSync(dirA, mixed, { recursive: true });
  cpSync(path.join(dirB, MODEL_MANIFEST), path.join(mixed, MODEL_MANIFEST));
  cpSync(path.join(dirB, '1_Pooling', 'config.json'), path.join(mixed, '1_Pooling', 'config.json'));
  await assert.rejects(loadModel(mixed, { quiet: true }), (e: unknown) => {
    assert.ok(e instanceof InputFormatError);
    // The configs of the two tiny models are identical; the weights are the first file that differs.
    assert.equal(e.file, path.join(mixed, 'model.safetensors'));
    assert.match(e.message, /mixes files of two saves/);
    return true;
  });
  // A missing file, a changed size, a changed byte: each named.
  const broken = path.join(dir, 'broken');
  cpSync(dirA, broken, { recursive: true });
  const weights = path.join(broken, 'model.safetensors');
  const bytes = readFileSync(weights);
  bytes[bytes.length - 1] ^= 1;
  writeFileSync(weights, bytes);
  await assert.rejects(loadModel(broken, { quiet: true }), (e: unknown) => {
    assert.ok(e instanceof InputFormatError);
    assert.equal(e.file, weights);
    assert.match(e.message, /content differs from the sha256/);
    return true;
  });
  writeFileSync(weights, bytes.subarray(0, 100));
  await assert.rejects(
    loadModel(broken, { quiet: true }),
    /model\.safetensors: 100 bytes where dense_retrieval_manifest\.json lists/,
  );
  const { rmSync } = await import('node:fs');
  rmSync(path.join(broken, 'config.json'));
  await assert.rejects(
    loadModel(broken, { quiet: true }),
    /config\.json: missing, listed in dense_retrieval_manifest\.json/,
  );
  // A manifest may not point outside the directory.
  const evil = path.join(dir, 'evil');
  cpSync(dirA, evil, { recursive: true });
  writeFileSync(
    path.join(evil, MODEL_MANIFEST),
    JSON.stringify({
      format: 'dense-retrieval.model-manifest',
      version: 1,
      directories: [],
      files: [{ path: '../a/config.json', size: 1, sha256: 'x' }],
    }),
  );
  await assert.rejects(verifyModelDir(evil), /bad file entry/);
  writeFileSync(path.join(evil, MODEL_MANIFEST), '{');
  await assert.rejects(
    verifyModelDir(evil),
    (e: unknown) => e instanceof InputFormatError && /invalid JSON/.test(e.message),
  );
  a.dispose();
  b.dispose();
});

test('a bi-encoder save keeps other files; the manifest covers bi_encoder.json', async () => {
  const dir = tmpDir();
  const out = path.join(dir, 'run');
  mkdirSync(out);
  writeFileSync(path.join(out, 'train_log.jsonl'), 'log\n');
  // Towers that are not SentenceEncoders: saved as query/, passage/ and bi_encoder.json (not a Router).
  const model = BiEncoder.untied(plainTower(await tiny(dir, 1)), plainTower(await tiny(dir, 2)), {
    similarity: 'cosine',
  });
  await model.save(out);
  assert.equal(readFileSync(path.join(out, 'train_log.jsonl'), 'utf8'), 'log\n');
  const loaded = await BiEncoder.load(out, { loadEncoder: (d) => SentenceEncoder.load(d, { quiet: true }) });
  assert.equal(loaded.similarity, 'cosine');
  loaded.dispose();
  const cfgFile = path.join(out, 'bi_encoder.json');
  writeFileSync(cfgFile, readFileSync(cfgFile, 'utf8').replace('cosine', 'dot   '));
  await assert.rejects(
    BiEncoder.load(out),
    (e: unknown) => e instanceof InputFormatError && e.file === cfgFile && /sha256/.test(e.message),
  );
  // A file of the model where the directory has a directory: refused before anything changes.
  const clash = path.join(dir, 'clash');
  mkdirSync(path.join(clash, 'bi_encoder.json'), { recursive: true });
  await assert.rejects(model.save(clash), /bi_encoder\.json is a directory where the model writes a file/);
  assert.deepEqual(readdirSync(clash), ['bi_encoder.json']);
  model.dispose();
});

test('an untied Router save keeps other files, replaces a tied model, and its manifest covers the routes', async () => {
  const dir = tmpDir();
  const out = path.join(dir, 'run');
  mkdirSync(out);
  writeFileSync(path.join(out, 'train_log.jsonl'), 'log\n');
  const q = await tiny(dir, 1);
  const p = await tiny(dir, 2);
  await BiEncoder.tied(q).save(out);
  assert.ok(existsSync(path.join(out, 'model.safetensors')));
  await BiEncoder.untied(q, p, { similarity: 'cosine' }).save(out);
  assert.equal(readFileSync(path.join(out, 'train_log.jsonl'), 'utf8'), 'log\n');
  assert.ok(!existsSync(path.join(out, 'model.safetensors')), 'the tied model is gone');
  assert.ok(!existsSync(path.join(out, 'bi_encoder.json')));
  const manifest = JSON.parse(readFileSync(path.join(out, MODEL_MANIFEST), 'utf8'));
  const listed = manifest.files.map((f: { path: string }) => f.path);
  for (const f of ['router_config.json', 'modules.json', 'query_0_Transformer/model.safetensors']) {
    assert.ok(listed.includes(f), `${f} is in the manifest`);
  }
  assert.ok(!listed.includes('train_log.jsonl'));
  const loaded = await BiEncoder.load(out);
  assert.equal(loaded.tied, false);
  loaded.dispose();
  // Any route's file changed after the save is refused by the manifest, whichever route is loaded first.
  const changed = path.join(out, 'document_0_Transformer', 'sentence_bert_config.json');
  writeFileSync(
    changed,
    readFileSync(changed, 'utf8').replace(/"max_seq_length": \d+/, '"max_seq_length": 16'),
  );
  await assert.rejects(
    BiEncoder.load(out),
    (e: unknown) => e instanceof InputFormatError && e.file === changed && /sha256/.test(e.message),
  );
  q.dispose();
  p.dispose();
});

test('a save killed at a random moment never leaves a directory that verifies but mixes versions', async () => {
  const dir = tmpDir();
  const rng = new Rng(7);
  const writer = path.join(import.meta.dirname, 'model-dir-writer.ts');
  let refused = 0;
  let verified = 0;
  for (let round = 0; round < 4; round++) {
    const out = path.join(dir, `m${round}`);
    const child = spawn(process.execPath, ['--import', 'tsx', writer, out], {
      stdio: ['ignore', 'pipe', 'inherit'],
    });
    await new Promise<void>((resolve) => child.stdout.once('data', () => resolve()));
    await new Promise((resolve) => setTimeout(resolve, 20 + rng.int(200)));
    child.kill('SIGKILL');
    await new Promise((resolve) => child.once('exit', resolve));
    try {
      await verifyModelDir(out);
    } catch (error) {
      assert.ok(error instanceof InputFormatError, String(error));
      refused++;
      continue;
    }
    verified++;
    const manifest = JSON.parse(readFileSync(path.join(out, MODEL_MANIFEST), 'utf8'));
    const tags = new Set(
      manifest.files.map((f: { path: string }) => readFileSync(path.join(out, f.path), 'utf8').slice(0, 2)),
    );
    assert.equal(tags.size, 1, `round ${round}: verified but mixes ${[...tags].join(', ')}`);
  }
  assert.equal(refused + verified, 4);
});

test('re-saving tied over untied (and back) removes the previous model files only', async () => {
  const dir = tmpDir();
  const out = path.join(dir, 'run');
  mkdirSync(out);
  writeFileSync(path.join(out, 'notes.txt'), 'mine');
  // Towers that are not SentenceEncoders keep the query/ + passage/ layout (the Router case is above).
  const q = plainTower(await tiny(dir, 1));
  const p = plainTower(await tiny(dir, 2));
  await BiEncoder.untied(q, p).save(out);
  assert.ok(existsSync(path.join(out, 'query', 'model.safetensors')));
  await BiEncoder.tied(q).save(out);
  assert.ok(!existsSync(path.join(out, 'query')), 'the untied towers are gone');
  assert.ok(!existsSync(path.join(out, 'passage')));
  assert.equal(readFileSync(path.join(out, 'notes.txt'), 'utf8'), 'mine');
  // Back to untied: the root weights of the tied model must not stay loadable as if current.
  await BiEncoder.untied(q, p).save(out);
  assert.ok(!existsSync(path.join(out, 'model.safetensors')));
  assert.ok(!existsSync(path.join(out, 'config.json')));
  await assert.rejects(loadModel(out, { quiet: true }), /config\.json: missing config\.json/);
  const back = await BiEncoder.load(out, { loadEncoder: (d) => SentenceEncoder.load(d, { quiet: true }) });
  assert.equal(back.tied, false);
  assert.equal(readFileSync(path.join(out, 'notes.txt'), 'utf8'), 'mine');
  back.dispose();
  q.dispose!();
  p.dispose!();
});
