/**
 * The `peer-observer` command line. Every command lives in its own file and does
 * its work in a `run(options, signal)` the tests can call; this file only builds
 * the commander program, turns SIGINT/SIGTERM into an AbortSignal, and turns any
 * failure into one line on stderr and an exit code (2 bad input, 1 runtime).
 */
import { Command, CommanderError } from 'commander';
import { registerArchive } from './archive.js';
import { registerCollective } from './collective.js';
import { registerDemo } from './demo.js';
import { RuntimeError, UsageError, describeError } from './errors.js';
import { registerLog } from './log.js';
import { registerNats } from './nats-setup.js';
import { registerIncidents } from './incidents.js';
import { registerQuery } from './query.js';
import { registerReplay } from './replay.js';
import type { Io } from './pipeline.js';
import { registerRun } from './run.js';
import { registerSimulate } from './simulate.js';

export const VERSION = '0.1.0';

export interface MainContext {
  io: Io;
  env: NodeJS.ProcessEnv;
  signal: AbortSignal;
}

export function buildProgram(context: MainContext): Command {
  const program = new Command('peer-observer')
    .description('Watch the Bitcoin P2P network for attacks: a honeypot node that turns every connection and message into an event.')
    .version(VERSION)
    .exitOverride()
    .configureOutput({
      writeOut: (s) => context.io.stdout.write(s),
      writeErr: (s) => context.io.stderr.write(s),
      // Commander's messages start with "error: "; one line, named after us.
      outputError: (s, write) => write(`peer-observer: ${s.trim().split('\n')[0]}\n`),
    })
    .showSuggestionAfterError(true);
  registerRun(program, context);
  registerDemo(program, context);
  registerLog(program, context);
  registerArchive(program, context);
  registerQuery(program, context);
  registerReplay(program, context);
  registerSimulate(program, context);
  registerIncidents(program, context);
  registerCollective(program, context);
  registerNats(program, context);
  for (const c of program.commands) c.exitOverride().configureOutput(program.configureOutput());
  return program;
}

/** Run the CLI; resolves with the exit code instead of exiting. */
export async function main(argv: string[], context: MainContext): Promise<number> {
  const program = buildProgram(context);
  try {
    await program.parseAsync(argv, { from: 'user' });
    return 0;
  } catch (err) {
    if (err instanceof CommanderError) {
      if (err.code === 'commander.helpDisplayed' || err.code === 'commander.version' || err.exitCode === 0) return 0;
      // `peer-observer` with no command prints the help; anything else was already printed as one line.
      return 2;
    }
    const code = err instanceof UsageError ? 2 : 1;
    const message = err instanceof UsageError || err instanceof RuntimeError ? err.message : describeError(err);
    context.io.stderr.write(`peer-observer: error: ${message}\n`);
    if (!(err instanceof UsageError || err instanceof RuntimeError) && context.env.PEER_OBSERVER_DEBUG) {
      context.io.stderr.write(`${err instanceof Error ? err.stack : String(err)}\n`);
    }
    return code;
  }
}

/** The process entry point: real streams, real signals, real exit code. */
export async function cli(argv = process.argv.slice(2)): Promise<void> {
  const controller = new AbortController();
  let signals = 0;
  const onSignal = (name: NodeJS.Signals) => {
    signals++;
    if (signals > 1) {
      process.stderr.write(`peer-observer: ${name} again, exiting now\n`);
      process.exit(130);
    }
    controller.abort();
  };
  process.on('SIGINT', onSignal);
  process.on('SIGTERM', onSignal);
  // A closed stdout (`| head`) must not crash us; the logger notices and stops.
  process.stdout.on('error', () => {});
  const code = await main(argv, { io: { stdout: process.stdout, stderr: process.stderr }, env: process.env, signal: controller.signal });
  process.off('SIGINT', onSignal);
  process.off('SIGTERM', onSignal);
  process.exitCode = code;
  // The runtime reports a part that overran the shutdown deadline and goes on; whatever that part still holds
  // (a socket, a timer) must not keep the process alive. Unref'd: it fires only if something does.
  setTimeout(() => process.exit(), EXIT_GRACE_MS).unref();
}

/** How long after the command finished a process still held open by a stuck part is let live. */
const EXIT_GRACE_MS = 500;
