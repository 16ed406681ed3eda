/**
 * The usdt source: Bitcoin Core's USDT tracepoints through bpftrace and the
 * shipped script (deploy/bpftrace/peer-observer.bt), or that script's output
 * read from a file or FIFO (for a tracer run apart, e.g. as root in another
 * unit: `bpftrace ... > /run/peer-observer/usdt.fifo`). `pipeline.counters`
 * (stage `usdt`) every `countersEveryMs` and at the end: lines, events,
 * malformed lines, kernel-dropped events (`lost`).
 */
import { spawn, spawnSync } from 'node:child_process';
import { accessSync, constants, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { delimiter, join } from 'node:path';
import type { ObserverEvent } from '../../events/types.js';
import type { NetworkName } from '../../protocol/networks.js';
import { EventSink } from '../../events/sink.js';
import { followFile } from '../log/follow.js';
import { UsdtInterpreter } from './interpret.js';
import { bpftraceEnv, buildScript } from './script.js';

export { BPFTRACE_SCRIPT } from './script.js';

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
  /** Publish `pipeline.counters` itself (default true); false when a runtime (src/runtime/) publishes stats() from its one timer. */
  publishCounters?: boolean;
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
  const sink = new EventSink(options.nodeId, 'usdt', options.publish);
  const interpreter = new UsdtInterpreter(sink, options.network);
  const stop = new AbortController();
  const signal = options.signal ? AbortSignal.any([options.signal, stop.signal]) : stop.signal;
  const every = options.publishCounters === false ? 0 : (options.countersEveryMs ?? 10_000);
  const timer =
    every > 0 ? setInterval(() => sink.emit('pipeline.counters', { stage: 'usdt', counters: interpreter.snapshot() }), every) : undefined;
  timer?.unref();
  // Messages whose payload lines were lost are emitted with what came, a few seconds late (lines lag under load).
  const sweeper = setInterval(() => interpreter.sweep(), 1000);
  sweeper.unref();

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
      clearInterval(sweeper);
      interpreter.end();
      if (timer) clearInterval(timer);
      if (options.publishCounters !== false) sink.emit('pipeline.counters', { stage: 'usdt', counters: interpreter.snapshot() });
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

/**
 * bpftrace asks for an unlimited RLIMIT_MEMLOCK and warns when it cannot have it.
 * Since Linux 5.11 BPF memory is charged to the cgroup and the limit no longer
 * matters; before, the maps fail to load under the usual 8 MiB. We start
 * bpftrace through util-linux's `prlimit` with the limit raised when this
 * process may raise it (root with CAP_SYS_RESOURCE); otherwise say what to do.
 */
export function memlockWrapper(): { argv: string[]; note: string | null } {
  const raise = ['--memlock=unlimited:unlimited'];
  const probe = spawnSync('prlimit', [...raise, 'true'], { stdio: 'ignore' });
  if (probe.status === 0) return { argv: ['prlimit', ...raise, '--'], note: null };
  return {
    argv: [],
    note:
      probe.error !== undefined
        ? 'usdt: cannot raise RLIMIT_MEMLOCK (no prlimit: install util-linux); on kernels before 5.11 run with `ulimit -l unlimited` or LimitMEMLOCK=infinity'
        : 'usdt: cannot raise RLIMIT_MEMLOCK (needs CAP_SYS_RESOURCE); harmless on kernels from 5.11 (BPF memory is charged to the cgroup), before that run with `ulimit -l unlimited` or LimitMEMLOCK=infinity',
  };
}

/** Runs bpftrace with the shipped script on the given bitcoind until it exits or the signal aborts. */
function runBpftrace(options: UsdtSourceOptions, signal: AbortSignal, onLine: (line: string) => void): Promise<void> {
  const pid = options.bitcoindPid!;
  const bin = options.bpftrace ?? 'bpftrace';
  const exe = `/proc/${pid}/exe`;
  // Checked here: behind prlimit, a missing bpftrace would only be prlimit's exit code.
  if (!onPath(bin))
    return Promise.reject(
      new Error(`usdt: cannot run ${bin}: not installed (install bpftrace, or run the script apart and pass --usdt-input)`),
    );
  const plan = buildScript(exe);
  options.onStatus?.(`usdt: ${plan.note}`);
  const dir = mkdtempSync(join(tmpdir(), 'peer-observer-usdt-'));
  const script = join(dir, 'peer-observer.bt');
  writeFileSync(script, plan.text);
  const memlock = memlockWrapper();
  if (memlock.note) options.onStatus?.(memlock.note);
  // -q: no "Attaching N probes"; -B line: flush every line, so events are not held back.
  const argv = [...memlock.argv, bin, '-q', '-B', 'line', '-p', String(pid), script, exe];
  const child = spawn(argv[0]!, argv.slice(1), {
    stdio: ['ignore', 'pipe', 'pipe'],
    env: { ...process.env, ...bpftraceEnv() },
  });
  child.once('close', () => rmSync(dir, { recursive: true, force: true }));
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
  let errPending = '';
  child.stderr.on('data', (chunk: string) => {
    errPending += chunk;
    const lines = errPending.split('\n');
    errPending = (lines.pop() ?? '').slice(-4096);
    for (const line of lines) {
      if (!line.trim()) continue;
      // "Lost N events" may come on stderr too.
      if (/^Lost \d+ events/.test(line)) onLine(line);
      // We said what this means (memlockWrapper's note); bpftrace's own words would only confuse.
      else if (memlock.note && /couldn't set RLIMIT_MEMLOCK/.test(line)) continue;
      // bpftrace 0.17 detaching without tracefs mounted: the kernel drops the probes with their fds anyway.
      else if (signal.aborted && /uprobe_events\): No such file|failed to detach probe/.test(line)) continue;
      else options.onStatus?.(`usdt: bpftrace: ${line}`);
    }
  });
  // SIGINT lets bpftrace detach its probes; one that hangs (seen with 0.17) is killed, so stop() always ends.
  let killTimer: NodeJS.Timeout | undefined;
  const onAbort = (): void => {
    child.kill('SIGINT');
    killTimer = setTimeout(() => {
      options.onStatus?.('usdt: bpftrace did not stop within 5 s of SIGINT: killed');
      child.kill('SIGKILL');
    }, 5000);
    killTimer.unref();
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
      if (killTimer) clearTimeout(killTimer);
      if (pending) onLine(pending);
      if (errPending.trim()) options.onStatus?.(`usdt: bpftrace: ${errPending}`);
      if (!signal.aborted)
        options.onStatus?.(
          `usdt: bpftrace exited (${sig ?? `code ${code}`}): it needs root or CAP_BPF+CAP_PERFMON, and a bitcoind built with USDT tracepoints`,
        );
      resolve();
    });
  });
}

/** Is `bin` an executable (a path, or a name found on PATH)? */
function onPath(bin: string): boolean {
  const candidates = bin.includes('/') ? [bin] : (process.env.PATH ?? '').split(delimiter).map((d) => join(d || '.', bin));
  return candidates.some((c) => {
    try {
      accessSync(c, constants.X_OK);
      return true;
    } catch {
      return false;
    }
  });
}
