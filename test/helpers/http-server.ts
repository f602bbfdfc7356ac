import http from 'node:http';
import type { AddressInfo } from 'node:net';

/** One request the loopback server received. */
export interface RecordedRequest {
  method: string;
  path: string;
  headers: http.IncomingHttpHeaders;
}

/** A server on 127.0.0.1 with an OS-chosen port, started by a test. */
export interface LoopbackServer {
  /** Base URL, e.g. `http://127.0.0.1:40123` (no trailing slash). */
  url: string;
  /** Every request in arrival order. */
  requests: RecordedRequest[];
  close(): Promise<void>;
}

/** Start a loopback HTTP server with `handler`; every request is recorded before the handler runs. */
export async function startLoopbackServer(
  handler: (req: http.IncomingMessage, res: http.ServerResponse) => void,
): Promise<LoopbackServer> {
  const requests: RecordedRequest[] = [];
  const server = http.createServer((req, res) => {
    requests.push({
      method: req.method ?? '',
      path: decodeURIComponent(req.url ?? ''),
      headers: req.headers,
    });
    handler(req, res);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    requests,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}

/** How {@link serveFiles} misbehaves, to test clients against real-world failures. */
export interface ServeOptions {
  /** Answer Range requests with the whole file (200), as some servers and proxies do. */
  ignoreRange?: boolean;
  /**
   * Per path: send the full Content-Length but cut the connection after this many bytes, for the first
   * `times` requests of that path (default once).
   */
  dropAfter?: Record<string, { bytes: number; times?: number }>;
  /** Per path: answer with this status and no body. */
  status?: Record<string, number>;
  /** Per path: a strong ETag sent with the file and honoured in If-Range. */
  etag?: Record<string, string>;
  /** Per path: answer 302 to this URL, with the `headers` of that path (as the Hub does for LFS files). */
  redirect?: Record<string, string>;
  /** Per path: extra response headers. */
  headers?: Record<string, Record<string, string>>;
}

/**
 * A handler serving `files` (URL path -> bytes) with Range support (206 + Content-Range, 416 past the
 * end), If-Range, 404 for anything else, and the failure modes of {@link ServeOptions}.
 */
export function serveFiles(
  files: Record<string, Uint8Array | string>,
  options: ServeOptions = {},
): (req: http.IncomingMessage, res: http.ServerResponse) => void {
  const drops = new Map<string, number>();
  return (req, res) => {
    const urlPath = decodeURIComponent((req.url ?? '').split('?')[0]);
    const status = options.status?.[urlPath];
    if (status !== undefined) {
      res.writeHead(status).end();
      return;
    }
    const extra = options.headers?.[urlPath] ?? {};
    const location = options.redirect?.[urlPath];
    if (location !== undefined) {
      res.writeHead(302, { ...extra, location }).end();
      return;
    }
    const content = files[urlPath];
    if (content === undefined) {
      res.writeHead(404, { 'content-type': 'text/plain' }).end('Entry not found');
      return;
    }
    const body = typeof content === 'string' ? Buffer.from(content) : Buffer.from(content);
    const etag = options.etag?.[urlPath];
    const headers: http.OutgoingHttpHeaders = etag ? { ...extra, etag } : { ...extra };
    let start = 0;
    const range = /^bytes=(\d+)-$/.exec(req.headers.range ?? '');
    const ifRange = req.headers['if-range'];
    const rangeValid = ifRange === undefined || ifRange === etag;
    if (range && !options.ignoreRange && rangeValid) {
      start = Number(range[1]);
      if (start >= body.length) {
        res.writeHead(416, { 'content-range': `bytes */${body.length}` }).end();
        return;
      }
      res.writeHead(206, {
        ...headers,
        'content-length': body.length - start,
        'content-range': `bytes ${start}-${body.length - 1}/${body.length}`,
      });
    } else {
      res.writeHead(200, { ...headers, 'content-length': body.length });
    }
    const drop = options.dropAfter?.[urlPath];
    const dropped = drops.get(urlPath) ?? 0;
    if (drop && dropped < (drop.times ?? 1)) {
      drops.set(urlPath, dropped + 1);
      const end = Math.min(body.length, start + drop.bytes);
      res.write(body.subarray(start, end), () => req.socket.destroy());
      return;
    }
    res.end(body.subarray(start));
  };
}
