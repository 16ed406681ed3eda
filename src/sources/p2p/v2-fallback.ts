/**
 * Core's outbound v1 fallback (net.cpp, CConnman::SocketHandlerConnected /
 * ThreadOpenConnections' reconnections list): when an outbound v2 attempt is
 * disconnected having received nothing at all after we sent our key
 * (V2Transport::ShouldReconnectV1), the peer most likely speaks only v1; Core
 * reconnects to the same address at once with v1 ("retrying with v1 transport
 * protocol"). The dialer's own redial policy is left alone: the fallback is one
 * immediate extra dial, and the dialer hears of the connection only when the v1
 * one ends.
 */
import { connect, type Socket } from 'node:net';
import { describeSocketError, type Endpoint } from './listener.js';

/** One TCP connection attempt with a timeout: the socket, or why not. */
export function dialOnce(target: Endpoint, timeoutMs: number): Promise<{ socket: Socket } | { error: string; elapsedMs: number }> {
  const started = performance.now();
  return new Promise((resolve) => {
    const socket = connect({ host: target.host, port: target.port });
    let settled = false;
    const fail = (error: string): void => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      socket.destroy();
      resolve({ error, elapsedMs: performance.now() - started });
    };
    const timer = setTimeout(() => fail(`no connection after ${timeoutMs} ms`), timeoutMs).unref();
    socket.once('error', (e) => fail(describeSocketError(e)));
    socket.once('connect', () => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      resolve({ socket });
    });
  });
}

/** The detail added to the closed event of a v2 attempt that will be retried with v1. */
export const V1_RETRY_NOTE = 'nothing received after our v2 key: retrying with v1 (Core ShouldReconnectV1)';
