/** `--collective`: share incidents with other operators and receive theirs (docs/collective.md). */
import { settings } from './define.js';
import { int, natsUrls, path, seconds } from './schemas.js';

export const COLLECTIVE_SETTINGS = settings({
  collective: {
    schema: natsUrls.min(1, 'expected a NATS URL'),
    kind: 'list',
    list: 'commas',
    arg: '<url>',
    help: 'share incidents with a collective and receive theirs: its NATS (nats://member:password@host:port; docs/collective.md)',
    commands: ['run'],
  },
  collectiveKey: {
    schema: path,
    kind: 'string',
    arg: '<file>',
    help: 'with --collective: our Ed25519 private key (peer-observer collective keygen)',
    commands: ['run'],
  },
  collectiveTrust: {
    schema: path,
    kind: 'string',
    arg: '<file>',
    help: 'with --collective: the trust file (collective.json: members and keys, re-read when it changes)',
    commands: ['run'],
  },
  collectiveMinMembers: {
    schema: int(1000),
    kind: 'number',
    arg: '<k>',
    help: 'with --collective: members reporting one netgroup or ASN that make a collective incident, counted by their trust-file weight',
    default: 2,
    commands: ['run'],
  },
  collectiveWindow: {
    schema: seconds,
    kind: 'number',
    arg: '<seconds>',
    help: 'with --collective: within this many seconds',
    default: 600,
    commands: ['run'],
  },
});
