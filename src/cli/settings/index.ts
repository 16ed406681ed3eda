/**
 * Every setting, gathered from the topic modules beside this file, and what is
 * derived from them: the schema of one config layer (file, environment or
 * flags), its type, and the defaults loadRunConfig applies. The order here is
 * the order of `--help`.
 *
 * To add a setting: add one entry to the topic module it belongs to (or a new
 * topic module, spread in below). Its flag (`--kebab-case`), environment
 * variable (PEER_OBSERVER_SNAKE_CASE), config-file key (the camelCase name),
 * `--help` line and type follow; what it does is then up to loadRunConfig.
 */
import { z } from 'zod';
import { ALERT_SETTINGS } from './alerts.js';
import { ARCHIVE_SETTINGS } from './archive.js';
import { COLLECTIVE_SETTINGS } from './collective.js';
import { CORE_SETTINGS } from './core.js';
import type { CommandName, Setting } from './define.js';
import { HTTP_SETTINGS } from './http.js';
import { MIMIC_SETTINGS } from './mimic.js';
import { NATS_SETTINGS } from './nats.js';
import { NODE_SETTINGS } from './node.js';

export const SETTINGS = {
  ...NODE_SETTINGS,
  ...NATS_SETTINGS,
  ...ARCHIVE_SETTINGS,
  ...HTTP_SETTINGS,
  ...CORE_SETTINGS,
  ...ALERT_SETTINGS,
  ...MIMIC_SETTINGS,
  ...COLLECTIVE_SETTINGS,
};

type Settings = typeof SETTINGS;
export type SettingKey = keyof Settings;

function shapeOf<T extends Record<string, Setting>>(entries: T): { [K in keyof T]: T[K]['schema'] } {
  return Object.fromEntries(Object.entries(entries).map(([key, s]) => [key, s.schema])) as { [K in keyof T]: T[K]['schema'] };
}

/** The schema of one layer, and of the config file (which may not have unknown keys). */
export const LayerSchema = z.object(shapeOf(SETTINGS)).partial().strict();

/** What each layer may set; every key is optional. Inferred from the declarations. */
export type ConfigLayer = z.output<typeof LayerSchema>;

/** The keys that declare a `default`, and its type. */
type Defaulted = { [K in SettingKey as Settings[K] extends { default: unknown } ? K : never]-?: NonNullable<ConfigLayer[K]> };

/** The defaults loadRunConfig applies when no layer sets a key. */
export const DEFAULTS = Object.fromEntries(
  Object.entries(SETTINGS as Record<string, Setting>)
    .filter(([, s]) => 'default' in s)
    .map(([key, s]) => [key, s.default]),
) as Defaulted;

/** The settings a command takes, in `--help` order. */
export function settingsFor(command: CommandName): [SettingKey, Setting][] {
  return (Object.entries(SETTINGS) as [SettingKey, Setting][]).filter(([, s]) => s.commands.includes(command));
}

export type { Endpoint } from './schemas.js';
