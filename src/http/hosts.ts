/**
 * Which names the HTTP server answers to: the defence against DNS rebinding.
 *
 * A web page on `evil.example` can make its own name resolve to 127.0.0.1 after
 * it has loaded; the browser then sends the page's requests (and its WebSocket)
 * to the observer on loopback, as same-origin, with `Host: evil.example:PORT`.
 * The Host header is the only thing that tells such a request apart, so every
 * request and every WebSocket upgrade is answered only when its Host names this
 * server: a loopback name (`localhost`, `*.localhost`, 127.0.0.0/8, `::1`), the
 * address the server is bound to (unless a wildcard), or a name the operator
 * added (`--http-allowed-host`, e.g. the name a reverse proxy forwards). Any
 * other Host gets 421 before the token is even looked at.
 *
 * A browser's WebSocket also carries `Origin`: it must be this very origin
 * (scheme-less host:port equal to the Host header) or a name the operator added
 * (a proxy that rewrites Host); anything else is 403. A request without Origin
 * comes from no browser and passes that check (not the Host check).
 *
 * Names are compared as a URL parser canonicalises them (lower case, IPv4 in
 * dotted decimal, IPv6 compressed, no trailing dot); the port is not compared
 * (a rebinding page uses our port anyway).
 */

/** Host header syntax we accept: a name or IPv4, or a bracketed IPv6, and an optional port. */
const HOST_HEADER = /^(?:\[[0-9A-Fa-f:.]{2,45}\]|[A-Za-z0-9._-]{1,253})(?::[0-9]{1,5})?$/;

/** The canonical host name of `host[:port]` (IPv6 without brackets), or undefined when it is not one. */
export function canonicalHost(text: string): string | undefined {
  if (!HOST_HEADER.test(text)) return undefined;
  let hostname: string;
  try {
    hostname = new URL(`http://${text}/`).hostname;
  } catch {
    return undefined;
  }
  return hostname.replace(/^\[|\]$/g, '').replace(/\.$/, '');
}

/**
 * An entry of `--http-allowed-host`: a DNS name, an IPv4 address or an IPv6
 * address (bare or in brackets), no port. Returns it canonical or throws with
 * the reason.
 */
export function parseAllowedHost(text: string): string {
  const t = text.trim();
  const colons = t.split(':').length - 1;
  // `[v6]`, a bare IPv6 (two colons or more), or a name/IPv4 with no colon at all.
  const asHeader = t.startsWith('[') ? (/^\[[^\]]+\]$/.test(t) ? t : '') : colons >= 2 ? `[${t}]` : colons === 0 ? t : '';
  const host = asHeader ? canonicalHost(asHeader) : undefined;
  if (host === undefined || host === '') throw new Error('expected a host name or an IP address, without a port');
  return host;
}

function isLoopbackName(host: string): boolean {
  if (host === 'localhost' || host.endsWith('.localhost')) return true;
  if (host === '::1') return true;
  return /^127\.\d+\.\d+\.\d+$/.test(host) || /^::ffff:(127\.\d+\.\d+\.\d+|7f[0-9a-f]{2}:[0-9a-f]{1,4})$/.test(host);
}

const WILDCARDS = new Set(['0.0.0.0', '::', '']);

export class HostAllowlist {
  private readonly bound: string | undefined;
  private readonly extra: Set<string>;

  /** `bindHost`: the address the server listens on; `extra`: the operator's names (validated here too). */
  constructor(bindHost: string, extra: readonly string[] = []) {
    const bound = canonicalHost(bindHost.includes(':') && !bindHost.startsWith('[') ? `[${bindHost}]` : bindHost);
    this.bound = bound !== undefined && !WILDCARDS.has(bound) ? bound : undefined;
    this.extra = new Set(extra.map(parseAllowedHost));
  }

  /** The names the operator added (for messages). */
  names(): string[] {
    return [...this.extra];
  }

  /** Whether a request's Host header names this server. A missing Host is refused (every browser sends one). */
  hostAllowed(header: string | undefined): boolean {
    if (header === undefined) return false;
    const host = canonicalHost(header);
    if (host === undefined) return false;
    return isLoopbackName(host) || host === this.bound || this.extra.has(host);
  }

  /** A WebSocket upgrade's Origin: absent, this very origin (same host:port as Host), or an operator-added name. */
  originAllowed(origin: string | undefined, hostHeader: string | undefined): boolean {
    if (origin === undefined) return true;
    if (!URL.canParse(origin)) return false;
    const u = new URL(origin);
    if (u.protocol !== 'http:' && u.protocol !== 'https:') return false;
    if (hostHeader !== undefined && u.host.toLowerCase() === hostHeader.toLowerCase() && this.hostAllowed(hostHeader)) return true;
    const name = u.hostname.replace(/^\[|\]$/g, '').replace(/\.$/, '');
    return this.extra.has(name);
  }
}
