/**
 * Configuration for `peer-observer run`: a JSON file (`--config FILE`), then
 * PEER_OBSERVER_* environment variables, then flags; later layers win
 * (flags > env > file > defaults). Each layer is validated on its own, so an
 * error names where the bad value came from, in one line.
 */
import { NATS_MODES, type NatsMode } from '../bus/nats.js';
import { readFileSync } from 'node:fs';
import { hostname } from 'node:os';
import { z } from 'zod';
import { BATCH_ENCODINGS, type BatchEncoding } from '../bus/seq.js';
import { parseEndpoint } from '../protocol/address.js';
import { NETWORK_NAMES, NETWORKS, type NetworkName } from '../protocol/networks.js';
import { loadAsmap, loadGeoipAsn, type AsnLookup } from '../http/asn.js';
import { loadIpList } from '../consumers/metrics/ip-lists.js';
import { DEFAULT_IP_LISTS, type IpList } from '../consumers/metrics/traffic.js';
import { parseAllowedHost } from '../http/hosts.js';
import { bindRefusal } from '../http/server.js';
import { UsageError } from './errors.js';
import { buildDetectors } from '../consumers/detectors/index.js';
import { coreSourcesConfig, type CoreSourcesConfig } from './core-sources.js';
import { createHash } from 'node:crypto';
import type { StartAt } from '../bus/durable.js';
import { parseStreamFlags } from './stream-flags.js';

export interface Endpoint {
  host: string;
  port: number;
}

export interface RunConfig {
  network: NetworkName;
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
  natsEncoding: BatchEncoding;
  /** Archive every event in SQLite under this directory (embedded bus only); null: no archive. */
  archive: { dataDir: string; retentionDays?: number; maxDbMb?: number; foldRate?: number; freshIfDamaged?: boolean } | null;
  /** The HTTP server (/metrics, /api/*); null: none. A token, when set, is required on every request. */
  http: { host: string; port: number; token?: string; asn?: AsnLookup; ipLists?: IpList[]; allowedHosts?: string[] } | null;
  /** Sources watching a Bitcoin Core node (rpc, debug.log, USDT): src/cli/core-sources.ts. */
  core: CoreSourcesConfig;
  /** `auto` (JetStream when the server has it), `jetstream` or `core` (docs/bus.md). */
  natsMode: NatsMode;
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

/** What each layer may set; every key is optional. */
export interface ConfigLayer {
  /** JSON file of detector parameters and alert options (src/consumers/detectors/index.ts). */
  detectorsConfig?: string;
  /** Webhook URLs: a JSON POST per alert change. */
  webhook?: string[];
  network?: NetworkName;
  nodeId?: string;
  listen?: Endpoint[];
  connect?: Endpoint[];
  json?: boolean;
  maxConnections?: number;
  maxPerIp?: number;
  /** Seconds. */
  handshakeTimeout?: number;
  /** NATS server URLs (one server, or several of a cluster). */
  nats?: string[];
  /** `msgpack` (default) or `json`: how batches are encoded on NATS. */
  natsEncoding?: BatchEncoding;
  /** Archive directory. */
  dataDir?: string;
  /** Archive retention by age, days. */
  retentionDays?: number;
  /** Archive retention by size, MiB. */
  maxDbMb?: number;
  /** HTTP server `host:port` (or a port: loopback). */
  http?: Endpoint;
  /** Bearer token for the HTTP server. */
  httpToken?: string;
  /** IP→ASN for the dashboard: a Bitcoin Core asmap file, or a MaxMind-format ASN database. */
  asmap?: string;
  geoipAsn?: string;
  /** Bitcoin Core JSON-RPC URL (rpc source). */
  rpcUrl?: string;
  rpcCookie?: string;
  rpcUser?: string;
  rpcPassword?: string;
  /** Seconds between getpeerinfo polls, and between the node-wide polls. */
  rpcInterval?: number;
  rpcStatusInterval?: number;
  /** Bitcoin Core's debug.log (or a FIFO) to follow (log source). */
  debugLog?: string;
  /** Read debug.log from its start instead of only new lines. */
  debugLogFromStart?: boolean;
  /** Run bpftrace on bitcoind (usdt source) ... */
  usdt?: boolean;
  bitcoindPid?: number;
  /** ... or read the bpftrace script's output from this file/FIFO. */
  usdtInput?: string;
  /** Try the addresses peers advertise (outbound connections to public addresses). */
  connectivity?: boolean;
  /** Let the connectivity check dial 127.0.0.0/8 (for testing). */
  connectivityAllowLoopback?: boolean;
  /** Inbound peers from one netgroup (IPv4 /16, IPv6 /32). */
  maxPerNetgroup?: number;
  /** Inbound connections in their handshake at once; past it the least advanced is evicted. */
  maxPendingHandshakes?: number;
  /** IP lists for the metrics (`NAME=FILE`): their peers' connections, messages and bytes counted apart. */
  ipList?: string[];
  /** Host names the HTTP server answers to besides loopback and its bind address (DNS rebinding: src/http/hosts.ts). */
  httpAllowedHost?: string[];
  /** Archive: tokens per second per stream before like events are folded into counted aggregates; 0: never. */
  foldRate?: number;
  /** Archive: a damaged file is moved aside and a fresh one started instead of refused. */
  freshIfDamaged?: boolean;
  /** BIP324 v2 transport (default true; `--no-v2` turns it off). */
  v2?: boolean;
  /** Behave like the --rpc-url node on the wire. */
  mimic?: boolean;
  /** With --mimic: block bytes one peer / all peers may be sent per 24 h, MiB. */
  mimicPeerBudgetMb?: number;
  mimicGlobalBudgetMb?: number;
  /** `auto` (default), `jetstream` or `core`: how events are published on NATS. */
  natsMode?: NatsMode;
  /** The collective's NATS URLs (docs/collective.md). */
  collective?: string[];
  /** Our Ed25519 private key (`collective keygen`). */
  collectiveKey?: string;
  /** The trust file, collective.json. */
  collectiveTrust?: string;
  /** k: the weight of distinct members reporting a netgroup or ASN that makes a collective incident (each weighs 1 unless the trust file says; default 2). */
  collectiveMinMembers?: number;
  /** Seconds within which those reports count together (default 600). */
  collectiveWindow?: number;
  /** With --mimic: our own addresses, advertised to peers as Core's -externalip (repeatable). */
  externalAddress?: Endpoint[];
  /** false (`--no-p2p`): no p2p node; with --nats, a process of consumers only. */
  p2p?: boolean;
  /** With --nats (JetStream): the durable consumer is `run-<consumerName>` (default: the node id). */
  consumerName?: string;
  /** With --nats (JetStream): where a new durable consumer starts: start, new (default) or a time. */
  since?: string;
}

type Key = keyof ConfigLayer;
type Kind = 'string' | 'list' | 'boolean' | 'number';

/** Every setting, its flag and environment variable, and how to read it from text. */
const FIELDS: Record<Key, { flag: string; env: string; kind: Kind }> = {
  network: { flag: '--network', env: 'PEER_OBSERVER_NETWORK', kind: 'string' },
  nodeId: { flag: '--node-id', env: 'PEER_OBSERVER_NODE_ID', kind: 'string' },
  listen: { flag: '--listen', env: 'PEER_OBSERVER_LISTEN', kind: 'list' },
  connect: { flag: '--connect', env: 'PEER_OBSERVER_CONNECT', kind: 'list' },
  json: { flag: '--json', env: 'PEER_OBSERVER_JSON', kind: 'boolean' },
  maxConnections: { flag: '--max-connections', env: 'PEER_OBSERVER_MAX_CONNECTIONS', kind: 'number' },
  maxPerIp: { flag: '--max-per-ip', env: 'PEER_OBSERVER_MAX_PER_IP', kind: 'number' },
  handshakeTimeout: { flag: '--handshake-timeout', env: 'PEER_OBSERVER_HANDSHAKE_TIMEOUT', kind: 'number' },
  nats: { flag: '--nats', env: 'PEER_OBSERVER_NATS', kind: 'list' },
  natsEncoding: { flag: '--nats-encoding', env: 'PEER_OBSERVER_NATS_ENCODING', kind: 'string' },
  dataDir: { flag: '--data-dir', env: 'PEER_OBSERVER_DATA_DIR', kind: 'string' },
  retentionDays: { flag: '--retention-days', env: 'PEER_OBSERVER_RETENTION_DAYS', kind: 'number' },
  maxDbMb: { flag: '--max-db-mb', env: 'PEER_OBSERVER_MAX_DB_MB', kind: 'number' },
  http: { flag: '--http', env: 'PEER_OBSERVER_HTTP', kind: 'string' },
  httpToken: { flag: '--http-token', env: 'PEER_OBSERVER_HTTP_TOKEN', kind: 'string' },
  asmap: { flag: '--asmap', env: 'PEER_OBSERVER_ASMAP', kind: 'string' },
  geoipAsn: { flag: '--geoip-asn', env: 'PEER_OBSERVER_GEOIP_ASN', kind: 'string' },
  rpcUrl: { flag: '--rpc-url', env: 'PEER_OBSERVER_RPC_URL', kind: 'string' },
  rpcCookie: { flag: '--rpc-cookie', env: 'PEER_OBSERVER_RPC_COOKIE', kind: 'string' },
  rpcUser: { flag: '--rpc-user', env: 'PEER_OBSERVER_RPC_USER', kind: 'string' },
  rpcPassword: { flag: '--rpc-password', env: 'PEER_OBSERVER_RPC_PASSWORD', kind: 'string' },
  rpcInterval: { flag: '--rpc-interval', env: 'PEER_OBSERVER_RPC_INTERVAL', kind: 'number' },
  rpcStatusInterval: { flag: '--rpc-status-interval', env: 'PEER_OBSERVER_RPC_STATUS_INTERVAL', kind: 'number' },
  debugLog: { flag: '--debug-log', env: 'PEER_OBSERVER_DEBUG_LOG', kind: 'string' },
  debugLogFromStart: { flag: '--debug-log-from-start', env: 'PEER_OBSERVER_DEBUG_LOG_FROM_START', kind: 'boolean' },
  usdt: { flag: '--usdt', env: 'PEER_OBSERVER_USDT', kind: 'boolean' },
  bitcoindPid: { flag: '--bitcoind-pid', env: 'PEER_OBSERVER_BITCOIND_PID', kind: 'number' },
  usdtInput: { flag: '--usdt-input', env: 'PEER_OBSERVER_USDT_INPUT', kind: 'string' },
  connectivity: { flag: '--connectivity', env: 'PEER_OBSERVER_CONNECTIVITY', kind: 'boolean' },
  detectorsConfig: { flag: '--detectors-config', env: 'PEER_OBSERVER_DETECTORS_CONFIG', kind: 'string' },
  webhook: { flag: '--webhook', env: 'PEER_OBSERVER_WEBHOOK', kind: 'list' },
  connectivityAllowLoopback: {
    flag: '--connectivity-allow-loopback',
    env: 'PEER_OBSERVER_CONNECTIVITY_ALLOW_LOOPBACK',
    kind: 'boolean',
  },
  maxPerNetgroup: { flag: '--max-per-netgroup', env: 'PEER_OBSERVER_MAX_PER_NETGROUP', kind: 'number' },
  maxPendingHandshakes: { flag: '--max-pending-handshakes', env: 'PEER_OBSERVER_MAX_PENDING_HANDSHAKES', kind: 'number' },
  ipList: { flag: '--ip-list', env: 'PEER_OBSERVER_IP_LIST', kind: 'list' },
  httpAllowedHost: { flag: '--http-allowed-host', env: 'PEER_OBSERVER_HTTP_ALLOWED_HOST', kind: 'list' },
  foldRate: { flag: '--fold-rate', env: 'PEER_OBSERVER_FOLD_RATE', kind: 'number' },
  freshIfDamaged: { flag: '--fresh-if-damaged', env: 'PEER_OBSERVER_FRESH_IF_DAMAGED', kind: 'boolean' },
  v2: { flag: '--v2', env: 'PEER_OBSERVER_V2', kind: 'boolean' },
  mimic: { flag: '--mimic', env: 'PEER_OBSERVER_MIMIC', kind: 'boolean' },
  mimicPeerBudgetMb: { flag: '--mimic-peer-budget-mb', env: 'PEER_OBSERVER_MIMIC_PEER_BUDGET_MB', kind: 'number' },
  mimicGlobalBudgetMb: { flag: '--mimic-global-budget-mb', env: 'PEER_OBSERVER_MIMIC_GLOBAL_BUDGET_MB', kind: 'number' },
  natsMode: { flag: '--nats-mode', env: 'PEER_OBSERVER_NATS_MODE', kind: 'string' },
  collective: { flag: '--collective', env: 'PEER_OBSERVER_COLLECTIVE', kind: 'list' },
  collectiveKey: { flag: '--collective-key', env: 'PEER_OBSERVER_COLLECTIVE_KEY', kind: 'string' },
  collectiveTrust: { flag: '--collective-trust', env: 'PEER_OBSERVER_COLLECTIVE_TRUST', kind: 'string' },
  collectiveMinMembers: { flag: '--collective-min-members', env: 'PEER_OBSERVER_COLLECTIVE_MIN_MEMBERS', kind: 'number' },
  collectiveWindow: { flag: '--collective-window', env: 'PEER_OBSERVER_COLLECTIVE_WINDOW', kind: 'number' },
  externalAddress: { flag: '--external-address', env: 'PEER_OBSERVER_EXTERNAL_ADDRESS', kind: 'list' },
  p2p: { flag: '--p2p', env: 'PEER_OBSERVER_P2P', kind: 'boolean' },
  consumerName: { flag: '--consumer-name', env: 'PEER_OBSERVER_CONSUMER_NAME', kind: 'string' },
  since: { flag: '--since', env: 'PEER_OBSERVER_SINCE', kind: 'string' },
};

/** The environment variable naming the config file (the `--config` flag wins over it). */
export const CONFIG_ENV = 'PEER_OBSERVER_CONFIG';

const NODE_ID = /^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$/;

function endpoint(opts: { allowPortZero: boolean }) {
  return z.string().transform((text, ctx): Endpoint => {
    try {
      // Port 0 (any free port) makes sense for a listener only; parseEndpoint wants 1-65535.
      const zero = opts.allowPortZero && /:0+$/.test(text.trim());
      return parseEndpoint(zero ? text.trim().replace(/:0+$/, '') : text, zero ? 0 : undefined);
    } catch (err) {
      ctx.addIssue({ code: z.ZodIssueCode.custom, message: err instanceof Error ? err.message : String(err) });
      return z.NEVER;
    }
  });
}

/**
 * A NATS server URL: `nats://host:port`, `tls://host:port`, or `host[:port]`
 * (taken as nats://, port 4222 when omitted). Returned normalised.
 */
export function parseNatsUrl(text: string): string {
  const trimmed = text.trim();
  const withScheme = /^[a-z][a-z0-9+.-]*:\/\//i.test(trimmed) ? trimmed : `nats://${trimmed}`;
  let url: URL;
  try {
    url = new URL(withScheme);
  } catch {
    throw new Error('expected a NATS URL like nats://host:4222');
  }
  if (url.protocol !== 'nats:' && url.protocol !== 'tls:') throw new Error(`expected a nats:// or tls:// URL, not ${url.protocol}//`);
  if (!url.hostname) throw new Error('expected a NATS URL like nats://host:4222');
  if (url.pathname !== '' && url.pathname !== '/') throw new Error('expected a NATS URL without a path, like nats://host:4222');
  const auth = url.username ? `${url.username}${url.password ? `:${url.password}` : ''}@` : '';
  return `${url.protocol}//${auth}${url.host}`;
}

const natsUrl = z.string().transform((text, ctx): string => {
  try {
    return parseNatsUrl(text);
  } catch (err) {
    ctx.addIssue({ code: z.ZodIssueCode.custom, message: err instanceof Error ? err.message : String(err) });
    return z.NEVER;
  }
});

const int = (max: number) =>
  z
    .number({ invalid_type_error: `expected an integer from 1 to ${max}` })
    .int(`expected an integer from 1 to ${max}`)
    .min(1, `expected an integer from 1 to ${max}`)
    .max(max, `expected an integer from 1 to ${max}`);

/** `--http`: `host:port`, `[v6]:port`, or a bare port (on 127.0.0.1); port 0 takes a free one. */
const httpEndpoint = z.string().transform((text, ctx): Endpoint => {
  const t = text.trim();
  if (/^[0-9]+$/.test(t)) {
    const port = Number(t);
    if (port <= 65535) return { host: '127.0.0.1', port };
  } else {
    const m = /^(?:\[([0-9a-fA-F:.]+)\]|([^:\s]+)):([0-9]+)$/.exec(t);
    if (m && Number(m[3]) <= 65535) return { host: m[1] ?? m[2]!, port: Number(m[3]) };
  }
  ctx.addIssue({ code: z.ZodIssueCode.custom, message: 'expected "host:port", "[ipv6]:port" or a port from 0 to 65535' });
  return z.NEVER;
});

/** `--http-allowed-host`: a host name or IP address, no port; kept canonical (lower case, no trailing dot). */
const allowedHost = z.string({ invalid_type_error: 'expected a host name' }).transform((text, ctx): string => {
  try {
    return parseAllowedHost(text);
  } catch (err) {
    ctx.addIssue({ code: z.ZodIssueCode.custom, message: err instanceof Error ? err.message : String(err) });
    return z.NEVER;
  }
});

const path = z.string({ invalid_type_error: 'expected a file path' }).trim().min(1, 'expected a file path');
const seconds = z
  .number({ invalid_type_error: 'expected a number of seconds' })
  .min(0.01, 'expected a number of seconds from 0.01 to 86400')
  .max(86_400, 'expected a number of seconds from 0.01 to 86400');

/** The schema of one layer, and of the config file (which may not have unknown keys). */
export const LayerSchema = z
  .object({
    network: z.enum(NETWORK_NAMES, { errorMap: () => ({ message: `expected one of ${NETWORK_NAMES.join(', ')}` }) }),
    nodeId: z.string({ invalid_type_error: 'expected a string' }).regex(NODE_ID, 'expected 1-64 letters, digits, ".", "_" or "-"'),
    listen: z.array(endpoint({ allowPortZero: true }), { invalid_type_error: 'expected a list of "host:port"' }),
    connect: z.array(endpoint({ allowPortZero: false }), { invalid_type_error: 'expected a list of "host:port"' }),
    json: z.boolean({ invalid_type_error: 'expected true or false' }),
    maxConnections: int(1_000_000),
    maxPerIp: int(1_000_000),
    handshakeTimeout: z
      .number({ invalid_type_error: 'expected a number of seconds' })
      .min(0.001, 'expected a number of seconds from 0.001 to 86400')
      .max(86_400, 'expected a number of seconds from 0.001 to 86400'),
    nats: z.array(natsUrl, { invalid_type_error: 'expected a list of NATS URLs' }),
    natsEncoding: z.enum(BATCH_ENCODINGS as [BatchEncoding, ...BatchEncoding[]], {
      errorMap: () => ({ message: `expected one of ${BATCH_ENCODINGS.join(', ')}` }),
    }),
    dataDir: z.string({ invalid_type_error: 'expected a directory' }).trim().min(1, 'expected a directory'),
    retentionDays: z
      .number({ invalid_type_error: 'expected a number of days greater than 0' })
      .positive('expected a number of days greater than 0')
      .max(100_000, 'expected a number of days greater than 0'),
    maxDbMb: z
      .number({ invalid_type_error: 'expected a number of MiB (0: no cap)' })
      .nonnegative('expected a number of MiB (0: no cap)')
      .max(100_000_000, 'expected a number of MiB up to 100000000 (0: no cap)'),
    http: z.string({ invalid_type_error: 'expected "host:port" or a port' }).pipe(httpEndpoint),
    httpToken: z
      .string({ invalid_type_error: 'expected a token' })
      .regex(/^[\x21-\x7e]{16,256}$/, 'expected 16 to 256 printable characters without spaces'),
    rpcUrl: z
      .string({ invalid_type_error: 'expected an http:// URL' })
      .refine((u) => URL.canParse(u) && new URL(u).protocol === 'http:', 'expected an http:// URL like http://127.0.0.1:8332'),
    asmap: path,
    geoipAsn: path,
    rpcCookie: path,
    rpcUser: z.string({ invalid_type_error: 'expected a user name' }).min(1, 'expected a user name').max(1024),
    rpcPassword: z.string({ invalid_type_error: 'expected a password' }).min(1, 'expected a password').max(1024),
    rpcInterval: seconds,
    rpcStatusInterval: seconds,
    debugLog: path,
    debugLogFromStart: z.boolean({ invalid_type_error: 'expected true or false' }),
    usdt: z.boolean({ invalid_type_error: 'expected true or false' }),
    bitcoindPid: int(4_194_304),
    usdtInput: path,
    connectivity: z.boolean({ invalid_type_error: 'expected true or false' }),
    connectivityAllowLoopback: z.boolean({ invalid_type_error: 'expected true or false' }),
    v2: z.boolean({ invalid_type_error: 'expected true or false' }),
    detectorsConfig: z.string({ invalid_type_error: 'expected a file' }).trim().min(1, 'expected a file'),
    webhook: z.array(
      z
        .string({ invalid_type_error: 'expected an http(s):// URL' })
        .refine((u) => URL.canParse(u) && /^https?:$/.test(new URL(u).protocol), 'expected an http:// or https:// URL'),
      { invalid_type_error: 'expected a list of URLs' },
    ),
    maxPerNetgroup: int(1_000_000),
    maxPendingHandshakes: int(1_000_000),
    ipList: z
      .array(z.string({ invalid_type_error: 'expected NAME=FILE' }), { invalid_type_error: 'expected a list of NAME=FILE' })
      .max(16, 'at most 16 lists'),
    httpAllowedHost: z.array(allowedHost, { invalid_type_error: 'expected a list of host names' }),
    foldRate: z
      .number({ invalid_type_error: 'expected a number of events per second (0: never fold)' })
      .nonnegative('expected a number of events per second (0: never fold)')
      .max(1_000_000, 'expected a number of events per second up to 1000000 (0: never fold)'),
    freshIfDamaged: z.boolean({ invalid_type_error: 'expected true or false' }),
    mimic: z.boolean({ invalid_type_error: 'expected true or false' }),
    mimicPeerBudgetMb: z
      .number({ invalid_type_error: 'expected a number of MiB greater than 0' })
      .positive('expected a number of MiB greater than 0')
      .max(100_000_000, 'expected a number of MiB greater than 0'),
    mimicGlobalBudgetMb: z
      .number({ invalid_type_error: 'expected a number of MiB greater than 0' })
      .positive('expected a number of MiB greater than 0')
      .max(100_000_000, 'expected a number of MiB greater than 0'),
    natsMode: z.enum(NATS_MODES as [NatsMode, ...NatsMode[]], {
      errorMap: () => ({ message: `expected one of ${NATS_MODES.join(', ')}` }),
    }),
    collective: z.array(natsUrl, { invalid_type_error: 'expected a list of NATS URLs' }).min(1, 'expected a NATS URL'),
    collectiveKey: path,
    collectiveTrust: path,
    collectiveMinMembers: int(1000),
    collectiveWindow: seconds,
    externalAddress: z
      .array(endpoint({ allowPortZero: false }), { invalid_type_error: 'expected a list of "host:port"' })
      .max(16, 'at most 16 addresses'),
    p2p: z.boolean({ invalid_type_error: 'expected true or false' }),
    consumerName: z
      .string({ invalid_type_error: 'expected a name' })
      .regex(/^[A-Za-z0-9_-]{1,32}$/, 'expected 1-32 letters, digits, "_" or "-"'),
    since: z.string({ invalid_type_error: 'expected start, new or a time' }).min(1, 'expected start, new or a time'),
  })
  .partial()
  .strict();

/** Text (from a flag or the environment) to the type the schema expects; left alone when it does not parse. */
function fromText(kind: Kind, text: string): unknown {
  switch (kind) {
    case 'string':
      return text;
    case 'list':
      return text
        .split(',')
        .map((s) => s.trim())
        .filter((s) => s !== '');
    case 'boolean':
      if (/^(1|true|yes|on)$/i.test(text)) return true;
      if (/^(0|false|no|off)$/i.test(text)) return false;
      return text;
    case 'number':
      return /^\s*[0-9]+(\.[0-9]+)?\s*$/.test(text) ? Number(text) : text;
  }
}

function describeValue(v: unknown): string {
  return typeof v === 'string' ? JSON.stringify(v) : (JSON.stringify(v) ?? String(v));
}

/** Validate one layer; `label` names a key as its source spells it. */
function validate(
  raw: Record<string, unknown>,
  label: (key: Key, index?: number) => string,
  typed: Record<string, unknown> = raw,
): ConfigLayer {
  const result = LayerSchema.safeParse(raw);
  if (result.success) return result.data;
  const issue = result.error.issues[0]!;
  if (issue.code === z.ZodIssueCode.unrecognized_keys)
    throw new UsageError(`${label('' as Key)}unknown key ${JSON.stringify(issue.keys[0])}`);
  const key = issue.path[0] as Key;
  const index = typeof issue.path[1] === 'number' ? issue.path[1] : undefined;
  let value: unknown = typed[key];
  if (index !== undefined && Array.isArray(value)) value = value[index];
  // A secret is never echoed, even a malformed one.
  const shown = key === 'httpToken' || key === 'rpcPassword' ? '(hidden)' : describeValue(value);
  // parseEndpoint's messages quote the value themselves: say it once.
  const message = issue.message.replace(` in ${shown}`, '').replace(`address ${shown}`, 'address');
  throw new UsageError(`${label(key, index)} ${shown}: ${message}`);
}

/** Flags as commander hands them over (strings, string lists, booleans). */
export type FlagValues = Partial<Record<Key, string | string[] | boolean>>;

export function layerFromFlags(flags: FlagValues): ConfigLayer {
  const raw: Record<string, unknown> = {};
  for (const [key, value] of Object.entries(flags) as [Key, string | string[] | boolean | undefined][]) {
    if (value === undefined || !(key in FIELDS)) continue;
    const { kind } = FIELDS[key];
    if (Array.isArray(value)) raw[key] = value;
    else raw[key] = typeof value === 'string' ? fromText(kind, value) : value;
  }
  // Flags are checked one value at a time so the message can quote exactly what was typed.
  for (const [key, value] of Object.entries(raw) as [Key, unknown][]) {
    if (Array.isArray(value)) {
      value.forEach((v) => validate({ [key]: [v] }, () => FIELDS[key].flag));
    }
  }
  return validate(raw, (key) => (key ? FIELDS[key].flag : 'flags: '), flags);
}

export function layerFromEnv(env: NodeJS.ProcessEnv): ConfigLayer {
  const raw: Record<string, unknown> = {};
  const typed: Record<string, unknown> = {};
  const byEnv = new Map(Object.entries(FIELDS).map(([key, f]) => [f.env, key as Key]));
  for (const [name, value] of Object.entries(env)) {
    if (!name.startsWith('PEER_OBSERVER_') || value === undefined || name === CONFIG_ENV) continue;
    const key = byEnv.get(name);
    if (!key) throw new UsageError(`unknown environment variable ${name} (known: ${[...byEnv.keys(), CONFIG_ENV].join(', ')})`);
    raw[key] = fromText(FIELDS[key].kind, value);
    typed[key] = value;
  }
  return validate(raw, (key) => (key ? FIELDS[key].env : 'environment: '), typed);
}

export function layerFromFile(path: string, label = '--config'): ConfigLayer {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    const why =
      code === 'ENOENT' ? 'no such file' : code === 'EACCES' ? 'permission denied' : code === 'EISDIR' ? 'is a directory' : String(code);
    throw new UsageError(`${label} ${JSON.stringify(path)}: cannot read: ${why}`);
  }
  let raw: unknown;
  try {
    raw = JSON.parse(text);
  } catch (err) {
    throw new UsageError(`config file ${JSON.stringify(path)}: invalid JSON: ${err instanceof Error ? err.message : String(err)}`);
  }
  if (typeof raw !== 'object' || raw === null || Array.isArray(raw)) {
    throw new UsageError(`config file ${JSON.stringify(path)}: expected a JSON object`);
  }
  return validate(raw as Record<string, unknown>, (key, index) =>
    key ? `config file ${JSON.stringify(path)}: ${key}${index !== undefined ? `[${index}]` : ''}` : `config file ${JSON.stringify(path)}: `,
  );
}

/** A node id from the host name, made valid (the default for `--node-id`). */
export function defaultNodeId(): string {
  const id = hostname()
    .replace(/[^A-Za-z0-9._-]/g, '-')
    .replace(/^[^A-Za-z0-9]+/, '')
    .slice(0, 64);
  return id || 'observer';
}

export interface LoadOptions {
  flags: FlagValues;
  /** `--config` */
  configFile?: string;
  env?: NodeJS.ProcessEnv;
}

/** Merge the layers: flags > environment > file > defaults. */
export function loadRunConfig(options: LoadOptions): RunConfig {
  const env = options.env ?? process.env;
  const flags = layerFromFlags(options.flags);
  const fromEnv = layerFromEnv(env);
  const fileName = options.configFile ?? env[CONFIG_ENV];
  const file = fileName !== undefined ? layerFromFile(fileName, options.configFile !== undefined ? '--config' : CONFIG_ENV) : {};
  const merged: ConfigLayer = { ...file, ...fromEnv, ...flags };
  const network = merged.network ?? 'mainnet';
  const connect = merged.connect ?? [];
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
  const nats = merged.nats ?? [];
  if (merged.dataDir === undefined) {
    const archiveOnly = (['retentionDays', 'maxDbMb', 'foldRate', 'freshIfDamaged'] as const).find((k) => merged[k] !== undefined);
    if (archiveOnly) throw new UsageError(`${FIELDS[archiveOnly].flag} needs --data-dir (the archive it applies to)`);
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
  const connectivity: RunConfig['connectivity'] = merged.connectivity ? { allowLoopback: merged.connectivityAllowLoopback ?? false } : null;
  const detectors: RunConfig['detectors'] = { config: loadDetectorsConfig(merged.detectorsConfig), webhooks: merged.webhook ?? [] };
  return {
    network,
    nodeId: merged.nodeId ?? defaultNodeId(),
    listen,
    connect,
    json: merged.json ?? false,
    limits,
    nats,
    natsEncoding: merged.natsEncoding ?? 'msgpack',
    archive,
    http,
    core,
    connectivity,
    detectors,
    v2: merged.v2 ?? true,
    natsMode: merged.natsMode ?? 'auto',
    mimic,
    collective: collectiveConfig(merged),
    ...consumeConfig(merged, nats, core),
  };
}

/** `--collective` and what it needs: a key and a trust file (k and the window have defaults). */
function collectiveConfig(merged: ConfigLayer): RunConfig['collective'] {
  if (!merged.collective?.length) {
    const needs = (['collectiveKey', 'collectiveTrust', 'collectiveMinMembers', 'collectiveWindow'] as const).find(
      (k) => merged[k] !== undefined,
    );
    if (needs) throw new UsageError(`${FIELDS[needs].flag} needs --collective (the collective's NATS)`);
    return null;
  }
  if (merged.collectiveKey === undefined)
    throw new UsageError('--collective needs --collective-key (our key: peer-observer collective keygen)');
  if (merged.collectiveTrust === undefined) throw new UsageError('--collective needs --collective-trust (the members and their keys)');
  return {
    servers: merged.collective,
    keyFile: merged.collectiveKey,
    trustFile: merged.collectiveTrust,
    minMembers: merged.collectiveMinMembers ?? 2,
    windowMs: Math.round((merged.collectiveWindow ?? 600) * 1000),
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

/**
 * `--no-p2p`, `--consumer-name`, `--since`: a process of consumers reads what
 * observers publish to NATS; in JetStream mode its consumers share a durable
 * consumer, `run-<name>` (default: the node id, made a valid name).
 */
function consumeConfig(merged: ConfigLayer, nats: string[], core: CoreSourcesConfig): Pick<RunConfig, 'p2p' | 'stream'> {
  const p2p = merged.p2p ?? true;
  if (!p2p) {
    const p2pOnly = (['listen', 'connect', 'mimic', 'maxConnections', 'maxPerIp', 'maxPerNetgroup', 'maxPendingHandshakes'] as const).find(
      (k) => merged[k] !== undefined && merged[k] !== false,
    );
    if (p2pOnly) throw new UsageError(`${FIELDS[p2pOnly].flag} needs the p2p node (not --no-p2p)`);
    const watchesCore = core.rpc !== null || core.log !== null || core.usdt !== null;
    if (!nats.length && !watchesCore)
      throw new UsageError('--no-p2p needs --nats (consume what observers publish) or a Core source (--rpc-url, --debug-log, --usdt)');
  }
  for (const k of ['consumerName', 'since'] as const) {
    if (merged[k] !== undefined && !nats.length) throw new UsageError(`${FIELDS[k].flag} needs --nats (the stream it reads)`);
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
