/**
 * The shape of one setting. Every setting of `peer-observer run` (and any other
 * command that takes it) is one `Setting` in a topic module beside this file;
 * the config file's key, the PEER_OBSERVER_* variable, the commander flag, its
 * `--help` line, the validation and the TypeScript type are all derived from it
 * (index.ts, layers.ts, commander.ts). To add a setting, add one entry to the
 * topic module it belongs to.
 *
 * This module and its siblings import only zod and light modules (no sockets,
 * no SQLite, no detectors): `--help` loads them.
 */
import type { z } from 'zod';

/** How a value is read from text (a flag or the environment). */
export type Kind = 'string' | 'number' | 'boolean' | 'list';

/** The commands whose flags are generated from the settings. */
export type CommandName = 'run';

export interface Setting<S extends z.ZodTypeAny = z.ZodTypeAny> {
  /** Validates a value from any layer; its output type is the setting's type. One-line messages ("expected ..."). */
  schema: S;
  kind: Kind;
  /** The flag's value placeholder (`<n>`, `<host:port>`); none for a boolean. */
  arg?: string;
  /** `--help` text. */
  help: string;
  /**
   * A list flag: `repeat` takes one value per flag (`--listen a --listen b`);
   * `commas` also splits each on commas (`--nats a,b`). The environment always splits on commas.
   */
  list?: 'repeat' | 'commas';
  /** Applied when no layer sets the setting (loadRunConfig), and shown in `--help`. */
  default?: z.output<S>;
  /** A default applied elsewhere (the observer, the archive), shown in `--help` only. */
  shownDefault?: string | number;
  /** A boolean that is on by default: also a `--no-<flag>` with this help. */
  negation?: string;
  /** Never echoed in an error message. */
  secret?: boolean;
  /** The commands that take it as a flag (and, for `run`, from the config file and the environment). */
  commands: readonly CommandName[];
}

/** Keeps each entry's schema type, so the config's types are inferred from the declarations. */
export function settings<const T extends Record<string, Setting>>(entries: T): T {
  return entries;
}

/** `maxDbMb` → `max-db-mb`. */
export function kebab(key: string): string {
  return key.replace(/[A-Z]/g, (m) => `-${m.toLowerCase()}`);
}

/** `maxDbMb` → `--max-db-mb`. */
export function flagOf(key: string): string {
  return `--${kebab(key)}`;
}

/** `maxDbMb` → `PEER_OBSERVER_MAX_DB_MB`. */
export function envOf(key: string): string {
  return `PEER_OBSERVER_${kebab(key).replace(/-/g, '_').toUpperCase()}`;
}

/** Text (from a flag or the environment) to the type the schema expects; left alone when it does not parse. */
export function fromText(kind: Kind, text: string): unknown {
  switch (kind) {
    case 'string':
      return text;
    case 'list':
      return text
        .split(',')
        .map((s) => s.trim())
        .filter((s) => s !== '');
    case 'boolean':
      if (/^(1|true|yes|on)$/i.test(text)) return true;
      if (/^(0|false|no|off)$/i.test(text)) return false;
      return text;
    case 'number':
      return /^\s*[0-9]+(\.[0-9]+)?\s*$/.test(text) ? Number(text) : text;
  }
}

/** Repeatable: `--listen a --listen b`. */
export function collect(value: string, previous: string[] | undefined): string[] {
  return [...(previous ?? []), value];
}

/** Repeatable and comma-separated: `--nats a --nats b` or `--nats a,b`. */
export function collectList(value: string, previous: string[] | undefined): string[] {
  const items = value
    .split(',')
    .map((s) => s.trim())
    .filter((s) => s !== '');
  return [...(previous ?? []), ...(items.length ? items : [value])];
}
