/** Detectors and alerts (always on), and the connectivity check (docs/detectors.md). */
import { z } from 'zod';
import { settings } from './define.js';
import { bool, url } from './schemas.js';

export const ALERT_SETTINGS = settings({
  detectorsConfig: {
    schema: z.string({ invalid_type_error: 'expected a file' }).trim().min(1, 'expected a file'),
    kind: 'string',
    arg: '<file>',
    help: 'JSON: detector parameters and alert options, e.g. {"addr-flood":{"minRateLimited":50},"message-rate":false}',
    commands: ['run'],
  },
  webhook: {
    schema: z.array(url(/^https?:$/, 'expected an http:// or https:// URL', 'expected an http(s):// URL'), {
      invalid_type_error: 'expected a list of URLs',
    }),
    kind: 'list',
    list: 'repeat',
    arg: '<url>',
    help: 'POST every alert change as JSON to this URL, with retries (repeatable)',
    default: [],
    commands: ['run'],
  },
  connectivity: {
    schema: bool,
    kind: 'boolean',
    help:
      'try the addresses peers advertise with a version handshake (connectivity.result events): this makes OUTBOUND ' +
      'connections to public addresses; private, loopback, link-local, reserved and multicast ones are never dialled',
    commands: ['run'],
  },
  connectivityAllowLoopback: {
    schema: bool,
    kind: 'boolean',
    help: 'for testing: let --connectivity also dial 127.0.0.0/8 and ::1',
    default: false,
    commands: ['run'],
  },
});
