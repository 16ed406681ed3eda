/**
 * The HTTP server of `peer-observer run --http host:port`: /metrics, the JSON
 * API, /healthz; later the dashboard's WebSocket (/ws) and static files.
 *
 * Access: bound to loopback unless the operator says otherwise, and a
 * non-loopback address needs a bearer token (checked where the config is
 * loaded, and again here). When a token is set it is required on every request,
 * loopback included (one rule, nothing to misjudge): `Authorization: Bearer
 * TOKEN`, compared in constant time. Requests are read-only: nothing reads a
 * request body, every reply is JSON or Prometheus text with `nosniff` and
 * `no-store`, and slow or oversized requests are cut by node:http's limits.
 *
 * Hooks for the dashboard (issue 6): `onUpgrade` for the WebSocket (called
 * after the token check), `fallback` for static files (GET requests no API
 * route matched), `isPublic` for the dashboard's own files (they hold no data,
 * and a browser cannot add a header to a page load: served without the token).
 *
 * WebSocket token: browsers cannot set `Authorization` on a WebSocket, so an
 * upgrade may instead offer the subprotocol `bearer.<base64url(token)>` beside
 * the real one (`peer-observer.v1`); the server answers with the real one only,
 * so the token is never echoed.
 *
 * Before any of that (hosts.ts): a request or upgrade whose Host is not one of
 * this server's names is refused (421), and an upgrade whose `Origin` is another
 * site's is refused (403), whether or not a token is set: a page on another
 * site, even one whose name rebinds to 127.0.0.1, must not read the API or the
 * live feed of an observer on the operator's loopback.
 *
 * Connections (guard.ts): capped per source and in total, a silent or idle one
 * destroyed on time and evicted first when room is needed, so connections that
 * send nothing cannot lock out a client that asks.
 */
import { createHash, timingSafeEqual } from 'node:crypto';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo, Socket } from 'node:net';
import type { Duplex } from 'node:stream';
import { ConnectionGuard, type GuardOptions, type GuardStats } from './guard.js';
import { HostAllowlist } from './hosts.js';
import { HttpError, Router, validateQuery, type Reply, type RequestContext } from './router.js';

/** Longest request target we read (paths and queries are short here). */
export const MAX_URL_LENGTH = 4096;

export interface HttpServerOptions {
  host: string;
  /** 0: any free port. */
  port: number;
  /** Bearer token: required on every request when set. Required for a non-loopback host. */
  token?: string | undefined;
  router: Router;
  /** Static files (the dashboard): called for GET/HEAD requests no route matched; undefined means 404. */
  fallback?: (ctx: RequestContext) => Reply | undefined | Promise<Reply | undefined>;
  /** WebSocket upgrades (the dashboard's /ws), after the token check. Without it, upgrades are refused. */
  onUpgrade?: (req: IncomingMessage, socket: Duplex, head: Buffer) => void;
  /** Paths served without the token (the dashboard's static files). */
  isPublic?: (pathname: string) => boolean;
  /** Connection caps and timeouts (guard.ts). */
  connections?: GuardOptions;
  /** Host names answered besides loopback names and the bound address (`--http-allowed-host`). */
  allowedHosts?: readonly string[];
}

export interface HttpServerStats {
  connections: GuardStats;
  /** Requests and upgrades refused for their Host header (421). */
  hostRefused: number;
  /** Upgrades refused for their Origin header (403). */
  originRefused: number;
}

export interface HttpServer {
  host: string;
  port: number;
  /** `http://host:port` (IPv6 in brackets). */
  url: string;
  server: Server;
  /** Names answered besides loopback and the bound address (--http-allowed-host). */
  allowedHosts: string[];
  stats(): HttpServerStats;
  /** Stop accepting, end open connections. Idempotent. */
  close(): Promise<void>;
}

/** 127.0.0.0/8, ::1, an IPv4-mapped loopback, or `localhost`. */
export function isLoopbackHost(host: string): boolean {
  const h = host.toLowerCase().replace(/^\[|\]$/g, '');
  return h === 'localhost' || h === '::1' || /^127\.\d+\.\d+\.\d+$/.test(h) || /^::ffff:127\.\d+\.\d+\.\d+$/.test(h);
}

/** The one-line reason a bind is refused, or undefined when it is allowed. */
export function bindRefusal(host: string, token: string | undefined): string | undefined {
  if (isLoopbackHost(host) || token) return undefined;
  return `--http ${host}: binding the HTTP server to a non-loopback address needs --http-token (or PEER_OBSERVER_HTTP_TOKEN, or "httpToken" in the config file)`;
}

function digest(s: string): Buffer {
  return createHash('sha256').update(s, 'utf8').digest();
}

/** Constant-time check of `Authorization: Bearer TOKEN`. */
export function authorized(header: string | undefined, expected: Buffer): boolean {
  const m = header !== undefined ? /^Bearer +(\S+) *$/i.exec(header) : null;
  const given = digest(m ? m[1]! : '');
  return timingSafeEqual(given, expected) && m !== null;
}

/** The token a WebSocket upgrade offers as the subprotocol `bearer.<base64url>`, if any. */
export function protocolToken(header: string | string[] | undefined): string | undefined {
  const text = Array.isArray(header) ? header.join(',') : (header ?? '');
  for (const p of text.split(',')) {
    const m = /^bearer\.([A-Za-z0-9_-]{1,400})$/.exec(p.trim());
    if (m) return Buffer.from(m[1]!, 'base64url').toString('utf8');
  }
  return undefined;
}

const COMMON_HEADERS: Record<string, string> = {
  'x-content-type-options': 'nosniff',
  'cache-control': 'no-store',
  'referrer-policy': 'no-referrer',
};

function send(res: ServerResponse, reply: Reply): void {
  const status = reply.status ?? 200;
  const headers: Record<string, string> = { ...COMMON_HEADERS, ...reply.headers };
  let body: string;
  if ('json' in reply) {
    body = JSON.stringify(reply.json);
    headers['content-type'] = 'application/json; charset=utf-8';
    headers['content-security-policy'] = "default-src 'none'";
  } else {
    body = reply.text;
    headers['content-type'] = reply.contentType;
  }
  headers['content-length'] = String(Buffer.byteLength(body));
  res.writeHead(status, headers);
  res.end(body);
}

function error(status: number, message: string, headers: Record<string, string> = {}): Reply {
  return { status, json: { error: message }, headers };
}

/** Write the last bytes, then destroy: never leave a half-closed socket counting against the caps. */
function endThenDestroy(socket: Duplex, text: string): void {
  socket.once('finish', () => socket.destroy());
  socket.once('error', () => socket.destroy());
  socket.end(text);
}

export async function startHttpServer(options: HttpServerOptions): Promise<HttpServer> {
  const refusal = bindRefusal(options.host, options.token);
  if (refusal) throw new Error(refusal);
  const expected = options.token ? digest(options.token) : undefined;
  const { router } = options;
  const hosts = new HostAllowlist(options.host, options.allowedHosts ?? []);
  const guard = new ConnectionGuard(options.connections);
  let hostRefused = 0;
  let originRefused = 0;

  const handle = async (req: IncomingMessage, res: ServerResponse): Promise<void> => {
    if (!hosts.hostAllowed(req.headers.host)) {
      hostRefused++;
      return send(res, error(421, 'this server does not answer to that Host (see --http-allowed-host)', { connection: 'close' }));
    }
    const rawUrl = req.url ?? '/';
    if (rawUrl.length > MAX_URL_LENGTH) return send(res, error(414, 'request target too long'));
    const publicFile =
      options.isPublic !== undefined && (req.method === 'GET' || req.method === 'HEAD') && options.isPublic(rawUrl.split('?')[0]!);
    if (expected && !publicFile && !authorized(req.headers.authorization, expected)) {
      return send(res, error(401, 'missing or wrong bearer token', { 'www-authenticate': 'Bearer realm="peer-observer"' }));
    }
    let url: URL;
    try {
      url = new URL(rawUrl.startsWith('/') ? rawUrl : `/${rawUrl}`, 'http://localhost');
    } catch {
      return send(res, error(400, 'bad request target'));
    }
    const method = req.method ?? 'GET';
    const found = router.match(method, url.pathname);
    const ctx = (params: Record<string, string>): RequestContext => ({
      req,
      url,
      params,
      query: (schema) => validateQuery(url, schema),
    });
    try {
      if ('handler' in found) return send(res, await found.handler(ctx(found.params)));
      if (found.status === 404 && options.fallback && (method === 'GET' || method === 'HEAD')) {
        const reply = await options.fallback(ctx({}));
        if (reply) return send(res, reply);
      }
      if (found.status === 405)
        return send(res, error(405, `method ${method.slice(0, 16)} not allowed`, { allow: found.allow.join(', ') }));
      return send(res, error(404, 'not found'));
    } catch (err) {
      if (err instanceof HttpError) return send(res, error(err.status, err.message, err.headers));
      return send(res, error(500, 'internal error'));
    }
  };

  const server = createServer({ maxHeaderSize: 16 * 1024, requestTimeout: 30_000, headersTimeout: 10_000 }, (req, res) => {
    handle(req, res).catch(() => {
      if (!res.headersSent) send(res, error(500, 'internal error'));
      else res.destroy();
    });
  });
  server.keepAliveTimeout = 5_000;
  // The guard admits, evicts and times out connections (node:http's own cap would refuse the newcomer instead).
  server.on('connection', (socket: Socket) => guard.accept(socket));
  server.prependListener('request', (req: IncomingMessage, res: ServerResponse) => {
    guard.requestStarted(req.socket);
    res.once('close', () => guard.requestDone(req.socket));
  });
  server.on('clientError', (_err, socket) => {
    if (socket.writable) endThenDestroy(socket, 'HTTP/1.1 400 Bad Request\r\nConnection: close\r\nContent-Length: 0\r\n\r\n');
    else socket.destroy();
  });
  server.on('upgrade', (req: IncomingMessage, socket: Duplex, head: Buffer) => {
    const refuse = (status: string) => {
      endThenDestroy(socket, `HTTP/1.1 ${status}\r\nConnection: close\r\nContent-Length: 0\r\n\r\n`);
    };
    if (!hosts.hostAllowed(req.headers.host)) {
      hostRefused++;
      return refuse('421 Misdirected Request');
    }
    if (!hosts.originAllowed(req.headers.origin, req.headers.host)) {
      originRefused++;
      return refuse('403 Forbidden');
    }
    if (expected) {
      const viaProtocol = protocolToken(req.headers['sec-websocket-protocol']);
      const header = req.headers.authorization ?? (viaProtocol !== undefined ? `Bearer ${viaProtocol}` : undefined);
      if (!authorized(header, expected)) return refuse('401 Unauthorized');
    }
    if (!options.onUpgrade) return refuse('404 Not Found');
    guard.upgraded(req.socket);
    options.onUpgrade(req, socket, head);
  });

  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(options.port, options.host, () => {
      server.off('error', reject);
      resolve();
    });
  });
  const address = server.address() as AddressInfo;
  const hostText = address.address.includes(':') ? `[${address.address}]` : address.address;
  let closing: Promise<void> | undefined;
  return {
    host: address.address,
    port: address.port,
    url: `http://${hostText}:${address.port}`,
    server,
    allowedHosts: hosts.names(),
    stats: () => ({ connections: guard.stats(), hostRefused, originRefused }),
    close: () =>
      (closing ??= new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
        guard.closeAll();
      })),
  };
}
