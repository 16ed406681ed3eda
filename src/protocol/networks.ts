/** Network parameters: frozen constants. Looking up an unknown name or magic fails loudly. */

export interface Network {
  readonly name: NetworkName;
  /** The four message-start bytes, as a big-endian number for quick comparison. */
  readonly magic: number;
  readonly defaultPort: number;
}

export const NETWORK_NAMES = ['mainnet', 'testnet3', 'testnet4', 'signet', 'regtest'] as const;
export type NetworkName = (typeof NETWORK_NAMES)[number];

export const NETWORKS: Readonly<Record<NetworkName, Network>> = Object.freeze({
  mainnet: Object.freeze({ name: 'mainnet', magic: 0xf9beb4d9, defaultPort: 8333 }),
  testnet3: Object.freeze({ name: 'testnet3', magic: 0x0b110907, defaultPort: 18333 }),
  testnet4: Object.freeze({ name: 'testnet4', magic: 0x1c163f28, defaultPort: 48333 }),
  // The default (public) signet; custom signets have their own magic.
  signet: Object.freeze({ name: 'signet', magic: 0x0a03cf40, defaultPort: 38333 }),
  regtest: Object.freeze({ name: 'regtest', magic: 0xfabfb5da, defaultPort: 18444 }),
});

export function networkByName(name: string): Network {
  const n = (NETWORKS as Record<string, Network>)[name];
  if (!n) throw new Error(`unknown network '${name}' (expected one of: ${NETWORK_NAMES.join(', ')})`);
  return n;
}

export function networkByMagic(magic: number): Network {
  const n = findNetworkByMagic(magic);
  if (!n) throw new Error(`unknown network magic ${magic.toString(16).padStart(8, '0')}`);
  return n;
}

export function findNetworkByMagic(magic: number): Network | undefined {
  return Object.values(NETWORKS).find((n) => n.magic === magic);
}
