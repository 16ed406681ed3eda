/**
 * `archive` says how far behind its stream it is while it reads a backlog,
 * and when it has caught up (src/cli/catch-up.ts): through the command's own
 * plan against a real nats-server with JetStream and a real SQLite file; and
 * the reporter's lines from chosen numbers.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PassThrough } from 'node:stream';
import { after, describe, it } from 'node:test';
import { NatsBus } from '../../src/bus/nats.js';
import { buildArchivePlan } from '../../src/cli/archive.js';
import { CatchUpReporter, duration } from '../../src/cli/catch-up.js';
import { Runtime } from '../../src/runtime/runtime.js';
import { startNatsServer } from '../helpers/nats-server.js';
import { pingEvent } from '../helpers/events.js';
import { until } from '../helpers/until.js';

const root = mkdtempSync(join(tmpdir(), 'po-catchup-'));
after(() => rmSync(root, { recursive: true, force: true }));

describe('archive: catching up with its stream', { timeout: 120_000 }, () => {
  it('a backlog of 50,000 events: progress lines while behind, then one line when caught up', async (t) => {
    const server = await startNatsServer({ jetstream: true });
    t.after(() => server.stop());
    const bus = await NatsBus.connect({ servers: [server.url], mode: 'jetstream', batchEvents: 10 });
    const n = 50_000;
    for (let i = 0; i < n; i++) bus.publish(pingEvent('backlog-1', i));
    await bus.close();
    assert.equal(bus.stats().acked, n);

    const sink = new PassThrough();
    sink.resume();
    const plan = buildArchivePlan(
      {
        nats: [server.url],
        dataDir: join(root, 'a'),
        maxDbMb: 0,
        foldRate: 0,
        catchUpIntervalMs: 100,
        stream: { mode: 'jetstream', consumer: 'archive-catch-up', start: { kind: 'all' } },
      },
      { stdout: sink, stderr: sink },
    );
    const lines: string[] = [];
    const runtime = await Runtime.start(plan, { nodeId: 'a-1', notice: (l) => lines.push(l) });
    try {
      await until(() => lines.some((l) => l.includes('caught up')), 'the caught-up line', 60_000);
    } finally {
      await runtime.stop();
    }
    const progress = lines.filter((l) => l.includes('catching up'));
    assert.ok(progress.length > 0, lines.join('\n'));
    for (const l of progress) {
      const m =
        /^archive: catching up: ([\d,]+) messages behind in stream PEER_OBSERVER; writing [\d,]+ events\/s(, about \d+(\.\d)? (s|min|h) to go at this pace|, not moving)$/.exec(
          l,
        );
      assert.ok(m && Number(m[1]!.replace(/,/g, '')) > 0, l);
    }
    const done = lines.findIndex((l) => l.includes('caught up'));
    assert.ok(done > lines.lastIndexOf(progress.at(-1)!), 'caught up after the last progress line');
    const written = /^archive: caught up with stream PEER_OBSERVER \(([\d,]+) events written in all\)$/.exec(lines[done]!);
    assert.ok(written && Number(written[1]!.replace(/,/g, '')) >= n, lines[done]);
    assert.equal(lines.filter((l) => l.includes('caught up')).length, 1, 'said once');
  });

  it('the lines from chosen numbers: behind, caught up once, silent while keeping up or without a stream', () => {
    let behind: number | undefined = 400;
    let acked = 0;
    let written = 0;
    let unwritten = 3;
    const reporter = new CatchUpReporter(
      { behind: () => behind, acked: () => acked, unwritten: () => unwritten, written: () => written, stream: () => 'S' },
      1000,
    );
    const lines: string[] = [];
    const notice = (l: string) => lines.push(l);
    // start() is not called: the first look counts from time 0.
    acked = 100;
    written = 37_000;
    reporter.tick(notice, 1000);
    assert.deepEqual(lines, [
      'archive: catching up: 400 messages behind in stream S; writing 37,000 events/s, about 4 s to go at this pace',
    ]);
    reporter.tick(notice, 2000);
    assert.equal(lines[1], 'archive: catching up: 400 messages behind in stream S; writing 0 events/s, not moving');
    // Nothing left in the stream, but delivered messages not yet committed: not caught up yet, and nothing to say.
    behind = 0;
    reporter.tick(notice, 3000);
    assert.equal(lines.length, 2);
    unwritten = 0;
    written = 40_000;
    reporter.tick(notice, 4000);
    reporter.tick(notice, 5000);
    assert.deepEqual(lines.slice(2), ['archive: caught up with stream S (40,000 events written in all)']);
    behind = undefined;
    reporter.tick(notice, 6000);
    assert.equal(lines.length, 3);
    assert.deepEqual(
      [duration(0.2), duration(45), duration(89), duration(720), duration(3 * 3600 + 1800)],
      ['1 s', '45 s', '89 s', '12 min', '3.5 h'],
    );
  });
});
