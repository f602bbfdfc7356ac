import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { gzipSync } from 'node:zlib';
import { promises as fs } from 'node:fs';
import path from 'node:path';
import { after, test } from 'node:test';
import { modelCacheDir } from '../../src/checkpoint/cache.js';
import { HubError, isHubId, resolveModelSource } from '../../src/checkpoint/hub.js';
import { ArgumentError } from '../../src/errors.js';
import { startLoopbackServer, serveFiles } from '../helpers/http-server.js';
import type { LoopbackServer, ServeOptions } from '../helpers/http-server.js';
import { tmpDir } from '../helpers/tmp.js';

/** Deterministic pseudo-random bytes (a weights file stand-in), so a spliced or shifted file shows. */
function bytes(n: number, seed: number): Uint8Array {
  const out = new Uint8Array(n);
  let x = seed >>> 0 || 1;
  for (let i = 0; i < n; i++) {
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
    out[i] = x & 0xff;
  }
  return out;
}

const WEIGHTS = bytes(3 * 1024 * 1024 + 123, 7);
const MODEL_FILES: Record<string, Uint8Array | string> = {
  'config.json': '{"model_type": "bert", "hidden_size": 8}',
  'model.safetensors': WEIGHTS,
  'tokenizer.json': '{"model": {"type": "WordPiece", "vocab": {}}}',
  'tokenizer_config.json': '{"model_max_length": 512}',
  'sentence_bert_config.json': '{"max_seq_length": 256, "do_lower_case": false}',
  'modules.json': JSON.stringify([
    { idx: 0, name: '0', path: '', type: 'sentence_transformers.models.Transformer' },
    { idx: 1, name: '1', path: '1_Pooling', type: 'sentence_transformers.models.Pooling' },
    { idx: 2, name: '2', path: '2_Normalize', type: 'sentence_transformers.models.Normalize' },
  ]),
  '1_Pooling/config.json': '{"word_embedding_dimension": 8, "pooling_mode_mean_tokens": true}',
};

/** The files of `repo` at `revision` as URL paths of the Hub's resolve endpoint. */
function hubFiles(
  repo: string,
  files: Record<string, Uint8Array | string>,
  revision = 'main',
): Record<string, Uint8Array | string> {
  return Object.fromEntries(Object.entries(files).map(([f, b]) => [`/${repo}/resolve/${revision}/${f}`, b]));
}

const servers: LoopbackServer[] = [];
after(async () => {
  for (const s of servers) await s.close();
});

async function hub(repo: string, files = MODEL_FILES, options: ServeOptions = {}): Promise<LoopbackServer> {
  const server = await startLoopbackServer(serveFiles(hubFiles(repo, files), options));
  servers.push(server);
  return server;
}

async function listFiles(dir: string, prefix = ''): Promise<string[]> {
  const out: string[] = [];
  for (const entry of await fs.readdir(dir, { withFileTypes: true })) {
    const rel = prefix + entry.name;
    if (entry.isDirectory()) out.push(`${rel}/`, ...(await listFiles(path.join(dir, entry.name), `${rel}/`)));
    else out.push(rel);
  }
  return out.sort();
}

test('downloads a model with its sentence-transformers files, then serves it from the cache', async () => {
  const server = await hub('org/tiny-model');
  const cacheDir = tmpDir();
  const dir = await resolveModelSource('org/tiny-model', { endpoint: server.url, cacheDir, quiet: true });
  assert.equal(dir, path.join(cacheDir, 'hub', 'org--tiny-model', 'main'));
  assert.deepEqual(await listFiles(dir), [
    '.complete',
    '1_Pooling/',
    '1_Pooling/config.json',
    '2_Normalize/',
    'config.json',
    'model.safetensors',
    'modules.json',
    'sentence_bert_config.json',
    'tokenizer.json',
    'tokenizer_config.json',
  ]);
  for (const [file, content] of Object.entries(MODEL_FILES)) {
    const expected = typeof content === 'string' ? Buffer.from(content) : Buffer.from(content);
    assert.deepEqual(await fs.readFile(path.join(dir, file)), expected, file);
  }
  // The optional files the repository lacks were asked for once each and skipped.
  const asked = server.requests.map((r) => r.path);
  for (const missing of ['vocab.txt', 'special_tokens_map.json', 'config_sentence_transformers.json']) {
    assert.equal(asked.filter((p) => p === `/org/tiny-model/resolve/main/${missing}`).length, 1);
  }
  assert.ok(server.requests.every((r) => r.headers.authorization === undefined));
  assert.ok(server.requests.every((r) => r.headers['accept-encoding'] === 'identity'));
  const marker = JSON.parse(await fs.readFile(path.join(dir, '.complete'), 'utf8')) as { files: string[] };
  assert.ok(marker.files.includes('1_Pooling/config.json'));

  const count = server.requests.length;
  assert.equal(await resolveModelSource('org/tiny-model', { endpoint: server.url, cacheDir }), dir);
  assert.equal(server.requests.length, count, 'a cache hit makes no request');
  // Even with the network gone and offline mode on.
  assert.equal(
    await resolveModelSource('org/tiny-model', { endpoint: 'http://127.0.0.1:9', cacheDir, offline: true }),
    dir,
  );
});

test('a connection dropped midway is resumed with a Range request and the file is bit-exact', async () => {
  // The Hub sends a strong ETag with every file; resuming relies on it (If-Range).
  const server = await hub('org/flaky', MODEL_FILES, {
    dropAfter: { '/org/flaky/resolve/main/model.safetensors': { bytes: 1024 * 1024, times: 2 } },
    etag: { '/org/flaky/resolve/main/model.safetensors': '"w1"' },
  });
  const cacheDir = tmpDir();
  const dir = await resolveModelSource('org/flaky', {
    endpoint: server.url,
    cacheDir,
    quiet: true,
    retryDelayMs: 0,
  });
  assert.deepEqual(new Uint8Array(await fs.readFile(path.join(dir, 'model.safetensors'))), WEIGHTS);
  const weights = server.requests.filter((r) => r.path.endsWith('/model.safetensors'));
  assert.equal(weights.length, 3);
  assert.equal(weights[0].headers.range, undefined);
  const starts = weights.slice(1).map((r) => Number(/^bytes=(\d+)-$/.exec(r.headers.range ?? '')?.[1]));
  assert.ok(starts[0] > 0 && starts[0] <= 1024 * 1024, `first resume at ${starts[0]}`);
  assert.ok(starts[1] > starts[0] && starts[1] <= 2 * 1024 * 1024, `second resume at ${starts[1]}`);
  assert.ok(!(await listFiles(dir)).some((f) => f.endsWith('.part') || f.endsWith('.etag')));
});

test('an interrupted run leaves a .part and no marker; the next run resumes it', async () => {
  const server = await hub('org/interrupted', MODEL_FILES, {
    dropAfter: { '/org/interrupted/resolve/main/model.safetensors': { bytes: 1024 * 1024 } },
    etag: { '/org/interrupted/resolve/main/model.safetensors': '"w1"' },
  });
  const cacheDir = tmpDir();
  const dir = modelCacheDir(cacheDir, 'org/interrupted', 'main');
  const options = { endpoint: server.url, cacheDir, quiet: true, retries: 0 };
  await assert.rejects(resolveModelSource('org/interrupted', options), (error: Error) => {
    assert.ok(error instanceof HubError);
    assert.equal(error.modelDir, dir);
    assert.equal(error.url, `${server.url}/org/interrupted/resolve/main/model.safetensors`);
    assert.match(
      error.message,
      /^could not download http:\/\/127\.0\.0\.1:\d+\/org\/interrupted\/resolve\/main\/model\.safetensors after 1 attempt\(s\): connection (lost|closed) after \d+ (bytes )?/,
    );
    assert.ok(error.message.includes(`Rerun to resume: partial files are kept in ${dir}.`));
    assert.ok(error.message.includes(`create the empty file ${path.join(dir, '.complete')}`));
    return true;
  });
  const partial = (await fs.stat(path.join(dir, 'model.safetensors.part'))).size;
  assert.ok(partial > 0 && partial < WEIGHTS.length);
  await assert.rejects(fs.access(path.join(dir, '.complete')));
  await assert.rejects(fs.access(path.join(dir, 'model.safetensors')));

  const before = server.requests.length;
  await resolveModelSource('org/interrupted', options);
  assert.deepEqual(new Uint8Array(await fs.readFile(path.join(dir, 'model.safetensors'))), WEIGHTS);
  const again = server.requests.slice(before).map((r) => r.path);
  assert.ok(
    !again.includes('/org/interrupted/resolve/main/config.json'),
    'files completed before the interruption are not fetched again',
  );
  const resumed = server.requests.slice(before).find((r) => r.path.endsWith('/model.safetensors'));
  assert.equal(resumed?.headers.range, `bytes=${partial}-`);
});

test('a server that ignores Range (200) restarts the file instead of appending', async () => {
  const server = await hub('org/norange', MODEL_FILES, {
    ignoreRange: true,
    dropAfter: { '/org/norange/resolve/main/model.safetensors': { bytes: 512 * 1024 } },
    etag: { '/org/norange/resolve/main/model.safetensors': '"w1"' },
  });
  const cacheDir = tmpDir();
  const dir = await resolveModelSource('org/norange', {
    endpoint: server.url,
    cacheDir,
    quiet: true,
    retryDelayMs: 0,
  });
  const weights = server.requests.filter((r) => r.path.endsWith('/model.safetensors'));
  assert.equal(weights.length, 2);
  assert.match(weights[1].headers.range ?? '', /^bytes=\d+-$/);
  assert.deepEqual(new Uint8Array(await fs.readFile(path.join(dir, 'model.safetensors'))), WEIGHTS);
});

test('If-Range: a file changed on the server between attempts is downloaded afresh, never spliced', async () => {
  const files = hubFiles('org/moving', MODEL_FILES);
  const url = '/org/moving/resolve/main/model.safetensors';
  const etag = { [url]: '"v1"' };
  const server = await startLoopbackServer(
    serveFiles(files, { etag, dropAfter: { [url]: { bytes: 700 * 1024 } } }),
  );
  servers.push(server);
  const cacheDir = tmpDir();
  const options = { endpoint: server.url, cacheDir, quiet: true, retries: 0 };
  await assert.rejects(resolveModelSource('org/moving', options), HubError);
  const updated = bytes(WEIGHTS.length + 10, 99);
  files[url] = updated;
  etag[url] = '"v2"';
  const dir = await resolveModelSource('org/moving', options);
  const last = server.requests.filter((r) => r.path === url).pop();
  assert.equal(last?.headers['if-range'], '"v1"');
  assert.deepEqual(new Uint8Array(await fs.readFile(path.join(dir, 'model.safetensors'))), updated);
});

test('LFS files: the redirect to a CDN is followed, the token stays on the Hub, the sha256 is checked', async () => {
  const good = bytes(2 * 1024 * 1024, 3);
  const corrupt = Uint8Array.from(good);
  corrupt[1_000_000] ^= 1;
  const cdn = await startLoopbackServer(serveFiles({ '/blobs/good': good, '/blobs/corrupt': corrupt }));
  servers.push(cdn);
  const sha = createHash('sha256').update(good).digest('hex');
  const makeHub = async (repo: string, blob: string): Promise<LoopbackServer> => {
    const weights = `/${repo}/resolve/main/model.safetensors`;
    const server = await startLoopbackServer(
      serveFiles(hubFiles(repo, MODEL_FILES), {
        redirect: { [weights]: `${cdn.url}/blobs/${blob}` },
        headers: { [weights]: { 'x-linked-etag': `"${sha}"`, 'x-linked-size': String(good.length) } },
      }),
    );
    servers.push(server);
    return server;
  };
  const cacheDir = tmpDir();
  const server = await makeHub('org/lfs', 'good');
  const dir = await resolveModelSource('org/lfs', {
    endpoint: server.url,
    cacheDir,
    quiet: true,
    token: 'hf_x',
  });
  assert.deepEqual(new Uint8Array(await fs.readFile(path.join(dir, 'model.safetensors'))), good);
  assert.ok(server.requests.every((r) => r.headers.authorization === 'Bearer hf_x'));
  assert.equal(cdn.requests.length, 1);
  assert.equal(cdn.requests[0].headers.authorization, undefined, 'the token is not sent to another origin');

  const bad = await makeHub('org/lfs-corrupt', 'corrupt');
  await assert.rejects(
    resolveModelSource('org/lfs-corrupt', {
      endpoint: bad.url,
      cacheDir,
      quiet: true,
      retries: 1,
      retryDelayMs: 0,
    }),
    (error: Error) => {
      assert.ok(error instanceof HubError);
      assert.match(
        error.message,
        new RegExp(
          `after 2 attempt\\(s\\): model\\.safetensors is corrupt: sha256 [0-9a-f]{64}, but the Hub lists ${sha}\\.`,
        ),
      );
      return true;
    },
  );
  const left = await listFiles(modelCacheDir(cacheDir, 'org/lfs-corrupt', 'main'));
  assert.ok(!left.includes('model.safetensors') && !left.includes('.complete'));
});

test('a server that compresses anyway: the decompressed file is saved, no false length error', async () => {
  const files = serveFiles(hubFiles('org/gzip', MODEL_FILES));
  const server = await startLoopbackServer((req, res) => {
    if (req.url?.endsWith('/tokenizer.json')) {
      const body = gzipSync(Buffer.from(MODEL_FILES['tokenizer.json'] as string));
      res.writeHead(200, { 'content-encoding': 'gzip', 'content-length': body.length }).end(body);
      return;
    }
    files(req, res);
  });
  servers.push(server);
  const dir = await resolveModelSource('org/gzip', { endpoint: server.url, cacheDir: tmpDir(), quiet: true });
  assert.equal(await fs.readFile(path.join(dir, 'tokenizer.json'), 'utf8'), MODEL_FILES['tokenizer.json']);
});

test('offline mode with no complete copy names the cache directory and the files to put there', async () => {
  const server = await hub('org/offline');
  const cacheDir = tmpDir();
  const dir = modelCacheDir(cacheDir, 'org/offline', 'main');
  const check = (error: Error): boolean => {
    assert.ok(error instanceof HubError);
    assert.equal(
      error.message,
      'offline (HF_HUB_OFFLINE) and org/offline (revision main) is not in the cache. To fill the cache by hand, ' +
        'put config.json, model.safetensors, tokenizer.json, and those of tokenizer_config.json, ' +
        'special_tokens_map.json, vocab.txt, modules.json, sentence_bert_config.json, ' +
        'config_sentence_transformers.json, module folders (e.g. 1_Pooling/config.json, 2_Normalize/) that the ' +
        'model has (for a Router model, router_config.json and its route folders, each Transformer folder with ' +
        `its own config, tokenizer and weights) into ${dir} and then create the empty file ${path.join(dir, '.complete')}; ` +
        'or pass a local model directory instead.',
    );
    return true;
  };
  await assert.rejects(
    resolveModelSource('org/offline', { endpoint: server.url, cacheDir, offline: true }),
    check,
  );
  const saved = process.env.HF_HUB_OFFLINE;
  process.env.HF_HUB_OFFLINE = '1';
  try {
    await assert.rejects(resolveModelSource('org/offline', { endpoint: server.url, cacheDir }), check);
  } finally {
    if (saved === undefined) delete process.env.HF_HUB_OFFLINE;
    else process.env.HF_HUB_OFFLINE = saved;
  }
  assert.equal(server.requests.length, 0);
  // Filled by hand as the message says: found, still offline.
  await fs.mkdir(dir, { recursive: true });
  await fs.writeFile(path.join(dir, 'config.json'), '{}');
  await fs.writeFile(path.join(dir, '.complete'), '');
  assert.equal(await resolveModelSource('org/offline', { cacheDir, offline: true }), dir);
});

test('a required file missing on the Hub (404) names its URL; nothing is marked complete', async () => {
  const { 'model.safetensors': _weights, ...noWeights } = MODEL_FILES;
  const server = await hub('org/noweights', noWeights);
  const cacheDir = tmpDir();
  const url = `${server.url}/org/noweights/resolve/main/model.safetensors`;
  await assert.rejects(
    resolveModelSource('org/noweights', { endpoint: server.url, cacheDir, quiet: true }),
    (error: Error) => {
      assert.ok(error instanceof HubError);
      assert.equal(error.url, url);
      assert.equal(
        error.message,
        `${url}: HTTP 404 Not Found: org/noweights has no model.safetensors at revision main (check the model ` +
          'id and revision); dense-retrieval reads safetensors only: if the repository has just ' +
          'pytorch_model.bin, convert it with transformers (save_pretrained(dir, safe_serialization=True)) and ' +
          'pass the directory',
      );
      return true;
    },
  );
  await assert.rejects(fs.access(path.join(modelCacheDir(cacheDir, 'org/noweights', 'main'), '.complete')));
});

test('sharded weights: model.safetensors.index.json and every shard it lists are fetched', async () => {
  const { 'model.safetensors': _weights, ...rest } = MODEL_FILES;
  const shard1 = bytes(1000, 11);
  const shard2 = bytes(2000, 12);
  const index = {
    metadata: { total_size: 3000 },
    weight_map: {
      'embeddings.word_embeddings.weight': 'model-00001-of-00002.safetensors',
      'encoder.layer.0.attention.self.query.weight': 'model-00001-of-00002.safetensors',
      'pooler.dense.weight': 'model-00002-of-00002.safetensors',
    },
  };
  const server = await hub('org/sharded', {
    ...rest,
    'model.safetensors.index.json': JSON.stringify(index),
    'model-00001-of-00002.safetensors': shard1,
    'model-00002-of-00002.safetensors': shard2,
  });
  const cacheDir = tmpDir();
  const dir = await resolveModelSource('org/sharded', { endpoint: server.url, cacheDir, quiet: true });
  assert.deepEqual(
    new Uint8Array(await fs.readFile(path.join(dir, 'model-00001-of-00002.safetensors'))),
    shard1,
  );
  assert.deepEqual(
    new Uint8Array(await fs.readFile(path.join(dir, 'model-00002-of-00002.safetensors'))),
    shard2,
  );
  const asked = server.requests.map((r) => r.path.split('/resolve/main/')[1]);
  assert.deepEqual(asked.slice(-4), [
    'model.safetensors',
    'model.safetensors.index.json',
    'model-00001-of-00002.safetensors',
    'model-00002-of-00002.safetensors',
  ]);
  // Small files come before the weights.
  assert.ok(asked.indexOf('tokenizer.json') < asked.indexOf('model.safetensors'));
});

test('a Router model (untied towers): router_config.json, then each route folder with its files; no root weights', async () => {
  const transformer = (seed: number): Record<string, Uint8Array | string> => ({
    'config.json': '{"model_type": "bert", "hidden_size": 8}',
    'tokenizer.json': '{"model": {"type": "WordPiece", "vocab": {}}}',
    'tokenizer_config.json': '{"model_max_length": 512}',
    'sentence_bert_config.json': '{"max_seq_length": 64}',
    'model.safetensors': bytes(500, seed),
  });
  const inFolder = (folder: string, files: Record<string, Uint8Array | string>) =>
    Object.fromEntries(Object.entries(files).map(([f, b]) => [`${folder}/${f}`, b]));
  const { 'model.safetensors': _w, ...documentSmall } = transformer(2);
  const shard = bytes(700, 21);
  const files: Record<string, Uint8Array | string> = {
    // A Router followed by a shared Normalize, as in sentence-transformers' Router documentation.
    'modules.json': JSON.stringify([
      { idx: 0, name: '0', path: '', type: 'sentence_transformers.models.Router' },
      { idx: 1, name: '1', path: '1_Normalize', type: 'sentence_transformers.models.Normalize' },
    ]),
    'router_config.json': JSON.stringify({
      types: {
        query_0_Transformer: 'sentence_transformers.models.Transformer.Transformer',
        query_1_Pooling: 'sentence_transformers.models.Pooling.Pooling',
        query_2_Dense: 'sentence_transformers.models.Dense.Dense',
        document_0_Transformer: 'sentence_transformers.models.Transformer.Transformer',
        document_1_Pooling: 'sentence_transformers.models.Pooling.Pooling',
      },
      structure: {
        query: ['query_0_Transformer', 'query_1_Pooling', 'query_2_Dense'],
        document: ['document_0_Transformer', 'document_1_Pooling'],
      },
      parameters: { default_route: 'document', allow_empty_key: true },
    }),
    'config_sentence_transformers.json': '{"prompts": {"query": "query: "}}',
    ...inFolder('query_0_Transformer', transformer(1)),
    'query_1_Pooling/config.json': '{"pooling_mode_cls_token": true}',
    'query_2_Dense/config.json': '{"in_features": 8, "out_features": 4}',
    'query_2_Dense/model.safetensors': bytes(64, 3),
    // The document tower's weights are sharded: the index and shard names are relative to its folder.
    ...inFolder('document_0_Transformer', documentSmall),
    'document_0_Transformer/model.safetensors.index.json': JSON.stringify({
      weight_map: { 'embeddings.word_embeddings.weight': 'model-00001-of-00001.safetensors' },
    }),
    'document_0_Transformer/model-00001-of-00001.safetensors': shard,
    'document_1_Pooling/config.json': '{"pooling_mode_mean_tokens": true}',
  };
  const server = await hub('org/router', files);
  const cacheDir = tmpDir();
  const dir = await resolveModelSource('org/router', { endpoint: server.url, cacheDir, quiet: true });
  const got = await listFiles(dir);
  for (const f of Object.keys(files)) assert.ok(got.includes(f), `${f} in ${got.join(', ')}`);
  for (const f of Object.keys(files)) {
    const content = files[f];
    assert.deepEqual(await fs.readFile(path.join(dir, f)), Buffer.from(content), f);
  }
  assert.ok(got.includes('1_Normalize/'), 'the Normalize folder exists');
  const asked = server.requests.map((r) => r.path.split('/resolve/main/')[1]);
  // The root has no Transformer: its config, tokenizer and weights are never asked for.
  for (const f of ['config.json', 'tokenizer.json', 'model.safetensors', 'model.safetensors.index.json']) {
    assert.ok(!asked.includes(f), `root ${f} not asked`);
  }
  // Small files of both routes before any weights.
  const firstWeights = asked.findIndex((f) => f.includes('_Transformer/model'));
  assert.ok(asked.indexOf('document_0_Transformer/tokenizer.json') < firstWeights);
  assert.ok(asked.indexOf('query_2_Dense/model.safetensors') < firstWeights);
  // A route without router_config.json is a clear error naming it.
  const { 'router_config.json': _r, ...noRouterConfig } = files;
  const broken = await hub('org/router-broken', noRouterConfig);
  await assert.rejects(
    resolveModelSource('org/router-broken', { endpoint: broken.url, cacheDir, quiet: true }),
    (error: Error) =>
      error instanceof HubError &&
      error.message.startsWith(
        `${broken.url}/org/router-broken/resolve/main/router_config.json: HTTP 404 Not Found: org/router-broken has no router_config.json`,
      ),
  );
});

test('401 names the URL, the reason of the Hub and HF_TOKEN; the token is sent as a Bearer header', async () => {
  const server = await startLoopbackServer((_req, res) => {
    res
      .writeHead(401, {
        'x-error-code': 'GatedRepo',
        'x-error-message': 'Access to model org/private is restricted.',
      })
      .end();
  });
  servers.push(server);
  const cacheDir = tmpDir();
  await assert.rejects(
    resolveModelSource('org/private', { endpoint: server.url, cacheDir, token: 'hf_secret' }),
    (error: Error) => {
      assert.ok(error instanceof HubError);
      assert.equal(
        error.message,
        `${server.url}/org/private/resolve/main/modules.json: HTTP 401 Unauthorized ` +
          '(Hub: Access to model org/private is restricted.): org/private does not exist, or it is private or ' +
          'gated and needs a token with access: set HF_TOKEN (or the token option)',
      );
      return true;
    },
  );
  assert.equal(server.requests.length, 1, 'an authorisation failure is not retried');
  assert.equal(server.requests[0].headers.authorization, 'Bearer hf_secret');
  // Without the Hub's headers the message is the same minus the reason; HF_TOKEN is the default token.
  const plain = await hub('org/private2', MODEL_FILES, {
    status: { '/org/private2/resolve/main/config.json': 403 },
  });
  const saved = process.env.HF_TOKEN;
  process.env.HF_TOKEN = 'hf_from_env';
  try {
    await assert.rejects(
      resolveModelSource('org/private2', { endpoint: plain.url, cacheDir }),
      (error: Error) =>
        error.message ===
        `${plain.url}/org/private2/resolve/main/config.json: HTTP 403 Forbidden: org/private2 does not exist, or ` +
          'it is private or gated and needs a token with access: set HF_TOKEN (or the token option)',
    );
  } finally {
    if (saved === undefined) delete process.env.HF_TOKEN;
    else process.env.HF_TOKEN = saved;
  }
  assert.equal(plain.requests[0].headers.authorization, 'Bearer hf_from_env');
});

test('server errors (5xx) are retried; when they persist the error names the URL and status', async () => {
  const files = serveFiles(hubFiles('org/busy', MODEL_FILES));
  let failures = 2;
  const server = await startLoopbackServer((req, res) => {
    if (req.url?.endsWith('/config.json') && failures > 0) {
      failures -= 1;
      res.writeHead(503).end();
      return;
    }
    files(req, res);
  });
  servers.push(server);
  const cacheDir = tmpDir();
  const dir = await resolveModelSource('org/busy', {
    endpoint: server.url,
    cacheDir,
    quiet: true,
    retryDelayMs: 0,
  });
  assert.equal(await fs.readFile(path.join(dir, 'config.json'), 'utf8'), MODEL_FILES['config.json']);
  assert.equal(server.requests.filter((r) => r.path === '/org/busy/resolve/main/config.json').length, 3);

  failures = 100;
  await assert.rejects(
    resolveModelSource('org/busy', { endpoint: server.url, cacheDir: tmpDir(), retries: 2, retryDelayMs: 0 }),
    (error: Error) =>
      error instanceof HubError &&
      error.message.startsWith(
        `could not download ${server.url}/org/busy/resolve/main/config.json after 3 attempt(s): HTTP 503 Service Unavailable.`,
      ),
  );
});

test('no network: a clear error naming the cache path, after the configured retries', async () => {
  const closed = await startLoopbackServer((_req, res) => res.end());
  await closed.close();
  const cacheDir = tmpDir();
  const dir = modelCacheDir(cacheDir, 'org/unreachable', 'main');
  await assert.rejects(
    resolveModelSource('org/unreachable', { endpoint: closed.url, cacheDir, retries: 1, retryDelayMs: 0 }),
    (error: Error) => {
      assert.ok(error instanceof HubError);
      assert.ok(
        error.message.startsWith(
          `could not download ${closed.url}/org/unreachable/resolve/main/modules.json after 2 attempt(s): fetch failed (ECONNREFUSED).`,
        ),
        error.message,
      );
      assert.ok(error.message.includes(`put config.json, model.safetensors, tokenizer.json, and those of`));
      assert.ok(
        error.message.includes(` into ${dir} and then create the empty file ${path.join(dir, '.complete')}`),
      );
      return true;
    },
  );
});

test('HF_ENDPOINT, an explicit file list and a revision with a slash', async () => {
  const files = { 'config.json': '{}', 'onnx/model.onnx': 'onnx bytes' };
  const server = await startLoopbackServer(serveFiles(hubFiles('org/pinned', files, 'refs/pr/1')));
  servers.push(server);
  const cacheDir = tmpDir();
  const saved = process.env.HF_ENDPOINT;
  process.env.HF_ENDPOINT = `${server.url}/`;
  let dir: string;
  try {
    dir = await resolveModelSource('org/pinned', {
      cacheDir,
      revision: 'refs/pr/1',
      files: ['config.json', 'onnx/model.onnx'],
    });
  } finally {
    if (saved === undefined) delete process.env.HF_ENDPOINT;
    else process.env.HF_ENDPOINT = saved;
  }
  assert.equal(dir, path.join(cacheDir, 'hub', 'org--pinned', 'refs%2Fpr%2F1'));
  assert.deepEqual(
    server.requests.map((r) => r.path),
    ['/org/pinned/resolve/refs/pr/1/config.json', '/org/pinned/resolve/refs/pr/1/onnx/model.onnx'],
  );
  assert.equal(await fs.readFile(path.join(dir, 'onnx/model.onnx'), 'utf8'), 'onnx bytes');
});

test('modules.json pointing outside the model directory is refused', async () => {
  const evil = {
    ...MODEL_FILES,
    'modules.json': JSON.stringify([{ idx: 1, name: '1', path: '../../escape', type: 'x.Pooling' }]),
  };
  const server = await hub('org/evil', evil);
  const cacheDir = tmpDir();
  const dir = modelCacheDir(cacheDir, 'org/evil', 'main');
  await assert.rejects(
    resolveModelSource('org/evil', { endpoint: server.url, cacheDir, quiet: true }),
    new HubError(
      `${path.join(dir, 'modules.json')}: module 0 has an unsafe path "../../escape" ` +
        `(downloaded from ${server.url}/org/evil/resolve/main/modules.json)`,
      dir,
    ),
  );
  await assert.rejects(fs.access(path.join(dir, '.complete')));
});

test('an unwritable cache directory is a clear error that names it and DENSE_RETRIEVAL_CACHE', async () => {
  const server = await hub('org/nowhere');
  const file = path.join(tmpDir(), 'a-file');
  await fs.writeFile(file, 'x');
  const cacheDir = path.join(file, 'cache'); // below a file: mkdir fails with ENOTDIR
  const dir = modelCacheDir(cacheDir, 'org/nowhere', 'main');
  await assert.rejects(
    resolveModelSource('org/nowhere', { endpoint: server.url, cacheDir }),
    (error: Error) => {
      assert.ok(error instanceof HubError);
      assert.ok(error.message.startsWith(`cannot write the model cache at ${dir} (ENOTDIR`), error.message);
      assert.ok(
        error.message.endsWith('set DENSE_RETRIEVAL_CACHE (or the cacheDir option) to a writable directory'),
      );
      return true;
    },
  );
  assert.equal(server.requests.length, 0);
});

test('local directories are returned as they are; bad sources and options are argument errors', async () => {
  const dir = tmpDir();
  assert.equal(await resolveModelSource(dir), dir);
  const rel = path.relative(process.cwd(), dir);
  assert.equal(await resolveModelSource(rel), path.resolve(rel));
  const file = path.join(dir, 'weights.bin');
  await fs.writeFile(file, 'x');
  await assert.rejects(
    resolveModelSource(file),
    new ArgumentError('source', `${file} is a file; expected a model directory or a hub id (org/name)`),
  );
  const missing = path.join(dir, 'no', 'such', 'model');
  await assert.rejects(
    resolveModelSource(missing),
    new ArgumentError('source', `${missing}: no such directory, and not a Hugging Face hub id (org/name)`),
  );
  await assert.rejects(
    resolveModelSource('org/m', { retries: -1 }),
    new ArgumentError('retries', 'must be a non-negative integer, got -1'),
  );
  await assert.rejects(
    resolveModelSource('org/m', { files: ['../secret'] }),
    new ArgumentError('files', 'not a relative file path inside a repository: "../secret"'),
  );
  await assert.rejects(
    resolveModelSource('org/m', { endpoint: 'ftp://x' }),
    new ArgumentError('endpoint', 'expected an http(s) URL, got "ftp://x"'),
  );
  assert.ok(isHubId('sentence-transformers/all-MiniLM-L6-v2'));
  assert.ok(isHubId('bert-base-uncased'));
  assert.ok(!isHubId('a/b/c'));
  assert.ok(!isHubId('org/../x'));
  assert.ok(!isHubId('/abs/path'));
});

test('two concurrent downloads of one model share it through the lock: every file is fetched once', async () => {
  const server = await hub('org/shared');
  const cacheDir = tmpDir();
  const options = { endpoint: server.url, cacheDir, quiet: true };
  const [a, b] = await Promise.all([
    resolveModelSource('org/shared', options),
    resolveModelSource('org/shared', options),
  ]);
  assert.equal(a, b);
  const paths = server.requests.map((r) => r.path);
  assert.equal(paths.length, new Set(paths).size, 'no file was requested twice');
  assert.deepEqual(new Uint8Array(await fs.readFile(path.join(a, 'model.safetensors'))), WEIGHTS);
  await assert.rejects(fs.access(path.join(a, '.lock')));
});

test('a failed download leaves no empty cache directory; a one-part name says no local directory exists either', async () => {
  const server = await hub('org/other');
  const cacheDir = tmpDir();
  await assert.rejects(
    resolveModelSource('nope-dir', { endpoint: server.url, cacheDir, quiet: true, retries: 0 }),
    (error: Error) =>
      error instanceof HubError &&
      error.message.startsWith("no local directory 'nope-dir' and the hub download failed: ") &&
      /HTTP 404/.test(error.message),
  );
  // The cache root existed (tmpDir made it); nothing this call created is left in it.
  assert.deepEqual(await fs.readdir(cacheDir), []);
  const closed = await startLoopbackServer((_req, res) => res.end());
  await closed.close();
  const fresh = path.join(tmpDir(), 'cache');
  await assert.rejects(
    resolveModelSource('org/unreachable', { endpoint: closed.url, cacheDir: fresh, retries: 0, quiet: true }),
    (error: Error) =>
      error instanceof HubError &&
      error.message.startsWith('could not download') &&
      // No partial file to resume from: the message does not promise one.
      error.message.includes('Nothing was downloaded.') &&
      !error.message.includes('Rerun to resume'),
  );
  await assert.rejects(fs.access(fresh)); // not even the cache root it had to create
});
