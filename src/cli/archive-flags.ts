/**
 * Flags shared by `archive`, `query` and `replay`: the data directory,
 * retention, and the archive filter (time range, peer, type, node, command,
 * limit). Each check throws a one-line UsageError naming the flag.
 */
import { ipFromString, ipToString, formatEndpoint, parseEndpoint } from '../protocol/address.js';
import { EVENT_TYPES, type EventType } from '../events/types.js';
import type { ArchiveFilter, PeerFilter } from '../consumers/archive/query.js';
import { UsageError } from './errors.js';
import { flagValue } from './settings/values.js';

const COMMAND = /^[\x21-\x7e]{1,12}$/;

function bad(flag: string, value: string, message: string): UsageError {
  return new UsageError(`${flag} ${JSON.stringify(value)}: ${message}`);
}

export function parseDataDir(value: string | undefined): string {
  if (value === undefined) throw new UsageError('--data-dir <dir> is required (the directory holding the archive)');
  return flagValue('dataDir', value);
}

/** A positive number (`min` < n ≤ `max`), as typed on the command line. */
export function parsePositive(flag: string, value: string, max: number, what: string): number {
  const n = /^\s*[0-9]+(\.[0-9]+)?\s*$/.test(value) ? Number(value) : NaN;
  if (!(n > 0 && n <= max)) throw bad(flag, value, `expected ${what} greater than 0 and at most ${max}`);
  return n;
}

export interface RetentionFlags {
  retentionDays?: string;
  maxDbMb?: string;
  foldRate?: string;
  freshIfDamaged?: boolean;
}

export { ARCHIVE_FLAG_HELP } from './settings/archive.js';

/** Retention and folding of `archive`, checked by the same rules as `run`'s settings (settings/archive.ts). */
export function parseRetention(flags: RetentionFlags): {
  retentionDays?: number;
  maxDbMb?: number;
  foldRate?: number;
  freshIfDamaged?: boolean;
} {
  return {
    ...(flags.retentionDays !== undefined ? { retentionDays: flagValue('retentionDays', flags.retentionDays) } : {}),
    ...(flags.maxDbMb !== undefined ? { maxDbMb: flagValue('maxDbMb', flags.maxDbMb) } : {}),
    ...(flags.foldRate !== undefined ? { foldRate: flagValue('foldRate', flags.foldRate) } : {}),
    ...(flags.freshIfDamaged ? { freshIfDamaged: true } : {}),
  };
}

const UNIT_US: Record<string, number> = { s: 1e6, m: 60e6, h: 3600e6, d: 86_400e6, w: 7 * 86_400e6 };
const ISO = /^(\d{4})-(\d{2})-(\d{2})(?:[T ](\d{2}):(\d{2})(?::(\d{2})(?:\.(\d{1,6}))?)?)?(Z|[+-]\d{2}:?\d{2})?$/i;

/**
 * A point in time in µs since the epoch: ISO 8601 (`2024-06-01`, `2024-06-01T12:00:00.123456Z`;
 * UTC when no zone is given) or relative to now (`-30s`, `-15m`, `-1h`, `-2d`, `-1w`).
 */
export function parseTime(flag: string, value: string, nowUs = Date.now() * 1000): number {
  const text = value.trim();
  const rel = /^-(\d+(?:\.\d+)?)([smhdw])$/.exec(text);
  if (rel) return Math.round(nowUs - Number(rel[1]) * UNIT_US[rel[2]!]!);
  const m = ISO.exec(text);
  const expected = 'expected an ISO 8601 time (2024-06-01T12:00:00Z) or a relative one (-30s, -15m, -1h, -2d, -1w)';
  if (!m) throw bad(flag, value, expected);
  const [, y, mo, d, h = '0', mi = '0', s = '0', frac = '', zone = 'Z'] = m;
  const ms = Date.UTC(Number(y), Number(mo) - 1, Number(d), Number(h), Number(mi), Number(s));
  const check = new Date(ms);
  if (
    Number.isNaN(ms) ||
    check.getUTCMonth() !== Number(mo) - 1 ||
    check.getUTCDate() !== Number(d) ||
    Number(h) > 23 ||
    Number(mi) > 59 ||
    Number(s) > 59
  ) {
    throw bad(flag, value, expected);
  }
  let offsetMin = 0;
  if (zone.toUpperCase() !== 'Z') {
    const z = /^([+-])(\d{2}):?(\d{2})$/.exec(zone)!;
    offsetMin = (z[1] === '-' ? -1 : 1) * (Number(z[2]) * 60 + Number(z[3]));
  }
  return (ms - offsetMin * 60_000) * 1000 + Number(frac.padEnd(6, '0'));
}

/** `IP` (any port) or `IP:PORT` (`[IPv6]:PORT`), in the canonical text the observer records. */
export function parsePeer(value: string): PeerFilter {
  const text = value.trim();
  const ipOnly =
    text.startsWith('[') && text.endsWith(']')
      ? text.slice(1, -1)
      : !text.startsWith('[') && (text.match(/:/g)?.length ?? 0) !== 1
        ? text
        : undefined;
  try {
    if (ipOnly !== undefined) return { ip: ipToString(ipFromString(ipOnly)) };
    const e = parseEndpoint(text);
    const ip = ipToString(ipFromString(e.host));
    return { ip, remote: formatEndpoint(ip, e.port) };
  } catch (err) {
    throw bad('--peer', value, `${(err as Error).message.replace(/ in ".*"| ".*"/, '')}; expected IP or IP:PORT ([IPv6]:PORT)`);
  }
}

export interface FilterFlags {
  since?: string;
  until?: string;
  peer?: string;
  type?: string[];
  nodeId?: string[];
  command?: string;
  limit?: string;
}

export function parseFilter(flags: FilterFlags, nowUs = Date.now() * 1000): ArchiveFilter {
  const filter: ArchiveFilter = {};
  if (flags.since !== undefined) filter.sinceUs = parseTime('--since', flags.since, nowUs);
  if (flags.until !== undefined) filter.untilUs = parseTime('--until', flags.until, nowUs);
  if (filter.sinceUs !== undefined && filter.untilUs !== undefined && filter.untilUs <= filter.sinceUs) {
    throw new UsageError(`--until ${JSON.stringify(flags.until)}: must be later than --since ${JSON.stringify(flags.since)}`);
  }
  if (flags.peer !== undefined) filter.peer = parsePeer(flags.peer);
  if (flags.type?.length) {
    filter.types = flags.type.map((t) => {
      if (!(EVENT_TYPES as readonly string[]).includes(t)) throw bad('--type', t, `expected one of ${EVENT_TYPES.join(', ')}`);
      return t as EventType;
    });
  }
  if (flags.nodeId?.length) {
    filter.nodeIds = flags.nodeId.map((id) => flagValue('nodeId', id));
  }
  if (flags.command !== undefined) {
    if (!COMMAND.test(flags.command))
      throw bad('--command', flags.command, 'expected a P2P command of 1-12 printable characters (e.g. addr)');
    filter.command = flags.command;
  }
  if (flags.limit !== undefined) {
    if (!/^\s*[0-9]+\s*$/.test(flags.limit) || Number(flags.limit) < 1) throw bad('--limit', flags.limit, 'expected a positive integer');
    filter.limit = Number(flags.limit);
  }
  return filter;
}
