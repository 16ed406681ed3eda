/** Publishing to NATS instead of the in-process bus (docs/bus.md). */
import { BATCH_ENCODINGS } from '../../bus/seq.js';
import { NATS_MODES } from '../../bus/modes.js';
import { settings } from './define.js';
import { natsUrls, oneOf } from './schemas.js';

export const NATS_SETTINGS = settings({
  nats: {
    schema: natsUrls,
    kind: 'list',
    list: 'commas',
    arg: '<url>',
    help: 'publish events to this NATS server instead of printing them (repeatable or comma-separated for a cluster)',
    default: [],
    commands: ['run'],
  },
  natsEncoding: {
    schema: oneOf(BATCH_ENCODINGS),
    kind: 'string',
    arg: '<encoding>',
    help: 'with --nats: msgpack (default: smaller, faster) or json (NDJSON any tool reads); consumers read both',
    default: 'msgpack',
    commands: ['run'],
  },
  natsMode: {
    schema: oneOf(NATS_MODES),
    kind: 'string',
    arg: '<mode>',
    help: 'with --nats: auto (JetStream when the server has it; default), jetstream or core (docs/bus.md)',
    default: 'auto',
    commands: ['run'],
  },
});
