/**
 * `peer-observer demo`: the whole pipeline on one machine with nothing else
 * installed. An observer listens on 127.0.0.1 (a free port), a few simulated
 * honest peers dial it from different loopback source addresses, and the logger
 * prints the live stream. After a short honest warm-up, attack scenarios
 * (src/simulate/scenarios/) take turns against it from their own loopback
 * ranges, so the detectors have something to catch within a minute;
 * `--no-attacks` keeps it honest.
 */
import type { Command } from 'commander';
import { z } from 'zod';
import { networkByName, type NetworkName } from '../protocol/networks.js';
import { runHonestPeer } from '../simulate/honest-peer.js';
import { sleep } from '../simulate/kit.js';
import { runSimulation } from '../simulate/runner.js';
import { scenarioByName } from '../simulate/scenarios/index.js';
import { isLoopbackHost } from '../http/server.js';
import { HTTP_SETTINGS } from './settings/http.js';
import { NODE_SETTINGS } from './settings/node.js';
import { UsageError } from './errors.js';
import { aborted, endpointText, startPipeline, type Io } from './pipeline.js';

export interface DemoOptions {
  network: NetworkName;
  peers: number;
  /** Seconds; run until interrupted when absent. */
  duration?: number;
  json: boolean;
  /** Mean time between two pieces of traffic from one simulated peer. */
  trafficIntervalMs?: number;
  /** Rotate attack scenarios in after the warm-up (default true). */
  attacks?: boolean;
  /** Serve the API and the dashboard here (loopback only in the demo). */
  http?: { host: string; port: number };
}

/** Honest traffic only for this long, then the first attack. */
export const DEMO_WARMUP_MS = 5000;
/** How long each attack runs, and the pause after it. */
export const DEMO_ATTACK_MS = 8000;
export const DEMO_ATTACK_PAUSE_MS = 2000;
/** The observer's handshake timeout in the demo, so slowloris connections time out while it runs. */
export const DEMO_HANDSHAKE_TIMEOUT_MS = 5000;

/** The attacks `demo` rotates through, sized to keep the log readable. */
export const DEMO_ATTACKS: readonly { scenario: string; peers: number; rate: number }[] = [
  { scenario: 'addr-flood-2021', peers: 2, rate: 1 },
  { scenario: 'linkinglion', peers: 2, rate: 3 },
  { scenario: 'ping-spam', peers: 1, rate: 20 },
  { scenario: 'inbound-flooder', peers: 15, rate: 10 },
  { scenario: 'time-offset', peers: 2, rate: 2 },
  { scenario: 'malformed', peers: 1, rate: 5 },
  { scenario: 'inv-spam', peers: 1, rate: 2 },
  { scenario: 'slowloris', peers: 5, rate: 1 },
  { scenario: 'netgroup-eclipse', peers: 15, rate: 10 },
];

export const MAX_DEMO_PEERS = 200;

const DemoSchema = z
  .object({
    network: NODE_SETTINGS.network.schema,
    peers: z.coerce
      .number()
      .int(`expected an integer from 1 to ${MAX_DEMO_PEERS}`)
      .min(1, `expected an integer from 1 to ${MAX_DEMO_PEERS}`)
      .max(MAX_DEMO_PEERS, `expected an integer from 1 to ${MAX_DEMO_PEERS}`),
    duration: z.coerce
      .number()
      .positive('expected a number of seconds greater than 0')
      .max(1e7, 'expected a number of seconds greater than 0')
      .optional(),
    json: z.boolean(),
    attacks: z.boolean(),
  })
  .strict();

const FLAG: Record<string, string> = { network: '--network', peers: '--peers', duration: '--duration', json: '--json' };

/** Validate the flags as commander hands them over; one-line errors naming the flag. */
export function parseDemoFlags(flags: {
  network?: string;
  peers?: string;
  duration?: string;
  json?: boolean;
  attacks?: boolean;
  http?: string;
}): DemoOptions {
  let http: DemoOptions['http'];
  if (flags.http !== undefined) {
    const parsed = HTTP_SETTINGS.http.schema.safeParse(flags.http);
    if (!parsed.success) throw new UsageError(`--http ${JSON.stringify(flags.http)}: ${parsed.error.issues[0]!.message}`);
    if (!parsed.data || !isLoopbackHost(parsed.data.host))
      throw new UsageError(`--http ${JSON.stringify(flags.http)}: the demo serves HTTP on loopback only`);
    http = parsed.data;
  }
  const raw = {
    network: flags.network ?? 'regtest',
    peers: flags.peers ?? '3',
    duration: flags.duration,
    json: flags.json ?? false,
    attacks: flags.attacks ?? true,
  };
  // z.coerce turns '' and '  ' into 0 and 'x' into NaN; both are reported with the text as typed.
  for (const key of ['peers', 'duration'] as const) {
    const v = raw[key];
    if (v !== undefined && !/^\s*[0-9]+(\.[0-9]+)?\s*$/.test(v)) raw[key] = 'NaN';
  }
  const result = DemoSchema.safeParse(raw);
  if (!result.success) {
    const issue = result.error.issues[0]!;
    const key = String(issue.path[0]);
    const typed = (flags as Record<string, unknown>)[key];
    const message =
      issue.code === z.ZodIssueCode.invalid_type && key !== 'network'
        ? key === 'peers'
          ? `expected an integer from 1 to ${MAX_DEMO_PEERS}`
          : 'expected a number of seconds greater than 0'
        : issue.message;
    throw new UsageError(`${FLAG[key] ?? key} ${JSON.stringify(typed)}: ${message}`);
  }
  const { duration, ...rest } = result.data;
  return { ...rest, ...(duration !== undefined ? { duration } : {}), ...(http ? { http } : {}) };
}

/** Loopback source address for simulated peer `i`: 127.0.0.10, .11, ... (all of 127/8 is loopback on Linux). */
export function demoSourceAddress(i: number): string {
  const n = 10 + i;
  return `127.0.${n >> 8}.${n & 255}`;
}

export async function demo(options: DemoOptions, signal: AbortSignal, io: Io): Promise<void> {
  const network = networkByName(options.network);
  const pipeline = await startPipeline({
    network,
    nodeId: 'demo',
    listen: [{ host: '127.0.0.1', port: 0 }],
    connect: [],
    json: options.json,
    limits: {
      // The simulated honest peers all come from 127.0.0.0/16 (demoSourceAddress): room for all of them.
      maxPerNetgroup: MAX_DEMO_PEERS + 16,
      ...(options.attacks !== false ? { handshakeTimeoutMs: DEMO_HANDSHAKE_TIMEOUT_MS } : {}),
    },
    ...(options.http ? { http: options.http } : {}),
    io,
  });
  const target = pipeline.listening[0]!;
  io.stderr.write(
    `peer-observer demo: ${network.name} observer on ${endpointText(target)}, ${options.peers} simulated honest peer(s); ` +
      (pipeline.http ? `HTTP at ${pipeline.http.server.url}; dashboard at ${pipeline.http.server.url}/; ` : '') +
      `${options.duration !== undefined ? `stopping after ${options.duration}s` : 'Ctrl-C to stop'}\n`,
  );

  const stopPeers = new AbortController();
  const stop = () => stopPeers.abort();
  signal.addEventListener('abort', stop, { once: true });
  const timer = options.duration !== undefined ? setTimeout(stop, options.duration * 1000) : undefined;

  const peers = Array.from({ length: options.peers }, (_, i) => keepPeer(i));
  async function keepPeer(i: number): Promise<void> {
    let localAddress: string | undefined = demoSourceAddress(i);
    // Stagger the first connections so the stream reads as a story.
    await sleep(150 * i, stopPeers.signal);
    while (!stopPeers.signal.aborted) {
      try {
        await runHonestPeer({
          network,
          host: target.host,
          port: target.port,
          ...(localAddress ? { localAddress } : {}),
          trafficIntervalMs: options.trafficIntervalMs ?? 1500,
          signal: stopPeers.signal,
          // Half the honest peers speak BIP324 v2, as today's network mixes both.
          v2: i % 2 === 0,
        });
      } catch (err) {
        const code = (err as NodeJS.ErrnoException).code;
        if (code === 'EADDRNOTAVAIL' && localAddress) {
          // Systems where only 127.0.0.1 is loopback (macOS): dial from the default address.
          localAddress = undefined;
          continue;
        }
        io.stderr.write(`peer-observer demo: simulated peer ${i + 1}: ${err instanceof Error ? err.message : String(err)}\n`);
      }
      await sleep(1000, stopPeers.signal);
    }
  }

  const attacks = options.attacks !== false ? rotateAttacks() : Promise.resolve();
  async function rotateAttacks(): Promise<void> {
    await sleep(DEMO_WARMUP_MS, stopPeers.signal);
    for (let n = 0; !stopPeers.signal.aborted; n++) {
      const attack = DEMO_ATTACKS[n % DEMO_ATTACKS.length]!;
      const scenario = scenarioByName(attack.scenario)!;
      io.stderr.write(`peer-observer demo: attack: ${scenario.name} (${scenario.summary}) for ${DEMO_ATTACK_MS / 1000}s\n`);
      try {
        await runSimulation({
          network,
          target,
          scenario: scenario.name,
          peers: attack.peers,
          rate: attack.rate,
          durationMs: DEMO_ATTACK_MS,
          signal: stopPeers.signal,
        });
      } catch (err) {
        io.stderr.write(`peer-observer demo: attack ${scenario.name}: ${err instanceof Error ? err.message : String(err)}\n`);
      }
      await sleep(DEMO_ATTACK_PAUSE_MS, stopPeers.signal);
    }
  }

  await aborted(stopPeers.signal);
  if (timer) clearTimeout(timer);
  signal.removeEventListener('abort', stop);
  await Promise.all([...peers, attacks]);
  // Let the observer read the peers' FINs, so their closes are logged as peer-closed.
  await sleep(100);
  await pipeline.stop();
}

export function registerDemo(command: Command, context: { signal: AbortSignal; io: Io }): void {
  command
    .option('--network <name>', 'mainnet, testnet3, testnet4, signet or regtest (default: regtest)')
    .option('--peers <n>', 'how many simulated peers (default: 3)')
    .option('--duration <seconds>', 'stop after this long (default: until Ctrl-C)')
    .option('--json', 'print one JSON event per line instead of text')
    .option('--http <host:port>', 'serve the API and the live dashboard here (loopback; a bare port: 127.0.0.1; port 0: any free one)')
    .option('--no-attacks', `honest peers only (default: attack scenarios take turns after ${DEMO_WARMUP_MS / 1000}s; see simulate --list)`)
    .action(async (opts: { network?: string; peers?: string; duration?: string; json?: boolean; attacks?: boolean; http?: string }) => {
      await demo(parseDemoFlags(opts), context.signal, context.io);
    });
}
