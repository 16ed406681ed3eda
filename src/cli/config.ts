/**
 * Configuration for `peer-observer run`: a JSON file (`--config FILE`), then
 * PEER_OBSERVER_* environment variables, then flags; later layers win
 * (flags > env > file > defaults). The settings themselves — flag, variable,
 * key, schema, help, default — are declared once in settings/ and the layers
 * derived from them (settings/layers.ts); this module checks how settings
 * combine and builds the RunConfig the pipeline starts from.
 */
import { readFileSync } from 'node:fs';
import { NETWORKS } from '../protocol/networks.js';
import { loadAsmap, loadGeoipAsn, type AsnLookup } from '../http/asn.js';
import { loadIpList } from '../consumers/metrics/ip-lists.js';
import { DEFAULT_IP_LISTS, type IpList } from '../consumers/metrics/traffic.js';
import { bindRefusal } from '../http/server.js';
import { UsageError } from './errors.js';
import { buildDetectors } from '../consumers/detectors/index.js';
import { coreSourcesConfig, type CoreSourcesConfig } from './core-sources.js';
import { DEFAULTS, type ConfigLayer, type Endpoint } from './settings/index.js';
import { flagOf } from './settings/define.js';
import { mergeLayers, type FlagValues } from './settings/layers.js';
import { defaultNodeId } from './settings/node.js';
import { createHash } from 'node:crypto';
import type { StartAt } from '../bus/durable.js';
import { parseStreamFlags } from './stream-flags.js';

export type { Endpoint } from './settings/index.js';

/** A setting's value once given (its type as declared in settings/). */
type Value<K extends keyof ConfigLayer> = NonNullable<ConfigLayer[K]>;

export interface RunConfig {
  network: Value<'network'>;
  nodeId: string;
  listen: Endpoint[];
  connect: Endpoint[];
  json: boolean;
  limits: {
    maxConnections?: number;
    maxPerIp?: number;
    handshakeTimeoutMs?: number;
    maxPerNetgroup?: number;
    maxPendingHandshakes?: number;
  };
  /** NATS server URLs to publish to; empty: the embedded bus and the logger in this process. */
  nats: string[];
  /** How batches are encoded on NATS (docs/bus.md). */
  natsEncoding: Value<'natsEncoding'>;
  /** Archive every event in SQLite under this directory (embedded bus only); null: no archive. */
  archive: { dataDir: string; retentionDays?: number; maxDbMb?: number; foldRate?: number; freshIfDamaged?: boolean } | null;
  /** The HTTP server (/metrics, /api/*); null: none. A token, when set, is required on every request. */
  http: (Value<'http'> & { token?: string; asn?: AsnLookup; ipLists?: IpList[]; allowedHosts?: string[] }) | null;
  /** Sources watching a Bitcoin Core node (rpc, debug.log, USDT): src/cli/core-sources.ts. */
  core: CoreSourcesConfig;
  /** `auto` (JetStream when the server has it), `jetstream` or `core` (docs/bus.md). */
  natsMode: Value<'natsMode'>;
  /** The connectivity check (dials public addresses peers advertise); null: off. */
  connectivity: { allowLoopback: boolean } | null;
  /** Detectors and alerts (always on): the detectors config object (from --detectors-config) and webhook URLs. */
  detectors: { config: unknown; webhooks: string[] };
  /** BIP324 v2 transport (default on): advertise NODE_P2P_V2, serve v1 and v2 inbound, dial v2 first with Core's v1 fallback. */
  v2: boolean;
  /** `--mimic`: behave on the wire like the --rpc-url node (docs/mimic.md); null: the minimal node. Budgets in bytes. */
  mimic: { peerBudgetBytes?: number; globalBudgetBytes?: number; externalAddresses?: Endpoint[] } | null;
  /** `--collective`: share incidents with a collective and receive theirs (src/collective/member.ts); null: off. */
  collective: { servers: string[]; keyFile: string; trustFile: string; minMembers: number; windowMs: number } | null;
  /** `--no-p2p`: no p2p node (a consumer-only process over --nats, or Core sources only). */
  p2p: boolean;
  /** With --nats in JetStream mode: the in-process consumers' durable consumer, `run-<name>`, and where a new one starts. */
  stream: { consumer: string; start: StartAt };
}

export interface LoadOptions {
  flags: FlagValues;
  /** `--config` */
  configFile?: string;
  env?: NodeJS.ProcessEnv;
}

/** Merge the layers: flags > environment > file > defaults. */
export function loadRunConfig(options: LoadOptions): RunConfig {
  const merged = mergeLayers({
    flags: options.flags,
    env: options.env ?? process.env,
    ...(options.configFile !== undefined ? { configFile: options.configFile } : {}),
  });
  const network = merged.network ?? DEFAULTS.network;
  const connect = merged.connect ?? DEFAULTS.connect;
  // With nothing to do, listen on loopback at the network's port: never on a public address by default.
  const core = coreSourcesConfig(merged);
  // A node watched through rpc/log/usdt is work enough: no default p2p listener then.
  const watchesCore = core.rpc !== null || core.log !== null || core.usdt !== null;
  const mimic = mimicConfig(merged, core);
  const listen =
    merged.listen ??
    (connect.length === 0 && (!watchesCore || mimic) && merged.p2p !== false
      ? [{ host: '127.0.0.1', port: NETWORKS[network].defaultPort }]
      : []);
  const limits: RunConfig['limits'] = {};
  if (merged.maxConnections !== undefined) limits.maxConnections = merged.maxConnections;
  if (merged.maxPerIp !== undefined) limits.maxPerIp = merged.maxPerIp;
  if (merged.handshakeTimeout !== undefined) limits.handshakeTimeoutMs = Math.round(merged.handshakeTimeout * 1000);
  if (merged.maxPerNetgroup !== undefined) limits.maxPerNetgroup = merged.maxPerNetgroup;
  if (merged.maxPendingHandshakes !== undefined) limits.maxPendingHandshakes = merged.maxPendingHandshakes;
  const nats = merged.nats ?? DEFAULTS.nats;
  if (merged.dataDir === undefined) {
    const archiveOnly = (['retentionDays', 'maxDbMb', 'foldRate', 'freshIfDamaged'] as const).find((k) => merged[k] !== undefined);
    if (archiveOnly) throw new UsageError(`${flagOf(archiveOnly)} needs --data-dir (the archive it applies to)`);
  }
  if (merged.natsEncoding !== undefined && !nats.length) throw new UsageError('--nats-encoding needs --nats (the bus it applies to)');
  if (merged.natsMode !== undefined && !nats.length) throw new UsageError('--nats-mode needs --nats (the bus it applies to)');
  if (merged.dataDir !== undefined && nats.length) {
    throw new UsageError(
      '--data-dir archives in this process; with --nats, run `peer-observer archive --nats URL --data-dir DIR` as a consumer',
    );
  }
  const archive: RunConfig['archive'] =
    merged.dataDir === undefined
      ? null
      : {
          dataDir: merged.dataDir,
          ...(merged.retentionDays !== undefined ? { retentionDays: merged.retentionDays } : {}),
          ...(merged.maxDbMb !== undefined ? { maxDbMb: merged.maxDbMb } : {}),
          ...(merged.foldRate !== undefined ? { foldRate: merged.foldRate } : {}),
          ...(merged.freshIfDamaged ? { freshIfDamaged: true } : {}),
        };
  if (merged.httpToken !== undefined && merged.http === undefined)
    throw new UsageError('--http-token needs --http (the server it protects)');
  const http: RunConfig['http'] =
    merged.http === undefined ? null : { ...merged.http, ...(merged.httpToken !== undefined ? { token: merged.httpToken } : {}) };
  if (http) {
    const refusal = bindRefusal(http.host, http.token);
    if (refusal) throw new UsageError(refusal);
  }
  if (merged.httpAllowedHost !== undefined) {
    if (!http) throw new UsageError('--http-allowed-host needs --http (the server that answers to it)');
    http.allowedHosts = [...new Set(merged.httpAllowedHost)];
  }
  if (merged.asmap !== undefined || merged.geoipAsn !== undefined) {
    const flag = merged.asmap !== undefined ? '--asmap' : '--geoip-asn';
    if (!http) throw new UsageError(`${flag} needs --http (the dashboard shows connections by ASN)`);
    if (merged.asmap !== undefined && merged.geoipAsn !== undefined) throw new UsageError('give one of --asmap or --geoip-asn, not both');
    try {
      http.asn = merged.asmap !== undefined ? loadAsmap(merged.asmap) : loadGeoipAsn(merged.geoipAsn!);
    } catch (err) {
      throw new UsageError(err instanceof Error ? err.message.replace(/^asmap /, '--asmap ') : String(err));
    }
  }
  if (merged.ipList !== undefined && merged.ipList.length > 0) {
    if (!http) throw new UsageError('--ip-list needs --http (the metrics it counts for)');
    try {
      const lists = merged.ipList.map(loadIpList);
      http.ipLists = [...DEFAULT_IP_LISTS.filter((d) => !lists.some((l) => l.name === d.name)), ...lists];
    } catch (err) {
      throw new UsageError(err instanceof Error ? err.message : String(err));
    }
  }
  if (merged.connectivityAllowLoopback && !merged.connectivity) {
    throw new UsageError('--connectivity-allow-loopback needs --connectivity (the check it applies to)');
  }
  const connectivity: RunConfig['connectivity'] = merged.connectivity
    ? { allowLoopback: merged.connectivityAllowLoopback ?? DEFAULTS.connectivityAllowLoopback }
    : null;
  const detectors: RunConfig['detectors'] = {
    config: loadDetectorsConfig(merged.detectorsConfig),
    webhooks: merged.webhook ?? DEFAULTS.webhook,
  };
  return {
    network,
    nodeId: merged.nodeId ?? defaultNodeId(),
    listen,
    connect,
    json: merged.json ?? DEFAULTS.json,
    limits,
    nats,
    natsEncoding: merged.natsEncoding ?? DEFAULTS.natsEncoding,
    archive,
    http,
    core,
    connectivity,
    detectors,
    v2: merged.v2 ?? DEFAULTS.v2,
    natsMode: merged.natsMode ?? DEFAULTS.natsMode,
    mimic,
    collective: collectiveConfig(merged),
    ...consumeConfig(merged, nats, core),
  };
}

/**
 * `--no-p2p`, `--consumer-name`, `--since`: a process of consumers reads what
 * observers publish to NATS; in JetStream mode its consumers share a durable
 * consumer, `run-<name>` (default: the node id, made a valid name).
 */
function consumeConfig(merged: ConfigLayer, nats: string[], core: CoreSourcesConfig): Pick<RunConfig, 'p2p' | 'stream'> {
  const p2p = merged.p2p ?? DEFAULTS.p2p;
  if (!p2p) {
    const p2pOnly = (['listen', 'connect', 'mimic', 'maxConnections', 'maxPerIp', 'maxPerNetgroup', 'maxPendingHandshakes'] as const).find(
      (k) => merged[k] !== undefined && merged[k] !== false,
    );
    if (p2pOnly) throw new UsageError(`${flagOf(p2pOnly)} needs the p2p node (not --no-p2p)`);
    const watchesCore = core.rpc !== null || core.log !== null || core.usdt !== null;
    if (!nats.length && !watchesCore)
      throw new UsageError('--no-p2p needs --nats (consume what observers publish) or a Core source (--rpc-url, --debug-log, --usdt)');
  }
  for (const k of ['consumerName', 'since'] as const) {
    if (merged[k] !== undefined && !nats.length) throw new UsageError(`${flagOf(k)} needs --nats (the stream it reads)`);
  }
  const nodeId = merged.nodeId ?? defaultNodeId();
  const stream = parseStreamFlags(
    'run',
    {
      ...(merged.natsMode !== undefined ? { natsMode: merged.natsMode } : {}),
      consumerName: merged.consumerName ?? consumerNameOf(nodeId),
      ...(merged.since !== undefined ? { since: merged.since } : {}),
    },
    { kind: 'new' },
    {},
  );
  return { p2p, stream: { consumer: stream.consumer, start: stream.start } };
}

/** A node id as a consumer name: 1-32 of A-Za-z0-9_- (a longer id keeps its start and a hash of the whole). */
export function consumerNameOf(nodeId: string): string {
  const name = nodeId.replace(/[^A-Za-z0-9_-]/g, '_');
  if (name.length <= 32 && name === nodeId) return name;
  return `${name.slice(0, 23)}_${createHash('sha256').update(nodeId).digest('hex').slice(0, 8)}`;
}

/** `--collective` and what it needs: a key and a trust file (k and the window have defaults). */
function collectiveConfig(merged: ConfigLayer): RunConfig['collective'] {
  if (!merged.collective?.length) {
    const needs = (['collectiveKey', 'collectiveTrust', 'collectiveMinMembers', 'collectiveWindow'] as const).find(
      (k) => merged[k] !== undefined,
    );
    if (needs) throw new UsageError(`${flagOf(needs)} needs --collective (the collective's NATS)`);
    return null;
  }
  if (merged.collectiveKey === undefined)
    throw new UsageError('--collective needs --collective-key (our key: peer-observer collective keygen)');
  if (merged.collectiveTrust === undefined) throw new UsageError('--collective needs --collective-trust (the members and their keys)');
  return {
    servers: merged.collective,
    keyFile: merged.collectiveKey,
    trustFile: merged.collectiveTrust,
    minMembers: merged.collectiveMinMembers ?? DEFAULTS.collectiveMinMembers,
    windowMs: Math.round((merged.collectiveWindow ?? DEFAULTS.collectiveWindow) * 1000),
  };
}

/** `--mimic` and its budgets: the mimic needs the backend named by --rpc-url. */
function mimicConfig(merged: ConfigLayer, core: CoreSourcesConfig): RunConfig['mimic'] {
  const budget =
    merged.mimicPeerBudgetMb !== undefined
      ? '--mimic-peer-budget-mb'
      : merged.mimicGlobalBudgetMb !== undefined
        ? '--mimic-global-budget-mb'
        : undefined;
  if (!merged.mimic) {
    if (budget) throw new UsageError(`${budget} needs --mimic (the node whose block serving it bounds)`);
    // The minimal node does not advertise itself: it would draw honest peers to a node that serves nothing.
    if (merged.externalAddress?.length) throw new UsageError('--external-address needs --mimic (only the mimic advertises its address)');
    return null;
  }
  if (core.rpc === null)
    throw new UsageError('--mimic needs --rpc-url (and --rpc-cookie or --rpc-user/--rpc-password): the node to behave like');
  const mib = (n: number): number => Math.round(n * 1024 * 1024);
  return {
    ...(merged.mimicPeerBudgetMb !== undefined ? { peerBudgetBytes: mib(merged.mimicPeerBudgetMb) } : {}),
    ...(merged.mimicGlobalBudgetMb !== undefined ? { globalBudgetBytes: mib(merged.mimicGlobalBudgetMb) } : {}),
    ...(merged.externalAddress?.length ? { externalAddresses: merged.externalAddress } : {}),
  };
}

/** Read and validate `--detectors-config` (every detector's parameters checked now, not at start-up). */
export function loadDetectorsConfig(path: string | undefined): unknown {
  if (path === undefined) return {};
  let raw: unknown;
  try {
    raw = JSON.parse(readFileSync(path, 'utf8'));
  } catch (err) {
    throw new UsageError(`--detectors-config ${JSON.stringify(path)}: ${err instanceof Error ? err.message : String(err)}`);
  }
  try {
    buildDetectors(raw);
  } catch (err) {
    throw new UsageError(`--detectors-config ${JSON.stringify(path)}: ${err instanceof Error ? err.message : String(err)}`);
  }
  return raw;
}
