/**
 * The public protocol API (`peer-observer/protocol`): the wire codec, framing,
 * networks, Bitcoin Core's limits, addresses and identifiers. Usable on its own:
 * nothing here knows about sockets, events or time.
 */
export * from './codec.js';
export * from './primitives.js';
export * from './framing.js';
export * from './networks.js';
export * from './limits.js';
export * from './hash.js';
export * from './address.js';
export * from './services.js';
export * from './messages/types.js';
export * from './messages/index.js';
export * from './messages/ids.js';
export { blockHeader, BLOCK_HEADER_SIZE } from './messages/common.js';
export { netAddr, version } from './messages/handshake.js';
export { addrEntry, addrV2Entry, ADDRV2_SIZES } from './messages/addr.js';
export { invItem, invTypeName } from './messages/inventory.js';
export { readTx, writeTx, serializeTx, hasWitness } from './messages/tx.js';
export { SHORT_ID_SIZE } from './messages/compact.js';
export * from './v2/transport.js';
export { ellswiftCreate, ellswiftDecode, v2Ecdh, xswiftec, xswiftecInv, xElligatorSwift, type EllSwiftKey } from './v2/ellswift.js';
export { deriveSessionKeys, PacketCipher, FSChaCha20, FSChaCha20Poly1305, REKEY_INTERVAL } from './v2/cipher.js';
