/**
 * Bitcoin Core debug.log lines → records. Pure: no state, no I/O.
 *
 * A line is `TIMESTAMP [thread] [category] message`: the timestamp is ISO 8601
 * with or without microseconds (-logtimemicros); `[thread]` is there with
 * -logthreadnames; `[category]` (`[net]`, `[validation]`, `[net:warning]`, ...)
 * on categorised lines. A single bracket group is ambiguous (a thread name, or
 * a category without thread names): the caller says which once it has seen a
 * line with two groups (`threadNames`). Messages are matched by the formats of
 * Bitcoin Core 0.21 to 30 (-logips adds ` peeraddr=...`, which is optional
 * everywhere).
 */

export interface LogLine {
  /** Microseconds since the epoch; null when the line has no timestamp. */
  timeUs: number | null;
  thread: string | null;
  /** `none` for uncategorised lines. */
  category: string;
  message: string;
}

export type LogRecord =
  | { kind: 'message'; dir: 'in' | 'out'; command: string; size: number; peer: number }
  | { kind: 'added'; peer: number; addr: string | null }
  | { kind: 'accepted'; addr: string }
  | { kind: 'version'; peer: number; userAgent: string; version: number; blocks: number; us: string; relay: boolean; addr: string | null }
  | { kind: 'connected'; peer: number; connType: string; transport: string; version: number; blocks: number; addr: string | null }
  | { kind: 'disconnecting'; peer: number; why: string; addr: string | null }
  | { kind: 'cleared'; peer: number }
  | { kind: 'addr'; peer: number; addresses: number; processed: number; rateLimited: number }
  | { kind: 'header-error'; peer: number; error: string; command: string | null; size: number | null; detail: string }
  | { kind: 'misbehaving'; peer: number; detail: string }
  /** net_processing's ProcessMessage "pong peer=N: <problem>, ..." (Core ignores the pong). */
  | { kind: 'bad-pong'; peer: number; problem: string; detail: string }
  /** ProcessMessages' "ProcessMessages(<type>, N bytes): Exception '...' caught": a payload Core could not read. */
  | { kind: 'payload-exception'; command: string; size: number; detail: string }
  | { kind: 'unknown-command'; peer: number; command: string }
  | { kind: 'tip'; hash: string; height: number }
  | { kind: 'mempool-accepted'; peer: number | null; txid: string; wtxid: string | null }
  | { kind: 'mempool-rejected'; peer: number | null; txid: string; wtxid: string | null; reason: string }
  /** A line we know and that carries nothing an event needs (its facts come from another line). */
  | { kind: 'known' };

const TS = /^(\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2})(?:\.(\d{1,6}))?Z /;
const GROUP = /^\[([^\]\s]{1,64})\] /;

/** Split a line into timestamp, thread, category and message; null for a line that is not Core's log format. */
export function splitLine(line: string, threadNames: boolean | undefined): (LogLine & { groups: number }) | null {
  const ts = TS.exec(line);
  let rest = line;
  let timeUs: number | null = null;
  if (ts) {
    const ms = Date.parse(`${ts[1]}Z`);
    if (Number.isNaN(ms)) return null;
    timeUs = ms * 1000 + (ts[2] ? Number(ts[2].padEnd(6, '0')) : 0);
    rest = line.slice(ts[0].length);
  } else {
    return null;
  }
  const groups: string[] = [];
  for (let i = 0; i < 2; i++) {
    const g = GROUP.exec(rest);
    if (!g) break;
    groups.push(g[1]!);
    rest = rest.slice(g[0].length);
  }
  let thread: string | null = null;
  let category = 'none';
  if (groups.length === 2) {
    thread = groups[0]!;
    category = groups[1]!;
  } else if (groups.length === 1) {
    if (threadNames === true) thread = groups[0]!;
    else category = groups[0]!;
  }
  // `[net:warning]`: the category without its level.
  const colon = category.indexOf(':');
  if (colon > 0) category = category.slice(0, colon);
  return { timeUs, thread, category, message: rest, groups: groups.length };
}

const ADDR = String.raw`(?: peeraddr=(\S+))?`;
const HASH = '([0-9a-f]{64})';
const PATTERNS: [RegExp, (m: RegExpExecArray) => LogRecord][] = [
  [
    /^received: ([\x21-\x7e]{1,12}) \((\d+) bytes\) peer=(\d+)/,
    (m) => ({ kind: 'message', dir: 'in', command: m[1]!, size: +m[2]!, peer: +m[3]! }),
  ],
  [
    /^sending ([\x21-\x7e]{1,12}) \((\d+) bytes\) peer=(\d+)/,
    (m) => ({ kind: 'message', dir: 'out', command: m[1]!, size: +m[2]!, peer: +m[3]! }),
  ],
  [/^Added connection(?: to (\S+))? peer=(\d+)/, (m) => ({ kind: 'added', peer: +m[2]!, addr: m[1] ?? null })],
  [/^connection from (\S+) accepted/, (m) => ({ kind: 'accepted', addr: m[1]! })],
  [
    new RegExp(String.raw`^receive version message: (.*): version (\d+), blocks=(-?\d+), us=(\S+), txrelay=(\d), peer=(\d+)${ADDR}`),
    (m) => ({
      kind: 'version',
      userAgent: m[1]!,
      version: +m[2]!,
      blocks: +m[3]!,
      us: m[4]!,
      relay: m[5] === '1',
      peer: +m[6]!,
      addr: m[7] ?? null,
    }),
  ],
  [
    new RegExp(
      String.raw`^New ([a-z-]+) (?:v\d )?peer connected: (?:transport: (\w+), )?version: (\d+), blocks=(-?\d+),? peer=(\d+)${ADDR}`,
    ),
    (m) => ({
      kind: 'connected',
      connType: m[1]!,
      transport: m[2] ?? 'v1',
      version: +m[3]!,
      blocks: +m[4]!,
      peer: +m[5]!,
      addr: m[6] ?? null,
    }),
  ],
  [
    new RegExp(String.raw`^(.*?),? disconnecting peer=(\d+)${ADDR}`),
    (m) => ({ kind: 'disconnecting', why: m[1]!, peer: +m[2]!, addr: m[3] ?? null }),
  ],
  [/^Cleared nodestate for peer=(\d+)/, (m) => ({ kind: 'cleared', peer: +m[1]! })],
  [
    /^Received addr: (\d+) addresses \((\d+) processed, (\d+) rate-limited\) from peer=(\d+)/,
    (m) => ({ kind: 'addr', addresses: +m[1]!, processed: +m[2]!, rateLimited: +m[3]!, peer: +m[4]! }),
  ],
  [
    /^Header error: ([^(,]+?)(?: \(([\x21-\x7e]{1,12}), (\d+) bytes\))?(?:, (.*?))?,? peer=(\d+)/,
    (m) => ({
      kind: 'header-error',
      error: m[1]!,
      command: m[2] ?? null,
      size: m[3] === undefined ? null : +m[3],
      detail: m[4] ?? '',
      peer: +m[5]!,
    }),
  ],
  // net_processing.cpp ProcessMessage, NetMsgType::PONG: "pong peer=%d: %s, %x expected, %x received, %u bytes".
  [
    /^pong peer=(\d+): (Timing mishap|Nonce mismatch|Nonce zero|Unsolicited pong without ping|Short payload), (.*)$/,
    (m) => ({ kind: 'bad-pong', peer: +m[1]!, problem: m[2]!, detail: m[3]! }),
  ],
  // PeerManagerImpl::ProcessMessages: "%s(%s, %u bytes): Exception '%s' (%s) caught" (no peer id on the line).
  [
    /^ProcessMessages\(([\x21-\x7e]{1,12}), (\d+) bytes\): Exception '(.*)' \(.*\) caught$/,
    (m) => ({ kind: 'payload-exception', command: m[1]!, size: +m[2]!, detail: m[3]! }),
  ],
  // ProcessMessage's end: 'Unknown command "%s" from peer=%d' (Core ignores it).
  [/^Unknown command "(.*)" from peer=(\d+)$/, (m) => ({ kind: 'unknown-command', command: m[1]!, peer: +m[2]! })],
  [/^Misbehaving: peer=(\d+)[^:]*(?:: (.*))?$/, (m) => ({ kind: 'misbehaving', peer: +m[1]!, detail: m[2] ?? '' })],
  [new RegExp(`^UpdateTip: new best=${HASH} height=(\\d+)`), (m) => ({ kind: 'tip', hash: m[1]!, height: +m[2]! })],
  [
    new RegExp(`^AcceptToMemoryPool: (?:peer=(\\d+): )?accepted ${HASH}(?: \\(wtxid=${HASH}\\))?`),
    (m) => ({ kind: 'mempool-accepted', peer: m[1] === undefined ? null : +m[1], txid: m[2]!, wtxid: m[3] ?? null }),
  ],
  [
    new RegExp(`^${HASH}(?: \\(wtxid=${HASH}\\))? from peer=(\\d+) was not accepted: (.*)$`),
    (m) => ({ kind: 'mempool-rejected', txid: m[1]!, wtxid: m[2] ?? null, peer: +m[3]!, reason: m[4]! }),
  ],
  // Known lines whose facts come from the lines above (kept so they are not counted as unknown).
  [
    /^(?:Enqueuing )?(?:BlockConnected|UpdatedBlockTip|BlockChecked|ActiveTipChange|NewPoWValidBlock|MempoolTransactionsRemovedForBlock|TransactionAddedToMempool|ChainStateFlushed): /,
    () => ({ kind: 'known' }),
  ],
  [/^send version message: /, () => ({ kind: 'known' })],
  [/^Resetting socket for peer=\d+/, () => ({ kind: 'known' })],
  [/^received: feefilter of /, () => ({ kind: 'known' })],
];

/** The record for a line's message; null when no known format matches (the caller counts it as unknown). */
export function parseMessage(message: string): LogRecord | null {
  for (const [re, make] of PATTERNS) {
    const m = re.exec(message);
    if (m) return make(m);
  }
  return null;
}
