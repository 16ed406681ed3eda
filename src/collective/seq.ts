/**
 * Sequence numbers, kept across restarts so a replay stays a replay:
 *
 * - `SeqState` (receiving): each member's last accepted sequence number; one
 *   entry per member of the trust file, written to a JSON file (write to a
 *   temporary file, then rename: a crash leaves the old file or the new one).
 * - `SeqCounter` (sending): our own next number, persisted *before* it is
 *   used, so a restart never signs two reports with the same number.
 */
import { readFileSync, renameSync, writeFileSync } from 'node:fs';
import { z } from 'zod';

const SeqFileSchema = z.record(z.string().max(64), z.number().int().min(0).max(Number.MAX_SAFE_INTEGER));

function readJson(path: string): unknown {
  try {
    return JSON.parse(readFileSync(path, 'utf8'));
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw new Error(`${path}: cannot read sequence state: ${(err as Error).message}`);
  }
}

function writeAtomic(path: string, value: unknown): void {
  const tmp = `${path}.tmp-${process.pid}`;
  writeFileSync(tmp, JSON.stringify(value), { mode: 0o600 });
  renameSync(tmp, path);
}

export class SeqState {
  private readonly seqs = new Map<string, number>();

  /** `path`: where the state lives (undefined: memory only, for tests and one-shot checks). */
  constructor(private readonly path?: string) {
    if (path === undefined) return;
    const raw = readJson(path);
    if (raw === undefined) return;
    const parsed = SeqFileSchema.safeParse(raw);
    if (!parsed.success) throw new Error(`${path}: not a sequence state file`);
    for (const [member, seq] of Object.entries(parsed.data)) this.seqs.set(member, seq);
  }

  last(member: string): number {
    return this.seqs.get(member) ?? 0;
  }

  accept(member: string, seq: number): void {
    this.seqs.set(member, seq);
    if (this.path !== undefined) writeAtomic(this.path, Object.fromEntries(this.seqs));
  }
}

export class SeqCounter {
  private lastSeq: number;

  constructor(private readonly path: string) {
    const raw = readJson(path);
    const parsed = z.object({ seq: z.number().int().min(0).max(Number.MAX_SAFE_INTEGER) }).safeParse(raw ?? { seq: 0 });
    if (!parsed.success) throw new Error(`${path}: not a sequence counter file`);
    this.lastSeq = parsed.data.seq;
  }

  /** The next number, already on disk. */
  next(): number {
    const seq = this.lastSeq + 1;
    writeAtomic(this.path, { seq });
    this.lastSeq = seq;
    return seq;
  }
}
