#!/usr/bin/env node
// Builds the compiled package into dist/: tsc (JavaScript + .d.ts) from
// tsconfig.build.json, then the plain-JavaScript files tsc does not emit (the
// archive writer thread's bootstrap). Starts from an empty dist/ so nothing stale ships.
import { spawnSync } from 'node:child_process';
import { copyFileSync, readdirSync, rmSync, statSync } from 'node:fs';
import { createRequire } from 'node:module';
import { join, relative } from 'node:path';
import { URL } from 'node:url';

const root = new URL('..', import.meta.url).pathname;
rmSync(join(root, 'dist'), { recursive: true, force: true });
const tsc = createRequire(import.meta.url).resolve('typescript/bin/tsc');
const result = spawnSync(process.execPath, [tsc, '-p', join(root, 'tsconfig.build.json')], { stdio: 'inherit' });
if (result.status !== 0) process.exit(result.status ?? 1);

function copyMjs(dir) {
  for (const name of readdirSync(dir)) {
    const p = join(dir, name);
    if (statSync(p).isDirectory()) copyMjs(p);
    else if (name.endsWith('.mjs')) copyFileSync(p, join(root, 'dist', relative(join(root, 'src'), p)));
  }
}
copyMjs(join(root, 'src'));
