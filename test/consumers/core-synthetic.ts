/** Synthetic Core-source events for the metrics tests: getpeerinfo rows as peer.stats, a node.status, blocks and mempool. */
import { makeEvent } from '../../src/events/envelope.js';
import type { ObserverEvent, PeerStats, NodeStatus } from '../../src/events/types.js';
import { ObserverMetrics } from '../../src/consumers/metrics/metrics.js';
import { addressOf, peerLife } from './synthetic.js';

export const rpcOrigin = { nodeId: 'test-node', source: 'rpc' };

export function peerStats(i: number, over: Partial<PeerStats> = {}, extras: Partial<NonNullable<PeerStats['extras']>> = {}): PeerStats {
  const addr = addressOf(i);
  return {
    conn: { id: i, direction: i % 4 === 0 ? 'outbound' : 'inbound', remote: `${addr}:8333` },
    connType: i % 4 === 0 ? 'outbound-full-relay' : 'inbound',
    transport: i % 2 ? 'v2' : 'v1',
    network: 'mainnet',
    netgroup: addr.split('.').slice(0, 2).join('.') + '.0.0/16',
    version: 70016,
    userAgent: `/Satoshi:${i}/`,
    services: '1033',
    startHeight: 800_000,
    syncedBlocks: 800_000,
    connTime: 1_700_000_000,
    timeOffsetSec: 0,
    pingMs: 10 * (1 + (i % 5)),
    minPingMs: 5 * (1 + (i % 5)),
    bytesIn: 1000,
    bytesOut: 2000,
    bytesInPerMsg: { version: 126 },
    bytesOutPerMsg: { version: 126 },
    addrProcessed: 10,
    addrRateLimited: 0,
    addrRelayEnabled: true,
    relayTxes: true,
    permissions: [],
    extras: {
      bip152HbTo: false,
      bip152HbFrom: false,
      inflightBlocks: [],
      pingWaitMs: null,
      minFeeFilterSatPerKvB: 1000,
      mappedAs: null,
      invToSend: i % 3,
      cpuLoad: null,
      ...extras,
    },
    ...over,
  };
}

export function statsEvent(s: PeerStats, timeUs = 1_700_000_000_000_000): ObserverEvent {
  return makeEvent(rpcOrigin, 'peer.stats', s, timeUs) as ObserverEvent;
}

export function nodeStatus(over: Partial<NodeStatus> = {}): NodeStatus {
  return {
    chain: 'main',
    blocks: 900_000,
    headers: 900_001,
    bestBlockHash: '00'.repeat(32),
    initialBlockDownload: false,
    verificationProgress: 0.9999,
    staleTips: 1,
    invalidTips: 0,
    version: 300000,
    subversion: '/Satoshi:30.0.0/',
    networkActive: true,
    connections: { total: 12, inbound: 4, outbound: 8 },
    totalBytesIn: 123456,
    totalBytesOut: 654321,
    mempool: { size: 42, bytes: 10_000, usage: 50_000, minFeeBtcPerKvB: 0.00001 },
    addrman: { new: 100, tried: 20, total: 120 },
    addrmanTopSources: [],
    uptimeSec: 3600,
    banned: 2,
    warnings: [],
    extras: {
      memoryLocked: { used: 384, free: 261760, total: 262144, locked: 262144, chunksUsed: 2, chunksFree: 2 },
      orphans: { count: 3, bytes: 900 },
      mempoolDetail: {
        loaded: true,
        totalFeeBtc: 0.5,
        maxBytes: 300_000_000,
        minRelayFeeBtcPerKvB: 0.000001,
        incrementalRelayFeeBtcPerKvB: 0.000001,
        unbroadcast: 0,
      },
      addrmanByNetwork: { ipv4: { new: 90, tried: 15, total: 105 }, onion: { new: 10, tried: 5, total: 15 } },
      addrmanAge: {
        new: { future: 2, hour: 10, day: 20, week: 30, month: 30, older: 8 },
        tried: { future: 0, hour: 5, day: 5, week: 5, month: 5, older: 0 },
        maxFutureSec: 7200,
      },
    },
    ...over,
  };
}

/** An ObserverMetrics with every family populated: p2p peers, Core peers, a node status, blocks, mempool, addr.received. */
export function fullyPopulatedMetrics(): ObserverMetrics {
  const m = new ObserverMetrics({ asn: { source: 'test', lookup: (r) => (r.startsWith('11.') ? 64_011 : null) } });
  for (let i = 0; i < 20; i++) for (const e of peerLife(i)) m.handle(e);
  for (let i = 0; i < 20; i++) m.handle(statsEvent(peerStats(i, {}, { cpuLoad: 0.01 * i, inflightBlocks: [i] })));
  const ev = (type: ObserverEvent['type'], data: unknown) =>
    makeEvent(rpcOrigin, type, data as never, 1_700_000_000_000_000) as ObserverEvent;
  m.handle(ev('node.status', nodeStatus()));
  m.handle(ev('block.connected', { hash: 'aa'.repeat(32), height: 1, transactions: 1, inputs: 1, sigops: 1, durationMs: 1 }));
  m.handle(
    ev('addr.received', { conn: { id: 1, direction: 'inbound', remote: '1.2.3.4:8333' }, addresses: 10, processed: 8, rateLimited: 2 }),
  );
  for (const action of ['accepted', 'rejected', 'removed', 'replaced']) {
    m.handle(
      ev('mempool.tx', {
        action,
        txid: 'cc'.repeat(32),
        wtxid: null,
        vsize: 100,
        feeSat: null,
        reason: action === 'rejected' ? 'dust' : null,
        peerId: null,
        replacedBy: null,
      }),
    );
  }
  const conn = { id: 900, direction: 'inbound' as const, remote: '162.218.65.9:8333' };
  const p2p = { nodeId: 'test-node', source: 'p2p' };
  const msg = (dir: string, command: string, size: number, payload: unknown) =>
    makeEvent(p2p, 'message', { conn, dir, command, size, known: true, payload } as never) as ObserverEvent;
  m.handle(
    makeEvent(p2p, 'connection.opened', {
      conn,
      local: '',
      network: 'mainnet',
      netgroup: '162.218.0.0/16',
      transport: 'v1',
    }) as ObserverEvent,
  );
  m.handle(msg('in', 'addr', 31, { count: 1, entries: [{ time: 1_700_000_000, services: '1', addr: '162.218.65.9', port: 8333 }] }));
  m.handle(msg('in', 'inv', 37, { count: 1, types: { tx: 1 }, items: [] }));
  m.handle(msg('out', 'inv', 1801, { count: 50, types: { wtx: 50 }, items: [] }));
  m.handle(msg('in', 'ping', 0, {}));
  m.handle(msg('in', 'feefilter', 8, { feeRate: '1000' }));
  m.handle(msg('in', 'reject', 20, { message: 'tx', code: 0x10, reason: 'bad', data: null }));
  return m;
}
