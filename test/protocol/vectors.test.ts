/**
 * Known-answer vectors: `{ value, hex }` pairs for every message (hex written from
 * the BIP/protocol tables, spaces between fields), and bad input beside the good,
 * each with the error code and path it must produce.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { DecodeError, type DecodeErrorCode } from '../../src/protocol/codec.js';
import { ipFromString } from '../../src/protocol/address.js';
import { decodeMessage, encodeMessageFrame, encodePayload, isKnown, msg } from '../../src/protocol/messages/index.js';
import type { KnownCommand, Payloads } from '../../src/protocol/messages/types.js';
import { NETWORKS } from '../../src/protocol/networks.js';

const hex = (s: string): Uint8Array => new Uint8Array(Buffer.from(s.replace(/\s+/g, ''), 'hex'));
const fill = (byte: number, n = 32): Uint8Array => new Uint8Array(n).fill(byte);
const rep = (s: string, n: number): string => s.repeat(n);
const H1 = rep('11', 32);
const H2 = rep('22', 32);

function plain(v: unknown): unknown {
  if (v instanceof Uint8Array) return Buffer.from(v).toString('hex');
  if (Array.isArray(v)) return v.map(plain);
  if (v && typeof v === 'object') return Object.fromEntries(Object.entries(v).map(([k, x]) => [k, plain(x)]));
  return v;
}

const header = { version: 0x20000000, prevBlock: fill(0x11), merkleRoot: fill(0x22), time: 1795463934, bits: 0x207fffff, nonce: 7 };
const HEADER_HEX = `00000020 ${H1} ${H2} fe9a046b ffff7f20 07000000`;

const coinbase = {
  version: 2,
  inputs: [{ prevTxid: fill(0), prevIndex: 0xffffffff, scriptSig: hex('5101'), sequence: 0xffffffff }],
  outputs: [{ value: 5_000_000_000n, scriptPubKey: hex('51') }],
  lockTime: 0,
};
const COINBASE_HEX = `02000000 01 ${rep('00', 32)} ffffffff 02 5101 ffffffff 01 00f2052a01000000 01 51 00000000`;
const segwitTx = {
  version: 2,
  inputs: [{ prevTxid: fill(0x33), prevIndex: 1, scriptSig: new Uint8Array(0), sequence: 0xfffffffd }],
  outputs: [{ value: 1000n, scriptPubKey: hex('0014' + rep('44', 20)) }],
  witnesses: [[hex('aa'), hex('bbcc')]],
  lockTime: 110,
};
const SEGWIT_HEX = `02000000 0001 01 ${rep('33', 32)} 01000000 00 fdffffff 01 e803000000000000 16 0014${rep('44', 20)} 02 01aa 02bbcc 6e000000`;

type Vector = { [K in KnownCommand]: { command: K; value: Payloads[K]; hex: string } }[KnownCommand];
const v = <K extends KnownCommand>(command: K, value: Payloads[K], h: string): Vector => ({ command, value, hex: h }) as Vector;

const mapped = (ip: string) => ipFromString(ip);

const VECTORS: Vector[] = [
  v(
    'version',
    {
      version: 70016,
      services: 0x409n,
      timestamp: 1795463934n,
      receiver: { services: 0n, ip: mapped('0.0.0.0'), port: 0 },
      sender: { services: 0x409n, ip: mapped('::'), port: 0 },
      nonce: 0x0123456789abcdefn,
      userAgent: '/Satoshi:30.99.0/',
      startHeight: 110,
      relay: true,
    },
    `80110100 0904000000000000 fe9a046b00000000 0000000000000000 00000000000000000000ffff00000000 0000
     0904000000000000 00000000000000000000000000000000 0000 efcdab8967452301 11 2f5361746f7368693a33302e39392e302f 6e000000 01`,
  ),
  v(
    'version',
    {
      version: 70016,
      services: 0n,
      timestamp: 0n,
      receiver: { services: 0n, ip: mapped('0.0.0.0'), port: 0 },
      sender: { services: 0n, ip: mapped('0.0.0.0'), port: 0 },
      nonce: 1n,
      userAgent: '',
      startHeight: 0,
      relay: true,
      relayByte: 0xff,
    },
    `80110100 0000000000000000 0000000000000000 0000000000000000 00000000000000000000ffff00000000 0000
     0000000000000000 00000000000000000000ffff00000000 0000 0100000000000000 00 00000000 ff`,
  ),
  // Core accepts a version that ends after the receiver address (very old peers).
  v(
    'version',
    { version: 31800, services: 1n, timestamp: 0n, receiver: { services: 1n, ip: mapped('1.2.3.4'), port: 8333 } },
    `387c0000 0100000000000000 0000000000000000 0100000000000000 00000000000000000000ffff01020304 208d`,
  ),
  v('verack', {}, ''),
  v('getaddr', {}, ''),
  v('sendaddrv2', {}, ''),
  v('sendheaders', {}, ''),
  v('wtxidrelay', {}, ''),
  v('mempool', {}, ''),
  v('filterclear', {}, ''),
  v('ping', { nonce: 0xfedcba9876543210n }, '1032547698badcfe'),
  v('pong', { nonce: 1n }, '0100000000000000'),
  v(
    'addr',
    {
      entries: [
        { time: 1795463934, services: 1n, ip: mapped('1.2.3.4'), port: 8333 },
        { time: 0, services: 0x409n, ip: mapped('2001:db8::1'), port: 18444 },
      ],
    },
    `02 fe9a046b 0100000000000000 00000000000000000000ffff01020304 208d
        00000000 0904000000000000 20010db8000000000000000000000001 480c`,
  ),
  v(
    'addrv2',
    {
      entries: [
        { time: 1, services: 0x409n, networkId: 1, addr: hex('01020304'), port: 8333 },
        { time: 2, services: 0xffffffffffffffffn, networkId: 4, addr: fill(0x55), port: 9050 },
        { time: 3, services: 0n, networkId: 200, addr: hex('beef'), port: 1 },
      ],
    },
    `03 01000000 fd0904 01 04 01020304 208d
        02000000 ffffffffffffffffff 04 20 ${rep('55', 32)} 235a
        03000000 00 c8 02 beef 0001`,
  ),
  v('inv', { items: [{ type: 5, hash: fill(0x11) }] }, `01 05000000 ${H1}`),
  v('getdata', { items: [{ type: 0x40000002, hash: fill(0x22) }] }, `01 02000040 ${H2}`),
  v('notfound', { items: [] }, '00'),
  v('getheaders', { version: 70016, locator: [fill(0x11), fill(0x22)], stop: fill(0) }, `80110100 02 ${H1} ${H2} ${rep('00', 32)}`),
  v('getblocks', { version: 70016, locator: [], stop: fill(0x11) }, `80110100 00 ${H1}`),
  v('headers', { headers: [header, header] }, `02 ${HEADER_HEX} 00 ${HEADER_HEX} 00`),
  v('tx', coinbase, COINBASE_HEX),
  v('tx', segwitTx, SEGWIT_HEX),
  v('tx', { version: 1, inputs: [], outputs: [], lockTime: 0 }, '01000000 00 00 00000000'),
  v('block', { header, txs: [coinbase, segwitTx] }, `${HEADER_HEX} 02 ${COINBASE_HEX} ${SEGWIT_HEX}`),
  v('feefilter', { feeRate: 1000n }, 'e803000000000000'),
  v('sendcmpct', { announce: false, version: 2n }, '00 0200000000000000'),
  // Core reads any non-zero bool byte as true; the odd byte is kept so it re-encodes exactly.
  v('sendcmpct', { announce: true, announceByte: 2, version: 2n }, '02 0200000000000000'),
  v(
    'cmpctblock',
    {
      header,
      nonce: 9n,
      shortIds: [hex('010203040506')],
      prefilled: [
        { index: 0, tx: coinbase },
        { index: 2, tx: coinbase },
      ],
    },
    `${HEADER_HEX} 0900000000000000 01 010203040506 02 00 ${COINBASE_HEX} 01 ${COINBASE_HEX}`,
  ),
  v('getblocktxn', { blockHash: fill(0x11), indexes: [1, 2, 5, 300] }, `${H1} 04 01 00 02 fd2601`),
  v('blocktxn', { blockHash: fill(0x11), txs: [coinbase] }, `${H1} 01 ${COINBASE_HEX}`),
  v('filterload', { filter: hex('b50f'), hashFuncs: 11, tweak: 0, flags: 1 }, '02 b50f 0b000000 00000000 01'),
  v('filteradd', { data: hex('deadbeef') }, '04 deadbeef'),
  v('merkleblock', { header, totalTxs: 7, hashes: [fill(0x11)], flags: hex('1d') }, `${HEADER_HEX} 07000000 01 ${H1} 01 1d`),
  v('getcfilters', { filterType: 0, startHeight: 100, stopHash: fill(0x11) }, `00 64000000 ${H1}`),
  v('cfilter', { filterType: 0, blockHash: fill(0x11), filter: hex('0102') }, `00 ${H1} 02 0102`),
  v('getcfheaders', { filterType: 0, startHeight: 1, stopHash: fill(0x22) }, `00 01000000 ${H2}`),
  v('cfheaders', { filterType: 0, stopHash: fill(0x11), prevHeader: fill(0x22), filterHashes: [fill(0x11)] }, `00 ${H1} ${H2} 01 ${H1}`),
  v('getcfcheckpt', { filterType: 0, stopHash: fill(0x11) }, `00 ${H1}`),
  v('cfcheckpt', { filterType: 0, stopHash: fill(0x11), filterHeaders: [] }, `00 ${H1} 00`),
  v('reject', { message: 'tx', code: 0x10, reason: 'bad-txns', data: fill(0x11) }, `02 7478 10 08 6261642d74786e73 ${H1}`),
  v('reject', { message: 'version', code: 0x11, reason: 'obsolete' }, `07 76657273696f6e 11 08 6f62736f6c657465`),
];

interface Bad {
  what: string;
  command: string;
  hex: string;
  code: DecodeErrorCode;
  path: string;
}

const BAD: Bad[] = [
  { what: 'truncated ping', command: 'ping', hex: '01020304', code: 'truncated', path: 'ping.nonce' },
  { what: 'trailing bytes after ping', command: 'ping', hex: '0100000000000000 00', code: 'trailing-bytes', path: 'ping' },
  { what: 'bytes in verack', command: 'verack', hex: '00', code: 'trailing-bytes', path: 'verack' },
  {
    what: 'version: sender without nonce',
    command: 'version',
    hex: `80110100 0000000000000000 0000000000000000 ${rep('00', 26)} ${rep('00', 26)}`,
    code: 'truncated',
    path: 'version.nonce',
  },
  {
    what: 'version: user agent over 256 bytes',
    command: 'version',
    hex: `80110100 0000000000000000 0000000000000000 ${rep('00', 26)} ${rep('00', 26)} ${rep('00', 8)} fd0101 ${rep('41', 257)}`,
    code: 'too-large',
    path: 'version.userAgent',
  },
  {
    what: 'version: bytes after relay',
    command: 'version',
    hex: `80110100 0000000000000000 0000000000000000 ${rep('00', 26)} ${rep('00', 26)} ${rep('00', 8)} 00 00000000 01 00`,
    code: 'trailing-bytes',
    path: 'version',
  },
  { what: 'addr count over 1000', command: 'addr', hex: 'fde903', code: 'too-many-items', path: 'addr.entries' },
  {
    what: 'addr count non-minimal',
    command: 'addr',
    hex: 'fd0100' + rep('00', 30),
    code: 'non-minimal-compact-size',
    path: 'addr.entries',
  },
  { what: 'addr count larger than the payload', command: 'addr', hex: '02' + rep('00', 30), code: 'truncated', path: 'addr.entries' },
  { what: 'addr entry cut short', command: 'addr', hex: '01' + rep('00', 29), code: 'truncated', path: 'addr.entries' },
  {
    what: 'addrv2 ipv4 with 5 bytes',
    command: 'addrv2',
    hex: `04 ${rep(`00000000 00 01 04 01020304 208d`, 3)} 00000000 00 01 05 0102030405 208d`,
    code: 'invalid-value',
    path: 'addrv2.entries[3].addr',
  },
  {
    what: 'addrv2 torv3 with 16 bytes',
    command: 'addrv2',
    hex: `01 00000000 00 04 10 ${rep('00', 16)} 208d`,
    code: 'invalid-value',
    path: 'addrv2.entries[0].addr',
  },
  {
    what: 'addrv2 unknown network address over 512 bytes',
    command: 'addrv2',
    hex: `01 00000000 00 63 fd0102 ${rep('00', 513)} 208d`,
    code: 'too-large',
    path: 'addrv2.entries[0].addr',
  },
  {
    what: 'addrv2 services non-minimal',
    command: 'addrv2',
    hex: `01 00000000 fe09040000 01 04 01020304 208d`,
    code: 'non-minimal-compact-size',
    path: 'addrv2.entries[0].services',
  },
  {
    what: 'addrv2 services 64-bit non-minimal',
    command: 'addrv2',
    hex: `01 00000000 ff0100000000000000 01 04 01020304 208d`,
    code: 'non-minimal-compact-size',
    path: 'addrv2.entries[0].services',
  },
  {
    what: 'addrv2 entry without its port',
    command: 'addrv2',
    hex: `02 00000000 00 01 04 01020304 208d 00000000 00 01 04 01020304 20`,
    code: 'truncated',
    path: 'addrv2.entries[1].port',
  },
  { what: 'inv over 50,000', command: 'inv', hex: 'fd51c3', code: 'too-many-items', path: 'inv.items' },
  { what: 'getdata item cut short', command: 'getdata', hex: `01 01000000 ${rep('11', 31)}`, code: 'truncated', path: 'getdata.items' },
  { what: 'notfound trailing', command: 'notfound', hex: `00 00`, code: 'trailing-bytes', path: 'notfound' },
  {
    what: 'getheaders with 102 locator hashes',
    command: 'getheaders',
    hex: `80110100 66 ${rep(H1, 102)} ${H2}`,
    code: 'too-many-items',
    path: 'getheaders.locator',
  },
  { what: 'getblocks without stop hash', command: 'getblocks', hex: `80110100 01 ${H1}`, code: 'truncated', path: 'getblocks.stop' },
  { what: 'headers over 2000', command: 'headers', hex: 'fdd107', code: 'too-many-items', path: 'headers.headers' },
  {
    what: 'headers with a tx count',
    command: 'headers',
    hex: `02 ${HEADER_HEX} 00 ${HEADER_HEX} 01`,
    code: 'invalid-value',
    path: 'headers.headers[1].txCount',
  },
  {
    what: 'tx: segwit flag with every witness empty',
    command: 'tx',
    hex: `02000000 0001 01 ${rep('33', 32)} 01000000 00 fdffffff 00 00 00000000`,
    code: 'invalid-value',
    path: 'tx.witnesses',
  },
  {
    what: 'tx: unknown optional data flag',
    command: 'tx',
    hex: `02000000 0002 01 ${rep('33', 32)} 01000000 00 fdffffff 00 00000000`,
    code: 'invalid-value',
    path: 'tx.flag',
  },
  {
    what: 'tx: scriptSig longer than the payload',
    command: 'tx',
    hex: `02000000 01 ${rep('33', 32)} 01000000 50 ${rep('00', 10)}`,
    code: 'truncated',
    path: 'tx.inputs[0].scriptSig',
  },
  {
    what: 'tx: non-minimal script length',
    command: 'tx',
    hex: `02000000 01 ${rep('33', 32)} 01000000 fd0100 51 ffffffff 00 00000000`,
    code: 'non-minimal-compact-size',
    path: 'tx.inputs[0].scriptSig',
  },
  { what: 'tx: no lock time', command: 'tx', hex: `01000000 00 00`, code: 'truncated', path: 'tx.lockTime' },
  {
    what: 'block: second tx broken',
    command: 'block',
    hex: `${HEADER_HEX} 02 ${COINBASE_HEX} 02000000 01 ${rep('33', 32)}`,
    code: 'truncated',
    path: 'block.txs[1].inputs',
  },
  {
    what: 'cmpctblock: prefilled index overflows 16 bits',
    command: 'cmpctblock',
    hex: `${HEADER_HEX} 0900000000000000 00 02 00 ${COINBASE_HEX} fdffff ${COINBASE_HEX}`,
    code: 'invalid-value',
    path: 'cmpctblock.prefilled[1].index',
  },
  {
    what: 'getblocktxn: differential index overflow',
    command: 'getblocktxn',
    hex: `${H1} 02 fdffff 00`,
    code: 'invalid-value',
    path: 'getblocktxn.indexes[1]',
  },
  {
    what: 'filterload over 36,000 bytes',
    command: 'filterload',
    hex: `fda18c ${rep('00', 36001)} 0b000000 00000000 00`,
    code: 'too-large',
    path: 'filterload.filter',
  },
  {
    what: 'filterload with 51 hash functions',
    command: 'filterload',
    hex: `01 00 33000000 00000000 00`,
    code: 'invalid-value',
    path: 'filterload.hashFuncs',
  },
  { what: 'filteradd over 520 bytes', command: 'filteradd', hex: `fd0902 ${rep('00', 521)}`, code: 'too-large', path: 'filteradd.data' },
  {
    what: 'cfheaders over 2000',
    command: 'cfheaders',
    hex: `00 ${H1} ${H2} fdd107`,
    code: 'too-many-items',
    path: 'cfheaders.filterHashes',
  },
  { what: 'reject of a tx without its hash', command: 'reject', hex: `02 7478 10 00`, code: 'truncated', path: 'reject.data' },
  { what: 'reject with a 13-char message', command: 'reject', hex: `0d ${rep('61', 13)} 10 00`, code: 'too-large', path: 'reject.message' },
  { what: 'sendcmpct cut short', command: 'sendcmpct', hex: `01 0200`, code: 'truncated', path: 'sendcmpct.version' },
];

describe('vectors', () => {
  for (const vec of VECTORS) {
    it(`${vec.command} ${vec.hex.length > 60 ? vec.hex.slice(0, 40).replace(/\s+/g, '') + '…' : vec.hex.replace(/\s+/g, '')}`, () => {
      const bytes = hex(vec.hex);
      assert.deepEqual(
        Buffer.from(encodePayload(msg(vec.command, vec.value as never))).toString('hex'),
        Buffer.from(bytes).toString('hex'),
      );
      const decoded = decodeMessage(vec.command, bytes);
      assert.ok(isKnown(decoded));
      assert.deepEqual(plain(decoded.payload), plain(vec.value));
    });
  }

  it('every known command has a vector', async () => {
    const { KNOWN_COMMANDS } = await import('../../src/protocol/messages/index.js');
    const have = new Set(VECTORS.map((x) => x.command));
    assert.deepEqual(
      KNOWN_COMMANDS.filter((c) => !have.has(c)),
      [],
    );
  });

  it('a whole frame: mainnet verack', () => {
    const frame = encodeMessageFrame(NETWORKS.mainnet, msg('verack', {}));
    assert.equal(Buffer.from(frame).toString('hex'), 'f9beb4d9' + '76657261636b000000000000' + '00000000' + '5df6e0e2');
  });

  it('unknown commands are data, not errors', () => {
    const m = decodeMessage('foobar', hex('0102'));
    assert.deepEqual(plain(m), { command: 'foobar', payload: '0102', unknown: true });
    assert.equal(isKnown(m), false);
    assert.deepEqual(encodePayload(m), hex('0102'));
    // Object.prototype names are not commands.
    assert.equal(isKnown(decodeMessage('toString', new Uint8Array(0))), false);
  });
});

describe('bad input', () => {
  for (const bad of BAD) {
    it(bad.what, () => {
      assert.throws(
        () => decodeMessage(bad.command, hex(bad.hex)),
        (e: unknown) => {
          assert.ok(e instanceof DecodeError, `DecodeError, got ${String(e)}`);
          assert.equal(e.code, bad.code, e.message);
          assert.equal(e.path, bad.path, e.message);
          return true;
        },
      );
    });
  }

  it('encoding refuses values that cannot be sent', () => {
    assert.throws(
      () => encodePayload(msg('addrv2', { entries: [{ time: 0, services: 0n, networkId: 1, addr: hex('0102'), port: 1 }] })),
      RangeError,
    );
    assert.throws(
      () =>
        encodePayload(
          msg('version', {
            version: 1,
            services: 0n,
            timestamp: 0n,
            receiver: { services: 0n, ip: new Uint8Array(16), port: 0 },
            userAgent: 'x',
          }),
        ),
      RangeError,
    );
    assert.throws(() => encodePayload(msg('getblocktxn', { blockHash: fill(1), indexes: [3, 3] })), RangeError);
    assert.throws(() => encodePayload(msg('reject', { message: 'tx', code: 1, reason: '' })), RangeError);
    assert.throws(() => encodePayload(msg('inv', { items: [{ type: 1, hash: fill(1, 31) }] })), RangeError);
  });
});
