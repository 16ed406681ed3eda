/**
 * A small router over node:http: exact segments and `:param` segments, GET (and
 * HEAD for free) or any method a route names. A path no route knows is a 404, a
 * known path with another method a 405 with `Allow`; both as JSON. Handlers
 * return a reply (or throw an HttpError) and never touch the socket, so they are
 * plain functions the tests call.
 *
 * Why not a framework: the API is a handful of read-only routes, and a router
 * this size has nothing to configure, no plugins, and nothing of its own an
 * attacker can reach; the WebSocket and static files of the dashboard hook in
 * beside it (server.ts), not through it.
 */
import type { IncomingMessage } from 'node:http';
import type { z } from 'zod';

export class HttpError extends Error {
  constructor(
    readonly status: number,
    message: string,
    readonly headers: Record<string, string> = {},
  ) {
    super(message);
  }
}

export type Reply =
  | { status?: number; json: unknown; headers?: Record<string, string> }
  | { status?: number; text: string; contentType: string; headers?: Record<string, string> };

export interface RequestContext {
  req: IncomingMessage;
  url: URL;
  params: Record<string, string>;
  /** Validate the query string; a failure is a 400 naming the parameter. */
  query<S extends z.ZodTypeAny>(schema: S): z.output<S>;
}

export type Handler = (ctx: RequestContext) => Reply | Promise<Reply>;

interface Route {
  method: string;
  segments: string[];
  handler: Handler;
}

export class Router {
  private readonly routes: Route[] = [];

  /** `pattern`: `/api/incidents/:id`. */
  add(method: string, pattern: string, handler: Handler): this {
    if (!pattern.startsWith('/')) throw new Error(`route pattern must start with /: ${pattern}`);
    this.routes.push({ method: method.toUpperCase(), segments: split(pattern), handler });
    return this;
  }

  get(pattern: string, handler: Handler): this {
    return this.add('GET', pattern, handler);
  }

  /** The route for a request, or why there is none (404, or 405 with the methods the path has). */
  match(
    method: string,
    pathname: string,
  ): { handler: Handler; params: Record<string, string> } | { status: 404 } | { status: 405; allow: string[] } {
    const segments = split(pathname);
    const allow = new Set<string>();
    for (const route of this.routes) {
      const params = matchSegments(route.segments, segments);
      if (!params) continue;
      if (route.method === method || (method === 'HEAD' && route.method === 'GET')) return { handler: route.handler, params };
      allow.add(route.method);
      if (route.method === 'GET') allow.add('HEAD');
    }
    return allow.size ? { status: 405, allow: [...allow].sort() } : { status: 404 };
  }
}

function split(path: string): string[] {
  return path.split('/').filter((s) => s !== '');
}

function matchSegments(pattern: string[], path: string[]): Record<string, string> | undefined {
  if (pattern.length !== path.length) return undefined;
  const params: Record<string, string> = {};
  for (let i = 0; i < pattern.length; i++) {
    const p = pattern[i]!;
    const s = path[i]!;
    if (p.startsWith(':')) {
      let value: string;
      try {
        value = decodeURIComponent(s);
      } catch {
        return undefined;
      }
      params[p.slice(1)] = value;
    } else if (p !== s) return undefined;
  }
  return params;
}

/**
 * The query string as an object for a zod schema: one value per key (a key
 * given twice is an error, so there is no doubt which one counts).
 */
export function queryObject(url: URL): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [key, value] of url.searchParams) {
    if (Object.hasOwn(out, key)) throw new HttpError(400, `query parameter "${key.slice(0, 64)}" given more than once`);
    out[key] = value;
  }
  return out;
}

/** Parse with `schema` or throw a 400 naming the first bad parameter. */
export function validateQuery<S extends z.ZodTypeAny>(url: URL, schema: S): z.output<S> {
  const result = schema.safeParse(queryObject(url));
  if (result.success) return result.data as z.output<S>;
  const issue = result.error.issues[0]!;
  if (issue.code === 'unrecognized_keys') throw new HttpError(400, `unknown query parameter "${String(issue.keys[0]).slice(0, 64)}"`);
  const name = issue.path.length ? `query parameter "${issue.path.join('.')}"` : 'query';
  throw new HttpError(400, `${name}: ${issue.message}`);
}
