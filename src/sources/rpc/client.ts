/**
 * A small JSON-RPC client for Bitcoin Core, on node:http.
 *
 * Why ours rather than an npm package: what we need is narrow (one POST per
 * call) but exact — the cookie file re-read when Core restarts and writes a new
 * one, a hard timeout per call, a bounded response body, and errors typed by
 * what an operator must do (wrong credentials, node down, node warming up, a
 * method the node lacks). The maintained packages (`bitcoin-core` and the like)
 * wrap a general HTTP client, read the cookie once, and report these cases as
 * one generic error; ~150 lines here cost less than a runtime dependency.
 */
import { readFile } from 'node:fs/promises';
import http from 'node:http';

export type RpcAuth = { kind: 'cookie'; file: string } | { kind: 'password'; user: string; password: string };

export interface RpcClientOptions {
  /** `http://host:port/` (a wallet path is allowed but unused). */
  url: string;
  auth: RpcAuth;
  /** Per-call timeout (default 10 s). */
  timeoutMs?: number;
  /** Largest response body accepted (default 64 MiB: getrawaddrman on mainnet is a few MB). */
  maxBodyBytes?: number;
}

/** Core's RPC error codes we act on. */
export const RPC_IN_WARMUP = -28;
export const RPC_METHOD_NOT_FOUND = -32601;

/** The node cannot be reached: connection refused or reset, DNS failure, timeout. */
export class RpcUnavailableError extends Error {
  override readonly name = 'RpcUnavailableError';
  constructor(
    message: string,
    readonly timedOut: boolean,
  ) {
    super(message);
  }
}

/** HTTP 401/403: the credentials (cookie or user/password) are wrong. */
export class RpcAuthError extends Error {
  override readonly name = 'RpcAuthError';
}

/** Core answered with a JSON-RPC error object. */
export class RpcMethodError extends Error {
  override readonly name = 'RpcMethodError';
  constructor(
    readonly method: string,
    readonly code: number,
    readonly rpcMessage: string,
  ) {
    super(`${method}: RPC error ${code}: ${rpcMessage}`);
  }
  get warmingUp(): boolean {
    return this.code === RPC_IN_WARMUP;
  }
  get methodNotFound(): boolean {
    return this.code === RPC_METHOD_NOT_FOUND;
  }
}

/** Anything else: a non-JSON body, an unexpected HTTP status, a body too large. */
export class RpcProtocolError extends Error {
  override readonly name = 'RpcProtocolError';
}

export type RpcError = RpcUnavailableError | RpcAuthError | RpcMethodError | RpcProtocolError;

/** The URL as safe to print: credentials removed. */
export function redactUrl(url: string): string {
  try {
    const u = new URL(url);
    u.username = '';
    u.password = '';
    return u.toString();
  } catch {
    return '<invalid url>';
  }
}

export class RpcClient {
  readonly url: URL;
  private readonly timeoutMs: number;
  private readonly maxBodyBytes: number;
  private nextId = 1;
  private readonly agent = new http.Agent({ keepAlive: true, maxSockets: 2 });

  constructor(private readonly options: RpcClientOptions) {
    this.url = new URL(options.url);
    if (this.url.protocol !== 'http:')
      throw new Error(`RPC URL ${redactUrl(options.url)}: only http:// is supported (Core serves plain HTTP)`);
    this.timeoutMs = options.timeoutMs ?? 10_000;
    this.maxBodyBytes = options.maxBodyBytes ?? 64 * 1024 * 1024;
  }

  /** The Authorization header; the cookie file is read on every call (Core rewrites it on restart). */
  private async authorization(): Promise<string> {
    const auth = this.options.auth;
    let userPass: string;
    if (auth.kind === 'cookie') {
      try {
        userPass = (await readFile(auth.file, 'utf8')).trim();
      } catch (e) {
        // No cookie: the node is not running (Core deletes it on shutdown) or the path is wrong.
        throw new RpcUnavailableError(`cannot read RPC cookie file ${auth.file}: ${(e as Error).message}`, false);
      }
    } else {
      userPass = `${auth.user}:${auth.password}`;
    }
    return `Basic ${Buffer.from(userPass, 'utf8').toString('base64')}`;
  }

  /** Call one method; resolves with `result` or rejects with one of the RpcError classes. */
  async call(method: string, params: unknown[] = []): Promise<unknown> {
    const authorization = await this.authorization();
    const body = JSON.stringify({ jsonrpc: '1.0', id: this.nextId++, method, params });
    const { status, text } = await this.post(body, authorization);
    if (status === 401 || status === 403) {
      throw new RpcAuthError(
        `wrong RPC credentials for ${redactUrl(this.url.href)} (HTTP ${status}): check ${
          this.options.auth.kind === 'cookie' ? `the cookie file ${this.options.auth.file}` : '--rpc-user/--rpc-password'
        }`,
      );
    }
    let parsed: unknown;
    try {
      parsed = JSON.parse(text);
    } catch {
      throw new RpcProtocolError(`${method}: HTTP ${status} with a body that is not JSON (${text.slice(0, 80).replace(/\s+/g, ' ')})`);
    }
    // Core answers RPC errors with HTTP 500 (or 404 for unknown methods) and a JSON body.
    if (typeof parsed !== 'object' || parsed === null) throw new RpcProtocolError(`${method}: the answer is not a JSON object`);
    const reply = parsed as { result?: unknown; error?: unknown };
    if (reply.error !== null && reply.error !== undefined) {
      const err = reply.error as { code?: unknown; message?: unknown };
      throw new RpcMethodError(
        method,
        typeof err.code === 'number' ? err.code : 0,
        typeof err.message === 'string' ? err.message : String(err.message),
      );
    }
    if (status !== 200) throw new RpcProtocolError(`${method}: HTTP ${status}`);
    return reply.result ?? null;
  }

  /**
   * Several calls in one HTTP request (JSON-RPC batch, which Core serves): one
   * entry per call, the result or the RpcMethodError of that call, in order.
   */
  async callBatch(calls: readonly { method: string; params?: unknown[] }[]): Promise<(unknown | RpcMethodError)[]> {
    if (calls.length === 0) return [];
    const authorization = await this.authorization();
    const first = this.nextId;
    this.nextId += calls.length;
    const body = JSON.stringify(calls.map((c, i) => ({ jsonrpc: '1.0', id: first + i, method: c.method, params: c.params ?? [] })));
    const { status, text } = await this.post(body, authorization);
    if (status === 401 || status === 403) throw new RpcAuthError(`wrong RPC credentials for ${redactUrl(this.url.href)} (HTTP ${status})`);
    let parsed: unknown;
    try {
      parsed = JSON.parse(text);
    } catch {
      throw new RpcProtocolError(`batch: HTTP ${status} with a body that is not JSON`);
    }
    if (!Array.isArray(parsed)) throw new RpcProtocolError(`batch: HTTP ${status}: the answer is not a JSON array`);
    const out: (unknown | RpcMethodError)[] = new Array<unknown>(calls.length).fill(undefined);
    const seen = new Array<boolean>(calls.length).fill(false);
    for (const item of parsed as unknown[]) {
      if (typeof item !== 'object' || item === null) throw new RpcProtocolError('batch: an entry is not a JSON object');
      const reply = item as { id?: unknown; result?: unknown; error?: unknown };
      const i = typeof reply.id === 'number' ? reply.id - first : -1;
      if (!Number.isInteger(i) || i < 0 || i >= calls.length || seen[i]) throw new RpcProtocolError('batch: an entry with an unknown id');
      seen[i] = true;
      if (reply.error !== null && reply.error !== undefined) {
        const err = reply.error as { code?: unknown; message?: unknown };
        out[i] = new RpcMethodError(
          calls[i]!.method,
          typeof err.code === 'number' ? err.code : 0,
          typeof err.message === 'string' ? err.message : String(err.message),
        );
      } else out[i] = reply.result ?? null;
    }
    if (seen.some((s) => !s)) throw new RpcProtocolError('batch: an answer is missing');
    return out;
  }

  private post(body: string, authorization: string): Promise<{ status: number; text: string }> {
    return new Promise((resolve, reject) => {
      let settled = false;
      const fail = (e: Error): void => {
        if (settled) return;
        settled = true;
        reject(e);
      };
      const req = http.request(
        this.url,
        {
          method: 'POST',
          agent: this.agent,
          headers: {
            'content-type': 'application/json',
            'content-length': Buffer.byteLength(body),
            authorization,
          },
          timeout: this.timeoutMs,
        },
        (res) => {
          const chunks: Buffer[] = [];
          let size = 0;
          res.on('data', (chunk: Buffer) => {
            size += chunk.length;
            if (size > this.maxBodyBytes) {
              req.destroy();
              fail(new RpcProtocolError(`response larger than ${this.maxBodyBytes} bytes`));
              return;
            }
            chunks.push(chunk);
          });
          res.on('end', () => {
            if (settled) return;
            settled = true;
            resolve({ status: res.statusCode ?? 0, text: Buffer.concat(chunks).toString('utf8') });
          });
          res.on('error', (e) => fail(new RpcUnavailableError(`${redactUrl(this.url.href)}: ${e.message}`, false)));
        },
      );
      // A hard deadline for the whole call (the socket timeout only covers idleness).
      const deadline = setTimeout(() => {
        req.destroy();
        fail(new RpcUnavailableError(`${redactUrl(this.url.href)}: no answer within ${this.timeoutMs} ms`, true));
      }, this.timeoutMs);
      deadline.unref();
      req.on('timeout', () => {
        req.destroy();
        fail(new RpcUnavailableError(`${redactUrl(this.url.href)}: no answer within ${this.timeoutMs} ms`, true));
      });
      req.on('error', (e: NodeJS.ErrnoException) => {
        const what = e.code === 'ECONNREFUSED' ? 'connection refused (is bitcoind running with -server?)' : e.message;
        fail(new RpcUnavailableError(`${redactUrl(this.url.href)}: ${what}`, false));
      });
      req.on('close', () => clearTimeout(deadline));
      req.end(body);
    });
  }

  close(): void {
    this.agent.destroy();
  }
}
