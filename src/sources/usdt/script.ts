/**
 * The bpftrace script the usdt source runs: the shipped one
 * (deploy/bpftrace/peer-observer.bt, arg0..arg5 only, so it runs on bpftrace
 * 0.17 as Debian ships it), with its mempool:replaced probe swapped for one that
 * also reads arg6 (replacement fee) and arg7 (is the replacement a txid, not a
 * package hash) from where this bitcoind binary keeps them (its USDT note).
 */
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { bpftraceArg, readUsdtNotes, type UsdtNote } from './notes.js';

export const BPFTRACE_SCRIPT = fileURLToPath(new URL('../../../deploy/bpftrace/peer-observer.bt', import.meta.url));

/**
 * The environment bpftrace needs for the script (see its header). The output
 * ring: 4 MiB per CPU (bpftrace's default is 64 pages, 256 KiB): a 1000-entry
 * addr is 236 lines, and bpftrace formats ~10^4 lines/s, so an addr flood
 * overflowed the default ring at once (measured: docs/sources.md). The operator's
 * own BPFTRACE_PERF_RB_PAGES wins (many CPUs, little memory).
 */
export function bpftraceEnv(env: NodeJS.ProcessEnv = process.env): Record<string, string> {
  return { BPFTRACE_STRLEN: '128', BPFTRACE_PERF_RB_PAGES: env.BPFTRACE_PERF_RB_PAGES ?? '1024' };
}

const BEGIN = '// BEGIN mempool:replaced';
const END = '// END mempool:replaced';

export interface ScriptPlan {
  text: string;
  /** What was done about the arguments beyond arg5. */
  note: string;
}

/** The shipped script for `binary`; `notes` overrides reading them from the binary (tests). */
export function buildScript(binary: string | null, notes?: UsdtNote[]): ScriptPlan {
  const shipped = readFileSync(BPFTRACE_SCRIPT, 'utf8');
  let found: UsdtNote[];
  try {
    found = notes ?? (binary ? readUsdtNotes(binary) : []);
  } catch (e) {
    return {
      text: shipped,
      note: `mempool:replaced without the replacement fee: cannot read ${binary}'s USDT notes (${(e as Error).message})`,
    };
  }
  const replaced = found.find((n) => n.provider === 'mempool' && n.name === 'replaced');
  const fee = replaced?.args[6] !== undefined ? bpftraceArg(replaced.args[6]) : null;
  const isTxid = replaced?.args[7] !== undefined ? bpftraceArg(replaced.args[7]) : null;
  if (!replaced || !fee || !isTxid)
    return {
      text: shipped,
      note: `mempool:replaced without the replacement fee: ${replaced ? `arguments 7-8 (${replaced.args.slice(6).join(' ')}) are in a form we do not read` : 'the binary has no such tracepoint'}`,
    };
  const start = shipped.indexOf(BEGIN);
  const end = shipped.indexOf(END);
  if (start < 0 || end < start)
    return { text: shipped, note: 'mempool:replaced without the replacement fee: the script has no replaceable block' };
  const probe = [
    `${BEGIN} (arg6 = ${replaced.args[6]}, arg7 = ${replaced.args[7]}, from the binary's USDT note)`,
    'usdt:$1:mempool:replaced {',
    '  printf("{\\"tracepoint\\":\\"mempool:replaced\\",\\"replaced_txid\\":\\"%rh\\",\\"replaced_vsize\\":%d,\\"replaced_fee\\":%ld,\\"replaced_entry_time\\":%lu,\\"replacement_txid\\":\\"%rh\\",\\"replacement_vsize\\":%d,\\"replacement_fee\\":%ld,\\"replacement_is_tx\\":%u}\\n",',
    `         buf(arg0, 32), arg1, arg2, arg3, buf(arg4, 32), arg5, ${fee}, ${isTxid});`,
    '}',
    '',
  ].join('\n');
  return {
    text: shipped.slice(0, start) + probe + shipped.slice(end),
    note: `mempool:replaced reads arg6/arg7 from ${replaced.args[6]} and ${replaced.args[7]}`,
  };
}
