/**
 * Quick v2 transport fuzz (bench/fuzz.ts --transport v2 runs 1,000,000 cases):
 * mutated and random v2 streams with random chunking into a responder
 * V2Transport. Asserts the invariants (bench/lib/fuzz-v2.ts), never a time.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { runFuzzV2 } from '../../bench/lib/fuzz-v2.js';

describe('v2 transport fuzz (quick)', () => {
  const result = runFuzzV2({ seed: 20_261_206, cases: 4000, maxFailures: 5 });

  it('keeps every invariant: no throw, no forged or lost message, bounded memory, v1 detection, chunking-independent', () => {
    const report = result.failures.map((f) => `${f.invariant}: ${f.detail}\n  input ${f.inputHex.slice(0, 600)}`);
    assert.equal(result.failureCount, 0, `${JSON.stringify(result.failuresByKind)}\n${report.join('\n')}`);
  });

  it('reaches every stage: handshakes, messages, decoys, each fatal violation, v1 detection', () => {
    for (const k of [
      'handshake',
      'frame',
      'v1',
      'violation:missing-garbage-terminator',
      'violation:decryption-failure',
      'violation:oversize-packet',
    ]) {
      assert.ok((result.outcomes[k] ?? 0) > 0, `${k}: ${JSON.stringify(result.outcomes)}`);
    }
    assert.ok(result.decoysIn > 0);
    for (const state of ['app', 'closed', 'garbage', 'key']) assert.ok((result.endings[state] ?? 0) > 0, JSON.stringify(result.endings));
  });
});
