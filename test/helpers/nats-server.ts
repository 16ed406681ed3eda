/**
 * Starts a real nats-server (Debian package, installed by .ci/run) on free
 * loopback ports for a test, optionally as a member of a cluster, and stops it.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, connect } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

export interface NatsServer {
  port: number;
  clusterPort: number;
  url: string;
  process: ChildProcess;
  /** JetStream's store directory (removed by stop(), unless `keepStore`). */
  storeDir: string | undefined;
  /** SIGKILL (crash) or SIGTERM (clean stop); resolves when the process has exited. `keepStore` keeps JetStream's files for restart(). */
  stop(signal?: NodeJS.Signals, keepStore?: boolean): Promise<void>;
  /** Start it again on the same ports (after stop). */
  restart(): Promise<NatsServer>;
}

export async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = createServer();
    srv.once('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const port = (srv.address() as { port: number }).port;
      srv.close(() => resolve(port));
    });
  });
}

async function waitForPort(port: number, child: ChildProcess, stderr: () => string, timeoutMs = 10_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (child.exitCode !== null) throw new Error(`nats-server exited with ${child.exitCode}: ${stderr()}`);
    const ok = await new Promise<boolean>((resolve) => {
      const s = connect(port, '127.0.0.1');
      s.once('connect', () => {
        s.destroy();
        resolve(true);
      });
      s.once('error', () => resolve(false));
    });
    if (ok) return;
    await new Promise((r) => setTimeout(r, 50));
  }
  throw new Error(`nats-server did not listen on ${port} within ${timeoutMs} ms: ${stderr()}`);
}

export interface NatsServerOptions {
  port?: number;
  clusterPort?: number;
  /** Route URLs (nats-route://127.0.0.1:PORT) of other cluster members. */
  routes?: string[];
  clusterName?: string;
  maxPayload?: number;
  /** Enable JetStream, its file store in `storeDir` (default: a directory of its own, kept across restart()). */
  jetstream?: boolean;
  storeDir?: string;
  /** Name of this server (a JetStream cluster needs distinct names). */
  serverName?: string;
  /** More configuration lines (an `authorization` block, ...). */
  config?: string[];
  /** The whole configuration file instead of the lines above (a shipped example, rewritten for the test); it must listen on `port`. */
  configText?: string;
}

export async function startNatsServer(options: NatsServerOptions = {}): Promise<NatsServer> {
  const port = options.port ?? (await freePort());
  const clusterPort = options.clusterPort ?? (await freePort());
  const dir = mkdtempSync(join(tmpdir(), 'po-nats-'));
  const conf = join(dir, 'nats.conf');
  const lines = [`listen: "127.0.0.1:${port}"`, `max_payload: ${options.maxPayload ?? 8 * 1024 * 1024}`];
  const storeDir = options.jetstream ? (options.storeDir ?? mkdtempSync(join(tmpdir(), 'po-js-'))) : undefined;
  if (options.serverName) lines.push(`server_name: "${options.serverName}"`);
  if (storeDir) lines.push(`jetstream { store_dir: "${storeDir}", max_memory_store: 64MB, max_file_store: 4GB }`);
  lines.push(...(options.config ?? []));
  if (options.routes || options.clusterName) {
    lines.push(
      `cluster {`,
      `  name: "${options.clusterName ?? 'po'}"`,
      `  listen: "127.0.0.1:${clusterPort}"`,
      `  routes: [${(options.routes ?? []).map((r) => `"${r}"`).join(', ')}]`,
      `}`,
    );
  }
  writeFileSync(conf, options.configText ?? lines.join('\n') + '\n');
  const child = spawn('nats-server', ['-c', conf], { stdio: ['ignore', 'ignore', 'pipe'] });
  // Never outlive the test process, even when a test fails before stop().
  const killOnExit = () => child.kill('SIGKILL');
  process.once('exit', killOnExit);
  child.once('exit', () => process.off('exit', killOnExit));
  let err = '';
  child.stderr!.on('data', (d: Buffer) => {
    err = (err + d.toString()).slice(-4000);
  });
  try {
    await waitForPort(port, child, () => err);
  } catch (e) {
    child.kill('SIGKILL');
    rmSync(dir, { recursive: true, force: true });
    throw e;
  }
  const server: NatsServer = {
    port,
    clusterPort,
    url: `nats://127.0.0.1:${port}`,
    process: child,
    storeDir,
    async stop(signal: NodeJS.Signals = 'SIGTERM', keepStore = false) {
      if (child.exitCode === null && child.signalCode === null) {
        const exited = new Promise((r) => child.once('exit', r));
        child.kill(signal);
        await exited;
      }
      rmSync(dir, { recursive: true, force: true });
      if (storeDir && !keepStore) rmSync(storeDir, { recursive: true, force: true });
    },
    restart() {
      return startNatsServer({ ...options, port, clusterPort, ...(storeDir ? { storeDir } : {}) });
    },
  };
  return server;
}

/** One line a test publisher (nats-publisher.ts) printed. */
export interface PublisherLine {
  state?: 'connected' | 'disconnected';
  progress?: number;
  done?: boolean;
  stats: Record<string, number | boolean | string | null>;
}

export interface PublisherProcess {
  child: ChildProcess;
  lines: PublisherLine[];
  last(): PublisherLine | undefined;
  /** Wait until a printed line satisfies `pred`; returns it. */
  until(pred: (l: PublisherLine) => boolean, what: string, timeoutMs?: number): Promise<PublisherLine>;
  exited: Promise<number | null>;
  /** SIGKILL if still running; resolves once it has exited. */
  kill(): Promise<void>;
}

const PUBLISHER = new URL('./nats-publisher.ts', import.meta.url).pathname;

/** Start test/helpers/nats-publisher.ts as its own process (a NatsBus publisher at a steady rate). */
export function startPublisher(options: {
  servers: string[];
  nodeId: string;
  count: number;
  batch: number;
  intervalMs: number;
  publishBuffer?: number;
  reconnectTimeWaitMs?: number;
  mode?: 'auto' | 'jetstream' | 'core';
}): PublisherProcess {
  const child = spawn(process.execPath, ['--import', 'tsx', PUBLISHER, JSON.stringify(options)], {
    stdio: ['ignore', 'pipe', 'pipe'],
    env: { ...process.env, NODE_OPTIONS: '' },
  });
  const killOnExit = () => child.kill('SIGKILL');
  process.once('exit', killOnExit);
  const exited = new Promise<number | null>((resolve) =>
    // 'close', not 'exit': stdout has been read to the end.
    child.once('close', (code) => {
      process.off('exit', killOnExit);
      resolve(code);
    }),
  );
  let done = false;
  void exited.then(() => (done = true));
  const lines: PublisherLine[] = [];
  let partial = '';
  let err = '';
  child.stdout!.setEncoding('utf8').on('data', (s: string) => {
    const parts = (partial + s).split('\n');
    partial = parts.pop()!;
    for (const p of parts) lines.push(JSON.parse(p) as PublisherLine);
  });
  child.stderr!.setEncoding('utf8').on('data', (s: string) => (err = (err + s).slice(-4000)));
  return {
    child,
    lines,
    last: () => lines.at(-1),
    async until(pred, what, timeoutMs = 20_000) {
      const deadline = Date.now() + timeoutMs;
      for (let seen = 0; ;) {
        for (; seen < lines.length; seen++) if (pred(lines[seen]!)) return lines[seen]!;
        if (done && seen === lines.length) throw new Error(`publisher exited before ${what}: ${err}`);
        if (Date.now() > deadline) throw new Error(`timed out waiting for publisher ${what}: ${err}`);
        await new Promise((r) => setTimeout(r, 10));
      }
    },
    exited,
    async kill() {
      if (!done) {
        child.kill('SIGKILL');
        await exited;
      }
    },
  };
}

/**
 * `n` nats-servers on loopback joined by routes (a full mesh: each lists every
 * other's cluster port). The routes connect in the background; a test proves
 * the cluster formed by sending a message across it.
 */
export async function startCluster(n: number, options: { maxPayload?: number; jetstream?: boolean } = {}): Promise<NatsServer[]> {
  const ports = await Promise.all(Array.from({ length: n }, () => freePort()));
  const clusterPorts = await Promise.all(Array.from({ length: n }, () => freePort()));
  const servers: NatsServer[] = [];
  try {
    for (let i = 0; i < n; i++) {
      servers.push(
        await startNatsServer({
          ...options,
          port: ports[i]!,
          clusterPort: clusterPorts[i]!,
          clusterName: 'po-test',
          serverName: `po-test-${i}`,
          routes: clusterPorts.filter((_, j) => j !== i).map((p) => `nats-route://127.0.0.1:${p}`),
        }),
      );
    }
  } catch (e) {
    await Promise.all(servers.map((s) => s.stop('SIGKILL')));
    throw e;
  }
  return servers;
}
