/**
 * The value types settings share (addresses, URLs, counts, durations, paths),
 * as zod schemas whose messages read "expected ..." so an error names the
 * setting, the value and what was wanted in one line.
 */
import { z } from 'zod';
import { parseEndpoint } from '../../protocol/address.js';
import { parseAllowedHost } from '../../http/hosts.js';

export interface Endpoint {
  host: string;
  port: number;
}

export const NODE_ID = /^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$/;

/** A schema whose transform reports a thrown Error's message as the issue. */
function parsed<T>(parse: (text: string) => T, base = z.string()) {
  return base.transform((text, ctx): T => {
    try {
      return parse(text);
    } catch (err) {
      ctx.addIssue({ code: z.ZodIssueCode.custom, message: err instanceof Error ? err.message : String(err) });
      return z.NEVER;
    }
  });
}

export const bool = z.boolean({ invalid_type_error: 'expected true or false' });

/** One of a fixed list, the list named in the message. */
export function oneOf<T extends string>(values: readonly T[]) {
  return z.enum(values as [T, ...T[]], { errorMap: () => ({ message: `expected one of ${values.join(', ')}` }) });
}

/** `host:port`; port 0 (any free port) only where it makes sense, for a listener. */
export function endpoint(opts: { allowPortZero: boolean }) {
  return parsed((text): Endpoint => {
    const zero = opts.allowPortZero && /:0+$/.test(text.trim());
    return parseEndpoint(zero ? text.trim().replace(/:0+$/, '') : text, zero ? 0 : undefined);
  });
}

export function endpoints(opts: { allowPortZero: boolean }) {
  return z.array(endpoint(opts), { invalid_type_error: 'expected a list of "host:port"' });
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

export const natsUrls = z.array(parsed(parseNatsUrl), { invalid_type_error: 'expected a list of NATS URLs' });

/** An integer from 1 to `max`. */
export function int(max: number) {
  const message = `expected an integer from 1 to ${max}`;
  return z.number({ invalid_type_error: message }).int(message).min(1, message).max(max, message);
}

/** A number in [min, max] (`min` > 0); `what` names the unit: "a number of seconds". */
export function range(what: string, min: number, max: number) {
  const message = `expected ${what} from ${min} to ${max}`;
  return z
    .number({ invalid_type_error: `expected ${what}` })
    .min(min, message)
    .max(max, message);
}

/** A number > 0 and ≤ `max`; the message names the unit only ("expected a number of MiB greater than 0"). */
export function positive(what: string, max: number) {
  const message = `expected ${what} greater than 0`;
  return z.number({ invalid_type_error: message }).positive(message).max(max, message);
}

/** A number ≥ 0 where 0 means off: `note` says what 0 means ("0: no cap"). */
export function nonNegative(what: string, note: string, max: number) {
  const message = `expected ${what} (${note})`;
  return z.number({ invalid_type_error: message }).nonnegative(message).max(max, `expected ${what} up to ${max} (${note})`);
}

export const seconds = range('a number of seconds', 0.01, 86_400);

export const path = z.string({ invalid_type_error: 'expected a file path' }).trim().min(1, 'expected a file path');

/** `--http`: `host:port`, `[v6]:port`, or a bare port (on 127.0.0.1); port 0 takes a free one. */
export const httpEndpoint = z.string({ invalid_type_error: 'expected "host:port" or a port' }).transform((text, ctx): Endpoint => {
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
export const allowedHost = parsed(parseAllowedHost, z.string({ invalid_type_error: 'expected a host name' }));

/** An http:// or https:// URL. */
export function url(protocols: RegExp, message: string, typeMessage: string) {
  return z.string({ invalid_type_error: typeMessage }).refine((u) => URL.canParse(u) && protocols.test(new URL(u).protocol), message);
}
