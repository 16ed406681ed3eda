/**
 * `peer-observer collective`: the operator's side of the Bitcoin Network
 * Operations Collective (docs/collective.md), before it is wired into `run`:
 *
 *   collective keygen --out member.key [--member NAME]
 *       a new Ed25519 key (file mode 0600, never overwritten); prints the
 *       member entry for collective.json
 *   collective sign --key member.key --member NAME --collective NAME --seq-file F [--attackers clear|netgroup] REPORT.json
 *       an incident report (`incidents export --format json`) → the shared,
 *       redacted report, signed, as one line of JSON (what goes on the wire)
 *   collective verify --trust collective.json [--state F] [FILE]
 *       check signed reports (one per line, FILE or stdin): one JSON line each,
 *       accepted or the reason it was refused; a summary on stderr
 *   collective list --data-dir DIR [--min-members K] [--format json|csv|bitcoin-cli|detectors] [--ban-time S]
 *       what the collective confirmed (run --collective archived it): a watch
 *       or ban list, each entry with who reported it and when (collective/list.ts)
 *   collective hub-setup --server URL --trust collective.json [--check]
 *       the hub's reports stream, from the trust file's limits (collective-hub.ts)
 */
import { readFileSync } from 'node:fs';
import type { Command } from 'commander';
import type { IncidentReport } from '../consumers/alerts/report.js';
import { REFUSALS, signReport, Verifier } from '../collective/envelope.js';
import { generateKeyPair, loadPrivateKey, writePrivateKey } from '../collective/keys.js';
import { toSharedReport } from '../collective/report.js';
import { SeqCounter, SeqState } from '../collective/seq.js';
import { loadTrust, MEMBER_NAME } from '../collective/trust.js';
import { CollectiveList, formatList, LIST_FORMATS, type ListFormat } from '../collective/list.js';
import { openArchiveForReading } from '../consumers/archive/db.js';
import { readMatching } from '../consumers/archive/query.js';
import { parseEvent } from '../events/schema.js';
import { registerHubSetup } from './collective-hub.js';
import { RuntimeError, UsageError, describeError } from './errors.js';
import type { Io } from './pipeline.js';

/** Most signed reports `verify` reads from one input (each is at most the trust file's size limit). */
const MAX_INPUT_BYTES = 256 * 1024 * 1024;

function readInput(path: string | undefined): string {
  try {
    return readFileSync(path ?? 0, 'utf8');
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    throw new UsageError(`${path ?? 'stdin'}: cannot read: ${code === 'ENOENT' ? 'no such file' : String(code)}`);
  }
}

export function keygen(o: { out: string; member?: string }, io: Io): void {
  if (o.member !== undefined && !MEMBER_NAME.test(o.member))
    throw new UsageError(`--member ${JSON.stringify(o.member)}: expected 1-32 lower-case letters, digits, "_" or "-"`);
  const k = generateKeyPair();
  try {
    writePrivateKey(o.out, k.privateKeyPem);
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code === 'EEXIST') throw new UsageError(`--out ${o.out}: already exists (a key is never overwritten)`);
    throw new RuntimeError(`--out ${o.out}: cannot write: ${String(code)}`);
  }
  io.stdout.write(`${JSON.stringify({ name: o.member ?? 'CHANGE-ME', keys: [{ publicKey: k.publicKey }] })}\n`);
  io.stderr.write(
    `peer-observer: wrote the private key to ${o.out} (mode 0600: keep it secret); key id ${k.keyId}; the line above is its entry for collective.json\n`,
  );
}

export function signCommand(
  file: string,
  o: { key: string; member: string; collective: string; seqFile: string; attackers: string },
  io: Io,
): void {
  if (!MEMBER_NAME.test(o.member))
    throw new UsageError(`--member ${JSON.stringify(o.member)}: expected 1-32 lower-case letters, digits, "_" or "-"`);
  if (o.attackers !== 'clear' && o.attackers !== 'netgroup')
    throw new UsageError(`--attackers ${JSON.stringify(o.attackers)}: expected clear or netgroup`);
  let report: IncidentReport;
  try {
    report = JSON.parse(readInput(file)) as IncidentReport;
    if (report.format !== 'peer-observer incident report') throw new Error('not an incident report');
  } catch (err) {
    if (err instanceof UsageError) throw err;
    throw new UsageError(`${file}: expected an incident report (incidents export --format json): ${(err as Error).message}`);
  }
  let shared;
  try {
    shared = toSharedReport(report, { attackers: o.attackers });
  } catch (err) {
    throw new UsageError(`${file}: cannot share this report: ${(err as Error).message.split('\n')[0]}`);
  }
  let privateKey;
  let counter;
  try {
    privateKey = loadPrivateKey(o.key);
    counter = new SeqCounter(o.seqFile);
  } catch (err) {
    throw new UsageError((err as Error).message);
  }
  io.stdout.write(`${signReport(shared, { collective: o.collective, member: o.member, privateKey, seq: counter.next() })}\n`);
}

export function verifyCommand(file: string | undefined, o: { trust: string; state?: string }, io: Io): Record<string, number> {
  let verifier: Verifier;
  try {
    const trust = loadTrust(o.trust);
    verifier = new Verifier({ trust: () => trust, seqs: new SeqState(o.state) });
  } catch (err) {
    throw new UsageError((err as Error).message);
  }
  const text = readInput(file);
  if (text.length > MAX_INPUT_BYTES) throw new UsageError(`${file ?? 'stdin'}: larger than ${MAX_INPUT_BYTES} bytes`);
  for (const line of text.split('\n')) {
    if (line.trim() === '') continue;
    const r = verifier.verify(line);
    io.stdout.write(
      `${JSON.stringify(r.ok ? { ok: true, member: r.envelope.member, seq: r.envelope.seq, report: r.envelope.report } : { ok: false, reason: r.reason, detail: r.detail })}\n`,
    );
  }
  const counts = verifier.counters();
  const shown = [`accepted=${counts.accepted}`, ...REFUSALS.filter((k) => counts[k] > 0).map((k) => `${k}=${counts[k]}`)].join(' ');
  io.stderr.write(`peer-observer: collective verify: ${shown}\n`);
  return counts;
}

export function listCommand(o: { dataDir: string; minMembers: string; format: string; banTime: string }, io: Io): void {
  const minMembers = Number(o.minMembers);
  if (!/^[0-9]+$/.test(o.minMembers) || minMembers < 1 || minMembers > 1000)
    throw new UsageError(`--min-members ${JSON.stringify(o.minMembers)}: expected an integer from 1 to 1000`);
  if (!(LIST_FORMATS as readonly string[]).includes(o.format))
    throw new UsageError(`--format ${JSON.stringify(o.format)}: expected one of ${LIST_FORMATS.join(', ')}`);
  const banSeconds = Number(o.banTime);
  if (!/^[0-9]+$/.test(o.banTime) || banSeconds < 1 || banSeconds > 10 * 365 * 86_400)
    throw new UsageError(`--ban-time ${JSON.stringify(o.banTime)}: expected a number of seconds from 1 to ${10 * 365 * 86_400}`);
  let db;
  try {
    db = openArchiveForReading(o.dataDir);
  } catch (err) {
    throw new UsageError(`--data-dir: ${describeError(err)}`);
  }
  const list = new CollectiveList();
  let unreadable = 0;
  try {
    for (const row of readMatching(db, { types: ['alert'] })) {
      try {
        const e = parseEvent(JSON.parse(row.envelope));
        if (e.type === 'alert' && e.source === 'collective') list.add(e.data);
      } catch {
        unreadable++;
      }
    }
  } finally {
    db.close();
  }
  const entries = list.list(minMembers);
  const { text, skipped } = formatList(entries, o.format as ListFormat, { banSeconds });
  io.stdout.write(text);
  const notes = [
    `${entries.length} entr${entries.length === 1 ? 'y' : 'ies'} reported by at least ${minMembers} member${minMembers === 1 ? '' : 's'}`,
    ...(skipped ? [`${skipped} not expressible as ${o.format} (ASNs, non-IP netgroups)`] : []),
    ...(list.malformed || unreadable ? [`${list.malformed + unreadable} archived alerts not readable`] : []),
  ];
  io.stderr.write(`peer-observer: collective list: ${notes.join('; ')}\n`);
}

export function registerCollective(collective: Command, context: { io: Io }): void {
  collective
    .command('keygen')
    .description('make an Ed25519 key pair: the private key into --out (mode 0600), the member entry for collective.json on stdout')
    .requiredOption('--out <file>', 'where the private key goes (refused if it exists)')
    .option('--member <name>', 'the member name to put in the printed entry')
    .action((opts: { out: string; member?: string }) => keygen(opts, context.io));
  collective
    .command('sign <report>')
    .description('turn an incident report (incidents export --format json) into the shared, redacted report, signed: one JSON line')
    .requiredOption('--key <file>', 'your private key (collective keygen)')
    .requiredOption('--member <name>', 'your member name in collective.json')
    .requiredOption('--collective <name>', 'the collective\'s name (its "collective" in collective.json)')
    .requiredOption('--seq-file <file>', 'where your sequence number is kept (created if missing; never reuse a number)')
    .option('--attackers <policy>', 'clear: attacker IPs as they are (no ports); netgroup: only their netgroups', 'clear')
    .action((report: string, opts: { key: string; member: string; collective: string; seqFile: string; attackers: string }) =>
      signCommand(report, opts, context.io),
    );
  collective
    .command('verify [file]')
    .description('verify signed reports (one per line; default stdin): prints each as accepted or why it was refused')
    .requiredOption('--trust <file>', "the collective's trust file (collective.json)")
    .option('--state <file>', "each member's last accepted sequence number, kept here across runs (replays refused)")
    .action((file: string | undefined, opts: { trust: string; state?: string }) => {
      verifyCommand(file, opts, context.io);
    });
  collective
    .command('list')
    .description('what the collective confirmed (archived by run --collective): a watch or ban list, with who reported each entry and when')
    .requiredOption('--data-dir <dir>', 'the archive of a run --collective --data-dir')
    .option('--min-members <k>', 'entries reported by at least this many members', '2')
    .option(
      '--format <format>',
      'json (a line each), csv, bitcoin-cli ("setban <subnet> add <seconds>" lines) or detectors (a --detectors-config with the subnets on the spy watch list)',
      'json',
    )
    .option('--ban-time <seconds>', 'with --format bitcoin-cli: how long each ban lasts', '86400')
    .action((opts: { dataDir: string; minMembers: string; format: string; banTime: string }) => listCommand(opts, context.io));
  registerHubSetup(collective, context);
}
