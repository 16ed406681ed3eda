/** A command's flags and their `--help` lines, from the settings it takes. */
import type { Command } from 'commander';
import { collect, collectList, flagOf, type CommandName, type Setting } from './define.js';
import { settingsFor } from './index.js';

/** The `--help` line: the help text, and the default where it is a plain value the text does not already name. */
export function helpOf(s: Setting): string {
  const value = s.shownDefault ?? (typeof s.default === 'string' || typeof s.default === 'number' ? s.default : undefined);
  return value === undefined || /\bdefault\b/.test(s.help) ? s.help : `${s.help} (default: ${value})`;
}

/** Add the flags of every setting `name` takes to `command` (and `--config`: the file layer). */
export function addSettingOptions(command: Command, name: CommandName): Command {
  command.option('--config <file>', 'JSON config file (flags > PEER_OBSERVER_* env > file > defaults)');
  for (const [key, s] of settingsFor(name)) {
    const flag = flagOf(key);
    const spelled = s.kind === 'boolean' ? flag : `${flag} ${s.arg ?? '<value>'}`;
    if (s.kind === 'list') command.option(spelled, helpOf(s), s.list === 'commas' ? collectList : collect);
    else command.option(spelled, helpOf(s));
    if (s.negation !== undefined) command.option(`--no-${flag.slice(2)}`, s.negation);
  }
  return command;
}
