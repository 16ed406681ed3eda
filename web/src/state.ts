/**
 * The page's model of the observer, fed by the live WebSocket (/ws): a
 * snapshot, then one delta per second. Bounded: the series keeps the server's
 * window, a watched peer's messages the last 500.
 */
import type { LivePeer, LiveServerMessage, LiveStats, MessageItem, SeriesPoint } from '../../src/live/feed.js';
import type { Alert, Incident } from '../../src/events/types.js';

export type Point = SeriesPoint;

export const MAX_POINTS = 300;
export const MAX_MESSAGES = 500;

export class State {
  connected = false;
  everConnected = false;
  observers: string[] = [];
  peers = new Map<string, LivePeer>();
  points: Point[] = [];
  alerts = new Map<string, Alert>();
  incidents = new Map<string, Incident>();
  stats: LiveStats | null = null;
  asnSource: string | null = null;
  alertsEnabled = false;
  /** Server time minus ours, for ages. */
  skewMs = 0;
  watchKey: string | null = null;
  messages: MessageItem[] = [];
  /** Bumped on every change; the renderer compares. */
  version = 0;
  /** Bumped when a point is added (the chart). */
  seriesVersion = 0;

  apply(m: LiveServerMessage): void {
    if (m.type === 'snapshot') {
      this.observers = m.observers;
      this.peers = new Map(m.peers.map((p) => [p.key, p]));
      this.points = m.series.slice(-MAX_POINTS);
      this.alerts = new Map(m.alerts.map((a) => [a.id, a]));
      this.incidents = new Map(m.incidents.map((i) => [i.id, i]));
      this.stats = m.stats;
      this.asnSource = m.asnSource;
      this.alertsEnabled = m.alertsEnabled;
      this.skewMs = m.nowUs / 1000 - Date.now();
      this.seriesVersion++;
    } else if (m.type === 'delta') {
      this.observers = m.observers;
      for (const p of m.peers) this.peers.set(p.key, p);
      for (const k of m.gone) this.peers.delete(k);
      this.points.push(m.point);
      if (this.points.length > MAX_POINTS) this.points.splice(0, this.points.length - MAX_POINTS);
      for (const a of m.alerts) this.alerts.set(a.id, a);
      for (const i of m.incidents) this.incidents.set(i.id, i);
      this.stats = m.stats;
      this.skewMs = m.nowUs / 1000 - Date.now();
      this.seriesVersion++;
    } else if (m.type === 'messages') {
      if (m.key !== this.watchKey) return;
      if (m.reset) this.messages = [];
      this.messages.push(...m.items);
      if (this.messages.length > MAX_MESSAGES) this.messages.splice(0, this.messages.length - MAX_MESSAGES);
    } else return;
    this.version++;
  }
}
