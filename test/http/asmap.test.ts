/**
 * The asmap interpreter against files built here by an encoder written from
 * the format's description (Bitcoin Core src/util/asmap.cpp): instruction
 * codes, LSB-first program bits, MSB-first address bits, IPv4 as ::ffff:a.b.c.d.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { asmapLookup, checkAsmap, interpretAsmap, loadAsmap } from '../../src/http/asn.js';
import { ipFromString } from '../../src/protocol/address.js';

/** Append `value` as Core's (minval, bit_sizes) variable-length code. */
function encode(bits: number[], value: number, minval: number, sizes: number[]): void {
  let v = value - minval;
  for (let i = 0; i < sizes.length; i++) {
    const size = sizes[i]!;
    const last = i + 1 === sizes.length;
    if (v >= 2 ** size) {
      assert.ok(!last, 'value too large');
      bits.push(1);
      v -= 2 ** size;
      continue;
    }
    if (!last) bits.push(0);
    for (let b = size - 1; b >= 0; b--) bits.push(Math.floor(v / 2 ** b) % 2);
    return;
  }
}
const TYPE = [0, 0, 1];
const ASN = [15, 16, 17, 18, 19, 20, 21, 22, 23, 24];
const MATCH = [1, 2, 3, 4, 5, 6, 7, 8];
const JUMP = [5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16, 17, 18, 19, 20, 21, 22, 23, 24, 25, 26, 27, 28, 29, 30];

type Node = { ret: number } | { match: number[]; then: Node } | { def: number; then: Node } | { jump: [Node, Node] };

function assemble(node: Node): number[] {
  const out: number[] = [];
  if ('ret' in node) {
    encode(out, 0, 0, TYPE);
    encode(out, node.ret, 1, ASN);
  } else if ('def' in node) {
    encode(out, 3, 0, TYPE);
    encode(out, node.def, 1, ASN);
    out.push(...assemble(node.then));
  } else if ('match' in node) {
    encode(out, 2, 0, TYPE);
    // Up to 8 bits per MATCH: the value is 1 followed by the bits.
    encode(
      out,
      node.match.reduce((v, b) => v * 2 + b, 1),
      2,
      MATCH,
    );
    out.push(...assemble(node.then));
  } else {
    const zero = assemble(node.jump[0]);
    const one = assemble(node.jump[1]);
    encode(out, 1, 0, TYPE);
    encode(out, zero.length, 17, JUMP);
    out.push(...zero, ...one);
  }
  return out;
}

function toBytes(bits: number[]): Uint8Array {
  const bytes = new Uint8Array(Math.ceil(bits.length / 8));
  bits.forEach((b, i) => (bytes[i >> 3]! |= b << (i & 7)));
  return bytes;
}

const bitsOf = (byte: number) => Array.from({ length: 8 }, (_, i) => (byte >> (7 - i)) & 1);
/** MATCH the rest of the ::ffff: prefix (bits 1..95: the top-level JUMP took bit 0), at most 8 bits per MATCH, then `then`. */
function v4(then: Node): Node {
  const bits = [0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff].flatMap(bitsOf).slice(1);
  let node = then;
  for (let end = bits.length; end > 0; end -= 8) node = { match: bits.slice(Math.max(0, end - 8), end), then: node };
  return node;
}

// Bit 0 = 0: IPv4 (::ffff:a.b.c.d), where 10.0.0.0/8 → AS64512, 1.0.0.0/8 → AS13335 but 1.2.0.0/16 → AS4134,
// 128.0.0.0/1 → AS1; other addresses starting with bit 0 (2001:db8::) fail the prefix match → 0 (unmapped).
// Bit 0 = 1: 8000::/1 → AS2.
const program: Node = {
  jump: [
    v4({
      jump: [
        // IPv4 bit 0 = 0: bits 1-3 must be 000, then a JUMP on bit 4
        {
          match: [0, 0, 0],
          then: {
            jump: [
              { match: [0, 0, 1], then: { def: 13335, then: { match: bitsOf(2), then: { ret: 4134 } } } }, // 0000 0001 = 1
              { match: [0, 1, 0], then: { ret: 64512 } }, // 0000 1010 = 10
            ],
          },
        },
        { ret: 1 },
      ],
    }),
    { ret: 2 },
  ],
};

const ASMAP = toBytes(assemble(program));

describe('asmap', () => {
  it('maps addresses as the program says', () => {
    const asn = (ip: string) => interpretAsmap(ASMAP, ipFromString(ip));
    assert.equal(asn('10.1.2.3'), 64512);
    assert.equal(asn('1.1.1.1'), 13335, 'default of the /8 when the /16 match fails');
    assert.equal(asn('1.2.3.4'), 4134, '1.2.0.0/16');
    assert.equal(asn('200.1.1.1'), 1, '128.0.0.0/1');
    assert.equal(asn('2001:db8::1'), 0, 'unmapped');
    assert.equal(asn('8000::1'), 2);
    assert.equal(asn('9.9.9.9'), 0, 'first octet 00001001: no match');
    assert.equal(checkAsmap(ASMAP), undefined);
  });

  it('the smallest file: RETURN 1 for everything (three zero bytes)', () => {
    const bytes = new Uint8Array([0, 0, 0]);
    assert.equal(checkAsmap(bytes), undefined);
    assert.equal(interpretAsmap(bytes, ipFromString('192.0.2.1')), 1);
  });

  it('asmapLookup takes ip:port and [v6]:port, null for unmapped and non-IPs', () => {
    const l = asmapLookup(ASMAP);
    assert.equal(l.lookup('1.2.3.4:8333'), 4134);
    assert.equal(l.lookup('[8000::1]:8333'), 2);
    assert.equal(l.lookup('9.9.9.9:8333'), null);
    assert.equal(l.lookup('abc.onion:8333'), null);
  });

  it('refuses broken files with a reason', () => {
    assert.match(checkAsmap(new Uint8Array([])) ?? '', /empty/);
    assert.match(checkAsmap(ASMAP.subarray(0, ASMAP.length - 2)) ?? '', /./, 'truncated');
    const padded = new Uint8Array([...ASMAP, 0, 0]);
    assert.match(checkAsmap(padded) ?? '', /padding/);
    // A JUMP past the end.
    const bad: number[] = [];
    encode(bad, 1, 0, TYPE);
    encode(bad, 5000, 17, JUMP);
    bad.push(...assemble({ ret: 1 }));
    assert.match(checkAsmap(toBytes(bad)) ?? '', /outside the file/);
    // 17 MATCHes of 8 bits need 136 address bits.
    let deep: Node = { ret: 1 };
    for (let i = 0; i < 17; i++) deep = { match: [0, 0, 0, 0, 0, 0, 0, 0], then: deep };
    assert.match(checkAsmap(toBytes(assemble(deep))) ?? '', /more than 128/);
    const dir = mkdtempSync(join(tmpdir(), 'asmap-'));
    writeFileSync(join(dir, 'bad.map'), new Uint8Array([0xff, 0xff]));
    assert.throws(() => loadAsmap(join(dir, 'bad.map')), /not a valid asmap file/);
    assert.throws(() => loadAsmap(join(dir, 'missing.map')), /no such file/);
  });
});
