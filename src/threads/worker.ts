/**
 * Starting a module in a worker thread, from the TypeScript sources (tsx) or
 * the compiled package alike: bootstrap.mjs loads the entry and calls its
 * `main(init)`. Used by the archive's writer thread and the p2p source's v2
 * key pool.
 */
import { Worker } from 'node:worker_threads';

const BOOTSTRAP = new URL('./bootstrap.mjs', import.meta.url);

/**
 * The process's node flags for the thread (as a Worker gets by default: --cpu-prof, --enable-source-maps, ...),
 * without --input-type, which a Worker refuses when started from a file (`node --input-type=module -e ...`).
 */
export function workerExecArgv(execArgv: readonly string[] = process.execArgv): string[] {
  const out: string[] = [];
  for (let i = 0; i < execArgv.length; i++) {
    const a = execArgv[i]!;
    if (a === '--input-type') i++;
    else if (!a.startsWith('--input-type=')) out.push(a);
  }
  return out;
}

/**
 * The module beside `from` named `name`: name.ts from the sources, name.js from the compiled package.
 * `from` is the caller's import.meta.url.
 */
export function siblingModule(from: string, name: string): URL {
  return new URL(`./${name}${from.endsWith('.ts') ? '.ts' : '.js'}`, from);
}

/** A Worker running `entry`'s exported main(init). */
export function startModuleWorker(entry: URL, init: unknown): Worker {
  return new Worker(BOOTSTRAP, { execArgv: workerExecArgv(), workerData: { entry: entry.href, init } });
}
