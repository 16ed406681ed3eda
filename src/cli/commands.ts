/**
 * The commands, as a static table: name and description (all `--help` needs)
 * and the module that registers the command's options and action, imported
 * only when the command is the one being run (or its help shown). Starting
 * `peer-observer --version` or `--help` so loads commander and this table,
 * not the observer, SQLite, NATS or the detectors.
 */
import type { Command } from 'commander';
import type { Io } from './pipeline.js';

export interface MainContext {
  io: Io;
  env: NodeJS.ProcessEnv;
  signal: AbortSignal;
}

/** Adds a command's options, subcommands and action to the command main.ts created. */
export type RegisterCommand = (command: Command, context: MainContext) => void;

export interface CommandEntry {
  name: string;
  description: string;
  /** Whether it has options of its own (the top-level help says `[options]`); commands with subcommands have none. */
  options: boolean;
  load: () => Promise<RegisterCommand>;
}

export const COMMANDS: readonly CommandEntry[] = [
  {
    name: 'run',
    description: 'run the observer node: listen for peers, connect to peers, log every connection and message',
    options: true,
    load: async () => (await import('./run-command.js')).registerRun,
  },
  {
    name: 'demo',
    description: 'see it work: an observer on 127.0.0.1, simulated honest peers and rotating attacks against it, logged live',
    options: true,
    load: async () => (await import('./demo.js')).registerDemo,
  },
  {
    name: 'log',
    description: 'print the events observers publish to NATS, until interrupted; counters on stderr at exit',
    options: true,
    load: async () => (await import('./log.js')).registerLog,
  },
  {
    name: 'archive',
    description: 'keep every event observers publish to NATS in SQLite under --data-dir, until interrupted',
    options: true,
    load: async () => (await import('./archive.js')).registerArchive,
  },
  {
    name: 'query',
    description: 'print archived events (oldest first) as a table, or as JSON lines with --json',
    options: true,
    load: async () => (await import('./query.js')).registerQuery,
  },
  {
    name: 'replay',
    description: 'feed archived events back into a bus: printed by the logger here, or published to NATS',
    options: true,
    load: async () => (await import('./replay.js')).registerReplay,
  },
  {
    name: 'simulate',
    description: 'run simulated attack (or honest) peers against a node or observer: real TCP peers from many 127.x.y.z addresses',
    options: true,
    load: async () => (await import('./simulate.js')).registerSimulate,
  },
  {
    name: 'incidents',
    description: 'incident reports from the archive or a running observer',
    options: false,
    load: async () => (await import('./incidents.js')).registerIncidents,
  },
  {
    name: 'collective',
    description: "the operators' collective: keys, signed and redacted incident reports, verification (docs/collective.md)",
    options: false,
    load: async () => (await import('./collective.js')).registerCollective,
  },
  {
    name: 'nats',
    description: 'NATS administration: the JetStream stream (docs/bus.md)',
    options: false,
    load: async () => (await import('./nats-setup.js')).registerNats,
  },
];

/** The command `argv` runs (or asks help for: `help run`), if any: its first word that is not an option. */
export function commandIn(argv: readonly string[]): string | undefined {
  const words = argv.filter((a) => !a.startsWith('-'));
  return words[0] === 'help' ? words[1] : words[0];
}
