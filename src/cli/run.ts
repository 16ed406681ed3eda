/**
 * `peer-observer run`: the observer node until SIGINT/SIGTERM, with the logger
 * on an embedded bus, or, with `--nats`, publishing its events to NATS for
 * consumers in other processes (`peer-observer log --nats ...`).
 */
import type { Command } from 'commander';
import { networkByName } from '../protocol/networks.js';
import { loadRunConfig, type FlagValues, type RunConfig } from './config.js';
import { aborted, endpointText, startPipeline, type Io } from './pipeline.js';
import { coreSourceComponents } from './core-sources.js';
import { ARCHIVE_FLAG_HELP } from './archive-flags.js';
import type { Component, ComponentContext, Counters } from '../runtime/component.js';
import type { MimicNode } from '../sources/p2p/mimic/node.js';
import { redactUrl } from '../sources/rpc/client.js';
import { startMimic, type RunningMimic } from '../sources/p2p/mimic/start.js';
import { DEFAULT_BUDGET } from '../sources/p2p/mimic/budget.js';
import { RuntimeError, describeError } from './errors.js';

export async function run(config: RunConfig, signal: AbortSignal, io: Io): Promise<void> {
  const network = networkByName(config.network);
  const mimic = config.mimic && config.core.rpc ? new MimicComponent(config) : undefined;
  const core = coreSourceComponents(config.core, { nodeId: config.nodeId, network: network.name });
  const pipeline = await startPipeline(
    {
      ...(mimic ? { mimic: () => mimic.node } : {}),
      network,
      nodeId: config.nodeId,
      listen: config.listen,
      connect: config.connect,
      json: config.json,
      limits: config.limits,
      nats: config.nats,
      natsEncoding: config.natsEncoding,
      natsMode: config.natsMode,
      archive: config.archive,
      http: config.http,
      connectivity: config.connectivity,
      detectors: config.detectors,
      v2: config.v2,
      collective: config.collective,
      io,
    },
    { beforeObserver: mimic ? [mimic] : [], sources: core },
  );
  const where = pipeline.listening.map(endpointText).join(', ') || 'nowhere';
  const to = config.connect.length ? `; connecting to ${config.connect.map(endpointText).join(', ')}` : '';
  const nats = config.nats.length ? `; publishing to NATS at ${config.nats.join(', ')}` : '';
  const cap = pipeline.archive?.cap;
  const archive = config.archive ? `; archiving to ${config.archive.dataDir}` + (cap ? ` (${cap.describe})` : '') : '';
  const http = pipeline.http
    ? `; HTTP at ${pipeline.http.server.url}${config.http?.token ? ' (token required)' : ''}; dashboard at ${pipeline.http.server.url}/` +
      (config.http?.asn ? ` (ASNs from ${config.http.asn.source})` : '') +
      (pipeline.http.server.allowedHosts.length ? `; HTTP answers to ${pipeline.http.server.allowedHosts.join(', ')} besides loopback` : '')
    : '';
  const watching = core.length ? `; watching ${core.map((c) => c.describe).join(', ')}` : '';
  const connectivity = config.connectivity
    ? `; connectivity check on${config.connectivity.allowLoopback ? ' (loopback allowed)' : ''}`
    : '';
  const mimicking = mimic ? `; mimicking ${redactUrl(config.core.rpc!.url)} (${mimic.node.backend.identity?.subversion ?? '?'})` : '';
  io.stderr.write(
    `peer-observer: ${network.name} node ${config.nodeId} listening on ${where}${to}${mimicking}${watching}${nats}${archive}${http}${connectivity}\n`,
  );
  await aborted(signal);
  // The runtime stops the Core sources first, the bus last: their last events (counters) go out before it closes.
  await pipeline.stop();
}

/** `--mimic`: the backend must answer before the observer starts (its identity is every version message). */
class MimicComponent implements Component {
  readonly name = 'p2p.mimic';
  readonly source = 'p2p';
  #mimic: RunningMimic | undefined;
  constructor(private readonly config: RunConfig) {}
  get node(): MimicNode {
    if (!this.#mimic) throw new Error('p2p.mimic is not started');
    return this.#mimic.node;
  }
  async start(context: ComponentContext): Promise<void> {
    const config = this.config;
    const rpc = config.core.rpc!;
    const budget = {
      ...DEFAULT_BUDGET,
      ...(config.mimic?.peerBudgetBytes !== undefined ? { perPeerBytes: config.mimic.peerBudgetBytes } : {}),
      ...(config.mimic?.globalBudgetBytes !== undefined ? { globalBytes: config.mimic.globalBudgetBytes } : {}),
    };
    const bus = context.bus;
    try {
      this.#mimic = await startMimic({
        url: rpc.url,
        auth: rpc.auth,
        nodeId: config.nodeId,
        publish: (e) => bus.publish(e),
        budget,
        // NODE_P2P_V2 in the mimic's version message exactly when we speak v2 (--v2, the default).
        v2: config.v2,
        ...(config.mimic?.externalAddresses ? { externalAddresses: config.mimic.externalAddresses } : {}),
        status: context.notice,
        publishCounters: false,
      });
    } catch (err) {
      throw new RuntimeError(`--mimic: the backend ${redactUrl(rpc.url)} does not answer: ${describeError(err)}`);
    }
  }
  counters(): Counters {
    return this.#mimic?.node.stats() ?? {};
  }
  stop(): void {
    this.#mimic?.stop();
  }
}

function collect(value: string, previous: string[] | undefined): string[] {
  return [...(previous ?? []), value];
}

/** Repeatable and comma-separated: `--nats a --nats b` or `--nats a,b`. */
export function collectList(value: string, previous: string[] | undefined): string[] {
  const items = value
    .split(',')
    .map((s) => s.trim())
    .filter((s) => s !== '');
  return [...(previous ?? []), ...(items.length ? items : [value])];
}

export function registerRun(program: Command, context: { signal: AbortSignal; io: Io; env: NodeJS.ProcessEnv }): void {
  program
    .command('run')
    .description('run the observer node: listen for peers, connect to peers, log every connection and message')
    .option('--network <name>', 'mainnet, testnet3, testnet4, signet or regtest (default: mainnet)')
    .option(
      '--listen <host:port>',
      'accept inbound peers here (repeatable; default: 127.0.0.1:<network port> unless --connect is given)',
      collect,
    )
    .option('--connect <host:port>', 'connect out to this node and keep reconnecting (repeatable)', collect)
    .option('--json', 'print one JSON event per line instead of text')
    .option('--node-id <id>', "this observer's name in every event (default: the host name)")
    .option('--config <file>', 'JSON config file (flags > PEER_OBSERVER_* env > file > defaults)')
    .option('--max-connections <n>', 'most inbound peers at once (default: 125)')
    .option('--max-per-ip <n>', 'most inbound peers from one IP address (default: 8)')
    .option('--handshake-timeout <seconds>', 'drop a peer that has not completed version/verack by then (default: 60)')
    .option(
      '--nats <url>',
      'publish events to this NATS server instead of printing them (repeatable or comma-separated for a cluster)',
      collectList,
    )
    .option(
      '--nats-encoding <encoding>',
      'with --nats: msgpack (default: smaller, faster) or json (NDJSON any tool reads); consumers read both',
    )
    .option('--data-dir <dir>', 'also archive every event in SQLite here (archive.sqlite; see query and replay)')
    .option('--retention-days <n>', 'with --data-dir: delete archived events older than this many days')
    .option(
      '--max-db-mb <n>',
      'with --data-dir: keep the archive under this many MiB, oldest events deleted first (default: 10% of the free space, at most 10 GiB; 0: no cap)',
    )
    .option('--http <host:port>', 'serve /metrics, /api/* and /healthz here (a bare port: 127.0.0.1; default: no HTTP server)')
    .option(
      '--http-token <token>',
      'require the token on every data request: "Authorization: Bearer <token>" (API), open the dashboard as /#token=<token> (needed to bind a non-loopback address)',
    )
    .option(
      '--http-allowed-host <name>',
      'with --http: also answer requests whose Host is this name (repeatable or comma-separated; loopback names and the bound address always are): DNS rebinding protection',
      collectList,
    )
    .option('--asmap <file>', "with --http: a Bitcoin Core asmap file (Core's -asmap) for the dashboard's connections by ASN")
    .option('--geoip-asn <file>', 'with --http: a MaxMind-format ASN database (e.g. GeoLite2-ASN.mmdb) instead of --asmap')
    .option(
      '--rpc-url <url>',
      'watch a Bitcoin Core node through its JSON-RPC (e.g. http://127.0.0.1:8332); with rpc/log/usdt and no --listen/--connect, no p2p listener',
    )
    .option('--rpc-cookie <file>', "Core's RPC cookie file (e.g. ~/.bitcoin/.cookie), re-read on every call")
    .option('--rpc-user <user>', 'RPC user (with --rpc-password)')
    .option('--rpc-password <password>', 'RPC password (prefer PEER_OBSERVER_RPC_PASSWORD: flags show in ps)')
    .option('--rpc-interval <seconds>', 'getpeerinfo every this often (default: 10)')
    .option('--rpc-status-interval <seconds>', 'the node-wide RPCs (getnetworkinfo, getmempoolinfo, ...) every this often (default: 60)')
    .option('--debug-log <path>', "follow Bitcoin Core's debug.log (or a FIFO): run bitcoind with -debug=net -logips")
    .option('--debug-log-from-start', 'read --debug-log from its start (default: only lines written from now on)')
    .option('--usdt', "trace bitcoind's USDT tracepoints with bpftrace (root or CAP_BPF; needs --bitcoind-pid)")
    .option('--bitcoind-pid <pid>', 'the bitcoind process to trace with --usdt')
    .option('--usdt-input <file>', 'read the output of deploy/bpftrace/peer-observer.bt from this file or FIFO instead of running bpftrace')
    .option(
      '--connectivity',
      'try the addresses peers advertise with a version handshake (connectivity.result events): this makes OUTBOUND ' +
        'connections to public addresses; private, loopback, link-local, reserved and multicast ones are never dialled',
    )
    .option('--connectivity-allow-loopback', 'for testing: let --connectivity also dial 127.0.0.0/8 and ::1')
    .option(
      '--detectors-config <file>',
      'JSON: detector parameters and alert options, e.g. {"addr-flood":{"minRateLimited":50},"message-rate":false}',
    )
    .option('--webhook <url>', 'POST every alert change as JSON to this URL, with retries (repeatable)', collect)
    .option('--max-per-netgroup <n>', 'most inbound peers from one netgroup: IPv4 /16, IPv6 /32 (default: 16)')
    .option(
      '--max-pending-handshakes <n>',
      'most inbound connections still in their version handshake; past it the least advanced is evicted (default: 32)',
    )
    .option(
      '--ip-list <name=file>',
      'with --http: count the traffic of peers on this IP list (one CIDR or IP per line), e.g. tor-exit=exits.txt (repeatable; linkinglion is built in)',
      collect,
    )
    .option('--fold-rate <n>', ARCHIVE_FLAG_HELP.foldRate)
    .option('--fresh-if-damaged', ARCHIVE_FLAG_HELP.freshIfDamaged)
    .option('--v2', 'speak BIP324 v2 (the default): advertise NODE_P2P_V2, serve v1 and v2 inbound, dial v2 first with v1 fallback')
    .option('--no-v2', 'speak v1 only (inbound v2 openings are reported as v2-transport violations)')
    .option(
      '--mimic',
      'behave on the wire like the --rpc-url node (its identity, chain, answers and timing; docs/mimic.md); without it the minimal node, which a careful peer can tell apart',
    )
    .option('--mimic-peer-budget-mb <n>', 'with --mimic: block bytes one peer may be sent per 24 h (default: 200)')
    .option('--mimic-global-budget-mb <n>', 'with --mimic: historical block bytes all peers may be sent per 24 h (default: 5120)')
    .option('--nats-mode <mode>', 'with --nats: auto (JetStream when the server has it; default), jetstream or core (docs/bus.md)')
    .option(
      '--collective <url>',
      'share incidents with a collective and receive theirs: its NATS (nats://member:password@host:port; docs/collective.md)',
      collectList,
    )
    .option('--collective-key <file>', 'with --collective: our Ed25519 private key (peer-observer collective keygen)')
    .option('--collective-trust <file>', 'with --collective: the trust file (collective.json: members and keys, re-read when it changes)')
    .option(
      '--collective-min-members <k>',
      'with --collective: members reporting one netgroup or ASN that make a collective incident (default: 2)',
    )
    .option('--collective-window <seconds>', 'with --collective: within this many seconds (default: 600)')
    .option(
      '--external-address <host:port>',
      "with --mimic: our own address, advertised to peers as Core's -externalip (after they ask for addresses, then about daily; repeatable)",
      collect,
    )
    .action(async (opts: FlagValues & { config?: string }) => {
      const { config: configFile, ...flags } = opts;
      const config = loadRunConfig({ flags, env: context.env, ...(configFile !== undefined ? { configFile } : {}) });
      await run(config, context.signal, context.io);
    });
}
