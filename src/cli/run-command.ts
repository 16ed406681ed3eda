/**
 * `peer-observer run`'s flags, from the settings it takes (settings/), and its
 * action, which loads the config and the observer (run.ts) only when the
 * command runs: `run --help` loads neither.
 */
import type { Command } from 'commander';
import type { Io } from './pipeline.js';
import { addSettingOptions } from './settings/commander.js';
import type { FlagValues } from './settings/layers.js';

export function registerRun(command: Command, context: { signal: AbortSignal; io: Io; env: NodeJS.ProcessEnv }): void {
  addSettingOptions(command, 'run').action(async (opts: FlagValues & { config?: string }) => {
    const [{ loadRunConfig }, { run }] = await Promise.all([import('./config.js'), import('./run.js')]);
    const { config: configFile, ...flags } = opts;
    const config = loadRunConfig({ flags, env: context.env, ...(configFile !== undefined ? { configFile } : {}) });
    await run(config, context.signal, context.io);
  });
}
