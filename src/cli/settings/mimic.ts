/** `--mimic`: behave on the wire like the --rpc-url node (docs/mimic.md). */
import { z } from 'zod';
import { DEFAULT_BUDGET } from '../../sources/p2p/mimic/budget.js';
import { settings } from './define.js';
import { bool, endpoint, positive } from './schemas.js';

const MIB = 1024 * 1024;

export const MIMIC_SETTINGS = settings({
  mimic: {
    schema: bool,
    kind: 'boolean',
    help: 'behave on the wire like the --rpc-url node (its identity, chain, answers and timing; docs/mimic.md); without it the minimal node, which a careful peer can tell apart',
    commands: ['run'],
  },
  mimicPeerBudgetMb: {
    schema: positive('a number of MiB', 100_000_000),
    kind: 'number',
    arg: '<n>',
    help: 'with --mimic: block bytes one peer may be sent per 24 h',
    shownDefault: DEFAULT_BUDGET.perPeerBytes / MIB,
    commands: ['run'],
  },
  mimicGlobalBudgetMb: {
    schema: positive('a number of MiB', 100_000_000),
    kind: 'number',
    arg: '<n>',
    help: 'with --mimic: historical block bytes all peers may be sent per 24 h',
    shownDefault: DEFAULT_BUDGET.globalBytes / MIB,
    commands: ['run'],
  },
  externalAddress: {
    schema: z
      .array(endpoint({ allowPortZero: false }), { invalid_type_error: 'expected a list of "host:port"' })
      .max(16, 'at most 16 addresses'),
    kind: 'list',
    list: 'repeat',
    arg: '<host:port>',
    help: "with --mimic: our own address, advertised to peers as Core's -externalip (after they ask for addresses, then about daily; repeatable)",
    commands: ['run'],
  },
});
