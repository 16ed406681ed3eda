/**
 * docs/metrics.md maps every metric family of the reference peer-observer
 * (../shared/reference/peer-observer-metrics.txt, copied to
 * test/fixtures/reference-metrics.txt) to ours, and every metric of ours the
 * mapping names is really exported.
 */
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { describe, it } from 'node:test';
import { fullyPopulatedMetrics } from '../consumers/core-synthetic.js';

const doc = readFileSync(new URL('../../docs/metrics.md', import.meta.url), 'utf8');
const reference = readFileSync(new URL('../fixtures/reference-metrics.txt', import.meta.url), 'utf8')
  .split('\n')
  .filter((l) => l.trim() !== '' && !l.startsWith('#'))
  .map((l) => l.split(/\s+/)[0]!);

/** The mapping section's rows: reference name → the "ours" cell. */
function mappingRows(): Map<string, string> {
  const start = doc.indexOf("## The reference peer-observer's metrics, mapped");
  assert.ok(start >= 0, 'the mapping section exists');
  const rows = new Map<string, string>();
  for (const line of doc.slice(start).split('\n')) {
    const m = /^\| `([a-z0-9_]+)` \| (.*?) \| (.*) \|$/.exec(line);
    if (m) rows.set(m[1]!, m[2]!);
  }
  return rows;
}

describe('docs/metrics.md', () => {
  it('maps all 127 reference families, each to something', () => {
    assert.equal(reference.length, 127);
    const rows = mappingRows();
    for (const name of reference) {
      assert.ok(rows.has(name), `${name} is not in the mapping table`);
      assert.match(rows.get(name)!, /`[a-z0-9_:]+`/, `${name}: the "ours" cell names no metric`);
    }
    assert.equal(rows.size, reference.length, 'no rows for families the reference does not have');
  });

  it('every metric the mapping names is exported', async () => {
    const text = await fullyPopulatedMetrics().exposition();
    const families = new Set([...text.matchAll(/^# TYPE (\S+) /gm)].map((m) => m[1]!));
    for (const [ref, ours] of mappingRows()) {
      for (const m of ours.matchAll(/`((?:peer_observer|process|nodejs)_[a-z0-9_]+)`/g)) {
        assert.ok(families.has(m[1]!), `${ref} → ${m[1]} is not exported`);
      }
    }
  });
});
