/** The observer node itself: network, name, where it listens and dials, its connection limits, its transport. */
import { hostname } from 'node:os';
import { z } from 'zod';
import { NETWORK_NAMES } from '../../protocol/networks.js';
import { DEFAULT_LIMITS } from '../../sources/p2p/limits.js';
import { settings } from './define.js';
import { bool, endpoints, int, NODE_ID, oneOf, range } from './schemas.js';

export const NODE_SETTINGS = settings({
  network: {
    schema: oneOf(NETWORK_NAMES),
    kind: 'string',
    arg: '<name>',
    help: 'mainnet, testnet3, testnet4, signet or regtest',
    default: 'mainnet',
    commands: ['run'],
  },
  listen: {
    schema: endpoints({ allowPortZero: true }),
    kind: 'list',
    list: 'repeat',
    arg: '<host:port>',
    help: 'accept inbound peers here (repeatable; default: 127.0.0.1:<network port> unless --connect is given)',
    commands: ['run'],
  },
  connect: {
    schema: endpoints({ allowPortZero: false }),
    kind: 'list',
    list: 'repeat',
    arg: '<host:port>',
    help: 'connect out to this node and keep reconnecting (repeatable)',
    default: [],
    commands: ['run'],
  },
  json: { schema: bool, kind: 'boolean', help: 'print one JSON event per line instead of text', default: false, commands: ['run'] },
  nodeId: {
    schema: z.string({ invalid_type_error: 'expected a string' }).regex(NODE_ID, 'expected 1-64 letters, digits, ".", "_" or "-"'),
    kind: 'string',
    arg: '<id>',
    help: "this observer's name in every event",
    shownDefault: 'the host name',
    commands: ['run'],
  },
  maxConnections: {
    schema: int(1_000_000),
    kind: 'number',
    arg: '<n>',
    help: 'most inbound peers at once',
    shownDefault: DEFAULT_LIMITS.maxConnections,
    commands: ['run'],
  },
  maxPerIp: {
    schema: int(1_000_000),
    kind: 'number',
    arg: '<n>',
    help: 'most inbound peers from one IP address',
    shownDefault: DEFAULT_LIMITS.maxPerIp,
    commands: ['run'],
  },
  handshakeTimeout: {
    schema: range('a number of seconds', 0.001, 86_400),
    kind: 'number',
    arg: '<seconds>',
    help: 'drop a peer that has not completed version/verack by then',
    shownDefault: DEFAULT_LIMITS.handshakeTimeoutMs / 1000,
    commands: ['run'],
  },
  maxPerNetgroup: {
    schema: int(1_000_000),
    kind: 'number',
    arg: '<n>',
    help: 'most inbound peers from one netgroup: IPv4 /16, IPv6 /32',
    shownDefault: DEFAULT_LIMITS.maxPerNetgroup,
    commands: ['run'],
  },
  maxPendingHandshakes: {
    schema: int(1_000_000),
    kind: 'number',
    arg: '<n>',
    help: 'most inbound connections still in their version handshake; past it the least advanced is evicted',
    shownDefault: DEFAULT_LIMITS.maxPendingHandshakes,
    commands: ['run'],
  },
  v2: {
    schema: bool,
    kind: 'boolean',
    help: 'speak BIP324 v2 (the default): advertise NODE_P2P_V2, serve v1 and v2 inbound, dial v2 first with v1 fallback',
    negation: 'speak v1 only (inbound v2 openings are reported as v2-transport violations)',
    default: true,
    commands: ['run'],
  },
  p2p: {
    schema: bool,
    kind: 'boolean',
    help: 'run the p2p node (the default)',
    negation:
      'no p2p node: with --nats, a process of consumers only (detectors and alerts, --http metrics and dashboard) reading what observers publish',
    default: true,
    commands: ['run'],
  },
});

/** A node id from the host name, made valid (the default for `--node-id`). */
export function defaultNodeId(): string {
  const id = hostname()
    .replace(/[^A-Za-z0-9._-]/g, '-')
    .replace(/^[^A-Za-z0-9]+/, '')
    .slice(0, 64);
  return id || 'observer';
}
