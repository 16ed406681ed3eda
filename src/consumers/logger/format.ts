/**
 * Pure formatting: one event in, one line out (no newline). The text form reads
 * like Bitcoin Core's net log; the JSON form is the envelope unchanged.
 *
 *   <-- 2024-06-01T12:00:00.123456Z node1 conn=3 127.0.0.2:50412 inv 37B items=[1] {type=wtx hash=3fa1…}
 *   --> 2024-06-01T12:00:00.123901Z node1 conn=3 127.0.0.2:50412 pong 8B nonce=1234
 *   # CONN 2024-... node1 conn=3 127.0.0.2:50412 opened inbound netgroup=127.0 local=127.0.0.1:18444 network=regtest
 *   ! VIOLATION bad-checksum 2024-... node1 conn=3 127.0.0.2:50412 action=drop-message ...
 */
import { summaryOf, type MessageSummary } from '../../events/message-summary.js';
import type { ConnRef, JsonValue, ObserverEvent } from '../../events/types.js';
import { bare, escapeText, quote, safeJson } from './escape.js';

/** Longest payload summary in a text line, in characters. */
export const MAX_SUMMARY = 240;
const MAX_STRING = 80;
const MAX_ARRAY_SHOWN = 3;

/** `timeUs` as ISO 8601 UTC with microseconds. */
export function formatTime(timeUs: number): string {
  const ms = Math.floor(timeUs / 1000);
  const iso = new Date(ms).toISOString(); // 2024-06-01T12:00:00.123Z
  const us = String(Math.floor(timeUs) - ms * 1000).padStart(3, '0');
  return `${iso.slice(0, 23)}${us}Z`;
}

export function formatDuration(ms: number): string {
  if (ms < 1) return `${(ms * 1000).toFixed(0)}us`;
  if (ms < 1000) return `${ms.toFixed(ms < 10 ? 3 : 1)}ms`;
  if (ms < 120_000) return `${(ms / 1000).toFixed(3)}s`;
  const s = Math.round(ms / 1000);
  const h = Math.floor(s / 3600);
  const m = Math.floor((s % 3600) / 60);
  return h > 0 ? `${h}h${String(m).padStart(2, '0')}m${String(s % 60).padStart(2, '0')}s` : `${m}m${String(s % 60).padStart(2, '0')}s`;
}

function formatBytes(n: number): string {
  return `${n}B`;
}

function head(event: ObserverEvent): string {
  return `${formatTime(event.timeUs)} ${bare(event.nodeId)}`;
}

function connPart(conn: ConnRef): string {
  return `conn=${conn.id} ${bare(conn.remote)}`;
}

function truncate(s: string, max: number): string {
  return s.length <= max ? s : `${s.slice(0, max - 1)}…`;
}

function scalar(v: JsonValue): string {
  if (v === null) return 'null';
  if (typeof v === 'string') {
    // Long hex (hashes, raw payloads) is shortened: the JSON form keeps all of it.
    if (v.length > 20 && /^[0-9a-f]+$/.test(v)) return `${v.slice(0, 16)}…`;
    return bare(truncate(v, MAX_STRING));
  }
  return String(v);
}

function summarizeValue(v: JsonValue, depth: number): string {
  if (v === null || typeof v !== 'object') return scalar(v);
  if (Array.isArray(v)) {
    const shown = v.slice(0, MAX_ARRAY_SHOWN).map((x) => summarizeValue(x, depth + 1));
    const more = v.length > MAX_ARRAY_SHOWN ? ' …' : '';
    return `[${v.length}]${shown.length ? ` ${shown.join(' ')}${more}` : ''}`;
  }
  if (depth >= 2) return '{…}';
  return `{${summarizeObject(v, depth + 1)}}`;
}

function summarizeObject(o: { [key: string]: JsonValue }, depth: number): string {
  return Object.entries(o)
    .map(([k, v]) => `${escapeText(k)}=${summarizeValue(v, depth)}`)
    .join(' ');
}

/** A short, single-line, terminal-safe summary of a decoded payload. */
export function summarizePayload(payload: JsonValue): string {
  let s: string;
  if (payload === null) s = '';
  else if (typeof payload === 'object' && !Array.isArray(payload)) s = summarizeObject(payload, 0);
  else s = summarizeValue(payload, 0);
  return truncate(s, MAX_SUMMARY);
}

/**
 * The summary of a message payload: a shorter form for the few commands whose
 * payload is long but whose gist is short (the full payload is in the JSON form).
 */
export function summarizeMessage(m: MessageSummary): string {
  if (m.known && m.command === 'version') {
    const v = summaryOf(m);
    if (v) {
      const { version, userAgent, startHeight, services, relay } = v;
      return summarizePayload({ version, userAgent, startHeight, services, relay });
    }
  } else if (m.known && (m.command === 'addr' || m.command === 'addrv2')) {
    const a = summaryOf(m);
    if (a) {
      const shown = a.entries
        .slice(0, MAX_ARRAY_SHOWN)
        .map((e) => bare(e.addr.includes(':') ? `[${e.addr}]:${e.port}` : `${e.addr}:${e.port}`));
      const more = a.entries.length > MAX_ARRAY_SHOWN ? ' …' : '';
      return truncate(`count=${a.entries.length} ${shown.join(' ')}${more}`, MAX_SUMMARY);
    }
  }
  // Every summary is plain JSON (message-summary.ts): shown field by field.
  return summarizePayload(m.payload as JsonValue);
}

function yesNo(b: boolean): string {
  return b ? 'yes' : 'no';
}

function signed(n: number): string {
  return n > 0 ? `+${n}` : String(n);
}

/** The human-readable line for one event. */
export function formatText(event: ObserverEvent): string {
  switch (event.type) {
    case 'message': {
      const d = event.data;
      const arrow = d.dir === 'in' ? '<--' : '-->';
      const summary = summarizeMessage(d);
      const command = d.known ? bare(d.command) : `${quote(d.command)}(unknown)`;
      return `${arrow} ${head(event)} ${connPart(d.conn)} ${command} ${formatBytes(d.size)}${summary ? ` ${summary}` : ''}`;
    }
    case 'connection.opened': {
      const d = event.data;
      return (
        `# CONN ${head(event)} ${connPart(d.conn)} opened ${d.conn.direction} netgroup=${bare(d.netgroup)} ` +
        `local=${bare(d.local)} network=${d.network} transport=${d.transport}`
      );
    }
    case 'connection.closed': {
      const d = event.data;
      return (
        `# CONN ${head(event)} ${connPart(d.conn)} closed ${d.conn.direction} netgroup=${bare(d.netgroup)} ` +
        `reason=${d.reason} duration=${formatDuration(d.durationMs)} handshake=${yesNo(d.handshakeComplete)} ` +
        `in=${d.messagesIn}msg/${formatBytes(d.bytesIn)} out=${d.messagesOut}msg/${formatBytes(d.bytesOut)}` +
        (d.transport ? ` transport=${d.transport}` : '') +
        (d.decoysIn ? ` decoys=${d.decoysIn}` : '') +
        (d.detail ? ` detail=${quote(d.detail)}` : '')
      );
    }
    case 'handshake.version': {
      const d = event.data;
      const services = d.serviceNames.length ? `${d.services}(${d.serviceNames.map(escapeText).join('|')})` : d.services;
      return (
        `# VERSION ${head(event)} ${connPart(d.conn)} version=${d.version} ua=${quote(d.userAgent)} services=${services} ` +
        `height=${d.startHeight ?? '-'} relay=${yesNo(d.relay)} nonce=${d.nonce} offset=${signed(d.timeOffsetSec)}s ` +
        `receiver=${bare(d.receiver)} sender=${d.sender === null ? '-' : bare(d.sender)}`
      );
    }
    case 'handshake.complete': {
      const d = event.data;
      return (
        `# HANDSHAKE ${head(event)} ${connPart(d.conn)} complete in ${formatDuration(d.elapsedMs)} ` +
        `wtxidrelay=${yesNo(d.wtxidRelay)} addrv2=${yesNo(d.addrV2)}` +
        (d.transport ? ` transport=${d.transport}` : '') +
        v2Part(d.sessionId, d.garbageLength)
      );
    }
    case 'ping.latency': {
      const d = event.data;
      return `# PING ${head(event)} ${connPart(d.conn)} latency=${formatDuration(d.latencyMs)} nonce=${d.nonce}`;
    }
    case 'violation': {
      const d = event.data;
      return (
        `! VIOLATION ${d.kind} ${head(event)} ${connPart(d.conn)} action=${d.action}` +
        (d.command !== undefined ? ` command=${bare(d.command)}` : '') +
        (d.size !== undefined ? ` size=${d.size}` : '') +
        ` ${quote(d.detail)}`
      );
    }
    case 'pipeline.counters': {
      const d = event.data;
      const counters = Object.entries(d.counters)
        .map(([k, v]) => `${escapeText(k)}=${v}`)
        .join(' ');
      return `# COUNTERS ${head(event)} stage=${bare(d.stage)} ${counters}`;
    }
    case 'alert': {
      const d = event.data;
      const status = d.status === 'resolved' ? 'resolved' : d.count === 1 ? 'raised' : 'active';
      return (
        `! ALERT ${d.severity} ${bare(d.detector)} ${head(event)} ${d.subject.kind}=${bare(d.subject.id)} ${status} ` +
        `count=${d.count} nodes=${d.nodeIds.map(bare).join(',')} id=${bare(d.id)} incident=${bare(d.incidentId)} ${quote(truncate(d.summary, MAX_SUMMARY))}`
      );
    }
    case 'incident': {
      const d = event.data;
      return (
        `! INCIDENT ${d.severity} ${head(event)} ${d.status} id=${bare(d.id)} alerts=${d.alertIds.length} ` +
        `detectors=${d.detectors.map(bare).join(',')} ${quote(truncate(d.title, MAX_SUMMARY))}`
      );
    }
    default: {
      // A newer schema (e.g. over NATS) may carry types this build does not know.
      const e = event as { type: unknown; timeUs: number; nodeId: string; data: unknown };
      return `# EVENT ${formatTime(e.timeUs)} ${bare(String(e.nodeId))} type=${quote(String(e.type))} ${truncate(safeJson(e.data), MAX_SUMMARY)}`;
    }
  }
}

/** The JSON line for one event: the envelope as it is, escaped for terminals. */
export function formatJson(event: ObserverEvent): string {
  return safeJson(event);
}

/** BIP324 session id and peer garbage length (v2 connections). The id is schema-checked hex. */
function v2Part(sessionId: string | undefined, garbageLength: number | undefined): string {
  if (sessionId === undefined) return '';
  return ` session=${bare(sessionId)}${garbageLength !== undefined ? ` garbage=${garbageLength}` : ''}`;
}
