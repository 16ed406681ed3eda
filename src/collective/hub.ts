/**
 * The hub's reports stream (docs/collective.md, "The hub"): how the server
 * holds each member to the trust file's rate and size.
 *
 * Members publish on `collective.in.<member>` (their hub user may publish
 * nowhere else); the stream captures those subjects, keeps each member's
 * reports for a minute, at most `maxReportsPerMinute` of them, refuses the
 * member's next one while it holds that many (discard new, per subject), and
 * republishes what it kept on `collective.reports.<member>`, which the members
 * read and nobody may publish on. Its size limit per message is the trust
 * file's `maxReportBytes`. The totals are never the limit (a stream-wide
 * "discard new" would let one member's flood refuse everyone).
 *
 * `hubStreamConfig` derives it from the trust file's limits;
 * deploy/collective/reports-stream.json is it for the default limits (a test
 * holds them equal), and `collective hub-setup` creates or updates it.
 */
import type { JetStreamManager, StreamConfig, StreamInfo } from '@nats-io/jetstream';
import { DEFAULT_LIMITS, type Trust } from './trust.js';

export const HUB_STREAM = 'COLLECTIVE';
/** The quota's window: the trust file counts reports per minute. */
export const HUB_WINDOW_MS = 60_000;
/** The stream's total bytes: far above what members × quota × size needs for a few hundred members; never the limit. */
const HUB_MAX_BYTES = 256 * 1024 * 1024;

/** The fields we set, in the JSON the server (and `nats stream add --config`) takes. */
export type HubStreamConfig = Pick<
  StreamConfig,
  | 'name'
  | 'subjects'
  | 'retention'
  | 'storage'
  | 'num_replicas'
  | 'max_age'
  | 'max_msgs_per_subject'
  | 'discard'
  | 'discard_new_per_subject'
  | 'max_msgs'
  | 'max_bytes'
  | 'max_msg_size'
  | 'republish'
>;

export function hubStreamConfig(limits: Pick<Trust['limits'], 'maxReportsPerMinute' | 'maxReportBytes'> = DEFAULT_LIMITS): HubStreamConfig {
  return {
    name: HUB_STREAM,
    subjects: ['collective.in.*'],
    retention: 'limits' as StreamConfig['retention'],
    storage: 'memory' as StreamConfig['storage'],
    num_replicas: 1,
    max_age: HUB_WINDOW_MS * 1_000_000,
    max_msgs_per_subject: limits.maxReportsPerMinute,
    discard: 'new' as StreamConfig['discard'],
    discard_new_per_subject: true,
    max_msgs: -1,
    max_bytes: HUB_MAX_BYTES,
    max_msg_size: limits.maxReportBytes,
    republish: { src: 'collective.in.*', dest: 'collective.reports.{{wildcard(1)}}' },
  };
}

/** Fields of `have` that differ from `want`, as `name: have → want`. */
export function hubStreamDifferences(have: Partial<StreamConfig>, want: HubStreamConfig): string[] {
  const out: string[] = [];
  for (const [k, v] of Object.entries(want)) {
    const h = (have as Record<string, unknown>)[k];
    if (JSON.stringify(h) !== JSON.stringify(v)) out.push(`${k}: ${JSON.stringify(h)} → ${JSON.stringify(v)}`);
  }
  return out;
}

/** Create the stream, or update it to `want`; what was done and the differences found. */
export async function ensureHubStream(
  jsm: JetStreamManager,
  want: HubStreamConfig,
): Promise<{ created: boolean; differences: string[]; info: StreamInfo }> {
  let have: StreamInfo | undefined;
  try {
    have = await jsm.streams.info(want.name);
  } catch (err) {
    if (!/stream not found/i.test((err as Error).message)) throw err;
  }
  if (!have) return { created: true, differences: [], info: await jsm.streams.add(want) };
  const differences = hubStreamDifferences(have.config, want);
  if (differences.length === 0) return { created: false, differences, info: have };
  return { created: false, differences, info: await jsm.streams.update(want.name, want) };
}
