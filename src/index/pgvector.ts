import { promises as fs } from 'node:fs';
import path from 'node:path';
import { ArgumentError, InputFormatError } from '../errors.js';
import { compareIds } from '../eval/metrics.js';
import type { Matrix } from '../types.js';
import { writeFileAtomic } from '../util/atomic.js';
import { createProgress } from '../util/progress.js';
import { DatabaseError, openEmbedded, openServer, redactUrl } from './pg-client.js';
import type { SqlClient } from './pg-client.js';
import type { Metric, SearchOptions, SearchResult, VectorIndex } from './types.js';
import { checkK, checkMatrix, checkMetric, checkPositiveInt } from './validate.js';
import { checkOptionKeys, optionKeys } from '../util/options.js';

/** pgvector's approximate index methods, or `none` (every search is exact, a sequential scan). */
export type PgvectorIndexMethod = 'hnsw' | 'ivfflat' | 'none';

/** Options of {@link PgvectorIndex.open}. */
export interface PgvectorIndexOptions {
  /** Vector dimension (pgvector: at most 2,000 for an indexed `vector`, 4,000 for `halfvec`). */
  dim: number;
  /** Table name: a plain identifier (letters, digits, `_`; at most 63 bytes). Created when missing. */
  table: string;
  /** Similarity: `ip` (`vector_ip_ops`, `<#>`), `cosine` (`vector_cosine_ops`, `<=>`), `l2` (`<->`). */
  metric?: Metric;
  /**
   * `postgres://user:password@host:port/db` of a server with pgvector >= 0.5 (through `pg`). Without it
   * the index is embedded (PGlite in this process).
   */
  database?: string;
  /** Embedded only: the data directory (created when missing). Default: in memory, gone with the process. */
  dataDir?: string;
  /**
   * Column type: `vector` (float32, 4 bytes per dimension) or `halfvec` (float16, 2 bytes: half the
   * memory and disk, a little recall lost to rounding). Default `vector`.
   */
  type?: 'vector' | 'halfvec';
  /**
   * Approximate index: `hnsw` (default: best recall/QPS, slower build, more memory), `ivfflat` (fast
   * build, needs data before it is built and `lists`/`probes` tuning), `none` (exact search only).
   * Built by {@link PgvectorIndex.createIndex}, or on the first search when missing.
   */
  method?: PgvectorIndexMethod;
  /** HNSW: links per node (pgvector default 16; higher = better recall, more memory, slower build). */
  m?: number;
  /** HNSW: build beam (pgvector default 64; higher = better graph, slower build). */
  efConstruction?: number;
  /** HNSW: query beam `hnsw.ef_search` (pgvector default 40; higher = better recall, slower). */
  efSearch?: number;
  /** IVFFlat: number of lists (default rows/1000, at least 1, as pgvector recommends up to 1M rows). */
  lists?: number;
  /** IVFFlat: lists probed per query `ivfflat.probes` (default 1; higher = better recall, slower). */
  probes?: number;
  /** Rows per `COPY` batch when adding; default 5,000. */
  batchSize?: number;
  /** Print no progress. */
  quiet?: boolean;
}

/** Per-call options of {@link PgvectorIndex.search}. */
export interface PgvectorSearchOptions extends SearchOptions {
  /** HNSW beam for this call (`hnsw.ef_search`); also the IVFFlat `probes` when `probes` is not given. */
  ef?: number;
  /** IVFFlat lists probed for this call. */
  probes?: number;
  /** Exact search: the approximate index is turned off for this query (a sequential scan). */
  exact?: boolean;
  /** Only these document ids (`WHERE id = ANY($ids)`), pushed down into the database. */
  ids?: readonly string[];
  /** Only documents whose metadata contains this object (`WHERE metadata @> $json`, jsonb containment). */
  metadata?: Record<string, unknown>;
}

/** The file {@link PgvectorIndex.save} writes: where the data is, never the data (or a password). */
export interface PgvectorReference {
  format: typeof REFERENCE_FORMAT;
  version: 1;
  engine: 'embedded' | 'server';
  /** Embedded: the data directory, relative to the reference file when it lies beside it. */
  dataDir?: string;
  /** Server: the URL without its password (give it again, or `PGPASSWORD`, when loading). */
  database?: string;
  table: string;
  dim: number;
  metric: Metric;
  type: 'vector' | 'halfvec';
  method: PgvectorIndexMethod;
  m?: number;
  efConstruction?: number;
  efSearch?: number;
  lists?: number;
  probes?: number;
}

export const REFERENCE_FORMAT = 'dense-retrieval/pgvector-index';

const IDENTIFIER = /^[A-Za-z_][A-Za-z0-9_]{0,62}$/;

/** A table or index name that goes into SQL text: checked here, then double-quoted. */
export function checkIdentifier(name: string, value: string): string {
  if (typeof value !== 'string' || !IDENTIFIER.test(value)) {
    throw new ArgumentError(
      name,
      `'${String(value)}' is not a valid table name (letters, digits and _, not starting with a digit, at most 63)`,
    );
  }
  return `"${value}"`;
}

/** pgvector operator and operator class per metric; `score` turns the operator's distance into ours. */
const OPS: Record<Metric, { op: string; opclass: string; score: (d: number) => number }> = {
  // <#> is the negative inner product.
  ip: { op: '<#>', opclass: 'ip_ops', score: (d) => -d },
  // <=> is the cosine distance 1 - cos.
  cosine: { op: '<=>', opclass: 'cosine_ops', score: (d) => 1 - d },
  // <-> is the Euclidean distance; our l2 score is minus the squared distance (ExactIndex, HnswIndex).
  l2: { op: '<->', opclass: 'l2_ops', score: (d) => -(d * d) },
};

/** Queries sent together in one statement (a LATERAL join over an array of query vectors). */
const QUERY_BATCH = 64;

function vectorLiteral(data: Float32Array, offset: number, dim: number): string {
  // JavaScript prints the shortest decimal that reads back as the same double, and every float32 is a
  // double, so pgvector's strtof reads back exactly the float32 we hold.
  const parts = new Array<string>(dim);
  for (let j = 0; j < dim; j++) parts[j] = String(data[offset + j]);
  return `[${parts.join(',')}]`;
}

/**
 * A PostgreSQL array literal (`{"a","b"}`) sent as one text parameter: both drivers then hand the
 * server text it parses itself, instead of each driver's own (and, for PGlite, vector-unaware) array
 * serialisation. `null` elements become NULL.
 */
export function pgArrayLiteral(values: readonly (string | null)[]): string {
  return `{${values.map((v) => (v === null ? 'NULL' : `"${v.replace(/[\\"]/g, (c) => `\\${c}`)}"`)).join(',')}}`;
}

/** PostgreSQL COPY text format escaping for one field. */
function copyField(value: string): string {
  return value.replace(/[\\\t\n\r]/g, (c) =>
    c === '\\' ? '\\\\' : c === '\t' ? '\\t' : c === '\n' ? '\\n' : '\\r',
  );
}

/**
 * A vector index stored in PostgreSQL with pgvector: a table `(id text primary key, embedding
 * vector(dim) | halfvec(dim), metadata jsonb)` and pgvector's HNSW or IVFFlat index on it. Embedded by
 * default (PGlite: zero set-up, a data directory on disk or in memory) or on a real server given by URL.
 * The database does the serving, durability and replication; this class keeps the same
 * {@link VectorIndex} contract as {@link ExactIndex} and {@link HnswIndex} (scores higher = better, ties
 * by id as trec_eval), so `measureRecall` against an `ExactIndex` gives the recall pgvector's index
 * costs — the number pgvector users rarely see.
 *
 * Every statement is parameterised; the table name is validated and quoted; no value from the data
 * reaches SQL text.
 *
 * Errors: `ArgumentError` for bad options, ids, dimensions, or a table that exists with another dimension
 * or type; `DatabaseError` (with SQLSTATE `code`) for what the database refuses; `BackendError` when the
 * optional driver (`@electric-sql/pglite` + `@electric-sql/pglite-pgvector`, or `pg` + `pg-copy-streams`)
 * is not installed.
 *
 * @example
 * ```ts
 * import { PgvectorIndex, ExactIndex, measureRecall } from 'dense-retrieval';
 * const index = await PgvectorIndex.open({ dim: 384, table: 'scifact', metric: 'cosine', dataDir: 'pgdata' });
 * await index.add(docEmbeddings, docIds);
 * await index.createIndex(); // HNSW, m 16, ef_construction 64
 * const top = await index.search(queryEmbeddings, 10, { ef: 100 });
 * console.log(await measureRecall(index, exact, queryEmbeddings, 10)); // e.g. 0.987
 * await index.save('scifact.pgvector.json'); // a reference: engine, table, parameters
 * await index.close();
 * ```
 */
export class PgvectorIndex implements VectorIndex {
  readonly dim: number;
  readonly metric: Metric;
  readonly table: string;
  readonly type: 'vector' | 'halfvec';
  readonly method: PgvectorIndexMethod;
  readonly options: Readonly<PgvectorIndexOptions>;
  private rows: number;
  private indexReady: boolean;
  /** The table name as it goes into SQL text: validated, double-quoted. */
  private readonly quoted: string;

  private constructor(
    private readonly client: SqlClient,
    options: PgvectorIndexOptions,
    size: number,
    indexReady: boolean,
  ) {
    this.dim = options.dim;
    this.metric = options.metric ?? 'ip';
    this.table = options.table;
    this.type = options.type ?? 'vector';
    this.method = options.method ?? 'hnsw';
    this.options = { ...options };
    this.rows = size;
    this.indexReady = indexReady;
    this.quoted = checkIdentifier('table', options.table);
  }

  /** Number of vectors in the table. */
  get size(): number {
    return this.rows;
  }

  /** `embedded` (PGlite) or `server` (`pg`). */
  get engine(): 'embedded' | 'server' {
    return this.client.engine;
  }

  /** Where the data lives, safe to print. */
  get location(): string {
    return this.client.description;
  }

  /**
   * Connect (or start the embedded database), create the `vector` extension and the table when missing,
   * and check an existing table's dimension and type against `dim` and `type`.
   */
  static async open(options: PgvectorIndexOptions): Promise<PgvectorIndex> {
    return PgvectorIndex.connect(options, undefined);
  }

  /** `open`, or with `reference` (the file being loaded) the table must already exist: nothing is created. */
  private static async connect(
    options: PgvectorIndexOptions,
    reference: string | undefined,
  ): Promise<PgvectorIndex> {
    const opts = validateOptions(options);
    const client =
      opts.database !== undefined
        ? await openServer(opts.database)
        : await openEmbedded(opts.dataDir === undefined ? undefined : path.resolve(opts.dataDir));
    try {
      const table = checkIdentifier('table', opts.table);
      const type = opts.type ?? 'vector';
      await client.query('CREATE EXTENSION IF NOT EXISTS vector');
      const existing = await client.query<{ t: string | null }>(
        `SELECT format_type(atttypid, atttypmod) AS t FROM pg_attribute
         WHERE attrelid = to_regclass($1) AND attname = 'embedding' AND NOT attisdropped`,
        [table],
      );
      if (existing.length > 0) {
        const want = `${type}(${opts.dim})`;
        if (existing[0].t !== want) {
          throw new ArgumentError(
            'table',
            `table ${opts.table} in ${client.description} has embedding ${existing[0].t}, not ${want}: use another table or the model it was built with`,
          );
        }
      } else if (reference !== undefined) {
        throw new InputFormatError(`table ${opts.table} does not exist in ${client.description}`, reference);
      } else {
        await client.query(
          `CREATE TABLE IF NOT EXISTS ${table} (id text PRIMARY KEY, embedding ${type}(${opts.dim}) NOT NULL, metadata jsonb)`,
        );
      }
      const [{ n }] = await client.query<{ n: string | number }>(`SELECT count(*) AS n FROM ${table}`);
      const index = new PgvectorIndex(client, opts, Number(n), false);
      index.indexReady = opts.method === 'none' || (await index.hasIndex());
      return index;
    } catch (error) {
      await client.close().catch(() => undefined);
      throw error;
    }
  }

  /**
   * Open the index a {@link PgvectorIndex.save} reference file points to. A server reference holds no
   * password: give the URL again in `database`, or set `PGPASSWORD`.
   */
  static async load(
    file: string,
    overrides: { database?: string; quiet?: boolean } = {},
  ): Promise<PgvectorIndex> {
    checkOptionKeys('PgvectorIndex.load', overrides, ['database', 'quiet'], 'overrides');
    const ref = await readPgvectorReference(file);
    const base = path.dirname(path.resolve(file));
    const dataDir = ref.dataDir === undefined ? undefined : path.resolve(base, ref.dataDir);
    if (ref.engine === 'embedded') {
      if (overrides.database !== undefined) {
        throw new ArgumentError(
          'database',
          `${file} refers to an embedded index (data in ${dataDir}), not a server: drop the database URL`,
        );
      }
      // Loading reads: a moved or deleted data directory must not become a fresh, empty database.
      const found = await fs.stat(dataDir!).catch(() => undefined);
      if (found === undefined || !found.isDirectory()) {
        throw new InputFormatError(`the embedded pgvector data directory ${dataDir} does not exist`, file);
      }
    }
    return PgvectorIndex.connect(
      {
        dim: ref.dim,
        table: ref.table,
        metric: ref.metric,
        type: ref.type,
        method: ref.method,
        m: ref.m,
        efConstruction: ref.efConstruction,
        efSearch: ref.efSearch,
        lists: ref.lists,
        probes: ref.probes,
        quiet: overrides.quiet,
        ...(ref.engine === 'server' ? { database: overrides.database ?? ref.database } : { dataDir }),
      },
      file,
    );
  }

  /**
   * Add `vectors.rows` vectors with their ids (and optional per-row metadata, stored as jsonb for
   * {@link PgvectorSearchOptions.metadata} filters) in batches of `batchSize` with progress: `COPY` on
   * the embedded engine, one `INSERT ... SELECT FROM unnest(...)` per batch on a server. A batch is one
   * statement: an id that already exists fails it whole (`ArgumentError` naming the id), nothing of it
   * is written. Use {@link PgvectorIndex.upsert} to replace vectors.
   */
  async add(
    vectors: Matrix,
    ids: string[],
    metadata?: readonly (Record<string, unknown> | undefined)[],
  ): Promise<void> {
    this.checkRows(vectors, ids, metadata);
    const batch = this.options.batchSize ?? 5000;
    const progress = createProgress({
      total: vectors.rows,
      label: 'pgvector load',
      unit: 'vectors',
      quiet: this.options.quiet ?? vectors.rows < batch,
    });
    await this.client.exclusive(async () => {
      for (let s = 0; s < vectors.rows; s += batch) {
        const e = Math.min(vectors.rows, s + batch);
        try {
          await this.insertBatch(vectors, ids, metadata, s, e, false);
        } catch (error) {
          if (error instanceof DatabaseError && error.code === '23505') {
            const dup = await this.firstExisting(ids.slice(s, e));
            throw new ArgumentError('ids', `document id '${dup ?? '?'}' is already in table ${this.table}`);
          }
          throw error;
        }
        this.rows += e - s;
        progress.tick(e - s);
      }
    });
    progress.done();
  }

  /** Insert or replace: a re-added id gets its new vector (and metadata). */
  async upsert(
    vectors: Matrix,
    ids: string[],
    metadata?: readonly (Record<string, unknown> | undefined)[],
  ): Promise<void> {
    this.checkRows(vectors, ids, metadata);
    const batch = this.options.batchSize ?? 5000;
    await this.client.exclusive(async () => {
      for (let s = 0; s < vectors.rows; s += batch) {
        const e = Math.min(vectors.rows, s + batch);
        this.rows += await this.insertBatch(vectors, ids, metadata, s, e, true);
      }
    });
  }

  /**
   * Rows `start..end` as one statement: `COPY` on the embedded engine (no upsert), else `INSERT ...
   * SELECT FROM unnest(...)` with every value in three array parameters. Returns the rows inserted
   * (not replaced).
   */
  private async insertBatch(
    vectors: Matrix,
    ids: string[],
    metadata: readonly (Record<string, unknown> | undefined)[] | undefined,
    start: number,
    end: number,
    upsert: boolean,
  ): Promise<number> {
    const vecs: string[] = [];
    const metas: (string | null)[] = [];
    for (let r = start; r < end; r++) {
      vecs.push(vectorLiteral(vectors.data, r * this.dim, this.dim));
      const meta = metadata?.[r];
      metas.push(meta === undefined ? null : JSON.stringify(meta));
    }
    if (!upsert && this.client.copyText !== undefined) {
      const lines = vecs.map(
        (v, i) =>
          `${copyField(ids[start + i])}\t${v}\t${metas[i] === null ? '\\N' : copyField(metas[i] as string)}\n`,
      );
      await this.client.copyText(this.quoted, ['id', 'embedding', 'metadata'], lines.join(''));
      return end - start;
    }
    const conflict = upsert
      ? 'ON CONFLICT (id) DO UPDATE SET embedding = EXCLUDED.embedding, metadata = EXCLUDED.metadata'
      : '';
    const added = await this.client.query<{ inserted: boolean }>(
      `INSERT INTO ${this.quoted} (id, embedding, metadata)
       SELECT * FROM unnest($1::text[], $2::${this.type}[], $3::jsonb[]) ${conflict}
       RETURNING (xmax = 0) AS inserted`,
      [pgArrayLiteral(ids.slice(start, end)), pgArrayLiteral(vecs), pgArrayLiteral(metas)],
    );
    return added.filter((r) => r.inserted).length;
  }

  /** Delete these ids (unknown ids are ignored); a removed id never comes back in a search. */
  async remove(ids: readonly string[]): Promise<number> {
    return this.client.exclusive(async () => {
      const gone = await this.client.query(
        `DELETE FROM ${this.quoted} WHERE id = ANY($1::text[]) RETURNING id`,
        [pgArrayLiteral([...ids])],
      );
      this.rows -= gone.length;
      return gone.length;
    });
  }

  /**
   * Build the approximate index (`CREATE INDEX ... USING hnsw|ivfflat (embedding <opclass>) WITH
   * (...)`) if it does not exist. Building after loading is faster than inserting into a built index;
   * `search` builds it on first use when you have not.
   */
  async createIndex(): Promise<void> {
    if (this.method === 'none' || this.indexReady) return;
    const name = checkIdentifier('index name', indexName(this.table, this.method));
    const opclass = `${this.type}_${OPS[this.metric].opclass}`;
    const o = this.options;
    const withClause =
      this.method === 'hnsw'
        ? `m = ${o.m ?? 16}, ef_construction = ${o.efConstruction ?? 64}`
        : `lists = ${o.lists ?? Math.max(1, Math.round(this.rows / 1000))}`;
    await this.client.exclusive(() =>
      this.client.query(
        `CREATE INDEX IF NOT EXISTS ${name} ON ${this.quoted} USING ${this.method} (embedding ${opclass}) WITH (${withClause})`,
      ),
    );
    this.indexReady = true;
  }

  /**
   * Top-`k` per query row, best first, ties by id as trec_eval. Approximate through pgvector's index
   * (HNSW `ef`, IVFFlat `probes`), or exact with `{ exact: true }`. Filters (`ids`, `metadata`) run
   * inside the database with pgvector 0.8's iterative index scans where available, so `k` rows come back
   * when `k` match.
   */
  async search(queries: Matrix, k: number, options: PgvectorSearchOptions = {}): Promise<SearchResult> {
    checkOptionKeys('search', options, PGVECTOR_SEARCH_OPTION_KEYS);
    checkMatrix('queries', queries, this.dim);
    checkK(k, this.size);
    if ((options as { filter?: unknown }).filter !== undefined) {
      throw new ArgumentError(
        'filter',
        'a JavaScript predicate cannot run inside PostgreSQL: use the ids or metadata options',
      );
    }
    // The SQL filters bind these as parameters: a string `ids` would spread into characters, a Set or
    // a number fail inside the driver.
    if (options.ids !== undefined) {
      if (!Array.isArray(options.ids)) {
        throw new ArgumentError('ids', `must be an array of document ids, got ${describeValue(options.ids)}`);
      }
      options.ids.forEach((id, i) => {
        if (typeof id !== 'string') {
          throw new ArgumentError('ids', `id at position ${i} must be a string, got ${typeof id}`);
        }
      });
    }
    const meta: unknown = options.metadata;
    if (meta !== undefined && (meta === null || typeof meta !== 'object' || Array.isArray(meta))) {
      throw new ArgumentError('metadata', `must be an object of key/value pairs, got ${describeValue(meta)}`);
    }
    const exact = options.exact === true || this.method === 'none';
    if (!exact) await this.createIndex();
    const ef = Math.max(k, checkPositiveInt('ef', options.ef ?? this.options.efSearch ?? 40));
    const probes = checkPositiveInt('probes', options.probes ?? this.options.probes ?? 1);
    const { op, score } = OPS[this.metric];
    const params: unknown[] = [];
    const where: string[] = [];
    if (options.ids !== undefined) {
      params.push(pgArrayLiteral([...options.ids]));
      where.push(`id = ANY($${params.length + 2}::text[])`);
    }
    if (options.metadata !== undefined) {
      params.push(JSON.stringify(options.metadata));
      where.push(`metadata @> $${params.length + 2}::jsonb`);
    }
    const filtered = where.length > 0;
    // Ties: exact search orders them as trec_eval (id descending, byte order); approximate results are
    // re-sorted below the same way.
    const order = exact ? `d, id COLLATE "C" DESC` : 'd';
    const sql = `SELECT q.n::int AS n, r.id, r.d FROM unnest($1::${this.type}[]) WITH ORDINALITY AS q(v, n)
      CROSS JOIN LATERAL (SELECT id, embedding ${op} q.v AS d FROM ${this.quoted}
        ${filtered ? `WHERE ${where.join(' AND ')}` : ''} ORDER BY ${order} LIMIT $2) r`;
    const out: SearchResult = { ids: [], scores: [] };
    await this.client.exclusive(async () => {
      const settings = exact
        ? ['SET enable_indexscan = off', 'SET enable_bitmapscan = off']
        : this.method === 'hnsw'
          ? [`SET hnsw.ef_search = ${ef}`, filtered ? `SET hnsw.iterative_scan = relaxed_order` : '']
          : [`SET ivfflat.probes = ${probes}`, filtered ? `SET ivfflat.iterative_scan = relaxed_order` : ''];
      for (const s of settings) if (s !== '') await this.setting(s);
      try {
        for (let s = 0; s < queries.rows; s += QUERY_BATCH) {
          const e = Math.min(queries.rows, s + QUERY_BATCH);
          const qs: string[] = [];
          for (let i = s; i < e; i++) qs.push(vectorLiteral(queries.data, i * this.dim, this.dim));
          const rows = await this.client.query<{ n: number; id: string; d: number }>(sql, [
            pgArrayLiteral(qs),
            k,
            ...params,
          ]);
          const perQuery: { id: string; score: number }[][] = Array.from({ length: e - s }, () => []);
          for (const r of rows) perQuery[r.n - 1].push({ id: r.id, score: score(Number(r.d)) });
          for (const hits of perQuery) {
            hits.sort((a, b) => (a.score !== b.score ? b.score - a.score : compareIds(b.id, a.id)));
            out.ids.push(hits.map((h) => h.id));
            out.scores.push(Float32Array.from(hits, (h) => h.score));
          }
        }
      } finally {
        await this.setting('RESET ALL');
      }
    });
    return out;
  }

  /**
   * Save a reference to the data (engine, table, parameters; never a password), atomically, so that
   * `loadVectorIndex(file)` and `index search --index file` reopen it. The vectors stay in the database.
   */
  async save(file: string): Promise<void> {
    if (this.method !== 'none') await this.createIndex();
    const o = this.options;
    const ref: PgvectorReference = {
      format: REFERENCE_FORMAT,
      version: 1,
      engine: this.client.engine,
      table: this.table,
      dim: this.dim,
      metric: this.metric,
      type: this.type,
      method: this.method,
      ...(o.m === undefined ? {} : { m: o.m }),
      ...(o.efConstruction === undefined ? {} : { efConstruction: o.efConstruction }),
      ...(o.efSearch === undefined ? {} : { efSearch: o.efSearch }),
      ...(o.lists === undefined ? {} : { lists: o.lists }),
      ...(o.probes === undefined ? {} : { probes: o.probes }),
    };
    if (this.client.engine === 'server') ref.database = redactUrl(o.database!);
    else if (o.dataDir === undefined) {
      throw new ArgumentError(
        'dataDir',
        'an in-memory embedded index cannot be saved: open it with a dataDir',
      );
    } else {
      const dir = path.resolve(o.dataDir);
      const rel = path.relative(path.dirname(path.resolve(file)), dir);
      ref.dataDir = rel.startsWith('..') || path.isAbsolute(rel) ? dir : rel === '' ? '.' : rel;
    }
    await writeFileAtomic(file, `${JSON.stringify(ref, null, 2)}\n`);
  }

  /** Drop the table and its index (every vector in it): for tables this program created itself. */
  async dropTable(): Promise<void> {
    await this.client.exclusive(() => this.client.query(`DROP TABLE IF EXISTS ${this.quoted}`));
    this.rows = 0;
    this.indexReady = this.method === 'none';
  }

  /** Close the connection (or shut the embedded database down, flushing it to its data directory). */
  async close(): Promise<void> {
    await this.client.close();
  }

  private async setting(sql: string): Promise<void> {
    try {
      await this.client.query(sql);
    } catch (error) {
      // An older pgvector lacks iterative scans (0.8): filtered searches then fall back to plain
      // index scans, which can return fewer than k rows; say nothing more than the database did.
      if (error instanceof DatabaseError && error.code === '42704' && sql.includes('iterative_scan')) return;
      throw error;
    }
  }

  private async hasIndex(): Promise<boolean> {
    const rows = await this.client.query(`SELECT 1 FROM pg_indexes WHERE indexname = $1`, [
      indexName(this.table, this.method),
    ]);
    return rows.length > 0;
  }

  private async firstExisting(ids: string[]): Promise<string | undefined> {
    const rows = await this.client.query<{ id: string }>(
      `SELECT id FROM ${this.quoted} WHERE id = ANY($1::text[]) LIMIT 1`,
      [pgArrayLiteral(ids)],
    );
    return rows[0]?.id;
  }

  private checkRows(
    vectors: Matrix,
    ids: string[],
    metadata: readonly (Record<string, unknown> | undefined)[] | undefined,
  ): void {
    checkMatrix('vectors', vectors, this.dim);
    if (ids.length !== vectors.rows)
      throw new ArgumentError('ids', `got ${ids.length} ids for ${vectors.rows} vectors`);
    const seen = new Set<string>();
    for (const id of ids) {
      if (typeof id !== 'string' || id === '')
        throw new ArgumentError('ids', 'ids must be non-empty strings');
      if (seen.has(id)) throw new ArgumentError('ids', `duplicate document id '${id}'`);
      seen.add(id);
    }
    if (metadata !== undefined && metadata.length !== vectors.rows) {
      throw new ArgumentError('metadata', `got ${metadata.length} entries for ${vectors.rows} vectors`);
    }
    if (this.metric === 'cosine') {
      for (let r = 0; r < vectors.rows; r++) {
        let s = 0;
        for (let j = r * this.dim; j < (r + 1) * this.dim; j++) s += vectors.data[j] * vectors.data[j];
        if (s === 0) throw new ArgumentError('vectors', `row ${r} is all zeros: its cosine is undefined`);
      }
    }
  }
}

function indexName(table: string, method: PgvectorIndexMethod): string {
  return `${table.slice(0, 40)}_embedding_${method}_idx`;
}

function validateOptions(o: PgvectorIndexOptions): PgvectorIndexOptions {
  if (o === null || typeof o !== 'object') throw new ArgumentError('options', 'must be an object');
  checkOptionKeys('PgvectorIndex.open', o, PGVECTOR_OPTION_KEYS);
  checkPositiveInt('dim', o.dim);
  checkIdentifier('table', o.table);
  checkMetric(o.metric ?? 'ip');
  const type = o.type ?? 'vector';
  if (type !== 'vector' && type !== 'halfvec')
    throw new ArgumentError('type', `must be vector or halfvec, got '${String(type)}'`);
  const method = o.method ?? 'hnsw';
  if (!['hnsw', 'ivfflat', 'none'].includes(method)) {
    throw new ArgumentError('method', `must be hnsw, ivfflat or none, got '${String(method)}'`);
  }
  const maxDim = method === 'none' ? 16000 : type === 'halfvec' ? 4000 : 2000;
  if (o.dim > maxDim) {
    throw new ArgumentError(
      'dim',
      `pgvector indexes ${type} columns of at most ${maxDim} dimensions, got ${o.dim}`,
    );
  }
  for (const key of ['m', 'efConstruction', 'efSearch', 'lists', 'probes', 'batchSize'] as const) {
    if (o[key] !== undefined) checkPositiveInt(key, o[key]);
  }
  if (o.m !== undefined && (o.m < 2 || o.m > 100))
    throw new ArgumentError('m', `must be in 2..100 (pgvector), got ${o.m}`);
  if (o.efConstruction !== undefined && o.efConstruction < 2 * (o.m ?? 16)) {
    throw new ArgumentError('efConstruction', `must be at least 2 * m (pgvector), got ${o.efConstruction}`);
  }
  if (o.database !== undefined) {
    if (o.dataDir !== undefined)
      throw new ArgumentError('dataDir', 'give either database (a server) or dataDir (embedded)');
    if (!/^postgres(ql)?:\/\//.test(o.database)) {
      throw new ArgumentError(
        'database',
        `must be a postgres:// or postgresql:// URL, got '${redactUrl(o.database)}'`,
      );
    }
  }
  return o;
}

/** Read and check a reference file written by {@link PgvectorIndex.save}. */
export async function readPgvectorReference(file: string): Promise<PgvectorReference> {
  let ref: Partial<PgvectorReference>;
  try {
    ref = JSON.parse(await fs.readFile(file, 'utf8')) as Partial<PgvectorReference>;
  } catch (error) {
    if ((error as { code?: string }).code === 'ENOENT') throw new InputFormatError('no such file', file);
    throw new InputFormatError('not a pgvector index reference (invalid JSON)', file);
  }
  if (ref === null || typeof ref !== 'object' || ref.format !== REFERENCE_FORMAT) {
    throw new InputFormatError('not a pgvector index reference', file);
  }
  if (ref.version !== 1)
    throw new InputFormatError(`pgvector reference version ${String(ref.version)} is not supported`, file);
  const bad = (field: string): never => {
    throw new InputFormatError(`pgvector reference: invalid '${field}'`, file);
  };
  if (ref.engine !== 'embedded' && ref.engine !== 'server') bad('engine');
  if (typeof ref.table !== 'string' || !IDENTIFIER.test(ref.table)) bad('table');
  if (!Number.isInteger(ref.dim) || (ref.dim as number) < 1) bad('dim');
  if (!['ip', 'cosine', 'l2'].includes(ref.metric as string)) bad('metric');
  if (ref.type !== 'vector' && ref.type !== 'halfvec') bad('type');
  if (!['hnsw', 'ivfflat', 'none'].includes(ref.method as string)) bad('method');
  if (ref.engine === 'server' && typeof ref.database !== 'string') bad('database');
  if (ref.engine === 'embedded' && typeof ref.dataDir !== 'string') bad('dataDir');
  for (const key of ['m', 'efConstruction', 'efSearch', 'lists', 'probes'] as const) {
    if (ref[key] !== undefined && (!Number.isInteger(ref[key]) || (ref[key] as number) < 1)) bad(key);
  }
  return ref as PgvectorReference;
}

const PGVECTOR_OPTION_KEYS = optionKeys<PgvectorIndexOptions>({
  dim: true,
  table: true,
  metric: true,
  database: true,
  dataDir: true,
  type: true,
  method: true,
  m: true,
  efConstruction: true,
  efSearch: true,
  lists: true,
  probes: true,
  batchSize: true,
  quiet: true,
});

const PGVECTOR_SEARCH_OPTION_KEYS = optionKeys<PgvectorSearchOptions>({
  ef: true,
  filter: true,
  rescoreMultiplier: true,
  rescore: true,
  probes: true,
  exact: true,
  ids: true,
  metadata: true,
});

/** A short description of a wrong-typed option value for an error message. */
function describeValue(v: unknown): string {
  if (v === null) return 'null';
  if (Array.isArray(v)) return 'an array';
  if (typeof v === 'object') return `a ${(v as object).constructor?.name ?? 'object'}`;
  return typeof v;
}
