/**
 * The archive settings of this change from each layer (flags, PEER_OBSERVER_* environment, config file), their
 * one-line errors through the real bin, and the same flags of `archive` and `query`.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { parseArchiveFlags } from '../../src/cli/archive.js';
import { loadRunConfig } from '../../src/cli/config.js';
import { parseQueryFlags } from '../../src/cli/query.js';
import { runCli } from '../cli/helpers.js';

const root = mkdtempSync(join(tmpdir(), 'po-archive-flags-'));
after(() => rmSync(root, { recursive: true, force: true }));

describe('archive flags: --fold-rate, --fresh-if-damaged, --max-db-mb 0, query --count', () => {
  it('run: from flags, the environment and the config file (flags win)', () => {
    const fromFlags = loadRunConfig({ flags: { dataDir: '/d', foldRate: '2.5', freshIfDamaged: true, maxDbMb: '0' }, env: {} });
    assert.deepEqual(fromFlags.archive, { dataDir: '/d', maxDbMb: 0, foldRate: 2.5, freshIfDamaged: true });
    const fromEnv = loadRunConfig({
      flags: {},
      env: {
        PEER_OBSERVER_DATA_DIR: '/e',
        PEER_OBSERVER_FOLD_RATE: '0',
        PEER_OBSERVER_FRESH_IF_DAMAGED: 'yes',
        PEER_OBSERVER_MAX_DB_MB: '0',
      },
    });
    assert.deepEqual(fromEnv.archive, { dataDir: '/e', maxDbMb: 0, foldRate: 0, freshIfDamaged: true });
    const file = join(root, 'config.json');
    writeFileSync(file, JSON.stringify({ dataDir: '/f', foldRate: 7, freshIfDamaged: true }));
    assert.deepEqual(loadRunConfig({ flags: {}, configFile: file, env: {} }).archive, { dataDir: '/f', foldRate: 7, freshIfDamaged: true });
    assert.deepEqual(loadRunConfig({ flags: { foldRate: '3' }, configFile: file, env: { PEER_OBSERVER_FOLD_RATE: '5' } }).archive, {
      dataDir: '/f',
      foldRate: 3,
      freshIfDamaged: true,
    });
    assert.throws(
      () => loadRunConfig({ flags: {}, configFile: file, env: { PEER_OBSERVER_FOLD_RATE: 'fast' } }),
      /PEER_OBSERVER_FOLD_RATE "fast": expected a number of events per second/,
    );
    writeFileSync(file, JSON.stringify({ dataDir: '/f', freshIfDamaged: 'yes' }));
    assert.throws(() => loadRunConfig({ flags: {}, configFile: file, env: {} }), /freshIfDamaged "yes": expected true or false/);
  });

  it('archive and query parse theirs', () => {
    const a = parseArchiveFlags({ nats: ['nats://127.0.0.1:4222'], dataDir: '/d', foldRate: '0', freshIfDamaged: true, maxDbMb: '0' });
    assert.deepEqual([a.foldRate, a.freshIfDamaged, a.maxDbMb], [0, true, 0]);
    assert.equal(parseQueryFlags({ dataDir: '/d', count: true }).count, true);
  });

  const cases: [string[], RegExp][] = [
    [['run', '--fold-rate', '5'], /--fold-rate needs --data-dir/],
    [['run', '--fresh-if-damaged'], /--fresh-if-damaged needs --data-dir/],
    [['run', '--data-dir', '/tmp/x', '--fold-rate', '-1'], /--fold-rate "-1": expected a number of events per second/],
    [
      ['archive', '--nats', 'nats://127.0.0.1:1', '--data-dir', '/tmp/x', '--fold-rate', 'x'],
      /--fold-rate "x": expected a number of events per second \(0: never fold\)/,
    ],
    [
      ['archive', '--nats', 'nats://127.0.0.1:1', '--data-dir', '/tmp/x', '--max-db-mb', '-2'],
      /--max-db-mb "-2": expected a number of MiB \(0: no cap\)/,
    ],
    [['query', '--data-dir', '/tmp/x', '--count', '--json'], /--count prints one line of counts; --json prints events: choose one/],
    [['query', '--data-dir', '/tmp/x', '--count', '--limit', '3'], /--count counts every match; --limit applies to listing them/],
  ];
  for (const [args, pattern] of cases) {
    it(args.join(' '), async () => {
      const r = await runCli(args);
      assert.equal(r.code, 2, r.stderr);
      assert.match(r.stderr, pattern);
      assert.equal(r.stderr.trim().split('\n').length, 1);
    });
  }
});
