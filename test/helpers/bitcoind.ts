/**
 * A real Bitcoin Core (`../shared/bitcoin-core/`, or any bitcoind named by the
 * BITCOIND environment variable) on free loopback ports in a temporary data
 * directory, with the loopback-only flags its README requires, for tests that
 * must meet the real thing. `.ci/run` sets BITCOIND and BITCOIND_REQUIRED,
 * so CI fails instead of skipping when the binary is missing.
 *
 *   const skip = bitcoindSkipReason();
 *   describe('...', { skip }, () => { ... const node = await startBitcoind(); ... });
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { freePort } from './nats-server.js';

export const BITCOIND = process.env.BITCOIND;

/**
 * Why a real-node test cannot run here, or undefined when it can. A test passes
 * this as `skip`; when BITCOIND_REQUIRED=1 (CI), a missing binary
 * throws instead, so CI never skips these tests silently.
 */
export function bitcoindSkipReason(): string | undefined {
  let reason: string | undefined;
  if (!BITCOIND) reason = 'needs a real bitcoind: set BITCOIND=../shared/bitcoin-core/bin/bitcoind (.ci/run does)';
  else if (!existsSync(BITCOIND)) reason = `BITCOIND=${BITCOIND} does not exist`;
  if (reason && process.env.BITCOIND_REQUIRED === '1') throw new Error(reason);
  return reason;
}

/** A regtest address that anyone can spend (P2WSH of OP_TRUE): where test blocks pay. */
export const OP_TRUE_ADDRESS = 'bcrt1qft5p2uhsdcdc3l2ua4ap5qqfg4pjaqlp250x7us7a8qqhrxrxfsqseac85';

export interface BitcoindOptions {
  /** Extra command-line arguments, e.g. ['-v2transport=0', '-debug=net']. */
  args?: string[];
  /** Start the node with -debug=net -logips=1 -logtimemicros=1 (default true). */
  debugNet?: boolean;
  /** Reuse a data directory (a restart); by default a new temporary one. */
  datadir?: string;
  /** Reuse ports (a restart). */
  port?: number;
  rpcPort?: number;
}

export class RpcError extends Error {
  constructor(
    readonly method: string,
    readonly code: number,
    message: string,
  ) {
    super(`${method}: ${message} (${code})`);
  }
}

export interface Bitcoind {
  pid: number;
  /** P2P port on 127.0.0.1. */
  port: number;
  rpcPort: number;
  rpcUrl: string;
  datadir: string;
  /** The cookie file (`DATADIR/regtest/.cookie`). */
  cookieFile: string;
  debugLog: string;
  process: ChildProcess;
  rpc<T = unknown>(method: string, ...params: unknown[]): Promise<T>;
  /** Mine `n` blocks to OP_TRUE_ADDRESS; returns their hashes. */
  mine(n: number): Promise<string[]>;
  /** getpeerinfo. */
  peers(): Promise<PeerInfo[]>;
  /** Wait until `pred(peers)` holds (polling getpeerinfo). */
  waitForPeers(pred: (peers: PeerInfo[]) => boolean, what: string, timeoutMs?: number): Promise<PeerInfo[]>;
  /** The debug.log so far. */
  log(): string;
  /** Clean stop (RPC `stop`, then SIGKILL after 15 s). Keeps the datadir when `keepData`. */
  stop(options?: { keepData?: boolean }): Promise<void>;
  /** Start the same node again (same datadir and ports) after stop({ keepData: true }). */
  restart(): Promise<Bitcoind>;
}

/** The getpeerinfo fields the tests compare. */
export interface PeerInfo {
  id: number;
  addr: string;
  addrbind?: string;
  network: string;
  services: string;
  inbound: boolean;
  connection_type: string;
  transport_protocol_type: 'v1' | 'v2' | 'detecting';
  session_id: string;
  subver: string;
  version: number;
  startingheight: number;
  synced_headers: number;
  synced_blocks: number;
  bytessent_per_msg: Record<string, number>;
  bytesrecv_per_msg: Record<string, number>;
  addr_processed: number;
  addr_rate_limited: number;
  [key: string]: unknown;
}

const live = new Set<ChildProcess>();
process.once('exit', () => {
  for (const c of live) c.kill('SIGKILL');
});

export async function startBitcoind(options: BitcoindOptions = {}): Promise<Bitcoind> {
  const bin = BITCOIND;
  if (!bin || !existsSync(bin)) throw new Error(bitcoindSkipReason() ?? 'no bitcoind');
  const datadir = options.datadir ?? mkdtempSync(join(tmpdir(), 'po-bitcoind-'));
  const port = options.port ?? (await freePort());
  const rpcPort = options.rpcPort ?? (await freePort());
  const args = [
    '-regtest',
    `-datadir=${datadir}`,
    `-port=${port}`,
    `-rpcport=${rpcPort}`,
    '-bind=127.0.0.1',
    '-rpcbind=127.0.0.1',
    '-rpcallowip=127.0.0.1',
    '-listen=1',
    // Never dial anything by itself: connections are made explicitly (addnode onetry).
    '-connect=0',
    '-dnsseed=0',
    '-fixedseeds=0',
    '-discover=0',
    '-natpmp=0',
    '-listenonion=0',
    '-printtoconsole=0',
    '-server=1',
    // Tests add many peers from one loopback address; Core's default is fine, but keep RPC snappy.
    '-rpcthreads=8',
    ...(options.debugNet === false ? [] : ['-debug=net', '-logips=1', '-logtimemicros=1']),
    ...(options.args ?? []),
  ];
  const child = spawn(bin, args, { stdio: ['ignore', 'ignore', 'pipe'] });
  live.add(child);
  let stderr = '';
  child.stderr!.setEncoding('utf8').on('data', (s: string) => (stderr = (stderr + s).slice(-4000)));
  child.once('exit', () => live.delete(child));
  const cookieFile = join(datadir, 'regtest', '.cookie');
  const rpcUrl = `http://127.0.0.1:${rpcPort}/`;

  async function rpc<T>(method: string, ...params: unknown[]): Promise<T> {
    const auth = Buffer.from(readFileSync(cookieFile, 'utf8').trim()).toString('base64');
    const res = await fetch(rpcUrl, {
      method: 'POST',
      headers: { 'content-type': 'application/json', authorization: `Basic ${auth}` },
      body: JSON.stringify({ jsonrpc: '1.0', id: method, method, params }),
      signal: AbortSignal.timeout(60_000),
    });
    const body = (await res.json()) as { result: T; error: { code: number; message: string } | null };
    if (body.error) throw new RpcError(method, body.error.code, body.error.message);
    return body.result;
  }

  // Wait for the cookie and for RPC to leave warm-up.
  const deadline = Date.now() + 60_000;
  for (;;) {
    if (child.exitCode !== null) throw new Error(`bitcoind exited with ${child.exitCode}: ${stderr}`);
    if (Date.now() > deadline) {
      child.kill('SIGKILL');
      throw new Error(`bitcoind RPC did not come up within 60 s: ${stderr}`);
    }
    if (existsSync(cookieFile)) {
      try {
        await rpc('getblockcount');
        break;
      } catch {
        // warming up (-28) or not listening yet
      }
    }
    await new Promise((r) => setTimeout(r, 100));
  }

  const debugLog = join(datadir, 'regtest', 'debug.log');
  const node: Bitcoind = {
    pid: child.pid!,
    port,
    rpcPort,
    rpcUrl,
    datadir,
    cookieFile,
    debugLog,
    process: child,
    rpc,
    mine: (n) => rpc<string[]>('generatetoaddress', n, OP_TRUE_ADDRESS),
    peers: () => rpc<PeerInfo[]>('getpeerinfo'),
    async waitForPeers(pred, what, timeoutMs = 20_000) {
      const end = Date.now() + timeoutMs;
      for (;;) {
        const peers = await rpc<PeerInfo[]>('getpeerinfo');
        if (pred(peers)) return peers;
        if (Date.now() > end) throw new Error(`timed out waiting for ${what}; getpeerinfo: ${JSON.stringify(peers)}`);
        await new Promise((r) => setTimeout(r, 100));
      }
    },
    log: () => (existsSync(debugLog) ? readFileSync(debugLog, 'utf8') : ''),
    async stop(stopOptions = {}) {
      if (child.exitCode === null && child.signalCode === null) {
        const exited = new Promise((r) => child.once('exit', r));
        await rpc('stop').catch(() => child.kill('SIGTERM'));
        const timer = setTimeout(() => child.kill('SIGKILL'), 15_000);
        await exited;
        clearTimeout(timer);
      }
      if (!stopOptions.keepData && !options.datadir) rmSync(datadir, { recursive: true, force: true });
    },
    restart: () => startBitcoind({ ...options, datadir, port, rpcPort }),
  };
  return node;
}

/**
 * Lines of Core's debug.log that say a peer misbehaved or was disconnected for
 * a protocol reason: what a test asserts is absent after we talked to Core.
 */
export function misbehaviourLines(log: string): string[] {
  return log
    .split('\n')
    .filter((l) =>
      /Misbehaving|misbehaving|disconnecting peer=|Disconnecting and discouraging|stalling|ignoring|invalid header|header with invalid|unknown message|oversized|Timeout downloading|V2 transport error/i.test(
        l,
      ),
    );
}
