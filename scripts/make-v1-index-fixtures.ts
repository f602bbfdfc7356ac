/**
 * Writes test/fixtures/index/v1-{exact,hnsw,bm25}.idx: index files in container format version 1 (no
 * checksums), to test that the current reader still loads them. Run against a checkout of a version-1
 * release of the sources (commit 2fb9033), e.g.:
 *   git archive 2fb9033 src | tar -x -C .v1src && npx tsx scripts/make-v1-index-fixtures.ts .v1src/src
 */
import path from 'node:path';
import { pathToFileURL } from 'node:url';

const src = path.resolve(process.argv[2] ?? 'src');
const out = path.resolve('test/fixtures/index');
// The version-1 modules are loaded from another source tree, so their types are not known here.
// eslint-disable-next-line @typescript-eslint/no-explicit-any
type Loose = Record<string, any>;
const load = async (m: string): Promise<Loose> =>
  import(pathToFileURL(path.join(src, m)).href) as Promise<Loose>;
const { ExactIndex } = await load('index/exact.ts');
const { HnswIndex } = await load('index/hnsw.ts');
const { Bm25Index } = await load('index/bm25.ts');

// Small integer-valued vectors, so the expected search results can be checked by hand.
const data = new Float32Array([1, 0, 0, 0, 0, 2, 0, 0, 0, 0, 3, 0, 1, 1, 1, 1, 0, 0, 0, 5, 2, 1, 0, 0]);
const vectors = { data, rows: 6, cols: 4 };
const ids = ['a', 'b', 'c', 'd', 'e', 'f'];
const exact = new ExactIndex({ dim: 4, metric: 'cosine' });
await exact.add(vectors, ids);
await exact.save(path.join(out, 'v1-exact.idx'));
const hnsw = new HnswIndex({ dim: 4, metric: 'ip', M: 4, efConstruction: 20, efSearch: 16 });
await hnsw.add(vectors, ids);
await hnsw.save(path.join(out, 'v1-hnsw.idx'));
const bm25 = new Bm25Index();
bm25.addDocuments([
  { id: 'd1', title: 'Cats', text: 'Cats purr when they are happy.' },
  { id: 'd2', title: '', text: 'Dogs bark at cats.' },
  { id: 'd3', title: 'Birds', text: 'Birds sing in the morning.' },
]);
await bm25.save(path.join(out, 'v1-bm25.idx'));
