/**
 * What a detector hands the alert manager (manager.ts). Declared here, with its
 * consumer, so the dependency runs one way: detectors/ imports alerts/, never
 * the reverse.
 */
import type { AlertSubject, JsonValue, Severity } from '../../events/types.js';

/** "This subject looks like this attack, now": the alert manager dedupes, escalates and resolves. */
export interface Signal {
  detector: string;
  subject: AlertSubject;
  severity: Severity;
  /** One sentence; may quote attacker-controlled text. */
  summary: string;
  /** Snapshot totals for the subject (the manager keeps the largest value seen per name). */
  counts: Record<string, number>;
  /** One piece of evidence (a message summary, an address, a connection), bounded by the detector. */
  sample?: JsonValue;
  /** The observer whose events produced the signal. */
  nodeId: string;
  /** When (µs): the triggering event's time, or the tick's. */
  timeUs: number;
  /** The subject's netgroup where known (incident grouping, cross-observer correlation). */
  netgroup?: string;
  /** The source IP where the subject is one host (cross-observer correlation). */
  sourceIp?: string;
}
