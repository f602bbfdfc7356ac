import { BackendError, DenseRetrievalError } from '../errors.js';

/**
 * The two ways `PgvectorIndex` reaches PostgreSQL + pgvector, behind one small interface: an embedded
 * PGlite (WebAssembly PostgreSQL in this process, with a data directory on disk or in memory) and a real
 * server through `pg`. We talk SQL ourselves rather than through an ORM or query builder because every
 * statement is one of a handful of fixed, parameterised pgvector statements; both drivers are well-kept
 * libraries and optional peer dependencies, imported only when a pgvector index is opened.
 */

/** A database error, with PostgreSQL's SQLSTATE `code` when the server sent one. */
export class DatabaseError extends DenseRetrievalError {
  readonly code: string | undefined;

  constructor(message: string, code?: string) {
    super(message);
    this.code = code;
  }
}

/** What `PgvectorIndex` needs from a connection. */
export interface SqlClient {
  /** `embedded` (PGlite) or `server` (`pg`). */
  readonly engine: 'embedded' | 'server';
  /** Where the data lives, safe to print (a server URL has its password removed). */
  readonly description: string;
  /** One parameterised statement; rows as objects. */
  query<T = Record<string, unknown>>(sql: string, params?: unknown[]): Promise<T[]>;
  /**
   * Embedded only: `COPY table (columns) FROM` PostgreSQL's text format (`text` holds the rows). The
   * server path inserts from `unnest` arrays instead: one statement per batch works on every server and
   * proxy, where COPY's sub-protocol is not implemented by all of them (pglite-socket, which the tests
   * run against, is one).
   */
  copyText?(table: string, columns: string[], text: string): Promise<void>;
  /**
   * Run `work` with this connection to itself: statements of concurrent callers never interleave (a
   * `SET` of one search cannot leak into another).
   */
  exclusive<T>(work: () => Promise<T>): Promise<T>;
  close(): Promise<void>;
}

/** `postgres://user:secret@host/db` -> `postgres://user@host/db`, for messages and saved references. */
export function redactUrl(url: string): string {
  try {
    const u = new URL(url);
    if (u.password !== '') u.password = '';
    return u.toString().replace(/^(\w+:\/\/[^@/]*):@/, '$1@');
  } catch {
    return '<unparseable database URL>';
  }
}

/** Import an optional peer dependency, or say which package to install. */
export async function optionalImport<T>(name: string, what: string): Promise<T> {
  try {
    return (await import(name)) as T;
  } catch (error) {
    const code = (error as { code?: string }).code;
    if (code === 'ERR_MODULE_NOT_FOUND' || code === 'MODULE_NOT_FOUND') {
      throw new BackendError(`${what} needs the optional package '${name}': npm install ${name}`);
    }
    throw error;
  }
}

function wrapError(error: unknown, where: string): never {
  if (error instanceof DenseRetrievalError) throw error;
  const e = error as { message?: string; code?: string };
  // PostgreSQL quotes the offending input in some messages (a whole array of vectors): keep it short.
  let message = e.message ?? String(error);
  if (message.length > 300) message = `${message.slice(0, 300)}...`;
  throw new DatabaseError(`${where}: ${message}`, e.code);
}

/** Serialises work on one connection (both drivers have one session; `SET` is per session). */
class Mutex {
  private tail: Promise<unknown> = Promise.resolve();

  run<T>(work: () => Promise<T>): Promise<T> {
    const next = this.tail.then(work, work);
    this.tail = next.catch(() => undefined);
    return next;
  }
}

interface PGliteLike {
  query<T>(sql: string, params?: unknown[], options?: { blob?: Blob }): Promise<{ rows: T[] }>;
  exec(sql: string): Promise<unknown>;
  close(): Promise<void>;
}

/**
 * Open an embedded PGlite with pgvector. `dataDir` is a directory on disk (created when missing) or
 * `undefined` for an in-memory database that disappears with the process.
 */
export async function openEmbedded(dataDir: string | undefined): Promise<SqlClient> {
  const what = 'an embedded pgvector index';
  const { PGlite } = await optionalImport<{
    PGlite: { create(options: Record<string, unknown>): Promise<PGliteLike> };
  }>('@electric-sql/pglite', what);
  const { vector } = await optionalImport<{ vector: unknown }>('@electric-sql/pglite-pgvector', what);
  let db: PGliteLike;
  try {
    db = await PGlite.create({ ...(dataDir === undefined ? {} : { dataDir }), extensions: { vector } });
  } catch (error) {
    wrapError(error, `cannot open the embedded database ${dataDir ?? '(in memory)'}`);
  }
  const mutex = new Mutex();
  const description = dataDir === undefined ? 'embedded PGlite (in memory)' : `embedded PGlite at ${dataDir}`;
  return {
    engine: 'embedded',
    description,
    async query<T>(sql: string, params?: unknown[]) {
      try {
        return (await db.query<T>(sql, params)).rows;
      } catch (error) {
        wrapError(error, description);
      }
    },
    async copyText(table, columns, text) {
      try {
        // PGlite feeds COPY ... FROM '/dev/blob' from the blob given with the query.
        await db.query(`COPY ${table} (${columns.join(', ')}) FROM '/dev/blob'`, [], {
          blob: new Blob([text]),
        });
      } catch (error) {
        wrapError(error, description);
      }
    },
    exclusive: (work) => mutex.run(work),
    close: () => db.close(),
  };
}

interface PgClientLike {
  connect(): Promise<void>;
  query<T>(sql: string, params?: unknown[]): Promise<{ rows: T[] }>;
  end(): Promise<void>;
  on(event: 'error', listener: (error: Error) => void): void;
}

/** Connect to a PostgreSQL server (any with pgvector >= 0.5) through `pg`. */
export async function openServer(
  url: string,
  options: { connectTimeoutMs?: number } = {},
): Promise<SqlClient> {
  const what = 'a pgvector index on a PostgreSQL server';
  const pg = await optionalImport<{ default: { Client: new (config: unknown) => PgClientLike } }>('pg', what);
  const description = redactUrl(url);
  const client = new pg.default.Client({
    connectionString: url,
    connectionTimeoutMillis: options.connectTimeoutMs ?? 10_000,
  });
  // An idle connection that drops emits 'error' on the client; without a listener Node would crash the
  // host process. The next query then fails with a DatabaseError.
  client.on('error', () => undefined);
  try {
    await client.connect();
  } catch (error) {
    wrapError(error, `cannot connect to ${description}`);
  }
  const mutex = new Mutex();
  return {
    engine: 'server',
    description,
    async query<T>(sql: string, params?: unknown[]) {
      try {
        return (await client.query<T>(sql, params)).rows;
      } catch (error) {
        wrapError(error, description);
      }
    },
    exclusive: (work) => mutex.run(work),
    close: () => client.end(),
  };
}
