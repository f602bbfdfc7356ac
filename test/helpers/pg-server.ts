import { PGlite } from '@electric-sql/pglite';
import { vector } from '@electric-sql/pglite-pgvector';
import { PGLiteSocketServer } from '@electric-sql/pglite-socket';
import net from 'node:net';

/**
 * A real PostgreSQL wire-protocol server for tests: PGlite with pgvector behind pglite-socket on
 * 127.0.0.1, so the `pg` driver path of `PgvectorIndex` runs for real. With `PG_TEST_URL` set, tests use
 * that server instead (any PostgreSQL with pgvector).
 */
export interface TestPgServer {
  url: string;
  stop(): Promise<void>;
}

async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = net.createServer();
    srv.once('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const { port } = srv.address() as net.AddressInfo;
      srv.close(() => resolve(port));
    });
  });
}

export async function startPgServer(): Promise<TestPgServer> {
  const external = process.env.PG_TEST_URL;
  if (external !== undefined && external !== '') return { url: external, stop: async () => undefined };
  const db = await PGlite.create({ extensions: { vector } });
  const port = await freePort();
  const server = new PGLiteSocketServer({ db, port, host: '127.0.0.1', maxConnections: 4 });
  await server.start();
  return {
    // pglite-socket accepts any user and password; the password is here to test that it is never printed.
    url: `postgres://tester:s3cret-pw@127.0.0.1:${port}/postgres`,
    async stop() {
      await server.stop();
      await db.close();
    },
  };
}
