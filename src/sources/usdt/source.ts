/**
 * The usdt source: Bitcoin Core's USDT tracepoints through bpftrace and the
 * shipped script (deploy/bpftrace/peer-observer.bt), or that script's output
 * read from a file or FIFO (for a tracer run apart, e.g. as root in another
 * unit: `bpftrace ... > /run/peer-observer/usdt.fifo`). `pipeline.counters`
 * (stage `usdt`) every `countersEveryMs` and at the end: lines, events,
 * malformed lines, kernel-dropped events (`lost`).
 */
import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import type { ObserverEvent } from '../../events/types.js';
import type { NetworkName } from '../../protocol/networks.js';
import { CoreSink } from '../core/common.js';
import { followFile } from '../log/follow.js';
import { UsdtInterpreter } from './interpret.js';

export const BPFTRACE_SCRIPT = fileURLToPath(new URL('../../../deploy/bpftrace/peer-observer.bt', import.meta.url));

export interface UsdtSourceOptions {
  nodeId: string;
  network: NetworkName;
  publish: (event: ObserverEvent) => void;
  signal?: AbortSignal;
  /** Read the script's output from this file or FIFO (from its start) ... */
  input?: string;
  /** ... or run bpftrace on this bitcoind process. */
  bitcoindPid?: number;
  /** The bpftrace binary (default `bpftrace` on PATH). */
  bpftrace?: string;
  /** Stop at the end of `input` instead of following it. */
  once?: boolean;
  pollMs?: number;
  countersEveryMs?: number;
  /** bpftrace's stderr lines and exit, for the operator. */
  onStatus?: (line: string) => void;
}

export interface UsdtSource {
  readonly done: Promise<void>;
  stop(): Promise<void>;
  stats(): Record<string, number>;
}

export function startUsdtSource(options: UsdtSourceOptions): UsdtSource {
  if ((options.input === undefined) === (options.bitcoindPid === undefined))
    throw new Error('usdt source: give either an input file or a bitcoind pid');
  const sink = new CoreSink(options.nodeId, 'usdt', options.publish);
  const interpreter = new UsdtInterpreter(sink, options.network);
  const stop = new AbortController();
  const signal = options.signal ? AbortSignal.any([options.signal, stop.signal]) : stop.signal;
  const every = options.countersEveryMs ?? 10_000;
  const timer =
    every > 0 ? setInterval(() => sink.emit('pipeline.counters', { stage: 'usdt', counters: interpreter.snapshot() }), every) : undefined;
  timer?.unref();

  const run = async (): Promise<void> => {
    if (options.input !== undefined) {
      await followFile({
        path: options.input,
        fromStart: true,
        signal,
        onLine: (l) => interpreter.line(l),
        ...(options.once !== undefined ? { once: options.once } : {}),
        ...(options.pollMs !== undefined ? { pollMs: options.pollMs } : {}),
      });
      return;
    }
    await runBpftrace(options, signal, (l) => interpreter.line(l));
  };

  const done = (async () => {
    try {
      await run();
    } finally {
      if (timer) clearInterval(timer);
      sink.emit('pipeline.counters', { stage: 'usdt', counters: interpreter.snapshot() });
    }
  })();

  return {
    done,
    async stop() {
      stop.abort();
      await done.catch(() => undefined);
    },
    stats: () => interpreter.snapshot(),
  };
}

/** Runs bpftrace with the shipped script on the given bitcoind until it exits or the signal aborts. */
function runBpftrace(options: UsdtSourceOptions, signal: AbortSignal, onLine: (line: string) => void): Promise<void> {
  const pid = options.bitcoindPid!;
  const bin = options.bpftrace ?? 'bpftrace';
  // -q: no "Attaching N probes"; -B line: flush every line, so events are not held back.
  const child = spawn(bin, ['-q', '-B', 'line', '-p', String(pid), BPFTRACE_SCRIPT, `/proc/${pid}/exe`], {
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let pending = '';
  child.stdout.setEncoding('utf8');
  child.stdout.on('data', (chunk: string) => {
    pending += chunk;
    let nl: number;
    while ((nl = pending.indexOf('\n')) >= 0) {
      onLine(pending.slice(0, nl));
      pending = pending.slice(nl + 1);
    }
    // Bounded: a line longer than 64 KiB is not one of ours.
    if (pending.length > 65536) {
      onLine(pending.slice(0, 65536));
      pending = '';
    }
  });
  child.stderr.setEncoding('utf8');
  child.stderr.on('data', (chunk: string) => {
    for (const line of chunk.split('\n')) {
      if (!line.trim()) continue;
      // "Lost N events" may come on stderr too.
      if (/^Lost \d+ events/.test(line)) onLine(line);
      else options.onStatus?.(`usdt: bpftrace: ${line}`);
    }
  });
  const onAbort = (): void => {
    child.kill('SIGINT');
  };
  signal.addEventListener('abort', onAbort, { once: true });
  return new Promise((resolve, reject) => {
    child.on('error', (e: NodeJS.ErrnoException) => {
      signal.removeEventListener('abort', onAbort);
      reject(
        new Error(
          e.code === 'ENOENT'
            ? `usdt: cannot run ${bin}: not installed (install bpftrace, or run the script apart and pass --usdt-input)`
            : `usdt: cannot run ${bin}: ${e.message}`,
        ),
      );
    });
    child.on('close', (code, sig) => {
      signal.removeEventListener('abort', onAbort);
      if (pending) onLine(pending);
      if (!signal.aborted)
        options.onStatus?.(
          `usdt: bpftrace exited (${sig ?? `code ${code}`}): it needs root or CAP_BPF+CAP_PERFMON, and a bitcoind built with USDT tracepoints`,
        );
      resolve();
    });
  });
}
