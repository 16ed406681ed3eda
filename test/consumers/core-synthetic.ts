/** Synthetic Core-source events for the metrics tests: getpeerinfo rows as peer.stats, a node.status, blocks and mempool. */
import { makeEvent } from '../../src/events/envelope.js';
import type { ObserverEvent, PeerStats, NodeStatus } from '../../src/events/types.js';
import { addressOf } from './synthetic.js';

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
