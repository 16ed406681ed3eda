/**
 * One connection's key across every consumer: the observer that saw it, the
 * source that reported it, and its id there (ids are per node and source).
 * Node ids and source names hold no '/', so the key is unambiguous.
 */
export function connectionKey(event: { nodeId: string; source: string }, connId: number): string {
  return `${event.nodeId}/${event.source}/${connId}`;
}
