/** The HTTP server: /metrics, /api/*, /healthz and the dashboard (docs/dashboard.md), its token, hosts, ASN data and IP lists. */
import { z } from 'zod';
import { settings } from './define.js';
import { allowedHost, httpEndpoint, path } from './schemas.js';

export const HTTP_SETTINGS = settings({
  http: {
    schema: httpEndpoint,
    kind: 'string',
    arg: '<host:port>',
    help: 'serve /metrics, /api/* and /healthz here (a bare port: 127.0.0.1; default: no HTTP server)',
    commands: ['run'],
  },
  httpToken: {
    schema: z
      .string({ invalid_type_error: 'expected a token' })
      .regex(/^[\x21-\x7e]{16,256}$/, 'expected 16 to 256 printable characters without spaces'),
    kind: 'string',
    arg: '<token>',
    help: 'require the token on every data request: "Authorization: Bearer <token>" (API), open the dashboard as /#token=<token> (needed to bind a non-loopback address)',
    secret: true,
    commands: ['run'],
  },
  httpAllowedHost: {
    schema: z.array(allowedHost, { invalid_type_error: 'expected a list of host names' }),
    kind: 'list',
    list: 'commas',
    arg: '<name>',
    help: 'with --http: also answer requests whose Host is this name (repeatable or comma-separated; loopback names and the bound address always are): DNS rebinding protection',
    commands: ['run'],
  },
  asmap: {
    schema: path,
    kind: 'string',
    arg: '<file>',
    help: "with --http: a Bitcoin Core asmap file (Core's -asmap) for the dashboard's connections by ASN",
    commands: ['run'],
  },
  geoipAsn: {
    schema: path,
    kind: 'string',
    arg: '<file>',
    help: 'with --http: a MaxMind-format ASN database (e.g. GeoLite2-ASN.mmdb) instead of --asmap',
    commands: ['run'],
  },
  ipList: {
    schema: z
      .array(z.string({ invalid_type_error: 'expected NAME=FILE' }), { invalid_type_error: 'expected a list of NAME=FILE' })
      .max(16, 'at most 16 lists'),
    kind: 'list',
    list: 'repeat',
    arg: '<name=file>',
    help: 'with --http: count the traffic of peers on this IP list (one CIDR or IP per line), e.g. tor-exit=exits.txt (repeatable; linkinglion is built in)',
    commands: ['run'],
  },
});
