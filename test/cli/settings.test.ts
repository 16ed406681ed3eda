/**
 * The settings are declared once (src/cli/settings/): every entry becomes a
 * flag, an environment variable and a config-file key; its default passes its
 * own schema; `--help` lists every command's options although commands load
 * lazily, and `--version`/`--help` load none of the observer's heavy modules.
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PassThrough } from 'node:stream';
import { describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import { COMMANDS } from '../../src/cli/commands.js';
import { buildProgram } from '../../src/cli/main.js';
import { helpOf } from '../../src/cli/settings/commander.js';
import { envOf, flagOf, type Setting } from '../../src/cli/settings/define.js';
import { DEFAULTS, SETTINGS, settingsFor, type SettingKey } from '../../src/cli/settings/index.js';
import { ENV_READ_ELSEWHERE, layerFromEnv, layerFromFile, layerFromFlags } from '../../src/cli/settings/layers.js';
import { BIN } from './helpers.js';

const dir = mkdtempSync(join(tmpdir(), 'peer-observer-settings-'));
const context = () => ({ io: { stdout: new PassThrough(), stderr: new PassThrough() }, env: {}, signal: new AbortController().signal });
const entries = Object.entries(SETTINGS) as [SettingKey, Setting][];

/** `fn` throws an error whose message (not its name) matches. */
function throwsMessage(fn: () => unknown, pattern: RegExp): void {
  assert.throws(fn, (err: Error) => {
    assert.match(err.message, pattern);
    return true;
  });
}

describe('settings declared once', () => {
  it('every setting is a flag of run with its help line, a PEER_OBSERVER_* variable and a config-file key', async () => {
    const program = await buildProgram(context(), ['run']);
    const run = program.commands.find((c) => c.name() === 'run')!;
    for (const [key, s] of settingsFor('run')) {
      const option = run.options.find((o) => o.long === flagOf(key));
      assert.ok(option, `run has ${flagOf(key)}`);
      assert.equal(option.attributeName(), key, `${flagOf(key)} sets ${key}`);
      assert.equal(option.description, helpOf(s));
      assert.equal(option.required, s.kind !== 'boolean', `${flagOf(key)} takes a value unless a switch`);
      // A value of the wrong type in each layer is refused naming the key as that layer spells it: the key is known there.
      const bad = s.kind === 'boolean' ? 'maybe' : s.kind === 'number' ? 'many' : undefined;
      if (bad !== undefined) {
        throwsMessage(() => layerFromEnv({ [envOf(key)]: bad }), new RegExp(`^${envOf(key)} "${bad}": expected`));
        throwsMessage(() => layerFromFlags({ [key]: bad }), new RegExp(`^${flagOf(key)} "${bad}": expected`));
      }
      try {
        layerFromEnv({ [envOf(key)]: '' });
      } catch (err) {
        const shown = s.secret ? '\\(hidden\\)' : '""';
        assert.match((err as Error).message, new RegExp(`^${envOf(key)} ${shown}: expected`), `${envOf(key)} is known`);
      }
      const path = join(dir, `${key}.json`);
      writeFileSync(path, JSON.stringify({ [key]: { not: 'a value' } }));
      assert.throws(
        () => layerFromFile(path),
        (err: Error) => err.message.startsWith(`config file ${JSON.stringify(path)}: ${key}`),
      );
    }
    assert.equal(settingsFor('run').length, entries.length, 'run takes every setting');
    // --no-v2 comes from the v2 entry's negation.
    assert.ok(run.options.some((o) => o.long === '--no-v2'));
    throwsMessage(() => layerFromEnv({ PEER_OBSERVER_NO_SUCH: '1' }), /^unknown environment variable PEER_OBSERVER_NO_SUCH \(known: /);
  });

  it("variables the project reads outside the settings (PEER_OBSERVER_DEBUG, nats setup's stream limits) do not stop run", () => {
    const readers = ['main.ts', 'nats-setup.ts']
      .map((f) => readFileSync(new URL(`../../src/cli/${f}`, import.meta.url), 'utf8'))
      .join('\n');
    for (const name of ENV_READ_ELSEWHERE) {
      assert.ok(readers.includes(name), `${name} is read by main.ts or nats-setup.ts`);
      assert.deepEqual(layerFromEnv({ [name]: '1' }), {}, name);
    }
  });

  it('a default passes its own schema, and is shown in --help unless the help names it', () => {
    const defaults = DEFAULTS as Record<string, unknown>;
    for (const [key, s] of entries) {
      if (!('default' in s)) continue;
      const parsed = s.schema.safeParse(defaults[key]);
      assert.ok(parsed.success, `${key}'s default ${JSON.stringify(defaults[key])} passes its schema`);
      assert.deepEqual(parsed.data, defaults[key]);
      if (typeof s.default === 'string' || typeof s.default === 'number') assert.match(helpOf(s), /default/);
    }
    assert.equal(DEFAULTS.network, 'mainnet');
    assert.equal(helpOf(SETTINGS.rpcInterval), 'getpeerinfo every this often (default: 10)');
  });

  it('secrets are never echoed: a malformed token or password is shown as (hidden)', () => {
    throwsMessage(() => layerFromFlags({ httpToken: 'short secret' }), /^--http-token \(hidden\): expected 16 to 256/);
    throwsMessage(() => layerFromEnv({ PEER_OBSERVER_RPC_PASSWORD: '' }), /^PEER_OBSERVER_RPC_PASSWORD \(hidden\): expected a password$/);
  });
});

describe('commands load lazily', () => {
  it("the top-level --help is the same whether or not a command's module is loaded", async () => {
    const help = (await buildProgram(context(), [])).helpInformation();
    for (const entry of COMMANDS) {
      const program = await buildProgram(context(), [entry.name]);
      assert.equal(program.helpInformation(), help, `loading ${entry.name} leaves the top-level help as it was`);
      const command = program.commands.find((c) => c.name() === entry.name)!;
      // A loaded command has its options (or, for incidents/collective/nats, its subcommands).
      if (entry.options) assert.ok(command.options.length > 0, `${entry.name} has options`);
      else assert.ok(command.commands.length > 0 && command.options.length === 0, `${entry.name} has subcommands`);
    }
  });

  it('--version and --help load no observer, bus, archive or HTTP module; run --help loads only the settings', () => {
    const heavy = [
      /better-sqlite3/,
      /@nats-io/,
      /prom-client/,
      /\/ws\//,
      /\/src\/consumers\//,
      /\/src\/sources\/p2p\/observer/,
      /\/src\/http\/server/,
    ];
    const loaded = (args: string[]): string[] => {
      const log = join(dir, `modules-${args.join('_')}.log`);
      writeFileSync(log, '');
      const hooks = fileURLToPath(new URL('../helpers/module-log.mjs', import.meta.url));
      const r = spawnSync(process.execPath, ['--import', hooks, BIN, ...args], {
        env: { PATH: process.env.PATH, MODULE_LOG: log },
        encoding: 'utf8',
        timeout: 60_000,
      });
      assert.equal(r.status, 0, r.stderr);
      return readFileSync(log, 'utf8').split('\n').filter(Boolean);
    };
    for (const args of [['--version'], ['--help']]) {
      const urls = loaded(args);
      assert.ok(
        urls.some((u) => u.endsWith('/src/cli/main.ts')),
        `${args.join(' ')}: the log saw main.ts`,
      );
      for (const u of urls) {
        assert.doesNotMatch(u, /\/src\/cli\/(settings|config|run|pipeline)/, `${args.join(' ')} loads ${u}`);
        assert.doesNotMatch(u, /zod/, `${args.join(' ')} loads ${u}`);
        for (const h of heavy) assert.doesNotMatch(u, h, `${args.join(' ')} loads ${u}`);
      }
    }
    const run = loaded(['run', '--help']);
    assert.ok(run.some((u) => u.endsWith('/src/cli/settings/index.ts')));
    for (const u of run) {
      assert.doesNotMatch(u, /\/src\/cli\/(config|run|pipeline)\.ts/, `run --help loads ${u}`);
      for (const h of heavy) assert.doesNotMatch(u, h, `run --help loads ${u}`);
    }
  });
});
