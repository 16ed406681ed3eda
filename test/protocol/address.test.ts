import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import {
  addrV2ToString,
  classifyIp,
  formatEndpoint,
  ipFromString,
  ipToString,
  netgroupOf,
  netgroupOfAddrV2,
  parseEndpoint,
  torV3FromString,
} from '../../src/protocol/address.js';
import { serviceNames } from '../../src/protocol/services.js';

const ip = ipFromString;

describe('ip text', () => {
  const cases: [string, string][] = [
    ['1.2.3.4', '1.2.3.4'],
    ['0.0.0.0', '0.0.0.0'],
    ['::', '::'],
    ['::1', '::1'],
    ['2001:DB8:0:0:0:0:0:1', '2001:db8::1'],
    ['2001:db8:0:0:1:0:0:1', '2001:db8::1:0:0:1'], // first of two equal runs
    ['2001:0db8:0000:0001:0001:0001:0001:0001', '2001:db8:0:1:1:1:1:1'], // one zero group is not compressed
    ['fe80::1:2', 'fe80::1:2'],
    ['1::', '1::'],
    ['::ffff:1.2.3.4', '1.2.3.4'],
    ['64:ff9b::192.0.2.33', '64:ff9b::c000:221'],
    ['2a01:4f8:1:2::3', '2a01:4f8:1:2::3'],
  ];
  for (const [input, text] of cases) it(`${input} → ${text}`, () => assert.equal(ipToString(ip(input)), text));

  it('round-trips random addresses', () => {
    for (let i = 0; i < 500; i++) {
      const b = new Uint8Array(16).map(() => (Math.random() < 0.4 ? 0 : Math.floor(Math.random() * 256)));
      assert.deepEqual(ip(ipToString(b)), b);
    }
  });

  for (const bad of [
    '',
    '1.2.3',
    '1.2.3.4.5',
    '256.1.1.1',
    '01.2.3.4',
    '1:2:3:4:5:6:7:8:9',
    '1::2::3',
    'g::1',
    '::1%eth0',
    'example.org',
    '1.2.3.4:80',
  ]) {
    it(`rejects ${JSON.stringify(bad)}`, () => assert.throws(() => ip(bad), /invalid IP address/));
  }
});

describe('endpoints', () => {
  it('formats', () => {
    assert.equal(formatEndpoint('1.2.3.4', 8333), '1.2.3.4:8333');
    assert.equal(formatEndpoint('::1', 8333), '[::1]:8333');
  });
  it('parses', () => {
    assert.deepEqual(parseEndpoint('1.2.3.4:8333'), { host: '1.2.3.4', port: 8333 });
    assert.deepEqual(parseEndpoint('[2001:DB8::0:1]:18444'), { host: '2001:db8::1', port: 18444 });
    assert.deepEqual(parseEndpoint('node.example.org:8333'), { host: 'node.example.org', port: 8333 });
    assert.deepEqual(parseEndpoint('127.0.0.1', 18444), { host: '127.0.0.1', port: 18444 });
    assert.deepEqual(parseEndpoint('[::1]', 8333), { host: '::1', port: 8333 });
  });
  for (const [bad, why] of [
    ['::1:8333', /brackets/],
    ['1.2.3.4', /missing port/],
    ['1.2.3.4:0', /outside 1-65535/],
    ['1.2.3.4:65536', /outside 1-65535/],
    ['1.2.3.4:x', /invalid port/],
    ['[::1:8333', /missing '\]'/],
    ['[1.2.3.4]:1', /IPv6 only/],
    ['300.1.1.1:1', /invalid IPv4/],
    ['bad_host:1', /invalid host/],
    ['', /empty/],
  ] as const) {
    it(`rejects ${JSON.stringify(bad)}`, () => assert.throws(() => parseEndpoint(bad), why));
  }
});

describe('classifyIp', () => {
  const cases: [string, string][] = [
    ['8.8.8.8', 'routable'],
    ['0.0.0.0', 'unspecified'],
    ['0.1.2.3', 'reserved'],
    ['127.0.0.1', 'loopback'],
    ['10.1.2.3', 'private'],
    ['172.16.0.1', 'private'],
    ['172.31.255.255', 'private'],
    ['172.32.0.1', 'routable'],
    ['192.168.1.1', 'private'],
    ['169.254.1.1', 'link-local'],
    ['224.0.0.1', 'multicast'],
    ['240.0.0.1', 'reserved'],
    ['255.255.255.255', 'reserved'],
    ['100.64.0.1', 'reserved'],
    ['100.128.0.1', 'routable'],
    ['198.18.0.1', 'reserved'],
    ['198.19.255.255', 'reserved'],
    ['198.20.0.1', 'routable'],
    ['192.0.2.1', 'reserved'],
    ['198.51.100.1', 'reserved'],
    ['203.0.113.1', 'reserved'],
    ['::', 'unspecified'],
    ['::1', 'loopback'],
    ['fe80::1', 'link-local'],
    ['fc00::1', 'private'],
    ['fd87:d87e:eb43::1', 'private'],
    ['ff02::1', 'multicast'],
    ['2001:db8::1', 'reserved'],
    ['2001:10::1', 'reserved'],
    ['2001:20::1', 'reserved'],
    ['2a01:4f8::1', 'routable'],
    ['64:ff9b::10.0.0.1', 'private'],
  ];
  for (const [text, cls] of cases) it(`${text} is ${cls}`, () => assert.equal(classifyIp(ip(text)), cls));
});

describe('netgroupOf (Bitcoin Core GetGroup)', () => {
  const cases: [string, string][] = [
    ['1.2.3.4', '1.2.0.0/16'],
    ['1.2.255.255', '1.2.0.0/16'],
    ['::ffff:1.2.3.4', '1.2.0.0/16'],
    ['127.0.0.1', 'local'],
    ['::1', 'local'],
    ['10.0.0.1', 'unroutable'],
    ['192.168.0.1', 'unroutable'],
    ['2001:db8::1', 'unroutable'],
    ['2a01:4f8:1:2::3', '2a01:4f8::/32'],
    ['2604:d500:1::1', '2604:d500::/32'],
    ['2001:470:abcd::1', '2001:470:a000::/36'], // Hurricane Electric: /36
    ['2002:102:304::1', '1.2.0.0/16'], // 6to4 carries 1.2.3.4
    ['2001:0:4136:e378:8000:63bf:fefd:fcfb', '1.2.0.0/16'], // Teredo: inverted 1.2.3.4
    ['64:ff9b::102:304', '1.2.0.0/16'], // NAT64
  ];
  for (const [text, group] of cases) it(`${text} → ${group}`, () => assert.equal(netgroupOf(text), group));

  it('takes 16 bytes as well as text', () => assert.equal(netgroupOf(ip('9.8.7.6')), '9.8.0.0/16'));
  it('groups Tor, I2P and CJDNS as Core does', () => {
    const key = new Uint8Array(32).fill(0xa5);
    assert.equal(netgroupOfAddrV2(4, key), 'onion:a/4');
    assert.equal(netgroupOfAddrV2(5, key), 'i2p:a/4');
    assert.equal(netgroupOfAddrV2(6, ip('fc57:1234::1')), 'cjdns:fc50::/12');
    assert.equal(netgroupOfAddrV2(1, Uint8Array.of(5, 6, 7, 8)), '5.6.0.0/16');
    assert.equal(netgroupOf(addrV2ToString(4, key)), 'onion:a/4');
  });
});

describe('addrV2ToString', () => {
  it('renders each network', () => {
    assert.equal(addrV2ToString(1, Uint8Array.of(1, 2, 3, 4)), '1.2.3.4');
    assert.equal(addrV2ToString(2, ip('2001:db8::1')), '2001:db8::1');
    assert.equal(addrV2ToString(6, ip('fc00::1')), 'fc00::1');
    assert.equal(addrV2ToString(99, Uint8Array.of(0xbe, 0xef)), 'net99:beef');
    assert.equal(addrV2ToString(1, Uint8Array.of(1, 2, 3)), 'net1:010203');
    assert.equal(addrV2ToString(5, new Uint8Array(32)), `${'a'.repeat(52)}.b32.i2p`);
  });
  it('Tor v3: the name of a known key (checksum and version per rend-spec-v3)', () => {
    // The Tor Project's own onion service.
    const name = '2gzyxa5ihm7nsggfxnu52rck2vv4rvmdlkiu3zzui5du4xyclen53wid.onion';
    const key = torV3FromString(name);
    assert.equal(addrV2ToString(4, key), name);
    // A flipped checksum character is refused.
    assert.throws(() => torV3FromString(name.replace('3wid', '3wia')), /checksum/);
  });
});

describe('serviceNames', () => {
  it('names known bits and numbers unknown ones', () => {
    assert.deepEqual(serviceNames(0n), []);
    assert.deepEqual(serviceNames(0x409n), ['NODE_NETWORK', 'NODE_WITNESS', 'NODE_NETWORK_LIMITED']);
    assert.deepEqual(serviceNames((1n << 2n) | (1n << 6n) | (1n << 11n) | (1n << 63n) | 2n), [
      'bit1',
      'NODE_BLOOM',
      'NODE_COMPACT_FILTERS',
      'NODE_P2P_V2',
      'bit63',
    ]);
  });
});
