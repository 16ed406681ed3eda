/**
 * The detector catalog and its configuration. Configuration is one JSON object:
 * a key per detector (its parameters, any subset, or `false` to turn it off)
 * and `alerts` (the alert manager's options). Unknown keys are errors.
 *
 *   { "addr-flood": { "minRateLimited": 50 }, "message-rate": false, "alerts": { "quietMs": 60000 } }
 */
import { z } from 'zod';
import { DEFAULT_ALERT_OPTIONS, type AlertManagerOptions } from '../alerts/manager.js';
import { addrFlood } from './addr-flood.js';
import { churn } from './churn.js';
import { fakeAddr } from './fake-addr.js';
import { inboundFlood } from './inbound-flood.js';
import { invSpam } from './inv-spam.js';
import { malformedBurst } from './malformed-burst.js';
import { messageRate } from './message-rate.js';
import { nodeHealth } from './node-health.js';
import { pingSpam } from './ping-spam.js';
import { spy } from './spy.js';
import { slotPressure } from './slot-pressure.js';
import { spyScoreDetector } from './spy-score.js';
import { timeOffset } from './time-offset.js';
import type { Detector, DetectorDefinition } from './types.js';

export const DETECTORS: readonly DetectorDefinition[] = [
  addrFlood,
  fakeAddr,
  pingSpam,
  invSpam,
  malformedBurst,
  spy,
  inboundFlood,
  churn,
  timeOffset,
  messageRate,
  nodeHealth,
  slotPressure,
  spyScoreDetector,
] as unknown as DetectorDefinition[];

const alertOptions = z
  .object({
    quietMs: z.number().positive(),
    groupWindowMs: z.number().positive(),
    updateIntervalMs: z.number().nonnegative(),
    maxAlerts: z.number().int().positive(),
    maxIncidents: z.number().int().positive(),
    maxResolvedAlerts: z.number().int().nonnegative(),
    maxResolvedIncidents: z.number().int().nonnegative(),
    maxSamples: z.number().int().min(1).max(10),
    maxNodeIds: z.number().int().positive(),
    correlationObservers: z.number().int().min(2),
  })
  .partial()
  .strict();

export interface DetectorsConfig {
  detectors: Detector[];
  alerts: AlertManagerOptions;
}

export class DetectorConfigError extends Error {
  override readonly name = 'DetectorConfigError';
}

function describe(error: z.ZodError): string {
  const i = error.issues[0]!;
  return `${i.path.join('.') || '<value>'}: ${i.message}`;
}

/** Build the detectors from a config object (defaults for everything not given). */
export function buildDetectors(config: unknown = {}): DetectorsConfig {
  if (typeof config !== 'object' || config === null || Array.isArray(config))
    throw new DetectorConfigError('detectors config: expected a JSON object');
  const raw = config as Record<string, unknown>;
  const known = new Set([...DETECTORS.map((d) => d.name), 'alerts']);
  for (const k of Object.keys(raw)) {
    if (!known.has(k))
      throw new DetectorConfigError(`detectors config: unknown key ${JSON.stringify(k)} (known: ${[...known].join(', ')})`);
  }
  const detectors: Detector[] = [];
  for (const def of DETECTORS) {
    const given = raw[def.name];
    if (given === false) continue;
    const parsed = def.params.safeParse(given ?? {});
    if (!parsed.success) throw new DetectorConfigError(`detectors config: ${def.name}.${describe(parsed.error)}`);
    try {
      detectors.push(def.create(parsed.data));
    } catch (err) {
      throw new DetectorConfigError(`detectors config: ${def.name}: ${err instanceof Error ? err.message : String(err)}`);
    }
  }
  const a = alertOptions.safeParse(raw['alerts'] ?? {});
  if (!a.success) throw new DetectorConfigError(`detectors config: alerts.${describe(a.error)}`);
  const alerts = { ...DEFAULT_ALERT_OPTIONS };
  for (const [k, v] of Object.entries(a.data)) if (v !== undefined) (alerts as Record<string, number>)[k] = v;
  return { detectors, alerts };
}

/** Every detector's parameters with their defaults (for docs and `--help`). */
export function detectorDefaults(): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const d of DETECTORS) out[d.name] = d.params.parse({});
  out['alerts'] = { ...DEFAULT_ALERT_OPTIONS };
  return out;
}

export type { Detector, DetectorDefinition, Signal } from './types.js';
