/**
 * The client side of bench/connections, run as a separate child process so the
 * clients' CPU and memory are not mixed with the observer's. Driven over IPC:
 *
 *   parent → { type: 'start', host, port, network, count, concurrency, sources }
 *   child  → { type: 'progress', handshaken, failed } ... { type: 'ramped', seconds, handshaken, failed, errors, cpu }
 *   parent → { type: 'close' }                       → child closes every socket and exits
 */
import type { Socket } from 'node:net';
import { networkByName } from '../../src/protocol/networks.js';
import { startPeer } from './peer.js';

export interface StartCommand {
  type: 'start';
  host: string;
  port: number;
  network: string;
  count: number;
  /** Connections opening or handshaking at once. */
  concurrency: number;
  /** Number of distinct 127.x.y.z source addresses. */
  sources: number;
}

export type ChildReport =
  | { type: 'progress'; handshaken: number; failed: number }
  | {
      type: 'ramped';
      seconds: number;
      handshaken: number;
      failed: number;
      errors: Record<string, number>;
      droppedAfterHandshake: number;
      cpuSeconds: number;
      rssBytes: number;
    }
  | { type: 'closed'; stillOpen: number; droppedAfterHandshake: number };

/** The i-th source address: 127.10.x.y with y in 1..250. */
export function sourceAddress(i: number, sources: number): string {
  const k = i % sources;
  return `127.10.${Math.floor(k / 250)}.${1 + (k % 250)}`;
}

function report(r: ChildReport): void {
  process.send?.(r);
}

function run(cmd: StartCommand): void {
  const network = networkByName(cmd.network);
  const sockets = new Set<Socket>();
  const errors: Record<string, number> = {};
  let started = 0;
  let inFlight = 0;
  let handshaken = 0;
  let failed = 0;
  let droppedAfterHandshake = 0;
  let finished = false;
  const cpu0 = process.cpuUsage();
  const t0 = process.hrtime.bigint();

  const progress = setInterval(() => report({ type: 'progress', handshaken, failed }), 1000);
  const maybeDone = () => {
    if (finished || handshaken + failed < cmd.count) return;
    finished = true;
    clearInterval(progress);
    const cpu = process.cpuUsage(cpu0);
    report({
      type: 'ramped',
      seconds: Number(process.hrtime.bigint() - t0) / 1e9,
      handshaken,
      failed,
      errors,
      droppedAfterHandshake,
      cpuSeconds: (cpu.user + cpu.system) / 1e6,
      rssBytes: process.memoryUsage().rss,
    });
  };
  const launch = () => {
    while (inFlight < cmd.concurrency && started < cmd.count) {
      const i = started++;
      inFlight++;
      let settled = false;
      const settle = (ok: boolean, error?: Error) => {
        if (settled) {
          if (!ok) droppedAfterHandshake++;
          return;
        }
        settled = true;
        inFlight--;
        if (ok) handshaken++;
        else {
          failed++;
          const key = error ? ((error as NodeJS.ErrnoException).code ?? error.message) : 'closed before handshake';
          errors[key] = (errors[key] ?? 0) + 1;
        }
        launch();
        maybeDone();
      };
      const socket = startPeer({
        network,
        host: cmd.host,
        port: cmd.port,
        localAddress: sourceAddress(i, cmd.sources),
        nonce: BigInt(i + 1),
        onHandshake: () => settle(true),
        onClose: (error) => {
          sockets.delete(socket);
          settle(false, error);
        },
      });
      sockets.add(socket);
    }
  };

  process.on('message', (m: { type: string }) => {
    if (m.type !== 'close') return;
    const stillOpen = sockets.size;
    for (const s of sockets) s.destroy();
    report({ type: 'closed', stillOpen, droppedAfterHandshake });
    process.disconnect?.();
    setImmediate(() => process.exit(0));
  });
  launch();
}

process.once('message', (m: StartCommand) => {
  if (m.type === 'start') run(m);
});
// The parent going away ends the run: never leave sockets behind.
process.on('disconnect', () => process.exit(0));
