// The dashboard build: web/ → web/dist (served by src/http/static.ts). Run by `npm run build:web`, and by `prepare` on npm ci.
import { defineConfig } from 'vite';

export default defineConfig({
  root: import.meta.dirname,
  base: './',
  logLevel: 'warn',
  build: {
    outDir: 'dist',
    emptyOutDir: true,
    assetsDir: 'assets',
    // No inline assets: every file is served from /assets with the page's CSP (script-src 'self').
    assetsInlineLimit: 0,
    modulePreload: { polyfill: false },
    chunkSizeWarningLimit: 400,
  },
});
