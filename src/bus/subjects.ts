/**
 * NATS subjects: `po.v1.<node>.<event type>`, so the server does the filtering:
 *   everything                  po.v1.>
 *   one observer                po.v1.fra-1.>
 *   one family, all observers   po.v1.*.connection.>
 *   one type, one observer      po.v1.fra-1.message
 * Node ids may contain '.', which separates subject tokens: it is written as '~'
 * (never part of a valid node id, so the mapping is one-to-one).
 */
import { NODE_ID_PATTERN as NODE_ID } from '../events/schema.js';
import { EVENT_TYPES, type EventType, type ObserverEvent } from '../events/types.js';

export const SUBJECT_ROOT = 'po.v1';

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

const TYPES = new Set<string>(EVENT_TYPES);

/**
 * The node id and event type a subject names (`po.v1.<node>.<type>`), or
 * undefined when it is not one of ours: a consumer checks every event against
 * the subject it came on (docs/bus.md, "Identity").
 */
export function parseSubject(subject: string): { token: string; nodeId: string; type: EventType } | undefined {
  if (!subject.startsWith(SUBJECT_ROOT + '.')) return undefined;
  const rest = subject.slice(SUBJECT_ROOT.length + 1);
  const dot = rest.indexOf('.');
  if (dot <= 0) return undefined;
  const token = rest.slice(0, dot);
  const type = rest.slice(dot + 1);
  const nodeId = token.replaceAll('~', '.');
  if (!TYPES.has(type) || !NODE_ID.test(nodeId)) return undefined;
  return { token, nodeId, type: type as EventType };
}
