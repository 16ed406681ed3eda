/**
 * bench/connections: how many concurrent inbound connections one observer holds
 * on this machine, the RSS each idle (handshaken) connection costs, and how many
 * handshakes per second it completes.
 *
 *   ulimit -n 20000   # each side holds one descriptor per connection
 *   npm run bench:connections -- [--count 10000] [--concurrency 256] [--sources 200] [--hold 5] [--timeout 180]
 *
 * The observer runs in this process; the clients run in a child process
 * (bench/lib/clients.ts) so their CPU and memory are not counted as the
 * observer's. Clients are real TCP peers that complete the v1 handshake with our
 * codec, spread over many 127.10.x.y source addresses. Loopback only; the run is
 * bounded by --timeout and closes everything it opened.
 */
import { fork, type ChildProcess } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { setTimeout as sleep } from 'node:timers/promises';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { startObserver } from '../src/sources/p2p/observer.js';
import { NETWORKS } from '../src/protocol/networks.js';
import type { ChildReport, StartCommand } from './lib/clients.js';
import { fmt, machine, table } from './lib/stats.js';

const { values: opts } = parseArgs({
  options: {
    count: { type: 'string', default: '10000' },
    concurrency: { type: 'string', default: '256' },
    sources: { type: 'string', default: '200' },
    hold: { type: 'string', default: '5' },
    timeout: { type: 'string', default: '180' },
  },
});
const count = Number(opts.count);
const concurrency = Number(opts.concurrency);
const sources = Number(opts.sources);
const holdSeconds = Number(opts.hold);
const timeoutSeconds = Number(opts.timeout);
const network = NETWORKS.regtest;

function fail(message: string): never {
  console.error(`bench:connections: ${message}`);
  process.exit(1);
}

/** The soft limit on open files, from /proc/self/limits (Linux). */
function openFileLimit(): number | undefined {
  try {
    const m = /^Max open files\s+(\d+|unlimited)/m.exec(readFileSync('/proc/self/limits', 'utf8'));
    if (!m) return undefined;
    return m[1] === 'unlimited' ? Infinity : Number(m[1]);
  } catch {
    return undefined;
  }
}

const needFds = count + 256;
const limit = openFileLimit();
if (limit !== undefined && limit < needFds) {
  fail(
    `the open-file limit is ${limit}, ${count} connections need about ${needFds} per process: run \`ulimit -n ${needFds}\` first (or lower --count)`,
  );
}
const gc = (globalThis as { gc?: () => void }).gc;
if (!gc) console.warn('warning: run with --expose-gc (npm run bench:connections does) for a stable RSS measurement');
const settleMemory = async () => {
  for (let i = 0; i < 3; i++) {
    gc?.();
    await sleep(100);
  }
};

// ---- observer -------------------------------------------------------------

const eventCounts: Record<string, number> = {};
const closeReasons: Record<string, number> = {};
const abort = new AbortController();
const deadline = setTimeout(() => {
  console.error(`bench:connections: timed out after ${timeoutSeconds}s; cleaning up`);
  void cleanup(1);
}, timeoutSeconds * 1000);

await settleMemory();
const rssBeforeObserver = process.memoryUsage().rss;
const observer = await startObserver({
  network,
  nodeId: 'bench',
  listen: [{ host: '127.0.0.1', port: 0 }],
  connect: [],
  limits: {
    maxConnections: count + 1000,
    maxPerIp: count,
    maxPerNetgroup: count,
    maxPendingHandshakes: count,
    handshakeTimeoutMs: 120_000,
  },
  publish: (e) => {
    eventCounts[e.type] = (eventCounts[e.type] ?? 0) + 1;
    if (e.type === 'connection.closed') {
      const reason = (e.data as { reason?: string }).reason ?? 'unknown';
      closeReasons[reason] = (closeReasons[reason] ?? 0) + 1;
    }
  },
  signal: abort.signal,
});
const listening = observer.listening[0];
if (!listening) fail('the observer is not listening');
await settleMemory();
const rss0 = process.memoryUsage().rss;

// ---- clients --------------------------------------------------------------

let cleaningUp = false;
async function cleanup(code: number): Promise<never> {
  if (!cleaningUp) {
    cleaningUp = true;
    clearTimeout(deadline);
    if (child.exitCode === null) {
      child.send({ type: 'close' });
      await Promise.race([new Promise((r) => child.once('exit', r)), sleep(5000)]);
      if (child.exitCode === null) child.kill('SIGKILL');
    }
    await observer.stop();
    abort.abort();
  }
  process.exit(code);
}
process.on('SIGINT', () => void cleanup(130));

const child: ChildProcess = fork(fileURLToPath(new URL('./lib/clients.ts', import.meta.url)), [], {
  execArgv: ['--import', 'tsx'],
  stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
});
const reports: ChildReport[] = [];
const waiters: ((r: ChildReport) => void)[] = [];
child.on('message', (r: ChildReport) => {
  if (r.type === 'progress') {
    process.stderr.write(
      `\r  handshaken ${r.handshaken}/${count}, failed ${r.failed}, server connections ${JSON.stringify(observer.stats())}`.slice(0, 200),
    );
    return;
  }
  reports.push(r);
  for (const w of waiters.splice(0)) w(r);
});
let closingClients = false;
child.on('exit', (code) => {
  if (!cleaningUp && !closingClients) {
    console.error(`\nbench:connections: client process exited early (${code})`);
    void cleanup(1);
  }
});
const next = (type: ChildReport['type']) =>
  new Promise<ChildReport>((resolve) => {
    const found = reports.find((r) => r.type === type);
    if (found) return resolve(found);
    const w = (r: ChildReport) => (r.type === type ? resolve(r) : waiters.push(w));
    waiters.push(w);
  });

const cpu0 = process.cpuUsage();
const start: StartCommand = {
  type: 'start',
  host: listening.host,
  port: listening.port,
  network: network.name,
  count,
  concurrency,
  sources,
};
child.send(start);
const ramped = await next('ramped');
if (ramped.type !== 'ramped') throw new Error('unreachable');
const serverCpu = process.cpuUsage(cpu0);
process.stderr.write('\n');

// ---- hold idle, measure ---------------------------------------------------

await sleep(holdSeconds * 1000);
await settleMemory();
const rss1 = process.memoryUsage().rss;
const heap = process.memoryUsage();
const stats = observer.stats();
const perConnection = ramped.handshaken > 0 ? (rss1 - rss0) / ramped.handshaken : NaN;
const handshakesPerSecond = ramped.handshaken / ramped.seconds;

closingClients = true;
child.send({ type: 'close' });
const closed = await Promise.race([next('closed'), sleep(10_000).then(() => undefined)]);
await sleep(500);

const info = await machine();
console.log(`machine: ${info.nproc} x ${info.cpu}, node ${info.node}, ${info.date}, load average ${info.load.toFixed(2)}`);
console.log(
  `observer in this process; ${count} client peers in a child process over ${sources} source addresses (127.10.x.y), ${concurrency} handshakes in flight at most\n`,
);
console.log(
  table(
    ['measure', 'value'],
    [
      ['connections requested', String(count)],
      ['handshaken and held (client view)', String(ramped.handshaken)],
      ['failed before handshake', `${ramped.failed} ${JSON.stringify(ramped.errors)}`],
      [
        'dropped after handshake during hold',
        String(closed && closed.type === 'closed' ? closed.droppedAfterHandshake : ramped.droppedAfterHandshake),
      ],
      ['observer: inbound held / handshakes completed', `${stats.connections.inbound} / ${stats.handshakesCompleted}`],
      [
        'observer: refused (per-IP / total) / violations',
        `${stats.inboundRefusedPerIp} / ${stats.inboundRefusedTotal} / ${stats.violations}`,
      ],
      ['ramp time (first connect to last verack)', `${fmt(ramped.seconds, 2)} s`],
      ['handshakes per second (ramp, incl. TCP connect)', fmt(handshakesPerSecond, 0)],
      ['observer CPU during ramp', `${fmt((serverCpu.user + serverCpu.system) / 1e6, 2)} s`],
      ['handshakes per observer CPU-second (load-independent)', fmt(ramped.handshaken / ((serverCpu.user + serverCpu.system) / 1e6), 0)],
      ['client process CPU during ramp', `${fmt(ramped.cpuSeconds, 2)} s`],
      [
        'observer RSS before observer / idle / held',
        `${fmt(rssBeforeObserver / 2 ** 20)} / ${fmt(rss0 / 2 ** 20)} / ${fmt(rss1 / 2 ** 20)} MiB`,
      ],
      ['observer heap used / external (held)', `${fmt(heap.heapUsed / 2 ** 20)} / ${fmt(heap.external / 2 ** 20)} MiB`],
      ['RSS per idle handshaken connection', `${fmt(perConnection / 1024, 1)} KiB`],
      ['client process RSS', `${fmt(ramped.rssBytes / 2 ** 20)} MiB`],
    ],
  ),
);
console.log(`\nevents published: ${JSON.stringify(eventCounts)}`);
console.log(
  `\ntargets: >= 10,000 held: ${ramped.handshaken >= 10_000 ? 'met' : 'MISSED'}; >= 1,000 handshakes/s: ${handshakesPerSecond >= 1000 ? 'met' : 'MISSED'}`,
);
console.log(
  'BENCH_JSON ' +
    JSON.stringify({
      bench: 'connections',
      machine: info,
      count,
      concurrency,
      sources,
      held: ramped.handshaken,
      failed: ramped.failed,
      errors: ramped.errors,
      rampSeconds: ramped.seconds,
      handshakesPerSecond,
      observerCpuSeconds: (serverCpu.user + serverCpu.system) / 1e6,
      handshakesPerObserverCpuSecond: ramped.handshaken / ((serverCpu.user + serverCpu.system) / 1e6),
      clientCpuSeconds: ramped.cpuSeconds,
      rssIdleBytes: rss0,
      rssHeldBytes: rss1,
      rssPerConnectionBytes: perConnection,
      observerStats: stats,
      events: eventCounts,
      closeReasons,
    }),
);
await cleanup(0);
