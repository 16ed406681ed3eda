/**
 * Starting a module in a worker thread, from the TypeScript sources (tsx) or
 * the compiled package alike: bootstrap.mjs loads the entry and calls its
 * `main(init)`. Used by the archive's writer thread and the p2p source's v2
 * key pool.
 */
import { Worker } from 'node:worker_threads';

const BOOTSTRAP = new URL('./bootstrap.mjs', import.meta.url);

/**
 * The node flags a thread gets: by default (none passed) a Worker inherits the process's own, and Node leaves out
 * by itself the V8 and per-process ones it refuses for a thread (`--max-old-space-size`, `--title`, ...). Only
 * `--input-type`, which a Worker refuses when started from a file (`node --input-type=module -e ...`), has to be
 * taken out by hand; then the flags are passed explicitly and Node no longer leaves out the others, so the ones it
 * refuses are removed too (see startModuleWorker). Undefined: inherit.
 */
export function workerExecArgv(execArgv: readonly string[] = process.execArgv): string[] | undefined {
  if (!execArgv.some((a) => a === '--input-type' || a.startsWith('--input-type='))) return undefined;
  const out: string[] = [];
  for (let i = 0; i < execArgv.length; i++) {
    const a = execArgv[i]!;
    if (a === '--input-type') i++;
    else if (!a.startsWith('--input-type=')) out.push(a);
  }
  return out;
}

/** The flags of an ERR_WORKER_INVALID_EXEC_ARGV message (`...invalid execArgv flags: --a=1, --b`). */
export function refusedFlags(message: string): string[] {
  const colon = message.indexOf(': ');
  return colon < 0
    ? []
    : message
        .slice(colon + 2)
        .split(', ')
        .filter((f) => f.startsWith('-'));
}

/**
 * The module beside `from` named `name`: name.ts from the sources, name.js from the compiled package.
 * `from` is the caller's import.meta.url.
 */
export function siblingModule(from: string, name: string): URL {
  return new URL(`./${name}${from.endsWith('.ts') ? '.ts' : '.js'}`, from);
}

/** A Worker running `entry`'s exported main(init). */
export function startModuleWorker(entry: URL, init: unknown, execArgv = workerExecArgv()): Worker {
  const workerData = { entry: entry.href, init };
  if (!execArgv) return new Worker(BOOTSTRAP, { workerData });
  try {
    return new Worker(BOOTSTRAP, { execArgv, workerData });
  } catch (e) {
    if ((e as { code?: unknown }).code !== 'ERR_WORKER_INVALID_EXEC_ARGV') throw e;
    // V8 and per-process flags (heap limits, --title, ...) the process took and a thread cannot.
    const refused = new Set(refusedFlags((e as Error).message));
    const kept = execArgv.filter((a) => !refused.has(a));
    if (refused.size === 0 || kept.length === execArgv.length) throw e;
    return new Worker(BOOTSTRAP, { execArgv: kept, workerData });
  }
}
