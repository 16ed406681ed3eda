/**
 * The detector framework: a detector reads only the event types it names, keeps
 * bounded state per subject, and returns signals; the alert manager turns
 * signals into deduplicated alerts and incidents (src/consumers/alerts/).
 */
import type { z } from 'zod';
import type { EventType, ObserverEvent } from '../../events/types.js';
import type { Signal } from '../alerts/signal.js';

// The alert manager's input; declared beside it so alerts/ never imports detectors/.
export type { Signal } from '../alerts/signal.js';

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
