#!/usr/bin/env node
// The package's bin: runs the TypeScript sources through tsx (a runtime dependency),
// from any working directory and through `npx peer-observer` / `npm exec`.
import { URL } from 'node:url';
import { register } from 'tsx/esm/api';

register();
const { cli } = await import(new URL('../src/cli/main.ts', import.meta.url).href);
await cli();
