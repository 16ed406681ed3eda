/**
 * The spy-score detector: probing (getdata for unannounced transactions), and
 * listening plus greed, raise a warning naming the peer; honest relay peers,
 * in the honeypot's view and in a Core node's (usdt: our invs out, theirs in),
 * raise nothing, including when our invs carry more hashes than a summary shows.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { spyScore } from '../../src/consumers/detectors/spy-score.js';
import type { ObserverEvent } from '../../src/events/types.js';
import { conn, harness, message, opened, T0 } from './helpers.js';

const S = 1_000_000;
const hash = (i: number) => i.toString(16).padStart(64, '0');

/** An inv/getdata summary as summarizeMessage makes it: counts, types and the first 16 items. */
function inv(hashes: string[], type = 'wtx') {
  return { count: hashes.length, types: { [type]: hashes.length }, items: hashes.slice(0, 16).map((h) => ({ type, hash: h })) };
}

function spyAlerts(events: ObserverEvent[], config: Record<string, unknown> = {}) {
  const h = harness(config);
  h.feed(events);
  return h.manager.store.alerts({ detector: 'spy-score' });
}

describe('spy-score', () => {
  it('a peer asking for transactions nobody announced to it (mempool probing) is a warning naming it', () => {
    const spy = conn('45.1.2.3:8333');
    const events = [opened(spy, T0)];
    for (let k = 0; k < 3; k++)
      events.push(
        message(
          spy,
          'in',
          'getdata',
          inv([hash(1000 + 8 * k), ...Array.from({ length: 7 }, (_, j) => hash(2000 + 8 * k + j))]),
          T0 + (k + 1) * S,
        ),
      );
    const alerts = spyAlerts(events);
    assert.equal(alerts.length, 1);
    assert.equal(alerts[0]!.subject.id, '45.1.2.3:8333');
    assert.equal(alerts[0]!.severity, 'warning');
    assert.ok(alerts[0]!.evidence.counts.probes! >= 10);
  });

  it('a peer that listens to 2000 announcements, announces none and fetches 90 % is a warning (usdt view of a Core node)', () => {
    const spy = conn('45.9.9.9:8333');
    const events: ObserverEvent[] = [opened(spy, T0)];
    for (let k = 0; k < 200; k++) {
      const hs = Array.from({ length: 10 }, (_, j) => hash(10 * k + j));
      events.push(message(spy, 'out', 'inv', inv(hs), T0 + k * S));
      events.push(message(spy, 'in', 'getdata', inv(hs.slice(0, 9)), T0 + k * S + 100_000));
    }
    const alerts = spyAlerts(events);
    assert.equal(alerts.length, 1);
    assert.equal(alerts[0]!.subject.id, '45.9.9.9:8333');
    assert.equal(alerts[0]!.evidence.counts.probes, 0, 'it only asked for what it was told of');
  });

  it('honest relay peers raise nothing: they announce back and fetch a share, never the unannounced', () => {
    const events: ObserverEvent[] = [];
    for (let p = 0; p < 8; p++) {
      const c = conn(`${20 + p}.1.1.1:8333`, p % 2 ? 'inbound' : 'outbound');
      events.push(opened(c, T0));
      for (let k = 0; k < 300; k++) {
        // We announce 20 per inv (more than a summary shows: the detector must not take the unseen for unannounced).
        const ours = Array.from({ length: 20 }, (_, j) => hash(100_000 * p + 20 * k + j));
        events.push(message(c, 'out', 'inv', inv(ours), T0 + k * S));
        events.push(
          message(
            c,
            'in',
            'inv',
            inv(Array.from({ length: 5 }, (_, j) => hash(9_000_000 + 100_000 * p + 5 * k + j))),
            T0 + k * S + 200_000,
          ),
        );
        // It fetches one in eight of ours, including ones past the 16 shown.
        if (k % 2 === 0) events.push(message(c, 'in', 'getdata', inv([ours[17]!, ours[3]!]), T0 + k * S + 400_000));
      }
    }
    assert.deepEqual(spyAlerts(events), []);
  });

  it('honest peers of our honeypot (which announces nothing) send no tx getdata; blocks and headers are not transactions', () => {
    const c = conn('30.1.1.1:8333');
    const events = [
      opened(c, T0),
      message(c, 'in', 'inv', inv([hash(1), hash(2)]), T0 + S),
      message(
        c,
        'in',
        'getdata',
        inv([hash(5), hash(6), hash(7), hash(8), hash(9), hash(10), hash(11), hash(12), hash(13), hash(14), hash(15)], 'block'),
        T0 + 2 * S,
      ),
    ];
    assert.deepEqual(spyAlerts(events), []);
  });

  it('the score: each part bounded, the weights as documented, minAnnounced and minProbes respected', () => {
    const p = { minProbes: 10, minAnnounced: 500 };
    assert.deepEqual(spyScore({ probes: 0, checked: 0, announced: 0, announcedByPeer: 0, requested: 0 }, p), {
      score: 0,
      probing: 0,
      listening: 0,
      greed: 0,
    });
    assert.equal(spyScore({ probes: 5, checked: 5, announced: 0, announcedByPeer: 0, requested: 5 }, p).score, 0.3);
    assert.equal(spyScore({ probes: 50, checked: 50, announced: 0, announcedByPeer: 0, requested: 50 }, p).score, 0.6);
    assert.equal(
      spyScore({ probes: 0, checked: 10, announced: 499, announcedByPeer: 0, requested: 499 }, p).score,
      0,
      'too few announced to judge',
    );
    const r = spyScore({ probes: 0, checked: 10, announced: 1000, announcedByPeer: 0, requested: 800 }, p);
    assert.equal(r.listening, 1);
    assert.equal(r.greed, 1);
    assert.ok(Math.abs(r.score - 0.6) < 1e-9);
    assert.equal(spyScore({ probes: 0, checked: 0, announced: 1000, announcedByPeer: 100, requested: 200 }, p).score, 0);
  });
});
