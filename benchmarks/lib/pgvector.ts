/**
 * Case 4: pgvector's HNSW in an embedded PGlite on the index case's data (same vectors, queries, M and
 * efConstruction): load time (COPY), index build time, and QPS / recall@10 against our exact search at
 * each `ef` (`hnsw.ef_search`). Run with `--cases index,pgvector` to see HnswIndex and faiss beside it.
 */
import { ExactIndex } from '../../src/index/exact.js';
import { PgvectorIndex } from '../../src/index/pgvector.js';
import { recallOfResults } from '../../src/index/recall.js';
import { note, since } from './common.js';
import type { Row } from './common.js';
import { indexData } from './index-search.js';
import type { BenchOptions } from './options.js';

export async function benchPgvector(opts: BenchOptions): Promise<Row[]> {
  const { dim, k, M, efConstruction, ef } = opts.index;
  const { base, queries, ids, common } = indexData(opts);
  const exact = new ExactIndex({ dim, metric: 'ip' });
  await exact.add(base, ids);
  const truth = await exact.search(queries, k);
  // pgvector allows m in 2..100 and ef_construction >= 2m.
  const m = Math.min(100, M);
  const efc = Math.max(efConstruction, 2 * m);
  note(`pgvector: embedded PGlite, m = ${m}, ef_construction = ${efc}, ${common.vectors} x ${dim}`);
  const pg = await PgvectorIndex.open({
    dim,
    table: 'bench',
    metric: 'ip',
    m,
    efConstruction: efc,
    quiet: false,
  });
  const rows: Row[] = [];
  try {
    let t0 = performance.now();
    await pg.add(base, ids);
    const loadSeconds = since(t0);
    t0 = performance.now();
    await pg.createIndex();
    const buildSeconds = since(t0);
    note(`pgvector: COPY ${loadSeconds.toFixed(1)} s, HNSW build ${buildSeconds.toFixed(1)} s`);
    for (const e of ef) {
      t0 = performance.now();
      const result = await pg.search(queries, k, { ef: e });
      const seconds = since(t0);
      const recall = recallOfResults(result.ids, truth.ids, k);
      rows.push({
        name: 'index-pgvector',
        backend: 'pgvector (PGlite)',
        ...common,
        M: m,
        efConstruction: efc,
        ef: Math.max(e, k),
        loadSeconds,
        buildSeconds,
        seconds,
        qps: queries.rows / seconds,
        recallAt10: recall,
      });
      note(`pgvector ef=${e}: ${(queries.rows / seconds).toFixed(0)} QPS, recall@10 ${recall.toFixed(3)}`);
    }
  } finally {
    await pg.close();
  }
  return rows;
}
