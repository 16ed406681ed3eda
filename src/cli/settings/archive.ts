/** The SQLite archive in the observer's process (`--data-dir`; docs/archive.md). */
import { z } from 'zod';
import { settings } from './define.js';
import { bool, nonNegative, positive } from './schemas.js';

/**
 * `--help` of the archive settings `run` and `archive` share (`archive` drops the
 * "with --data-dir: "). 10 is fold.ts's DEFAULT_FOLD_RATE, written out: that module loads SQLite.
 */
export const ARCHIVE_FLAG_HELP = {
  foldRate:
    'with --data-dir: events per second (a KiB of payload counting as one more) each connection may send of one command before the rest are folded into counted aggregates (default: 10; 0: store every event whole)',
  freshIfDamaged:
    'with --data-dir: if the archive fails its integrity check, move it aside (archive.sqlite.damaged-<time>, never deleted) and start a fresh one',
};

export const ARCHIVE_SETTINGS = settings({
  dataDir: {
    schema: z.string({ invalid_type_error: 'expected a directory' }).trim().min(1, 'expected a directory'),
    kind: 'string',
    arg: '<dir>',
    help: 'also archive every event in SQLite here (archive.sqlite; see query and replay)',
    commands: ['run'],
  },
  retentionDays: {
    schema: positive('a number of days', 100_000),
    kind: 'number',
    arg: '<n>',
    help: 'with --data-dir: delete archived events older than this many days',
    commands: ['run'],
  },
  maxDbMb: {
    schema: nonNegative('a number of MiB', '0: no cap', 100_000_000),
    kind: 'number',
    arg: '<n>',
    help: 'with --data-dir: keep the archive under this many MiB, oldest events deleted first',
    shownDefault: '10% of the free space, at most 10 GiB; 0: no cap',
    commands: ['run'],
  },
  foldRate: {
    schema: nonNegative('a number of events per second', '0: never fold', 1_000_000),
    kind: 'number',
    arg: '<n>',
    help: ARCHIVE_FLAG_HELP.foldRate,
    commands: ['run'],
  },
  freshIfDamaged: { schema: bool, kind: 'boolean', help: ARCHIVE_FLAG_HELP.freshIfDamaged, commands: ['run'] },
});
