/**
 * One value of a setting, checked as a flag: for the commands that take a
 * setting's value on their own terms (`log --node-id` filters, `replay
 * --network` names a capture's network) without run's file and environment
 * layers. The rule and the message are the setting's: `--network "x": expected one of ...`.
 */
import { UsageError } from '../errors.js';
import type { ConfigLayer, SettingKey } from './index.js';
import { layerFromFlags } from './layers.js';

export function flagValue<K extends SettingKey>(key: K, value: string | string[]): NonNullable<ConfigLayer[K]> {
  return layerFromFlags({ [key]: value })[key]!;
}

/** `--nats` of a command that needs it: each URL checked and normalised; `why` says what the server is for. */
export function parseNatsFlags(urls: string[] | undefined, why: string): string[] {
  if (!urls?.length) throw new UsageError(`--nats <url> is required (${why})`);
  return flagValue('nats', urls);
}
