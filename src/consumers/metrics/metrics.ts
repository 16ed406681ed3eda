/**
 * The metrics consumer: Prometheus series (prom-client) from the events it
 * subscribes to, and nothing else. Every label value comes from a bounded set
 * (labels.ts): known commands, inventory types, service bits, address networks,
 * close reasons and violation kinds, the top user agents of current peers. No
 * label ever names a peer or an address, so the number of series stays fixed
 * however many peers come and go.
 *
 * `handle(event)` is synchronous (the tests and the memory bench feed it
 * directly); `startMetrics` runs it over a bus subscription.
 */
import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';
import { CLOSE_REASONS as CLOSE_REASON_LIST } from '../../events/schema.js';
import type { Bus, Subscription } from '../../bus/bus.js';
import { EVENT_TYPES, type EventType, type ObserverEvent } from '../../events/types.js';
import { summaryOf } from '../../events/message-summary.js';
import {
  AdmittedLabels,
  OTHER,
  SERVICE_BITS,
  addrEntryNetwork,
  addressNetwork,
  commandLabel,
  invTypeLabel,
  serviceLabel,
  userAgentText,
} from './labels.js';
import type { AsnLookup } from '../../http/asn.js';
import { CoreMetrics } from './core.js';
import { TopLabels } from './top.js';
import { TrafficMetrics, type IpList } from './traffic.js';
import { connectionKey } from '../../events/conn-key.js';

export const PREFIX = 'peer_observer_';

/** The event types the metrics read; the subscription asks for these only. */
export const METRICS_EVENT_TYPES: readonly EventType[] = [
  'connection.opened',
  'connection.closed',
  'message',
  'handshake.version',
  'handshake.complete',
  'ping.latency',
  'violation',
  'pipeline.counters',
  'alert',
  'incident',
  'peer.stats',
  'node.status',
  'block.connected',
  'mempool.tx',
  'addr.received',
];

export interface MetricsOptions {
  /** Register into this registry (default: a new one). */
  registry?: Registry;
  /** Also export Node's process metrics (`process_*`, `nodejs_*`). Default true. */
  defaultMetrics?: boolean;
  /** How many user agents get their own label in `peer_observer_peers_by_user_agent` (the rest: `other`). Default 20. */
  topUserAgents?: number;
  /** Most connections tracked at once for the current-connection gauges (the rest are counted, not tracked). Default 200,000. */
  maxTrackedConnections?: number;
  /** IP → ASN (--asmap / --geoip-asn) for the per-AS peer counts. */
  asn?: AsnLookup;
  /** IP lists whose peers' traffic is counted apart (default: LinkingLion's published ranges). */
  ipLists?: readonly IpList[];
}

const CLOSE_REASONS: ReadonlySet<string> = new Set(CLOSE_REASON_LIST);

const EVENT_TYPE_SET: ReadonlySet<string> = new Set(EVENT_TYPES);
const DIRECTIONS: ReadonlySet<string> = new Set(['inbound', 'outbound']);
const direction = (d: string): string => (DIRECTIONS.has(d) ? d : 'unknown');

interface TrackedConn {
  direction: string;
  network: string;
  /** Label text of the peer's user agent once it sent version. */
  userAgent?: string;
  /** `AS<n>` from our lookup, `unmapped` without one. */
  asn: string;
}

const ADDR_OFFSET_BUCKETS = [-30 * 86400, -7 * 86400, -86400, -3 * 3600, -3600, -600, 0, 600, 3600, 86400, 7 * 86400];

export class ObserverMetrics {
  readonly registry: Registry;
  private readonly topUserAgents: number;
  private readonly maxTracked: number;
  private readonly conns = new Map<string, TrackedConn>();
  private readonly userAgents = new Map<string, number>();
  /** Alerts seen, id → labels, for raised/resolved/active (bounded; oldest forgotten first). */
  private readonly alertsSeen = new Map<string, { detector: string; severity: string; active: boolean }>();
  private readonly incidentsSeen = new Set<string>();
  private readonly detectorLabels = new AdmittedLabels(64);
  private readonly violationLabels = new AdmittedLabels(64);
  private readonly stageLabels = new AdmittedLabels(32);
  private readonly counterLabels = new AdmittedLabels(512);
  private readonly consumerDrops = new Map<string, () => number>();
  /** Connections not tracked because `maxTrackedConnections` was reached. */
  untracked = 0;

  readonly events: Counter<'type'>;
  readonly messages: Counter<'command' | 'dir' | 'conn_direction'>;
  readonly messageBytes: Counter<'command' | 'dir' | 'conn_direction'>;
  readonly opened: Counter<'direction' | 'network'>;
  readonly closed: Counter<'direction' | 'network' | 'reason'>;
  readonly evictions: Counter<'rule'>;
  readonly current: Gauge<'direction' | 'network'>;
  readonly duration: Histogram<'direction'>;
  readonly handshakes: Counter<'direction'>;
  readonly handshakeDuration: Histogram;
  readonly timeOffset: Histogram;
  readonly addrEntries: Histogram<'command'>;
  readonly addrByNetwork: Counter<'command' | 'network'>;
  readonly addrOffset: Histogram<'command'>;
  readonly serviceBits: Counter<'flag' | 'source'>;
  readonly invEntries: Counter<'command' | 'type' | 'dir'>;
  readonly invPerMessage: Histogram<'command' | 'dir'>;
  readonly ping: Histogram;
  readonly violations: Counter<'kind' | 'action'>;
  readonly alertsRaised: Counter<'detector' | 'severity'>;
  readonly alertsResolved: Counter<'detector'>;
  readonly alertsActive: Gauge<'detector' | 'severity'>;
  readonly incidents: Counter;
  readonly pipeline: Gauge<'stage' | 'name'>;
  readonly byUserAgent: Gauge<'user_agent'>;
  readonly tracking: Gauge<'state'>;
  /** Metrics from Core's own reports (getpeerinfo aggregates, node status, blocks, mempool). */
  readonly core: CoreMetrics;
  /** Metrics from message content (IP lists, self-announcements, inv mix, old pings, feefilter, reject). */
  readonly traffic: TrafficMetrics;
  private readonly asn: AsnLookup | undefined;

  constructor(options: MetricsOptions = {}) {
    const registry = (this.registry = options.registry ?? new Registry());
    this.topUserAgents = options.topUserAgents ?? 20;
    this.maxTracked = options.maxTrackedConnections ?? 200_000;
    this.asn = options.asn;
    const registers = [registry];
    const counter = <L extends string>(name: string, help: string, labelNames: readonly L[] = []) =>
      new Counter<L>({ name: PREFIX + name, help, labelNames, registers });
    const histogram = <L extends string>(name: string, help: string, buckets: number[], labelNames: readonly L[] = []) =>
      new Histogram<L>({ name: PREFIX + name, help, buckets, labelNames, registers });

    this.events = counter('events_total', 'Events read by the metrics consumer, by event type.', ['type']);
    this.messages = counter(
      'messages_total',
      'P2P messages by command (known commands, else "other"), direction and connection direction.',
      ['command', 'dir', 'conn_direction'],
    );
    this.messageBytes = counter('message_bytes_total', 'P2P message payload bytes (24-byte header excluded), as messages_total.', [
      'command',
      'dir',
      'conn_direction',
    ]);
    this.opened = counter('connections_opened_total', 'Connections opened, by direction and address network.', ['direction', 'network']);
    this.closed = counter(
      'connections_closed_total',
      'Connections closed (and refused or failed), by direction, address network and reason.',
      ['direction', 'network', 'reason'],
    );
    this.evictions = counter(
      'evictions_total',
      "Inbound peers evicted, by rule: inbound-full (the slots were full; Core's eviction rules chose it), handshake-slots " +
        '(the handshake budget was spent; it was the least advanced), core (Bitcoin Core evicted it, usdt).',
      ['rule'],
    );
    // prom-client calls collect() with the metric as `this`; these read our state.
    const state = () => this.state();
    this.current = new Gauge({
      name: PREFIX + 'connections',
      help: 'Connections open now, by direction and address network.',
      labelNames: ['direction', 'network'],
      registers,
      collect() {
        this.reset();
        for (const c of state().conns.values()) this.inc({ direction: c.direction, network: c.network });
      },
    });
    this.duration = histogram(
      'connection_duration_seconds',
      'How long connections lasted, observed when they close.',
      [0.1, 1, 5, 10, 30, 60, 300, 900, 3600, 6 * 3600, 86400, 7 * 86400],
      ['direction'],
    );
    this.handshakes = counter('handshakes_total', 'Handshakes completed (version and verack both ways), by direction.', ['direction']);
    this.handshakeDuration = histogram(
      'handshake_duration_seconds',
      'From connection open to handshake complete.',
      [0.01, 0.05, 0.1, 0.5, 1, 5, 10, 30, 60],
    );
    this.timeOffset = histogram(
      'version_time_offset_seconds',
      "Peers' clock minus ours, from their version message.",
      [-3600, -600, -70, -10, -1, 0, 1, 10, 70, 600, 3600],
    );
    this.addrEntries = histogram(
      'addr_entries',
      'Entries per received addr/addrv2 message.',
      [0, 1, 2, 5, 10, 25, 50, 100, 250, 500, 999, 1000],
      ['command'],
    );
    this.addrByNetwork = counter('addr_entries_total', 'Received addr/addrv2 entries, by command and address network.', [
      'command',
      'network',
    ]);
    this.addrOffset = histogram(
      'addr_timestamp_offset_seconds',
      "Received addr entries' timestamp minus the time we received them (positive: in the future).",
      ADDR_OFFSET_BUCKETS,
      ['command'],
    );
    this.serviceBits = counter(
      'service_flags_total',
      'Known service flags set (else "unknown"), in version messages and in received addr entries.',
      ['flag', 'source'],
    );
    this.invEntries = counter('inv_entries_total', 'inv/getdata/notfound entries by inventory type and direction.', [
      'command',
      'type',
      'dir',
    ]);
    this.invPerMessage = histogram(
      'inv_entries',
      'Entries per inv/getdata/notfound message.',
      [1, 2, 5, 10, 35, 100, 500, 1000, 5000, 50000],
      ['command', 'dir'],
    );
    this.ping = histogram(
      'ping_latency_seconds',
      'Round trip from our ping to the matching pong.',
      [0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30],
    );
    this.violations = counter('violations_total', 'Protocol violations, by kind and the action taken.', ['kind', 'action']);
    this.alertsRaised = counter('alerts_total', 'Alerts raised, by detector and severity at raise.', ['detector', 'severity']);
    this.alertsResolved = counter('alerts_resolved_total', 'Alerts resolved, by detector.', ['detector']);
    this.alertsActive = new Gauge({
      name: PREFIX + 'alerts_active',
      help: 'Alerts active now, by detector and severity at raise.',
      labelNames: ['detector', 'severity'],
      registers,
      collect() {
        this.reset();
        for (const a of state().alertsSeen.values()) if (a.active) this.inc({ detector: a.detector, severity: a.severity });
      },
    });
    this.incidents = counter('incidents_total', 'Incidents opened.');
    this.pipeline = new Gauge({
      name: PREFIX + 'pipeline_stage_value',
      help: 'The latest pipeline.counters value of each stage (bus queued/dropped, observer and source counters): cumulative unless named queued.',
      labelNames: ['stage', 'name'],
      registers,
    });
    this.byUserAgent = new Gauge({
      name: PREFIX + 'peers_by_user_agent',
      help: 'Current peers by user agent: the most common ones by name (printable, at most 64 characters), the rest as "other".',
      labelNames: ['user_agent'],
      registers,
      collect() {
        this.reset();
        const sorted = [...state().userAgents].sort((a, b) => b[1] - a[1] || (a[0] < b[0] ? -1 : 1));
        let other = 0;
        sorted.forEach(([ua, n], i) => {
          if (i < state().topUserAgents && ua !== OTHER) this.set({ user_agent: ua }, n);
          else other += n;
        });
        if (other > 0) this.set({ user_agent: OTHER }, other);
      },
    });
    this.tracking = new Gauge({
      name: PREFIX + 'metrics_tracked_connections',
      help: 'Connections the metrics consumer tracks for the current-connection gauges (tracked), and those it could not (untracked, cumulative).',
      labelNames: ['state'],
      registers,
      collect() {
        this.set({ state: 'tracked' }, state().conns.size);
        this.set({ state: 'untracked' }, state().untracked);
      },
    });
    new Gauge({
      name: PREFIX + 'consumer_dropped_events',
      help: "Events dropped because a consumer's bus queue was full, by consumer (cumulative).",
      labelNames: ['consumer'],
      registers,
      collect() {
        for (const [consumer, dropped] of state().consumerDrops) this.set({ consumer }, dropped());
      },
    });
    const asnTop = new TopLabels(20);
    new Gauge({
      name: PREFIX + 'peers_by_asn',
      help: 'Connections open now by AS number (--asmap / --geoip-asn; "unmapped" without a lookup or a match): the 20 most common, the rest "other".',
      labelNames: ['asn'],
      registers,
      collect() {
        this.reset();
        const counts = new Map<string, number>();
        for (const c of state().conns.values()) counts.set(c.asn, (counts.get(c.asn) ?? 0) + 1);
        for (const [asn, n] of asnTop.top(counts)) this.set({ asn }, n);
      },
    });
    this.core = new CoreMetrics(registry, PREFIX, {
      ...(options.asn ? { asn: options.asn } : {}),
      maxPeers: this.maxTracked,
    });
    this.traffic = new TrafficMetrics(registry, PREFIX, options.ipLists, this.maxTracked);
    if (options.defaultMetrics ?? true) {
      collectDefaultMetrics({ register: registry });
      // Gauges named *_total (prom-client's choice) that `promtool check metrics` rightly flags; the counts are in nodejs_active_*.
      for (const name of ['nodejs_active_handles_total', 'nodejs_active_requests_total', 'nodejs_active_resources_total']) {
        registry.removeSingleMetric(name);
      }
    }
  }

  handle(event: ObserverEvent): void {
    this.events.inc({ type: EVENT_TYPE_SET.has(event.type) ? event.type : OTHER });
    this.core.handle(event);
    this.traffic.handle(event);
    switch (event.type) {
      case 'connection.opened': {
        const d = event.data;
        const key = connectionKey(event, d.conn.id);
        const labels = { direction: direction(d.conn.direction), network: addressNetwork(d.conn.remote) };
        this.opened.inc(labels);
        if (this.conns.has(key)) return;
        if (this.conns.size >= this.maxTracked) {
          this.untracked++;
          return;
        }
        // A copy: prom-client keeps the labels object it was given.
        const asn = this.asn?.lookup(d.conn.remote);
        this.conns.set(key, { ...labels, asn: asn ? `AS${asn}` : 'unmapped' });
        return;
      }
      case 'connection.closed': {
        const d = event.data;
        const dir = direction(d.conn.direction);
        this.closed.inc({ direction: dir, network: addressNetwork(d.conn.remote), reason: CLOSE_REASONS.has(d.reason) ? d.reason : OTHER });
        if (d.reason === 'evicted') this.evictions.inc({ rule: d.evictedFor ?? 'core' });
        if (d.reason !== 'limit' && d.reason !== 'connect-failed') this.duration.observe({ direction: dir }, d.durationMs / 1000);
        const key = connectionKey(event, d.conn.id);
        const tracked = this.conns.get(key);
        if (tracked) {
          this.conns.delete(key);
          if (tracked.userAgent !== undefined) this.forgetUserAgent(tracked.userAgent);
        }
        return;
      }
      case 'message':
        return this.message(event);
      case 'handshake.version': {
        const d = event.data;
        for (const name of d.serviceNames) this.serviceBits.inc({ flag: serviceLabel(name), source: 'version' });
        if (Number.isFinite(d.timeOffsetSec)) this.timeOffset.observe(d.timeOffsetSec);
        const tracked = this.conns.get(connectionKey(event, d.conn.id));
        if (tracked) {
          if (tracked.userAgent !== undefined) this.forgetUserAgent(tracked.userAgent);
          tracked.userAgent = userAgentText(d.userAgent);
          this.userAgents.set(tracked.userAgent, (this.userAgents.get(tracked.userAgent) ?? 0) + 1);
        }
        return;
      }
      case 'handshake.complete':
        this.handshakes.inc({ direction: direction(event.data.conn.direction) });
        this.handshakeDuration.observe(event.data.elapsedMs / 1000);
        return;
      case 'ping.latency':
        this.ping.observe(event.data.latencyMs / 1000);
        return;
      case 'violation':
        this.violations.inc({ kind: this.violationLabels.label(event.data.kind), action: event.data.action });
        return;
      case 'pipeline.counters': {
        const stage = this.stageLabels.label(event.data.stage);
        for (const [name, value] of Object.entries(event.data.counters)) {
          if (this.counterLabels.label(`${stage}/${name}`) === OTHER || !Number.isFinite(value)) continue;
          this.pipeline.set({ stage, name: name.slice(0, 64) }, value);
        }
        return;
      }
      case 'alert': {
        const a = event.data;
        const seen = this.alertsSeen.get(a.id);
        if (!seen) {
          const labels = { detector: this.detectorLabels.label(a.detector), severity: a.severity };
          this.alertsRaised.inc(labels);
          if (a.status === 'resolved') this.alertsResolved.inc({ detector: labels.detector });
          this.alertsSeen.set(a.id, { ...labels, active: a.status === 'active' });
          if (this.alertsSeen.size > 50_000) this.forgetOldestAlert();
        } else if (seen.active && a.status === 'resolved') {
          seen.active = false;
          this.alertsResolved.inc({ detector: seen.detector });
        }
        return;
      }
      case 'incident':
        if (!this.incidentsSeen.has(event.data.id)) {
          this.incidentsSeen.add(event.data.id);
          this.incidents.inc();
          if (this.incidentsSeen.size > 50_000) this.incidentsSeen.delete(this.incidentsSeen.values().next().value!);
        }
        return;
      default:
        return;
    }
  }

  private message(event: ObserverEvent & { type: 'message' }): void {
    const d = event.data;
    const command = commandLabel(d.command);
    const labels = { command, dir: d.dir, conn_direction: direction(d.conn.direction) };
    this.messages.inc(labels);
    this.messageBytes.inc(labels, d.size);
    if (!d.known) return;
    if ((d.command === 'addr' || d.command === 'addrv2') && d.dir === 'in') {
      const p = summaryOf(d);
      if (!p) return;
      this.addrEntries.observe({ command }, p.entries.length);
      const nowSec = event.timeUs / 1e6;
      const byNetwork = new Map<string, number>();
      const bits = new Map<string, number>();
      for (const e of p.entries) {
        const network = addrEntryNetwork(e);
        byNetwork.set(network, (byNetwork.get(network) ?? 0) + 1);
        this.addrOffset.observe({ command }, e.time - nowSec);
        countServiceBits(e.services, bits);
      }
      for (const [network, n] of byNetwork) this.addrByNetwork.inc({ command, network }, n);
      for (const [flag, n] of bits) this.serviceBits.inc({ flag, source: 'addr' }, n);
    } else if (d.command === 'inv' || d.command === 'getdata' || d.command === 'notfound') {
      const p = summaryOf(d);
      if (!p) return;
      this.invPerMessage.observe({ command, dir: d.dir }, p.count);
      for (const [name, n] of Object.entries(p.types)) this.invEntries.inc({ command, type: invTypeLabel(name), dir: d.dir }, n);
    }
  }

  private state() {
    return {
      conns: this.conns,
      alertsSeen: this.alertsSeen,
      userAgents: this.userAgents,
      topUserAgents: this.topUserAgents,
      untracked: this.untracked,
      consumerDrops: this.consumerDrops,
    };
  }

  /** Export a consumer's dropped-event count as `peer_observer_consumer_dropped_events{consumer=name}`. */
  watchConsumer(name: string, dropped: () => number): void {
    this.consumerDrops.set(name, dropped);
  }

  private forgetUserAgent(ua: string): void {
    const n = (this.userAgents.get(ua) ?? 0) - 1;
    if (n > 0) this.userAgents.set(ua, n);
    else this.userAgents.delete(ua);
  }

  private forgetOldestAlert(): void {
    const first = this.alertsSeen.keys().next().value;
    if (first !== undefined) this.alertsSeen.delete(first);
  }

  /** The Prometheus text exposition. */
  exposition(): Promise<string> {
    return this.registry.metrics();
  }

  get contentType(): string {
    return this.registry.contentType;
  }
}

function countServiceBits(decimal: string, into: Map<string, number>): void {
  let services: bigint;
  try {
    services = BigInt(decimal);
  } catch {
    return;
  }
  let known = 0n;
  for (const [name, bit] of SERVICE_BITS) {
    known |= bit;
    if (services & bit) into.set(name, (into.get(name) ?? 0) + 1);
  }
  if (services & ~known) into.set('unknown', (into.get('unknown') ?? 0) + 1);
}

export interface MetricsConsumer {
  metrics: ObserverMetrics;
  subscription: Subscription;
  /** Resolves when the subscription ends (the bus closed). */
  done: Promise<void>;
}

/** Subscribe to the event types the metrics need and keep them up to date. */
export function startMetrics(bus: Bus, options: MetricsOptions & { nodeIds?: readonly string[]; maxQueue?: number } = {}): MetricsConsumer {
  const metrics = new ObserverMetrics(options);
  const subscription = bus.subscribe({
    types: METRICS_EVENT_TYPES,
    ...(options.nodeIds ? { nodeIds: options.nodeIds } : {}),
    ...(options.maxQueue ? { maxQueue: options.maxQueue } : {}),
  });
  metrics.watchConsumer('metrics', () => subscription.dropped);
  const done = (async () => {
    for await (const event of subscription) metrics.handle(event);
  })();
  return { metrics, subscription, done };
}
