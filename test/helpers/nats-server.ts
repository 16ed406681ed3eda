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
  /** SIGKILL (crash) or SIGTERM (clean stop); resolves when the process has exited. */
  stop(signal?: NodeJS.Signals): Promise<void>;
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
}

export async function startNatsServer(options: NatsServerOptions = {}): Promise<NatsServer> {
  const port = options.port ?? (await freePort());
  const clusterPort = options.clusterPort ?? (await freePort());
  const dir = mkdtempSync(join(tmpdir(), 'po-nats-'));
  const conf = join(dir, 'nats.conf');
  const lines = [`listen: "127.0.0.1:${port}"`, `max_payload: ${options.maxPayload ?? 8 * 1024 * 1024}`];
  if (options.routes || options.clusterName) {
    lines.push(
      `cluster {`,
      `  name: "${options.clusterName ?? 'po'}"`,
      `  listen: "127.0.0.1:${clusterPort}"`,
      `  routes: [${(options.routes ?? []).map((r) => `"${r}"`).join(', ')}]`,
      `}`,
    );
  }
  writeFileSync(conf, lines.join('\n') + '\n');
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
    async stop(signal: NodeJS.Signals = 'SIGTERM') {
      if (child.exitCode === null && child.signalCode === null) {
        const exited = new Promise((r) => child.once('exit', r));
        child.kill(signal);
        await exited;
      }
      rmSync(dir, { recursive: true, force: true });
    },
    restart() {
      return startNatsServer({ ...options, port, clusterPort });
    },
  };
  return server;
}
