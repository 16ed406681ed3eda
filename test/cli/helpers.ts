/** Spawning the real `bin/peer-observer.js` in tests, with bounded waits and no stray children. */
import { type ChildProcess, spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';

export const BIN = fileURLToPath(new URL('../../bin/peer-observer.js', import.meta.url));

export interface Cli {
  child: ChildProcess;
  stdout: () => string;
  stderr: () => string;
  /** Every complete stdout line parsed as JSON (fails the test on a line that is not). */
  events: () => Record<string, unknown>[];
  /** Wait until `pred` holds on the output so far. */
  until: (pred: () => boolean, what: string, timeoutMs?: number) => Promise<void>;
  /** Resolves with the exit code. */
  exited: Promise<number | null>;
  /** SIGINT (or `signal`), then the exit code; SIGKILL after `timeoutMs`. */
  stop: (signal?: NodeJS.Signals, timeoutMs?: number) => Promise<number | null>;
}

export function startCli(args: string[], options: { env?: Record<string, string>; cwd?: string } = {}): Cli {
  const env: NodeJS.ProcessEnv = { PATH: process.env.PATH, HOME: process.env.HOME, ...options.env };
  const child = spawn(process.execPath, [BIN, ...args], { env, cwd: options.cwd ?? process.cwd(), stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  let err = '';
  child.stdout!.setEncoding('utf8').on('data', (s: string) => (out += s));
  child.stderr!.setEncoding('utf8').on('data', (s: string) => (err += s));
  const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
  let done = false;
  void exited.then(() => (done = true));

  const until = async (pred: () => boolean, what: string, timeoutMs = 8000) => {
    const deadline = Date.now() + timeoutMs;
    while (!pred()) {
      if (done) throw new Error(`exited before ${what}\nstdout:\n${out.slice(-2000)}\nstderr:\n${err}`);
      if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}\nstdout:\n${out.slice(-2000)}\nstderr:\n${err}`);
      await new Promise((r) => setTimeout(r, 25));
    }
  };
  const stop = async (signal: NodeJS.Signals = 'SIGINT', timeoutMs = 5000) => {
    if (!done) child.kill(signal);
    const timer = setTimeout(() => child.kill('SIGKILL'), timeoutMs);
    const code = await exited;
    clearTimeout(timer);
    return code;
  };
  const events = () =>
    out
      .split('\n')
      .slice(0, -1)
      .map((line) => JSON.parse(line) as Record<string, unknown>);
  return { child, stdout: () => out, stderr: () => err, events, until, exited, stop };
}

/** Run to completion (bounded) and return everything. */
export async function runCli(
  args: string[],
  options: { env?: Record<string, string>; cwd?: string; timeoutMs?: number } = {},
): Promise<{ code: number | null; stdout: string; stderr: string }> {
  const cli = startCli(args, options);
  const timer = setTimeout(() => cli.child.kill('SIGKILL'), options.timeoutMs ?? 15_000);
  const code = await cli.exited;
  clearTimeout(timer);
  return { code, stdout: cli.stdout(), stderr: cli.stderr() };
}

/** The port from the "listening on host:port" line on stderr. */
export function listeningPort(stderr: string): number | undefined {
  const m = /listening on [^\s,]+:(\d+)/.exec(stderr);
  return m ? Number(m[1]) : undefined;
}

type Ev = { type?: unknown; nodeId?: unknown; data?: Record<string, unknown> };
export function ofType(events: Record<string, unknown>[], type: string): Ev[] {
  return (events as Ev[]).filter((e) => e.type === type);
}
