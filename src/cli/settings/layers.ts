/**
 * The three layers a command's settings come from — the config file
 * (`--config FILE` or PEER_OBSERVER_CONFIG), PEER_OBSERVER_* environment
 * variables, and flags — each validated on its own against the settings'
 * schemas, so an error names where the bad value came from, in one line.
 */
import { readFileSync } from 'node:fs';
import { z } from 'zod';
import { UsageError } from '../errors.js';
import { envOf, flagOf, fromText, type CommandName, type Setting } from './define.js';
import { LayerSchema, SETTINGS, settingsFor, type ConfigLayer, type SettingKey } from './index.js';

/** The environment variable naming the config file (the `--config` flag wins over it). */
export const CONFIG_ENV = 'PEER_OBSERVER_CONFIG';

function describeValue(v: unknown): string {
  return typeof v === 'string' ? JSON.stringify(v) : (JSON.stringify(v) ?? String(v));
}

/** Validate one layer; `label` names a key as its source spells it (the layer's name with no key). */
function validate(
  raw: Record<string, unknown>,
  label: (key: SettingKey | '', index?: number) => string,
  typed: Record<string, unknown> = raw,
): ConfigLayer {
  const result = LayerSchema.safeParse(raw);
  if (result.success) return result.data;
  const issue = result.error.issues[0]!;
  if (issue.code === z.ZodIssueCode.unrecognized_keys) throw new UsageError(`${label('')}unknown key ${JSON.stringify(issue.keys[0])}`);
  const key = issue.path[0] as SettingKey;
  const index = typeof issue.path[1] === 'number' ? issue.path[1] : undefined;
  let value: unknown = typed[key];
  if (index !== undefined && Array.isArray(value)) value = value[index];
  // A secret is never echoed, even a malformed one.
  const shown = (SETTINGS[key] as Setting).secret ? '(hidden)' : describeValue(value);
  // parseEndpoint's messages quote the value themselves: say it once.
  const message = issue.message.replace(` in ${shown}`, '').replace(`address ${shown}`, 'address');
  throw new UsageError(`${label(key, index)} ${shown}: ${message}`);
}

/** Flags as commander hands them over (strings, string lists, booleans). */
export type FlagValues = Partial<Record<SettingKey, string | string[] | boolean>>;

export function layerFromFlags(flags: FlagValues): ConfigLayer {
  const raw: Record<string, unknown> = {};
  for (const [key, value] of Object.entries(flags) as [SettingKey, string | string[] | boolean | undefined][]) {
    if (value === undefined || !(key in SETTINGS)) continue;
    if (Array.isArray(value)) raw[key] = value;
    else raw[key] = typeof value === 'string' ? fromText(SETTINGS[key].kind, value) : value;
  }
  // Flags are checked one value at a time so the message can quote exactly what was typed.
  for (const [key, value] of Object.entries(raw) as [SettingKey, unknown][]) {
    if (Array.isArray(value)) value.forEach((v) => validate({ [key]: [v] }, () => flagOf(key)));
  }
  return validate(raw, (key) => (key ? flagOf(key) : 'flags: '), flags);
}

/**
 * PEER_OBSERVER_* variables the project reads outside the settings: main.ts (stack traces) and `nats setup`'s stream
 * limits (nats-setup.ts). Set for those, they must not stop `run` from starting.
 */
export const ENV_READ_ELSEWHERE: ReadonlySet<string> = new Set([
  'PEER_OBSERVER_DEBUG',
  'PEER_OBSERVER_STREAM_NAME',
  'PEER_OBSERVER_STREAM_MAX_AGE',
  'PEER_OBSERVER_STREAM_MAX_BYTES',
  'PEER_OBSERVER_STREAM_REPLICAS',
  'PEER_OBSERVER_STREAM_DUPLICATE_WINDOW',
]);

/** PEER_OBSERVER_* variables; one the command does not know is refused (a typo must not be ignored). */
export function layerFromEnv(env: NodeJS.ProcessEnv, command: CommandName = 'run'): ConfigLayer {
  const raw: Record<string, unknown> = {};
  const typed: Record<string, unknown> = {};
  const byEnv = new Map(settingsFor(command).map(([key]) => [envOf(key), key]));
  for (const [name, value] of Object.entries(env)) {
    if (!name.startsWith('PEER_OBSERVER_') || value === undefined || name === CONFIG_ENV || ENV_READ_ELSEWHERE.has(name)) continue;
    const key = byEnv.get(name);
    if (!key) throw new UsageError(`unknown environment variable ${name} (known: ${[...byEnv.keys(), CONFIG_ENV].join(', ')})`);
    raw[key] = fromText(SETTINGS[key].kind, value);
    typed[key] = value;
  }
  return validate(raw, (key) => (key ? envOf(key) : 'environment: '), typed);
}

/** A JSON object of camelCase keys. */
export function layerFromFile(path: string, label = '--config'): ConfigLayer {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    const why =
      code === 'ENOENT' ? 'no such file' : code === 'EACCES' ? 'permission denied' : code === 'EISDIR' ? 'is a directory' : String(code);
    throw new UsageError(`${label} ${JSON.stringify(path)}: cannot read: ${why}`);
  }
  let raw: unknown;
  try {
    raw = JSON.parse(text);
  } catch (err) {
    throw new UsageError(`config file ${JSON.stringify(path)}: invalid JSON: ${err instanceof Error ? err.message : String(err)}`);
  }
  if (typeof raw !== 'object' || raw === null || Array.isArray(raw)) {
    throw new UsageError(`config file ${JSON.stringify(path)}: expected a JSON object`);
  }
  const where = `config file ${JSON.stringify(path)}: `;
  return validate(raw as Record<string, unknown>, (key, index) =>
    key ? `${where}${key}${index !== undefined ? `[${index}]` : ''}` : where,
  );
}

/** Merge the layers: flags > environment > file (defaults are the caller's: they come after cross-setting checks). */
export function mergeLayers(options: {
  flags: FlagValues;
  configFile?: string;
  env: NodeJS.ProcessEnv;
  command?: CommandName;
}): ConfigLayer {
  const flags = layerFromFlags(options.flags);
  const fromEnv = layerFromEnv(options.env, options.command);
  const fileName = options.configFile ?? options.env[CONFIG_ENV];
  const file = fileName !== undefined ? layerFromFile(fileName, options.configFile !== undefined ? '--config' : CONFIG_ENV) : {};
  return { ...file, ...fromEnv, ...flags };
}
