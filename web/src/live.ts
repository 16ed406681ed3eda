/**
 * The WebSocket to /ws. The token (when the observer has one) comes from the
 * URL fragment `#token=...` (never sent to the server, never logged; removed
 * from the address bar at once) or the prompt, is kept in sessionStorage for
 * this tab only, and travels as the subprotocol `bearer.<base64url(token)>`:
 * browsers cannot set Authorization on a WebSocket.
 */
import { LIVE_PROTOCOL, type LiveClientMessage, type LiveServerMessage } from '../../src/live/feed.js';

const TOKEN_KEY = 'peer-observer-token';

export function takeTokenFromFragment(): void {
  const m = /^#token=([^&]*)/.exec(location.hash);
  if (!m) return;
  try {
    sessionStorage.setItem(TOKEN_KEY, decodeURIComponent(m[1]!));
  } catch {
    /* storage disabled: the prompt will ask */
  }
  history.replaceState(null, '', `${location.pathname}${location.search}#/overview`);
}

export function token(): string | null {
  try {
    return sessionStorage.getItem(TOKEN_KEY);
  } catch {
    return null;
  }
}

export function setToken(t: string): void {
  try {
    sessionStorage.setItem(TOKEN_KEY, t);
  } catch {
    /* ignore */
  }
}

function base64url(text: string): string {
  let bin = '';
  for (const b of new TextEncoder().encode(text)) bin += String.fromCharCode(b);
  return btoa(bin).replace(/\+/g, '-').replace(/\//g, '_').replace(/=+$/, '');
}

export interface LiveHandlers {
  onMessage(msg: LiveServerMessage): void;
  onState(connected: boolean): void;
}

export class LiveSocket {
  private ws: WebSocket | null = null;
  private retryMs = 500;
  private timer: number | undefined;
  private watchKey: string | null = null;

  constructor(private readonly handlers: LiveHandlers) {}

  connect(): void {
    clearTimeout(this.timer);
    const url = `${location.protocol === 'https:' ? 'wss' : 'ws'}://${location.host}/ws`;
    const t = token();
    const ws = new WebSocket(url, t ? [LIVE_PROTOCOL, `bearer.${base64url(t)}`] : [LIVE_PROTOCOL]);
    this.ws = ws;
    ws.onopen = () => {
      this.retryMs = 500;
      this.handlers.onState(true);
      if (this.watchKey) this.send({ type: 'watch', key: this.watchKey });
    };
    ws.onmessage = (e) => {
      if (typeof e.data !== 'string') return;
      try {
        // The server's messages (src/live/feed.ts); State.apply ignores a type it does not know.
        this.handlers.onMessage(JSON.parse(e.data) as LiveServerMessage);
      } catch {
        /* a bad frame is ignored */
      }
    };
    ws.onclose = () => {
      if (this.ws !== ws) return;
      this.handlers.onState(false);
      this.timer = window.setTimeout(() => this.connect(), this.retryMs);
      this.retryMs = Math.min(this.retryMs * 2, 10_000);
    };
  }

  watch(key: string | null): void {
    this.watchKey = key;
    this.send(key ? { type: 'watch', key } : { type: 'unwatch' });
  }

  private send(msg: LiveClientMessage): void {
    if (this.ws?.readyState === WebSocket.OPEN) this.ws.send(JSON.stringify(msg));
  }
}
