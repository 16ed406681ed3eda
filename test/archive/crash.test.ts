/**
 * Crash test: SIGKILL a process during sustained archive writes. On reopening,
 * `PRAGMA integrity_check` is ok, every batch the process reported committed
 * is there, and at most the batch in flight is missing: the rows are exactly
 * the sequence 0..max with max at most one batch past the last acknowledged.
 */
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { after, describe, it } from 'node:test';
import Database from 'better-sqlite3';
import { archivePath, openArchiveForWriting } from '../../src/consumers/archive/db.js';
import { seqOf } from './events.js';

const WRITER = fileURLToPath(new URL('./crash-writer.ts', import.meta.url));
const root = mkdtempSync(join(tmpdir(), 'po-crash-'));
after(() => rmSync(root, { recursive: true, force: true }));

async function killDuringWrites(dataDir: string, batchSize: number, killAfterBatches: number, maxDbMb?: number): Promise<number> {
  const args = ['--import', 'tsx', WRITER, dataDir, String(batchSize), ...(maxDbMb ? [String(maxDbMb)] : [])];
  const child = spawn(process.execPath, args, { stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  let err = '';
  child.stdout.setEncoding('utf8').on('data', (s: string) => (out += s));
  child.stderr.setEncoding('utf8').on('data', (s: string) => (err += s));
  const exited = new Promise<NodeJS.Signals | null>((resolve) => child.on('exit', (_code, signal) => resolve(signal)));
  const deadline = Date.now() + 20_000;
  while ((out.match(/^committed /gm)?.length ?? 0) < killAfterBatches) {
    if (child.exitCode !== null) throw new Error(`writer exited: ${err}`);
    if (Date.now() > deadline) {
      child.kill('SIGKILL');
      throw new Error(`writer too slow: ${out.slice(-200)} ${err}`);
    }
    await new Promise((r) => setTimeout(r, 5));
  }
  // Mid-stream, at a time unrelated to batch boundaries.
  await new Promise((r) => setTimeout(r, Math.random() * 30));
  child.kill('SIGKILL');
  assert.equal(await exited, 'SIGKILL');
  assert.equal(err, '');
  const acked = [...out.matchAll(/^committed (\d+)$/gm)].map((m) => Number(m[1]));
  return acked.at(-1)!;
}

function check(dataDir: string): { integrity: string; seqs: number[] } {
  const db = new Database(archivePath(dataDir));
  const integrity = db.pragma('integrity_check', { simple: true }) as string;
  const seqs = (db.prepare('SELECT envelope FROM events ORDER BY id').all() as { envelope: string }[]).map((r) =>
    seqOf(JSON.parse(r.envelope)),
  );
  db.close();
  return { integrity, seqs };
}

describe('archive crash safety', { timeout: 60_000 }, () => {
  for (const round of [1, 2, 3]) {
    it(`SIGKILL during sustained writes (round ${round}): integrity ok, nothing acknowledged lost, at most the last batch missing`, async () => {
      const dataDir = join(root, `plain${round}`);
      const batchSize = 500;
      const lastAcked = await killDuringWrites(dataDir, batchSize, 20 + round * 7);
      const { integrity, seqs } = check(dataDir);
      assert.equal(integrity, 'ok');
      const max = seqs.at(-1)!;
      assert.deepEqual(
        seqs,
        Array.from({ length: max + 1 }, (_, i) => i),
        'rows are exactly 0..max, in order',
      );
      assert.ok(max >= lastAcked, `acknowledged ${lastAcked}, file ends at ${max}`);
      assert.ok(max - lastAcked <= batchSize, `at most one batch past the last acknowledgement: ${max} vs ${lastAcked}`);
      // And the archive opens for writing again, as a restarted process would.
      openArchiveForWriting(dataDir).close();
    });
  }

  it('SIGKILL while retention by size deletes and vacuums: integrity ok, the newest rows contiguous up to the last batch', async () => {
    const dataDir = join(root, 'pruning');
    const batchSize = 500;
    const lastAcked = await killDuringWrites(dataDir, batchSize, 80, 1);
    const { integrity, seqs } = check(dataDir);
    assert.equal(integrity, 'ok');
    const min = seqs[0]!;
    const max = seqs.at(-1)!;
    assert.ok(min > 0, 'retention deleted the oldest rows');
    assert.deepEqual(
      seqs,
      Array.from({ length: max - min + 1 }, (_, i) => min + i),
    );
    assert.ok(max >= lastAcked && max - lastAcked <= batchSize, `${max} vs ${lastAcked}`);
    openArchiveForWriting(dataDir).close();
  });
});
