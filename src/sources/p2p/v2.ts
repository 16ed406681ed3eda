/**
 * What a BIP324 v2 transport violation means for the peer: the violation kind
 * in events, and the action, as Bitcoin Core's V2Transport takes it (net.cpp).
 */
import type { V2Violation, V2ViolationKind } from '../../protocol/v2/transport.js';
import type { ViolationKind } from '../../events/types.js';
import type { Verdict } from './policy.js';

const KIND: Record<V2ViolationKind, ViolationKind> = {
  // ProcessReceivedKeyBytes: "V2 transport error: V1 peer with wrong MessageStart" → disconnect.
  // The same fact as v1 framing's wrong-network (another network's magic), so the same kind.
  'v1-wrong-network': 'wrong-network',
  // ProcessReceivedGarbageBytes: "V2 transport error: missing garbage terminator" → disconnect.
  'missing-garbage-terminator': 'v2-missing-garbage-terminator',
  // ProcessReceivedPacketBytes: "V2 transport error: packet too large" → disconnect.
  'oversize-packet': 'v2-oversize-packet',
  // ProcessReceivedPacketBytes: "V2 transport error: packet decryption failure" → disconnect.
  'decryption-failure': 'v2-decryption-failure',
  // Either of the two above, for a packet that begins with our magic.
  'v1-after-v2': 'v1-after-v2',
  // GetReceivedMessage: "V2 transport error: invalid message type" → reject_message: dropped, the peer stays.
  'invalid-message-type': 'v2-invalid-message-type',
  'unknown-message-id': 'v2-unknown-message-id',
};

export function v2Verdict(v: V2Violation): Verdict {
  return { kind: KIND[v.kind], action: v.fatal ? 'disconnect' : 'drop-message', detail: v.detail };
}
