/**
 * bench/summary-check: the cost of checking a message event that comes in from
 * outside (NATS, archive) now that its payload is checked against its command's
 * summary (src/events/message-summary.ts), beside the check it replaced (the
 * payload as any JSON value, reconstructed here), same run, same values,
 * interleaved.
 *
 *   node --import tsx bench/summary-check.ts [--reps 7]
 *
 * A benchmark script, never a test: nothing here asserts a time.
 */
import { parseArgs } from 'node:util';
import { z } from 'zod';
import { compileCheck } from '../src/events/compile.js';
import { EVENT_DATA_SCHEMAS, isJsonValue, jsonValue } from '../src/events/schema.js';
import { messageSummary } from '../src/events/summary.js';
import { ipFromString } from '../src/protocol/address.js';
import { msg } from '../src/protocol/messages/index.js';
import type { Message } from '../src/protocol/messages/types.js';

const { values: opts } = parseArgs({ options: { reps: { type: 'string', default: '7' } } });
const reps = Number(opts.reps);

const connRef = z
  .object({ id: z.number().int().nonnegative(), direction: z.enum(['inbound', 'outbound', 'unknown']), remote: z.string() })
  .strict();
/** The message schema before typed summaries: the payload any JSON value. */
const before = z
  .object({
    conn: connRef,
    dir: z.enum(['in', 'out']),
    command: z.string().max(12),
    size: z.number().int().nonnegative(),
    known: z.boolean(),
    payload: jsonValue,
    raw: z.string().optional(),
  })
  .strict();
const natives = new Map([[jsonValue as z.ZodTypeAny, isJsonValue]]);
const checks = { before: compileCheck(before, natives), after: compileCheck(EVENT_DATA_SCHEMAS.message, natives) };

const conn = { id: 1, direction: 'inbound' as const, remote: '127.0.0.1:50000' };
const data = (m: Message, size: number) => ({ conn, dir: 'in' as const, size, ...messageSummary(m) });
const hash = (i: number) => new Uint8Array(32).fill(i);
const cases: [string, unknown, number][] = [
  ['ping', data(msg('ping', { nonce: 0x1234_5678_9abc_def0n }), 8), 200_000],
  ['inv (35 tx)', data(msg('inv', { items: Array.from({ length: 35 }, (_, i) => ({ type: 1, hash: hash(i) })) }), 1261), 50_000],
  [
    'addr (1000)',
    data(
      msg('addr', {
        entries: Array.from({ length: 1000 }, (_, i) => ({
          time: 1_700_000_000,
          services: 1033n,
          ip: ipFromString(`10.0.${i >> 8}.${i & 255}`),
          port: 8333,
        })),
      }),
      30_003,
    ),
    1_000,
  ],
  [
    'tx',
    data(
      msg('tx', {
        version: 2,
        inputs: [{ prevTxid: hash(1), prevIndex: 0, scriptSig: new Uint8Array(107), sequence: 0xffffffff }],
        outputs: [{ value: 1000n, scriptPubKey: new Uint8Array(22) }],
        lockTime: 0,
      }),
      191,
    ),
    100_000,
  ],
];

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[xs.length >> 1]!;
console.log(`| message | before (any JSON) µs | after (typed summary) µs | after / before |`);
console.log(`|---------|--------------------:|------------------------:|---------------:|`);
for (const [name, value, n] of cases) {
  const times = { before: [] as number[], after: [] as number[] };
  for (let rep = 0; rep < reps + 1; rep++) {
    for (const which of ['before', 'after'] as const) {
      const check = checks[which];
      if (!check(value)) throw new Error(`${which} rejects ${name}`);
      const t = performance.now();
      for (let i = 0; i < n; i++) check(value);
      if (rep > 0) times[which].push(((performance.now() - t) * 1000) / n); // the first round warms up
    }
  }
  const b = median(times.before);
  const a = median(times.after);
  console.log(`| ${name} | ${b.toFixed(2)} | ${a.toFixed(2)} | ${(a / b).toFixed(1)} |`);
}
