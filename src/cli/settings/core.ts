/** Watching a Bitcoin Core node: JSON-RPC, debug.log, USDT tracepoints (docs/sources.md; checked together by ../core-sources.ts). */
import { z } from 'zod';
import { settings } from './define.js';
import { bool, int, path, seconds, url } from './schemas.js';

export const CORE_SETTINGS = settings({
  rpcUrl: {
    schema: url(/^http:$/, 'expected an http:// URL like http://127.0.0.1:8332', 'expected an http:// URL'),
    kind: 'string',
    arg: '<url>',
    help: 'watch a Bitcoin Core node through its JSON-RPC (e.g. http://127.0.0.1:8332); with rpc/log/usdt and no --listen/--connect, no p2p listener',
    commands: ['run'],
  },
  rpcCookie: {
    schema: path,
    kind: 'string',
    arg: '<file>',
    help: "Core's RPC cookie file (e.g. ~/.bitcoin/.cookie), re-read on every call",
    commands: ['run'],
  },
  rpcUser: {
    schema: z.string({ invalid_type_error: 'expected a user name' }).min(1, 'expected a user name').max(1024),
    kind: 'string',
    arg: '<user>',
    help: 'RPC user (with --rpc-password)',
    commands: ['run'],
  },
  rpcPassword: {
    schema: z.string({ invalid_type_error: 'expected a password' }).min(1, 'expected a password').max(1024),
    kind: 'string',
    arg: '<password>',
    help: 'RPC password (prefer PEER_OBSERVER_RPC_PASSWORD: flags show in ps)',
    secret: true,
    commands: ['run'],
  },
  rpcInterval: {
    schema: seconds,
    kind: 'number',
    arg: '<seconds>',
    help: 'getpeerinfo every this often',
    default: 10,
    commands: ['run'],
  },
  rpcStatusInterval: {
    schema: seconds,
    kind: 'number',
    arg: '<seconds>',
    help: 'the node-wide RPCs (getnetworkinfo, getmempoolinfo, ...) every this often',
    default: 60,
    commands: ['run'],
  },
  debugLog: {
    schema: path,
    kind: 'string',
    arg: '<path>',
    help: "follow Bitcoin Core's debug.log (or a FIFO): run bitcoind with -debug=net -logips",
    commands: ['run'],
  },
  debugLogFromStart: {
    schema: bool,
    kind: 'boolean',
    help: 'read --debug-log from its start (default: only lines written from now on)',
    default: false,
    commands: ['run'],
  },
  usdt: {
    schema: bool,
    kind: 'boolean',
    help: "trace bitcoind's USDT tracepoints with bpftrace (root or CAP_BPF; needs --bitcoind-pid)",
    commands: ['run'],
  },
  bitcoindPid: {
    schema: int(4_194_304),
    kind: 'number',
    arg: '<pid>',
    help: 'the bitcoind process to trace with --usdt',
    commands: ['run'],
  },
  usdtInput: {
    schema: path,
    kind: 'string',
    arg: '<file>',
    help: 'read the output of deploy/bpftrace/peer-observer.bt from this file or FIFO instead of running bpftrace',
    commands: ['run'],
  },
});
