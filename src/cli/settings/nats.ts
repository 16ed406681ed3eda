/** Publishing to NATS instead of the in-process bus (docs/bus.md). */
import { BATCH_ENCODINGS } from '../../bus/seq.js';
import { NATS_MODES } from '../../bus/modes.js';
import { z } from 'zod';
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
  consumerName: {
    schema: z.string({ invalid_type_error: 'expected a name' }).regex(/^[A-Za-z0-9_-]{1,32}$/, 'expected 1-32 letters, digits, "_" or "-"'),
    kind: 'string',
    arg: '<name>',
    help: 'with --nats (JetStream): the durable consumer is run-<name> on the server; it resumes where it stopped',
    shownDefault: 'the node id',
    commands: ['run'],
  },
  since: {
    schema: z.string({ invalid_type_error: 'expected start, new or a time' }).min(1, 'expected start, new or a time'),
    kind: 'string',
    arg: '<when>',
    help: 'with --nats (JetStream): where a new consumer starts: start (the oldest event kept), new, or a time (2024-06-01T12:00:00Z, -1h)',
    shownDefault: 'new',
    commands: ['run'],
  },
});
