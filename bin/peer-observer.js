#!/usr/bin/env node
// The package's bin. An installed package runs its compiled JavaScript (dist/,
// built at prepare/prepack). A source checkout (src/ present, tsx installed as a
// dev dependency) runs the TypeScript sources instead, so tests and
// `npx peer-observer` there never run a stale build; PEER_OBSERVER_USE_DIST=1
// makes a checkout run dist/ too (the startup benchmark does).
import { existsSync } from 'node:fs';
import { URL } from 'node:url';

const sources = new URL('../src/cli/main.ts', import.meta.url);
let entry = new URL('../dist/cli/main.js', import.meta.url);
if (process.env.PEER_OBSERVER_USE_DIST !== '1' && existsSync(sources)) {
  const { register } = await import('tsx/esm/api');
  register();
  entry = sources;
}
const { cli } = await import(entry.href);
await cli();
