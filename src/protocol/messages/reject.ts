/**
 * reject (BIP61, removed from Core in 0.20 but still sent by old peers): the
 * rejected command (≤ 12 chars), a code, a reason (≤ 111 chars) and, when the
 * command was tx or block, the 32-byte hash of the rejected object.
 */
import type { Codec } from '../codec.js';
import { MAX_REJECT_COMMAND_LENGTH, MAX_REJECT_MESSAGE_LENGTH } from '../limits.js';
import { u8, varString } from '../primitives.js';
import { readHash, rethrow, writeHash } from './common.js';
import type { Reject } from './types.js';

const message = varString(MAX_REJECT_COMMAND_LENGTH, 'message');
const reason = varString(MAX_REJECT_MESSAGE_LENGTH, 'reason');

/** Does a reject of this command carry the object's hash? */
export function rejectHasData(command: string): boolean {
  return command === 'tx' || command === 'block';
}

export const reject: Codec<Reject> = {
  name: 'reject',
  read(r) {
    let path = 'message';
    try {
      const msg = message.read(r);
      path = 'code';
      const code = u8.read(r);
      path = 'reason';
      const v: Reject = { message: msg, code, reason: reason.read(r) };
      if (rejectHasData(v.message)) {
        path = 'data';
        v.data = readHash(r, 'data');
      }
      return v;
    } catch (e) {
      throw rethrow(e, path);
    }
  },
  write(w, v) {
    message.write(w, v.message);
    u8.write(w, v.code);
    reason.write(w, v.reason);
    if (rejectHasData(v.message)) {
      if (!v.data) throw new RangeError(`reject of ${v.message} needs the 32-byte data hash`);
      writeHash(w, v.data, 'data');
    } else if (v.data) {
      throw new RangeError(`reject of ${v.message} carries no data`);
    }
  },
};
