/**
 * Archive faults through the real bin (issue 12, finding 6):
 * - a damaged file (garbage written over a page in its middle) is refused at
 *   open with one line and exit code 1, untouched; with --fresh-if-damaged
 *   (here from the environment) it is moved aside, byte for byte, and a fresh
 *   archive started;
 * - an archive on a read-only mount (root: a tmpfs remounted read-only; as
 *   another user: chmod -w of the file and its directory) is queried and
 *   replayed;
 * - a full disk (a real one: a 3 MiB tmpfs mounted here, needs root) makes
 *   /healthz say the archive is not ok, why, and /metrics show diskFull 1,
 *   while the observer keeps running.
 * Before this change the first started and wrote into the damaged file, the
 * second failed with "unable to open database file", the third said ok.
 */
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import {
  chmodSync,
  copyFileSync,
  existsSync,
  mkdirSync,
  mkdtempSync,
  openSync,
  readFileSync,
  readdirSync,
  rmSync,
  writeSync,
  closeSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { archivePath, openArchiveForWriting } from '../../src/consumers/archive/db.js';
import { ArchiveStore } from '../../src/consumers/archive/store.js';
import { type Cli, listeningPort, runCli, startCli } from '../cli/helpers.js';
import { message, opened } from './events.js';
import { flood } from './flood.js';

const root = mkdtempSync(join(tmpdir(), 'po-archive-faults-'));
const mounts: string[] = [];
const children: Cli[] = [];
after(async () => {
  for (const c of children) await c.stop('SIGKILL');
  for (const m of mounts) {
    try {
      execFileSync('umount', [m]);
    } catch {
      // already gone
    }
  }
  rmSync(root, { recursive: true, force: true });
});
let n = 0;
const freshDir = () => join(root, `f${n++}`);

/** Mount a tmpfs of `size` at a new directory (root with CAP_SYS_ADMIN); undefined when this machine cannot. */
function mountTmpfs(size: string): string | undefined {
  const dir = freshDir();
  mkdirSync(dir);
  try {
    execFileSync('mount', ['-t', 'tmpfs', '-o', `size=${size}`, 'tmpfs', dir], { stdio: 'ignore' });
  } catch {
    return undefined;
  }
  mounts.push(dir);
  return dir;
}

const canMount = (() => {
  if (process.getuid?.() !== 0) return false;
  const probe = mountTmpfs('64k');
  if (!probe) return false;
  execFileSync('umount', [probe]);
  mounts.splice(mounts.indexOf(probe), 1);
  return true;
})();

const sha = (path: string) => createHash('sha256').update(readFileSync(path)).digest('hex');

function writeArchive(dataDir: string, count: number): void {
  const store = new ArchiveStore(openArchiveForWriting(dataDir));
  store.write([opened(0, '198.51.100.4:50412'), ...Array.from({ length: count }, (_, i) => message(i + 1, { pad: 300 }))]);
  store.close();
}

function start(args: string[], env: Record<string, string> = {}): Cli {
  const cli = startCli(args, { env });
  children.push(cli);
  return cli;
}

describe('archive faults (real bin)', { timeout: 120_000 }, () => {
  it('a damaged file is refused at open (one line, exit 1, untouched); --fresh-if-damaged moves it aside and starts fresh', async () => {
    const dataDir = freshDir();
    writeArchive(dataDir, 3000);
    const file = archivePath(dataDir);
    // Garbage over a whole page in the middle of the file (16 KiB pages): a b-tree page of the table or an index.
    const fd = openSync(file, 'r+');
    writeSync(fd, randomBytes(16384), 0, 16384, 40 * 16384);
    closeSync(fd);
    const damaged = sha(file);

    const refused = await runCli(['run', '--network', 'regtest', '--listen', '127.0.0.1:0', '--data-dir', dataDir]);
    assert.equal(refused.code, 1, refused.stderr);
    const lines = refused.stderr.trim().split('\n');
    assert.equal(lines.length, 1, refused.stderr);
    assert.match(
      lines[0]!,
      /^peer-observer: error: archive: .*archive\.sqlite is damaged \(.+\): start with --fresh-if-damaged to move it aside/,
    );
    assert.equal(sha(file), damaged, 'the damaged file is left as it was');
    assert.deepEqual(readdirSync(dataDir), ['archive.sqlite']);

    // The same from the environment: moved aside (renamed, same bytes), a fresh archive written.
    const cli = start(['run', '--network', 'regtest', '--listen', '127.0.0.1:0', '--data-dir', dataDir], {
      PEER_OBSERVER_FRESH_IF_DAMAGED: '1',
    });
    await cli.until(() => listeningPort(cli.stderr()) !== undefined, 'listening', 15_000);
    const moved = /moved aside to (\S+); starting a fresh archive/.exec(cli.stderr());
    assert.ok(moved, cli.stderr());
    const aside = moved[1]!;
    assert.match(aside, /archive\.sqlite\.damaged-\d{8}T\d{6}Z$/);
    assert.equal(sha(aside), damaged, 'moved, not changed');
    assert.equal(await cli.stop(), 0, cli.stderr());
    const q = await runCli(['query', '--data-dir', dataDir, '--count']);
    assert.equal(q.code, 0, q.stderr);
    assert.match(q.stdout, /^events=\d+ stored=\d+ folded=0 aggregates=0 items=0\n$/);
    // The fresh file passes the check: the next start neither refuses nor moves anything.
    const again = start(['run', '--network', 'regtest', '--listen', '127.0.0.1:0', '--data-dir', dataDir, '--fresh-if-damaged']);
    await again.until(() => listeningPort(again.stderr()) !== undefined, 'listening', 15_000);
    assert.doesNotMatch(again.stderr(), /moved aside/);
    assert.equal(await again.stop(), 0);
    assert.equal(readdirSync(dataDir).filter((f) => f.includes('.damaged-')).length, 1);
  });

  it(
    'a read-only archive (a read-only mount as root, chmod -w otherwise) is queried and replayed',
    {
      skip:
        process.getuid?.() === 0 && !canMount
          ? 'root without CAP_SYS_ADMIN: cannot mount a read-only tmpfs (and chmod does not bind root)'
          : false,
    },
    async () => {
      const source = freshDir();
      writeArchive(source, 500);
      // An archive whose writer has not closed it: its last batch only in archive.sqlite-wal.
      const unclean = freshDir();
      writeArchive(unclean, 100);
      const writer = new ArchiveStore(openArchiveForWriting(unclean));
      writer.write([message(1000, { pad: 300 })]);
      let dataDir: string;
      let walDir: string;
      let how: string;
      if (process.getuid?.() === 0) {
        const mnt = mountTmpfs('16m')!;
        dataDir = join(mnt, 'clean');
        walDir = join(mnt, 'wal');
        mkdirSync(dataDir);
        mkdirSync(walDir);
        copyFileSync(archivePath(source), archivePath(dataDir));
        for (const f of ['', '-wal']) copyFileSync(archivePath(unclean) + f, archivePath(walDir) + f);
        execFileSync('mount', ['-o', 'remount,ro', mnt]);
        how = 'read-only tmpfs';
      } else {
        dataDir = source;
        walDir = freshDir();
        mkdirSync(walDir);
        for (const f of ['', '-wal']) copyFileSync(archivePath(unclean) + f, archivePath(walDir) + f);
        for (const d of [dataDir, walDir]) {
          chmodSync(archivePath(d), 0o444);
          chmodSync(d, 0o555);
        }
        how = 'chmod -w';
      }
      writer.close();
      const q = await runCli(['query', '--data-dir', dataDir, '--json']);
      assert.equal(q.code, 0, `${how}: ${q.stderr}`);
      assert.equal(q.stdout.trim().split('\n').length, 501, how);
      assert.equal(q.stderr, '');
      const c = await runCli(['query', '--data-dir', dataDir, '--count', '--command', 'ping']);
      assert.equal(c.stdout, 'events=500 stored=500 folded=0 aggregates=0 items=0\n');
      const r = await runCli(['replay', '--data-dir', dataDir, '--speed', 'max']);
      assert.equal(r.code, 0, r.stderr);
      assert.equal(r.stdout.trim().split('\n').length, 501);
      assert.match(r.stderr, /published=501 of 501 rejected=0/);
      assert.ok(!existsSync(`${archivePath(dataDir)}-shm`), 'nothing written beside it');
      // The unclean one: what is in the main file is read, and a warning says what the -wal holds and how to read it.
      const w = await runCli(['query', '--data-dir', walDir, '--count']);
      assert.equal(w.code, 0, w.stderr);
      assert.match(
        w.stderr,
        /^peer-observer: warning: .*archive\.sqlite-wal \(\d+ bytes\) holds the last events .* copy the three files somewhere writable to read them\n$/,
      );
      assert.match(w.stdout, /^events=\d+ /);
      if (how === 'chmod -w') for (const d of [dataDir, walDir]) chmodSync(d, 0o755);
    },
  );

  it(
    'the default cap never deletes history: an archive larger than it (on a 40 MiB tmpfs) keeps its present size as its cap',
    { skip: canMount ? false : 'needs root with CAP_SYS_ADMIN to mount a tmpfs' },
    async () => {
      const dataDir = mountTmpfs('40m')!;
      writeArchive(dataDir, 12_000); // ~10 MB; the default would be 10% of 40 MiB
      const cli = start(['run', '--network', 'regtest', '--listen', '127.0.0.1:0', '--data-dir', dataDir]);
      await cli.until(() => listeningPort(cli.stderr()) !== undefined, 'listening', 15_000);
      assert.match(cli.stderr(), /\(max \d+ MiB: the archive's present size, above the default \(10% of free space, at most 10 GiB\)\)/);
      assert.equal(await cli.stop(), 0);
      assert.match(cli.stderr(), /pruned=0 /);
      const afterCount = await runCli(['query', '--data-dir', dataDir, '--count', '--type', 'message']);
      assert.match(afterCount.stdout, /^events=12000 /, 'every archived message is still there');
    },
  );

  it(
    'a full disk (a 3 MiB tmpfs): /healthz says the archive is not ok and why, /metrics diskFull 1; the observer keeps running',
    {
      skip: canMount ? false : 'needs root with CAP_SYS_ADMIN to mount a tmpfs',
    },
    async () => {
      const dataDir = mountTmpfs('3m')!;
      const cli = start([
        'run',
        '--network',
        'regtest',
        '--listen',
        '127.0.0.1:0',
        '--http',
        '127.0.0.1:0',
        '--data-dir',
        dataDir,
        '--max-db-mb',
        '0',
        '--fold-rate',
        '0',
      ]);
      await cli.until(() => listeningPort(cli.stderr()) !== undefined && /HTTP at http:\/\/\S+/.test(cli.stderr()), 'listening', 15_000);
      const url = /HTTP at (http:\/\/[^\s;]+)/.exec(cli.stderr())![1]!;
      type Healthz = { status: string; reasons?: { component: string; reason: string }[]; archive?: { ok: boolean; reasons: string[] } };
      const health = async () => (await (await fetch(`${url}/healthz`)).json()) as Healthz;
      assert.deepEqual((await health()).archive, { ok: true, reasons: [] });
      assert.equal((await health()).status, 'ok');
      // 200 addr messages: 6 MB on the wire, 16 MB of JSON: more than the disk holds.
      await flood({ port: listeningPort(cli.stderr())!, command: 'addr', count: 200 });
      let h = await health();
      for (let i = 0; i < 100 && h.archive?.ok !== false; i++) {
        await new Promise((r) => setTimeout(r, 100));
        h = await health();
      }
      assert.equal(h.archive?.ok, false, JSON.stringify(h));
      assert.match(h.archive!.reasons.join('\n'), /^archive disk full: \d+ events not written since \S+ \(database or disk is full\)$/m);
      // The whole status says so too (503), naming the archive: what a load balancer or monitor reads.
      const res = await fetch(`${url}/healthz`);
      assert.equal(res.status, 503);
      const whole = (await res.json()) as Healthz;
      assert.equal(whole.status, 'degraded');
      assert.ok(
        whole.reasons?.some((r) => r.component === 'archive' && /disk full/.test(r.reason)),
        JSON.stringify(whole),
      );
      // The counters (every 10 s) as metrics.
      const metric = (text: string, name: string) =>
        new RegExp(`^peer_observer_pipeline_stage_value\\{stage="archive",name="${name}"\\} (\\S+)$`, 'm').exec(text)?.[1];
      let text = '';
      for (let i = 0; i < 150 && metric(text, 'diskFull') !== '1'; i++) {
        await new Promise((r) => setTimeout(r, 100));
        text = await (await fetch(`${url}/metrics`)).text();
      }
      assert.equal(
        metric(text, 'diskFull'),
        '1',
        text
          .split('\n')
          .filter((l) => l.includes('archive'))
          .join('\n'),
      );
      assert.equal(metric(text, 'healthy'), '0');
      assert.ok(Number(metric(text, 'writeErrors')) > 0);
      // Still observing: a new peer is served.
      const more = await flood({ port: listeningPort(cli.stderr())!, command: 'ping', count: 10 });
      assert.equal(more.sent, 10);
      assert.equal(await cli.stop(), 0, cli.stderr());
      assert.match(cli.stderr(), /archive: a batch of \d+ events was not written: database or disk is full/);
    },
  );
});
