/** Every scenario, by name. Each module documents its parameters and what a detector should see. */
import type { Scenario } from '../scenario.js';
import { addrFlood2021 } from './addr-flood-2021.js';
import { honest } from './honest.js';
import { inboundFlooder } from './inbound-flooder.js';
import { invSpam } from './inv-spam.js';
import { linkingLion } from './linkinglion.js';
import { malformed } from './malformed.js';
import { netgroupEclipse } from './netgroup-eclipse.js';
import { pingSpam } from './ping-spam.js';
import { slowloris } from './slowloris.js';
import { timeOffset } from './time-offset.js';
import { txProbe } from './tx-probe.js';

export const SCENARIOS: readonly Scenario[] = Object.freeze([
  addrFlood2021,
  linkingLion,
  inboundFlooder,
  netgroupEclipse,
  pingSpam,
  invSpam,
  timeOffset,
  malformed,
  slowloris,
  txProbe,
  honest,
]);

export const SCENARIO_NAMES: readonly string[] = SCENARIOS.map((s) => s.name);

export function scenarioByName(name: string): Scenario | undefined {
  return SCENARIOS.find((s) => s.name === name);
}
