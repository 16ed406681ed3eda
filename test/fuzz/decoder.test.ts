/**
 * Quick decoder fuzz (bench/fuzz.ts runs the 1,000,000-case version): mutated
 * and random frames with random chunking through FrameDecoder + decodeMessage.
 * Asserts the invariants, never a time.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { KNOWN_COMMANDS_FOR_FUZZ, runFuzz } from '../../bench/lib/fuzz.js';

describe('decoder fuzz (quick)', () => {
  const result = runFuzz({ seed: 20_240_601, cases: 20_000, maxFailures: 5 });

  it('keeps every invariant: no throw but DecodeError, bounded pending, no lost bytes, chunking-independent, strict re-encoding', () => {
    const report = result.failures.map(
      (f) => `${f.invariant} (${f.command ?? '-'}): ${f.detail}\n  payload ${f.payloadHex ?? '-'}\n  input ${f.inputHex.slice(0, 600)}`,
    );
    assert.equal(result.failureCount, 0, `${JSON.stringify(result.failuresByKind)}\n${report.join('\n')}`);
  });

  it('reaches the payload codecs and the framing checks, not only bad checksums', () => {
    assert.ok((result.outcomes['decoded'] ?? 0) > 1000, JSON.stringify(result.outcomes));
    for (const code of ['truncated', 'trailing-bytes', 'too-many-items', 'non-minimal-compact-size']) {
      assert.ok((result.outcomes[`decode:${code}`] ?? 0) > 0, `no DecodeError ${code}: ${JSON.stringify(result.outcomes)}`);
    }
    for (const kind of ['bad-checksum', 'oversize', 'bad-magic', 'invalid-command']) {
      assert.ok((result.outcomes[`framing:${kind}`] ?? 0) > 0, `no framing violation ${kind}: ${JSON.stringify(result.outcomes)}`);
    }
    const missing = KNOWN_COMMANDS_FOR_FUZZ.filter((c) => !result.decodedCommands[c]);
    assert.deepEqual(missing, [], 'every command decodes in some case');
  });

  it('ends cases in every state: clean, pending and closed', () => {
    assert.ok(
      result.endings['clean']! > 0 && result.endings['pending']! > 0 && result.endings['closed']! > 0,
      JSON.stringify(result.endings),
    );
  });
});
