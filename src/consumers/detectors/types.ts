/**
 * The detector framework: a detector reads only the event types it names, keeps
 * bounded state per subject, and returns signals; the alert manager turns
 * signals into deduplicated alerts and incidents (src/consumers/alerts/).
 */
import type { z } from 'zod';
import type { AlertSubject, EventType, JsonValue, ObserverEvent, Severity } from '../../events/types.js';

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

/** State sizes and evictions, so bounded state is visible. */
export interface DetectorStats {
  /** Subjects currently tracked. */
  tracked: number;
  /** Subjects evicted to stay within bounds since start. */
  evicted: number;
}

export interface Detector {
  readonly name: string;
  /** The only event types it is given (subscriptions are per detector, by type). */
  readonly eventTypes: readonly EventType[];
  observe(event: ObserverEvent): Signal[];
  /** Periodic work (windows closing, state conditions); `nowUs` is the engine's clock. */
  tick(nowUs: number): Signal[];
  stats(): DetectorStats;
}

/** A detector kind: its documented parameters (a zod object whose every field has a default) and a factory. */
export interface DetectorDefinition<P extends Record<string, unknown> = Record<string, unknown>> {
  name: string;
  description: string;
  // eslint-disable-next-line @typescript-eslint/no-explicit-any
  params: z.ZodType<P, z.ZodTypeDef, any>;
  create(params: P): Detector;
}

/** Helper for the definitions' `satisfies`: keeps P inferred from the schema. */
export function defineDetector<S extends z.ZodType<Record<string, unknown>, z.ZodTypeDef, unknown>>(def: {
  name: string;
  description: string;
  params: S;
  create(params: z.output<S>): Detector;
}): DetectorDefinition<z.output<S>> {
  return def;
}
