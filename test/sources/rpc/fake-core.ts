/**
 * An HTTP server on 127.0.0.1 that answers JSON-RPC like Bitcoin Core, with
 * the answers recorded from a real node (test/fixtures/bitcoind/rpc/).
 */
import { readdirSync, readFileSync } from 'node:fs';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';

export const RPC_FIXTURES = join(import.meta.dirname, '../../fixtures/bitcoind/rpc');

export interface Recorded {
  request: { method: string; params: unknown[] };
  response: { result: unknown; error: { code: number; message: string } | null; id: unknown };
}

export function recorded(name: string): Recorded {
  return JSON.parse(readFileSync(join(RPC_FIXTURES, `${name}.json`), 'utf8')) as Recorded;
}

export function recordedNames(): string[] {
  return readdirSync(RPC_FIXTURES)
    .filter((f) => f.endsWith('.json'))
    .map((f) => f.slice(0, -'.json'.length))
    .sort();
}

/** The recorded HTTP 401 (wrong password): status line and headers, empty body. */
export function recordedUnauthorized(): { status: number; headers: Record<string, string> } {
  const text = readFileSync(join(RPC_FIXTURES, 'error-unauthorized.http'), 'latin1');
  const [statusLine, ...lines] = text.split(/\r?\n/);
  const headers: Record<string, string> = {};
  for (const line of lines) {
    const at = line.indexOf(':');
    if (at > 0) headers[line.slice(0, at).trim().toLowerCase()] = line.slice(at + 1).trim();
  }
  return { status: Number(/HTTP\/1\.1 (\d+)/.exec(statusLine!)![1]), headers };
}

export type Answer = { result: unknown } | { error: { code: number; message: string } } | { unauthorized: true } | { hang: true };

export interface FakeCore {
  url: string;
  /** Every call: method and the Authorization header. */
  calls: { method: string; authorization: string | undefined }[];
  /** Decides each answer; the default answers every method from its recording. */
  answer: (method: string, authorization: string | undefined) => Answer;
  close(): Promise<void>;
}

/** The recorded answer for a method (getpeerinfo: the plain recording). */
export function recordedAnswer(method: string): Answer {
  const name = recordedNames().includes(method) ? method : undefined;
  if (!name) return { error: { code: -32601, message: 'Method not found' } };
  const r = recorded(name).response;
  return r.error ? { error: r.error } : { result: r.result };
}

export async function startFakeCore(): Promise<FakeCore> {
  const sockets = new Set<import('node:net').Socket>();
  const core: FakeCore = {
    url: '',
    calls: [],
    answer: (method) => recordedAnswer(method),
    close: async () => {
      for (const s of sockets) s.destroy();
      await new Promise<void>((r) => server.close(() => r()));
    },
  };
  const server = http.createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const body = JSON.parse(Buffer.concat(chunks).toString('utf8')) as { id: unknown; method: string };
      core.calls.push({ method: body.method, authorization: req.headers.authorization });
      const a = core.answer(body.method, req.headers.authorization);
      if ('hang' in a) return; // never answer
      if ('unauthorized' in a) {
        const u = recordedUnauthorized();
        res.writeHead(u.status, u.headers);
        res.end();
        return;
      }
      // As Core: HTTP 200 with result, HTTP 500 (404 for an unknown method) with error.
      const status = 'error' in a ? (a.error.code === -32601 ? 404 : 500) : 200;
      const reply = 'error' in a ? { result: null, error: a.error, id: body.id } : { result: a.result, error: null, id: body.id };
      res.writeHead(status, { 'content-type': 'application/json' });
      res.end(JSON.stringify(reply) + '\n');
    });
  });
  server.on('connection', (s) => {
    sockets.add(s);
    s.on('close', () => sockets.delete(s));
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  core.url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/`;
  return core;
}

/** A loopback port with nothing listening on it. */
export async function closedPort(): Promise<number> {
  const s = http.createServer();
  await new Promise<void>((r) => s.listen(0, '127.0.0.1', r));
  const port = (s.address() as AddressInfo).port;
  await new Promise<void>((r) => s.close(() => r()));
  return port;
}
