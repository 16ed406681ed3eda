/**
 * TCP listeners. Binding errors (port in use, an address this machine does not
 * have, a bad port) reject with one clear sentence naming the endpoint; after
 * that, every server and socket error is handled and counted, never thrown.
 */
import { createServer, type Server, type Socket } from 'node:net';

export interface Endpoint {
  host: string;
  port: number;
}

const REASONS: Record<string, string> = {
  EADDRINUSE: 'address already in use',
  EADDRNOTAVAIL: 'address not available on this machine',
  EACCES: 'permission denied (ports below 1024 need privileges)',
  ENOTFOUND: 'unknown host',
  EAI_AGAIN: 'host name lookup failed',
  EAFNOSUPPORT: 'address family not supported',
  EINVAL: 'invalid address',
};

export function describeSocketError(error: unknown): string {
  const e = error as NodeJS.ErrnoException;
  if (e && typeof e.code === 'string' && REASONS[e.code]) return `${REASONS[e.code]} (${e.code})`;
  return e instanceof Error ? e.message : String(error);
}

export function endpointLabel(e: Endpoint): string {
  return e.host.includes(':') ? `[${e.host}]:${e.port}` : `${e.host}:${e.port}`;
}

/** Listen on one endpoint; port 0 takes a free port. Resolves with the bound address. */
export function listenOn(
  endpoint: Endpoint,
  onSocket: (socket: Socket) => void,
  onServerError: (error: unknown) => void,
): Promise<{ server: Server; bound: Endpoint }> {
  return new Promise((resolve, reject) => {
    if (!Number.isInteger(endpoint.port) || endpoint.port < 0 || endpoint.port > 65535) {
      reject(new Error(`cannot listen on ${endpointLabel(endpoint)}: port must be an integer from 0 to 65535`));
      return;
    }
    if (typeof endpoint.host !== 'string' || endpoint.host.length === 0) {
      reject(new Error(`cannot listen on ${endpointLabel(endpoint)}: empty host`));
      return;
    }
    const server = createServer({ noDelay: true });
    const failed = (error: unknown): void => {
      server.close();
      reject(new Error(`cannot listen on ${endpointLabel(endpoint)}: ${describeSocketError(error)}`));
    };
    server.once('error', failed);
    server.on('connection', onSocket);
    // A large backlog so a burst of connections (benchmarks, floods) is accepted and judged by our limits.
    server.listen({ host: endpoint.host, port: endpoint.port, backlog: 4096 }, () => {
      server.off('error', failed);
      server.on('error', onServerError);
      const addr = server.address();
      const port = addr && typeof addr === 'object' ? addr.port : endpoint.port;
      resolve({ server, bound: { host: endpoint.host, port } });
    });
  });
}

export function closeServer(server: Server): Promise<void> {
  return new Promise((resolve) => {
    if (!server.listening) return resolve();
    server.close(() => resolve());
  });
}
