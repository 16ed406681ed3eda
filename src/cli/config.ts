/**
 * Configuration for `peer-observer run`: a JSON file (`--config FILE`), then
 * PEER_OBSERVER_* environment variables, then flags; later layers win
 * (flags > env > file > defaults). Each layer is validated on its own, so an
 * error names where the bad value came from, in one line.
 */
import { readFileSync } from 'node:fs';
import { hostname } from 'node:os';
import { z } from 'zod';
import { parseEndpoint } from '../protocol/address.js';
import { NETWORK_NAMES, NETWORKS, type NetworkName } from '../protocol/networks.js';
import { UsageError } from './errors.js';

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
  limits: { maxConnections?: number; maxPerIp?: number; handshakeTimeoutMs?: number };
  /** NATS server URLs to publish to; empty: the embedded bus and the logger in this process. */
  nats: string[];
}

/** What each layer may set; every key is optional. */
export interface ConfigLayer {
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
  const shown = describeValue(value);
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
  const listen = merged.listen ?? (connect.length === 0 ? [{ host: '127.0.0.1', port: NETWORKS[network].defaultPort }] : []);
  const limits: RunConfig['limits'] = {};
  if (merged.maxConnections !== undefined) limits.maxConnections = merged.maxConnections;
  if (merged.maxPerIp !== undefined) limits.maxPerIp = merged.maxPerIp;
  if (merged.handshakeTimeout !== undefined) limits.handshakeTimeoutMs = Math.round(merged.handshakeTimeout * 1000);
  return {
    network,
    nodeId: merged.nodeId ?? defaultNodeId(),
    listen,
    connect,
    json: merged.json ?? false,
    limits,
    nats: merged.nats ?? [],
  };
}
