/**
 * The v2 key pool (sources/p2p/v2-keys.ts): keys made on its thread complete
 * real handshakes, each key is handed out once, the pool stays within its
 * size, and a failed thread degrades to keys made inline, counted.
 */
import assert from 'node:assert/strict';
import { setTimeout as sleep } from 'node:timers/promises';
import { describe, it } from 'node:test';
import { NETWORKS } from '../../../src/protocol/networks.js';
import { V2Transport, type V2Item } from '../../../src/protocol/v2/transport.js';
import { V2KeyPool } from '../../../src/sources/p2p/v2-keys.js';
import { until } from '../../helpers/until.js';

const network = NETWORKS.regtest;
const sends = (items: V2Item[]): Uint8Array[] => items.flatMap((i) => (i.type === 'send' ? [i.bytes] : []));

/** A handshake between a fresh initiator and a responder taking its key from `key`; the session ids of both sides. */
function handshake(key: () => ReturnType<V2KeyPool['take']>): [string, string] {
  const init = new V2Transport({ network, initiating: true });
  const resp = new V2Transport({ network, initiating: false, key });
  const toInit = sends(resp.push(init.start()));
  const toResp = sends(toInit.flatMap((b) => init.push(b)));
  const done = toResp.flatMap((b) => resp.push(b));
  assert.ok(
    done.some((i) => i.type === 'handshake'),
    'the responder completed its handshake',
  );
  return [init.sessionId, resp.sessionId];
}

describe('v2 key pool', () => {
  it('fills from its thread; its keys complete handshakes, each key once; never holds more than its size', async () => {
    const pool = new V2KeyPool(8);
    try {
      await until(() => pool.ready === 8, 'the pool to fill');
      const encodings = new Set<string>();
      for (let i = 0; i < 6; i++) {
        const key = pool.take();
        encodings.add(Buffer.from(key.ellswift).toString('hex'));
        const [a, b] = handshake(() => key);
        assert.equal(a, b);
        assert.match(a, /^[0-9a-f]{64}$/);
      }
      assert.equal(encodings.size, 6, 'no key handed out twice');
      assert.deepEqual(pool.counters(), { pooled: 6, inline: 0 });
      // The fourth take left it half empty: it asked for the 4 keys that filled it again
      // then; two more were taken since, so 6 are ready, and nothing more is asked.
      await until(() => pool.ready === 6, 'the refill');
      await sleep(200);
      assert.equal(pool.ready, 6);
      // Drained faster than the thread makes keys: the rest are made inline, counted.
      for (let i = 0; i < 20; i++) pool.take();
      const c = pool.counters();
      assert.equal(c.pooled + c.inline, 26);
      assert.ok(c.inline >= 12, `inline ${c.inline}`);
    } finally {
      await pool.close();
    }
    assert.equal(pool.ready, 0, 'close drops the keys made ahead');
  });

  it('a thread that fails leaves keys made inline, with the failure counted', async () => {
    const broken = new URL('data:text/javascript,export function main() { throw new Error("no keys from this thread"); }');
    const pool = new V2KeyPool(4, broken);
    try {
      await until(() => pool.counters().failure !== undefined, 'the failure');
      assert.match(pool.counters().failure!, /no keys from this thread/);
      const [a, b] = handshake(() => pool.take());
      assert.equal(a, b);
      assert.deepEqual({ ...pool.counters(), failure: 'x' }, { pooled: 0, inline: 1, failure: 'x' });
      assert.equal(pool.ready, 0);
    } finally {
      await pool.close();
    }
  });

  it('refuses a size that cannot refill', () => {
    assert.throws(() => new V2KeyPool(1), /key pool size 1/);
  });
});
