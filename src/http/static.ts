/**
 * The dashboard's files (web/, built by Vite into web/dist by `npm ci`'s
 * `prepare`), read once into memory at start and served from there: nothing
 * from the request ever reaches the file system. Only `/` (index.html) and
 * `/assets/<name>` exist; the page carries a strict Content-Security-Policy
 * (scripts and connections to this origin only, no inline script), a second
 * line of defence behind the page's text-only rendering of peer data.
 *
 * These files hold no data (they are the same for every install), so they are
 * served without the bearer token: a browser cannot add `Authorization` to a
 * page load. Everything with data (/api/*, /metrics, /healthz, /ws) still needs
 * the token; see server.ts and docs/dashboard.md.
 */
import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { extname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { Reply } from './router.js';

export const DEFAULT_DIST_DIR = fileURLToPath(new URL('../../web/dist/', import.meta.url));

const TYPES: Record<string, string> = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.svg': 'image/svg+xml',
  '.json': 'application/json; charset=utf-8',
};

export const PAGE_CSP = [
  "default-src 'none'",
  "script-src 'self'",
  // uPlot sizes its elements through element.style; no inline <style> or style attributes come from peer data.
  "style-src 'self' 'unsafe-inline'",
  "img-src 'self' data:",
  "connect-src 'self'",
  "base-uri 'none'",
  "form-action 'none'",
  "frame-ancestors 'none'",
].join('; ');

export interface StaticFiles {
  /** Built files found (false: the dashboard was not built; `/` explains). */
  built: boolean;
  /** Is this a dashboard file path (served without the token)? */
  isPublic(pathname: string): boolean;
  reply(pathname: string): Reply | undefined;
}

export function loadStaticFiles(dir = DEFAULT_DIST_DIR): StaticFiles {
  const files = new Map<string, { text: string; contentType: string }>();
  const add = (urlPath: string, file: string) => {
    const type = TYPES[extname(file)];
    if (type) files.set(urlPath, { text: readFileSync(file, 'utf8'), contentType: type });
  };
  if (existsSync(join(dir, 'index.html'))) {
    add('/', join(dir, 'index.html'));
    const assets = join(dir, 'assets');
    if (existsSync(assets))
      for (const name of readdirSync(assets)) if (statSync(join(assets, name)).isFile()) add(`/assets/${name}`, join(assets, name));
  }
  const built = files.has('/');
  return {
    built,
    isPublic: (p) => files.has(p) || (!built && p === '/'),
    reply(p) {
      const f = files.get(p === '/index.html' ? '/' : p);
      if (!f) {
        if (p === '/' && !built)
          return {
            status: 503,
            text: 'The dashboard is not built: run `npm run build:web` (npm ci does it) in the peer-observer folder.\n',
            contentType: 'text/plain; charset=utf-8',
          };
        return undefined;
      }
      const headers: Record<string, string> = f.contentType.startsWith('text/html')
        ? { 'content-security-policy': PAGE_CSP, 'x-frame-options': 'DENY' }
        : {};
      // Hashed asset names never change content: they may be cached; the page itself may not.
      if (p.startsWith('/assets/')) headers['cache-control'] = 'public, max-age=31536000, immutable';
      return { text: f.text, contentType: f.contentType, headers };
    },
  };
}
