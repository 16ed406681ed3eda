/** Service bits a node advertises in version and addr messages (protocol.h ServiceFlags). */

export const SERVICES = Object.freeze({
  NODE_NETWORK: 1n << 0n,
  NODE_BLOOM: 1n << 2n,
  NODE_WITNESS: 1n << 3n,
  NODE_COMPACT_FILTERS: 1n << 6n,
  NODE_NETWORK_LIMITED: 1n << 10n,
  NODE_P2P_V2: 1n << 11n,
});

const NAMES = new Map<number, string>(Object.entries(SERVICES).map(([name, bit]) => [bitIndex(bit), name]));

function bitIndex(bit: bigint): number {
  return bit.toString(2).length - 1;
}

/** Names of the set bits, lowest first; unknown bits as `bit<N>`. */
export function serviceNames(services: bigint): string[] {
  const out: string[] = [];
  let rest = BigInt.asUintN(64, services);
  for (let i = 0; rest !== 0n; i++, rest >>= 1n) {
    if (rest & 1n) out.push(NAMES.get(i) ?? `bit${i}`);
  }
  return out;
}
