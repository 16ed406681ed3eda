/**
 * Where an archive fed by a JetStream durable consumer is in its stream,
 * committed in the same transaction as the rows (store.ts): the stream
 * sequence of the message holding the batch's last event, and that event's
 * position in the message. After a crash between a commit and its
 * acknowledgement the server delivers the message again; what is at or before
 * the mark is then acknowledged without being written, so every event is in
 * the file once (docs/bus.md, "Durable consumers").
 */
import type { Db } from './db.js';

export interface StreamMark {
  /** `<stream>/<consumer>`. */
  key: string;
  /** Stream sequence of the message. */
  seq: number;
  /** Position of the last archived event in that message (0-based). */
  item: number;
}

const CREATE = 'CREATE TABLE IF NOT EXISTS stream_marks (key TEXT PRIMARY KEY, seq INTEGER NOT NULL, item INTEGER NOT NULL)';

/** The statement that records a mark (creating the table on first use). */
export function markWriter(db: Db): (mark: StreamMark) => void {
  db.exec(CREATE);
  const upsert = db.prepare(
    'INSERT INTO stream_marks (key, seq, item) VALUES (?, ?, ?) ON CONFLICT(key) DO UPDATE SET seq = excluded.seq, item = excluded.item',
  );
  return (m) => void upsert.run(m.key, m.seq, m.item);
}

export function readMark(db: Db, key: string): StreamMark | null {
  db.exec(CREATE);
  const row = db.prepare('SELECT seq, item FROM stream_marks WHERE key = ?').get(key) as { seq: number; item: number } | undefined;
  return row ? { key, seq: row.seq, item: row.item } : null;
}
