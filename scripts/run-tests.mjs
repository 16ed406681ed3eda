#!/usr/bin/env node
// Runs every test/**/*.test.ts with Node's test runner, against the TypeScript
// sources (tsx). Node 20's --test does not expand globs, so we list the files.
// Extra arguments are passed to the runner (e.g. a file subset).
import { spawnSync } from 'node:child_process';
import { readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';

function find(dir) {
  const out = [];
  for (const name of readdirSync(dir)) {
    const p = join(dir, name);
    if (statSync(p).isDirectory()) out.push(...find(p));
    else if (name.endsWith('.test.ts')) out.push(p);
  }
  return out;
}

const args = process.argv.slice(2);
const files = args.length > 0 ? args : find('test').sort();
const result = spawnSync(
  process.execPath,
  ['--import', 'tsx', '--test', '--test-reporter=spec', '--test-concurrency=2', '--test-timeout=300000', ...files],
  {
    stdio: 'inherit',
    env: { ...process.env, NODE_OPTIONS: '' },
  },
);
process.exit(result.status ?? 1);
