import assert from 'node:assert/strict';
import { promises as fs } from 'node:fs';
import path from 'node:path';
import { after, test } from 'node:test';
import { lockModelDir, modelCacheDir } from '../../src/checkpoint/cache.js';
import { HubError, redactCredentials, resolveModelSource } from '../../src/checkpoint/hub.js';
import { ArgumentError, InputFormatError } from '../../src/errors.js';
import { serveFiles, startLoopbackServer } from '../helpers/http-server.js';
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { LoopbackServer } from '../helpers/http-server.js';
import { tmpDir } from '../helpers/tmp.js';

const SMALL: Record<string, string> = {
  'config.json': '{"model_type": "bert"}',
  'tokenizer.json': '{"model": {"type": "WordPiece", "vocab": {}}}',
};
const WEIGHTS = Buffer.alloc(300 * 1024, 7);

const servers: LoopbackServer[] = [];
after(async () => {
  for (const s of servers) await s.close();
});

function paths(
  repo: string,
  files: Record<string, string | Uint8Array>,
): Record<string, string | Uint8Array> {
  return Object.fromEntries(Object.entries(files).map(([f, b]) => [`/${repo}/resolve/main/${f}`, b]));
}

/** A hub serving SMALL normally and model.safetensors through `weights`. */
async function hubWith(
  repo: string,
  weights: (req: IncomingMessage, res: ServerResponse) => void,
): Promise<LoopbackServer> {
  const rest = serveFiles(paths(repo, SMALL));
  const server = await startLoopbackServer((req, res) => {
    if ((req.url ?? '').endsWith('/model.safetensors')) weights(req, res);
    else rest(req, res);
  });
  servers.push(server);
  return server;
}

/** Sends 64 KiB chunks without a Content-Length until the client goes away. */
function endless(res: ServerResponse, headers: Record<string, string> = {}): void {
  res.writeHead(200, headers);
  const chunk = Buffer.alloc(64 * 1024, 1);
  const timer = setInterval(() => {
    if (res.destroyed) clearInterval(timer);
    else res.write(chunk);
  }, 1);
  res.on('close', () => clearInterval(timer));
}

async function sizeOf(dir: string): Promise<number> {
  let total = 0;
  for (const e of await fs.readdir(dir, { withFileTypes: true }).catch(() => [])) {
    const full = path.join(dir, e.name);
    total += e.isDirectory() ? await sizeOf(full) : (await fs.lstat(full)).size;
  }
  return total;
}

test('a server sending forever is cut at the size the Hub announces and at maxFileBytes; nothing is kept', async () => {
  // The Hub's redirect announces 300 KiB (X-Linked-Size); the CDN then streams without end.
  const cdn = await startLoopbackServer((_req, res) => endless(res));
  servers.push(cdn);
  const server = await hubWith('org/endless', (_req, res) =>
    res.writeHead(302, { location: `${cdn.url}/blob`, 'x-linked-size': String(WEIGHTS.length) }).end(),
  );
  const cacheDir = tmpDir();
  const options = { endpoint: server.url, cacheDir, quiet: true, retries: 0 };
  await assert.rejects(resolveModelSource('org/endless', options), (e: unknown) => {
    assert.ok(e instanceof HubError, String(e));
    assert.match(e.message, /sent more than the 307200 bytes it announced for model\.safetensors/);
    return true;
  });
  const dir = modelCacheDir(cacheDir, 'org/endless', 'main');
  assert.ok((await sizeOf(dir)) < 64 * 1024, 'the partial file is removed');
  // The CDN's Content-Length disagrees with the Hub's announcement: refused before any byte is written.
  const cdn2 = await startLoopbackServer(serveFiles({ '/blob': WEIGHTS }));
  servers.push(cdn2);
  const liar = await hubWith('org/liar', (_req, res) =>
    res.writeHead(302, { location: `${cdn2.url}/blob`, 'x-linked-size': '100' }).end(),
  );
  await assert.rejects(
    resolveModelSource('org/liar', { ...options, endpoint: liar.url }),
    /the response is 307200 bytes but the Hub announces 100 for model\.safetensors/,
  );
  // No announcement at all: the cap (maxFileBytes) applies.
  const bare = await hubWith('org/bare', (_req, res) => endless(res));
  await assert.rejects(
    resolveModelSource('org/bare', { ...options, endpoint: bare.url, maxFileBytes: 1024 * 1024 }),
    /sent more than the 1048576 bytes allowed \(maxFileBytes\) for model\.safetensors/,
  );
  assert.ok((await sizeOf(modelCacheDir(cacheDir, 'org/bare', 'main'))) < 64 * 1024);
  await assert.rejects(
    resolveModelSource('org/bare', { ...options, maxFileBytes: 0 }),
    (e: unknown) => e instanceof ArgumentError && /maxFileBytes/.test(e.message),
  );
});

test('a stalled connection is abandoned after stallTimeoutMs (configurable), then retried', async () => {
  let calls = 0;
  // First: headers and 10 bytes, then silence. Second: no answer at all. Third: the file.
  const server = await hubWith('org/stall', (_req, res) => {
    calls++;
    if (calls === 1) {
      res.writeHead(200, { 'content-length': WEIGHTS.length, etag: '"s1"' });
      res.write(WEIGHTS.subarray(0, 10));
    } else if (calls === 3) {
      res.writeHead(200, { 'content-length': WEIGHTS.length, etag: '"s1"' }).end(WEIGHTS);
    }
  });
  const cacheDir = tmpDir();
  const base = { endpoint: server.url, cacheDir, quiet: true, retryDelayMs: 0, stallTimeoutMs: 200 };
  await assert.rejects(resolveModelSource('org/stall', { ...base, retries: 1 }), (e: unknown) => {
    assert.ok(e instanceof HubError);
    assert.match(e.message, /after 2 attempt\(s\): no data for 0\.2 s \(stallTimeoutMs\)/);
    return true;
  });
  const dir = await resolveModelSource('org/stall', { ...base, retries: 0 });
  assert.deepEqual(await fs.readFile(path.join(dir, 'model.safetensors')), WEIGHTS);
  await assert.rejects(
    resolveModelSource('org/stall', { ...base, stallTimeoutMs: -1, revision: 'other' }),
    /stallTimeoutMs: must be a positive number/,
  );
});

test('without a strong ETag a partial download restarts from zero instead of sending Range', async () => {
  const files = paths('org/noetag', { ...SMALL, 'model.safetensors': WEIGHTS });
  const url = '/org/noetag/resolve/main/model.safetensors';
  const server = await startLoopbackServer(
    serveFiles(files, { dropAfter: { [url]: { bytes: 100 * 1024 } } }),
  );
  servers.push(server);
  const cacheDir = tmpDir();
  const options = { endpoint: server.url, cacheDir, quiet: true, retries: 0 };
  await assert.rejects(resolveModelSource('org/noetag', options), HubError);
  const dir = modelCacheDir(cacheDir, 'org/noetag', 'main');
  assert.ok((await fs.stat(path.join(dir, 'model.safetensors.part'))).size > 0);
  // The file changes on the server; with no validator a resume would splice the two versions.
  const updated = Buffer.alloc(WEIGHTS.length, 9);
  files[url] = updated;
  await resolveModelSource('org/noetag', options);
  const last = server.requests.filter((r) => r.path === url).pop()!;
  assert.equal(last.headers.range, undefined);
  assert.equal(last.headers['if-range'], undefined);
  assert.deepEqual(await fs.readFile(path.join(dir, 'model.safetensors')), updated);
});

test('a .part or cached file that is a symlink is never followed', async () => {
  const files = paths('org/link', { ...SMALL, 'model.safetensors': WEIGHTS });
  const server = await startLoopbackServer(serveFiles(files));
  servers.push(server);
  const cacheDir = tmpDir();
  const dir = modelCacheDir(cacheDir, 'org/link', 'main');
  await fs.mkdir(dir, { recursive: true });
  const victim = path.join(tmpDir(), 'victim.txt');
  await fs.writeFile(victim, 'precious');
  await fs.symlink(victim, path.join(dir, 'model.safetensors.part'));
  const options = { endpoint: server.url, cacheDir, quiet: true, retries: 0 };
  await assert.rejects(resolveModelSource('org/link', options), (e: unknown) => {
    assert.ok(e instanceof HubError);
    assert.match(e.message, /model\.safetensors\.part is a symbolic link; the cache never follows links/);
    return true;
  });
  assert.equal(await fs.readFile(victim, 'utf8'), 'precious');
  await fs.rm(path.join(dir, 'model.safetensors.part'));
  // A dangling link as the .part: O_NOFOLLOW refuses to create the file through it.
  await fs.symlink(
    path.join(path.dirname(victim), 'created-through-link'),
    path.join(dir, 'model.safetensors.part'),
  );
  await assert.rejects(resolveModelSource('org/link', options), /is a symbolic link/);
  await assert.rejects(fs.access(path.join(path.dirname(victim), 'created-through-link')));
  await fs.rm(path.join(dir, 'model.safetensors.part'));
  // A link where a completed file would be: not taken as complete.
  await fs.rm(path.join(dir, 'config.json'), { force: true });
  await fs.symlink(victim, path.join(dir, 'config.json'));
  await assert.rejects(resolveModelSource('org/link', options), /config\.json is a symbolic link/);
  await fs.rm(path.join(dir, 'config.json'));
  const done = await resolveModelSource('org/link', options);
  assert.deepEqual(await fs.readFile(path.join(done, 'model.safetensors')), WEIGHTS);
  assert.equal(await fs.readFile(victim, 'utf8'), 'precious');
});

test('a .lock that is a directory or a dangling symlink is an error naming it, not an endless wait', async () => {
  const dir = tmpDir();
  const lock = path.join(dir, '.lock');
  await fs.mkdir(lock);
  await assert.rejects(lockModelDir(dir), (e: unknown) => {
    assert.ok(e instanceof InputFormatError);
    assert.equal(e.file, lock);
    assert.match(e.message, /is a directory, not a lock file; remove it/);
    return true;
  });
  await fs.rmdir(lock);
  await fs.symlink(path.join(dir, 'nowhere'), lock);
  await assert.rejects(lockModelDir(dir), /\.lock: is a symbolic link, not a lock file/);
  await fs.rm(lock);
  await (
    await lockModelDir(dir)
  )();
});

test('an endpoint with credentials never prints the password; they are sent as Basic auth', async () => {
  const server = await startLoopbackServer(serveFiles({}));
  servers.push(server);
  const endpoint = server.url.replace('http://', 'http://alice:s3cret@');
  const cacheDir = tmpDir();
  await assert.rejects(
    resolveModelSource('org/secret', { endpoint, cacheDir, quiet: true, retries: 0 }),
    (e: unknown) => {
      assert.ok(e instanceof HubError);
      assert.ok(!e.message.includes('s3cret'), e.message);
      assert.ok(!String(e.url).includes('s3cret'));
      assert.match(e.message, /HTTP 404/);
      return true;
    },
  );
  assert.equal(
    server.requests[0].headers.authorization,
    `Basic ${Buffer.from('alice:s3cret').toString('base64')}`,
  );
  // Unreachable endpoint with credentials: the network error does not carry them either.
  await assert.rejects(
    resolveModelSource('org/secret', {
      endpoint: 'http://bob:hunter2@127.0.0.1:1',
      cacheDir,
      quiet: true,
      retries: 0,
    }),
    (e: unknown) =>
      e instanceof HubError && !e.message.includes('hunter2') && /127\.0\.0\.1:1/.test(e.message),
  );
  await assert.rejects(
    resolveModelSource('org/secret', { endpoint: 'ftp://carol:pw123@host', cacheDir }),
    (e: unknown) =>
      e instanceof ArgumentError && !e.message.includes('pw123') && /carol:\*\*\*@host/.test(e.message),
  );
  assert.equal(
    redactCredentials('see https://u:p@h/x and http://v:q@k'),
    'see https://u:***@h/x and http://v:***@k',
  );
});
