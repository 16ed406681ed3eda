/**
 * NATS subjects: `po.v1.<node>.<event type>`, so the server does the filtering:
 *   everything                  po.v1.>
 *   one observer                po.v1.fra-1.>
 *   one family, all observers   po.v1.*.connection.>
 *   one type, one observer      po.v1.fra-1.message
 * Node ids may contain '.', which separates subject tokens: it is written as '~'
 * (never part of a valid node id, so the mapping is one-to-one).
 */
import type { EventType, ObserverEvent } from '../events/types.js';

export const SUBJECT_ROOT = 'po.v1';

const NODE_ID = /^[A-Za-z0-9._-]{1,64}$/;

export function nodeToken(nodeId: string): string {
  if (!NODE_ID.test(nodeId)) throw new Error(`node id ${JSON.stringify(nodeId)}: expected 1-64 letters, digits, ".", "_" or "-"`);
  return nodeId.replaceAll('.', '~');
}

export function subjectFor(event: ObserverEvent): string {
  return `${SUBJECT_ROOT}.${nodeToken(event.nodeId)}.${event.type}`;
}

/** The subjects to subscribe to for these types and nodes (all when omitted). */
export function subjectsFor(filter: { types?: readonly EventType[]; nodeIds?: readonly string[] }): string[] {
  const nodes = filter.nodeIds?.length ? filter.nodeIds.map(nodeToken) : ['*'];
  const types = filter.types?.length ? [...new Set(filter.types)] : ['>'];
  return nodes.flatMap((n) => types.map((t) => `${SUBJECT_ROOT}.${n}.${t}`));
}
