/**
 * One connectivity probe: open TCP to an address, do a v1 version handshake with
 * our codec, and say whether it is a Bitcoin node. Reachable means version and
 * verack went both ways; we then close at once (we ask for nothing: relay false,
 * no getaddr). Knows nothing of events or policy: targets.ts decides what may be
 * dialled at all.
 */
import { randomBytes } from 'node:crypto';
import { connect as netConnect, type NetConnectOpts, type Socket } from 'node:net';
import { ipFromString } from '../../protocol/address.js';
import { FrameDecoder } from '../../protocol/framing.js';
import { PROTOCOL_VERSION, WTXID_RELAY_VERSION } from '../../protocol/limits.js';
import { decodeMessage, encodeMessageFrame, isKnown, msg } from '../../protocol/messages/index.js';
import type { Message } from '../../protocol/messages/types.js';
import type { Network } from '../../protocol/networks.js';

export type DialFn = (options: NetConnectOpts) => Socket;

/** Why a probe ended: `handshake` is the only reachable outcome. */
export type ProbeReason =
  | 'handshake' // version and verack both ways: a node
  | 'connection-refused' // nothing listening (RST)
  | 'connect-timeout' // no answer to our SYN within the connect timeout
  | 'handshake-timeout' // connected, no complete handshake in time
  | 'closed' // connected, closed before the handshake completed
  | 'not-bitcoin' // answered with bytes that are not our network's v1 messages
  | 'socket-error'; // unreachable network, host down, reset, ...

export interface ProbeResult {
  reachable: boolean;
  reason: ProbeReason;
  detail: string;
  /** Time to the end of the handshake (reachable) or to the failure. */
  latencyMs: number;
  userAgent: string | null;
  version: number | null;
}

export interface ProbeOptions {
  network: Network;
  host: string;
  port: number;
  connectTimeoutMs: number;
  handshakeTimeoutMs: number;
  userAgent: string;
  dial?: DialFn;
  signal?: AbortSignal;
}

export function probe(o: ProbeOptions): Promise<ProbeResult> {
  return new Promise<ProbeResult>((resolve) => {
    const t0 = performance.now();
    const dial = o.dial ?? netConnect;
    let connected = false;
    let theirVersion: { version: number; userAgent: string | null } | undefined;
    let gotVerack = false;
    let done = false;
    const socket = dial({ host: o.host, port: o.port });
    const finish = (reachable: boolean, reason: ProbeReason, detail: string) => {
      if (done) return;
      done = true;
      clearTimeout(timer);
      o.signal?.removeEventListener('abort', onAbort);
      socket.destroy();
      resolve({
        reachable,
        reason,
        detail,
        latencyMs: Math.round((performance.now() - t0) * 1000) / 1000,
        userAgent: theirVersion?.userAgent ?? null,
        version: theirVersion?.version ?? null,
      });
    };
    let timer = setTimeout(() => finish(false, 'connect-timeout', `no connection after ${o.connectTimeoutMs} ms`), o.connectTimeoutMs);
    const onAbort = () => finish(false, 'socket-error', 'stopped');
    o.signal?.addEventListener('abort', onAbort, { once: true });
    const send = (m: Message) => socket.write(encodeMessageFrame(o.network, m));
    const decoder = new FrameDecoder({ network: o.network });

    socket.on('error', (err: NodeJS.ErrnoException) => {
      if (err.code === 'ECONNREFUSED') finish(false, 'connection-refused', 'connection refused');
      else finish(false, connected ? 'closed' : 'socket-error', err.code ?? err.message);
    });
    socket.on('close', () => finish(false, 'closed', theirVersion ? 'closed after version, before verack' : 'closed before version'));
    socket.on('connect', () => {
      connected = true;
      clearTimeout(timer);
      timer = setTimeout(
        () => finish(false, 'handshake-timeout', `${theirVersion ? 'no verack' : 'no version'} after ${o.handshakeTimeoutMs} ms`),
        o.handshakeTimeoutMs,
      );
      send(
        msg('version', {
          version: PROTOCOL_VERSION,
          // NODE_WITNESS only: we serve nothing.
          services: 8n,
          timestamp: BigInt(Math.floor(Date.now() / 1000)),
          receiver: { services: 0n, ip: safeIp(o.host), port: o.port },
          sender: { services: 8n, ip: new Uint8Array(16), port: 0 },
          nonce: randomBytes(8).readBigUInt64LE(),
          userAgent: o.userAgent,
          startHeight: 0,
          // We want nothing relayed to us.
          relay: false,
        }),
      );
    });
    socket.on('data', (chunk: Buffer) => {
      for (const item of decoder.push(new Uint8Array(chunk.buffer, chunk.byteOffset, chunk.byteLength))) {
        if (item.type === 'violation') {
          if (item.violation.fatal) return finish(false, 'not-bitcoin', `${item.violation.kind}: ${item.violation.detail}`);
          continue;
        }
        let m: Message;
        try {
          m = decodeMessage(item.frame.command, item.frame.payload);
        } catch {
          continue;
        }
        if (!isKnown(m)) continue;
        if (m.command === 'version' && !theirVersion) {
          theirVersion = { version: m.payload.version, userAgent: m.payload.userAgent ?? null };
          if (m.payload.version >= WTXID_RELAY_VERSION) {
            send(msg('wtxidrelay', {}));
            send(msg('sendaddrv2', {}));
          }
          send(msg('verack', {}));
        } else if (m.command === 'verack') {
          gotVerack = true;
        }
        if (theirVersion && gotVerack) return finish(true, 'handshake', 'version and verack both ways');
      }
    });
  });
}

function safeIp(host: string): Uint8Array {
  try {
    return ipFromString(host);
  } catch {
    return new Uint8Array(16);
  }
}
