/**
 * The `peer-observer` command line. Every command lives in its own file and does
 * its work in a `run(options, signal)` the tests can call; this file only builds
 * the commander program, turns SIGINT/SIGTERM into an AbortSignal, and turns any
 * failure into one line on stderr and an exit code (2 bad input, 1 runtime).
 */
import { Command, CommanderError, Help } from 'commander';
import { COMMANDS, commandIn, type MainContext } from './commands.js';
import { RuntimeError, UsageError, describeError } from './errors.js';

export type { MainContext } from './commands.js';

export const VERSION = '0.1.0';

/**
 * The program, with every command named and described; only the command `argv`
 * runs is loaded and registered in full (commands.ts).
 */
export async function buildProgram(context: MainContext, argv: readonly string[] = []): Promise<Command> {
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
  // A command not loaded has no options yet; the help says `[options]` for it as for a loaded one.
  const unloaded = new WeakSet<Command>();
  program.configureHelp({
    subcommandTerm: (cmd) =>
      unloaded.has(cmd) ? `${cmd.name()} [options]` : Help.prototype.subcommandTerm.call(program.createHelp(), cmd),
  });
  const wanted = commandIn(argv);
  for (const entry of COMMANDS) {
    const command = program.command(entry.name).description(entry.description).exitOverride().configureOutput(program.configureOutput());
    if (entry.name === wanted) (await entry.load())(command, context);
    else if (entry.options) unloaded.add(command);
  }
  return program;
}

/** Run the CLI; resolves with the exit code instead of exiting. */
export async function main(argv: string[], context: MainContext): Promise<number> {
  const program = await buildProgram(context, argv);
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
