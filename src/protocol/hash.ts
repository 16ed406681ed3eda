import { createHash } from 'node:crypto';

/** SHA256(SHA256(x)): the frame checksum, txids and block hashes. */
export function sha256d(data: Uint8Array): Uint8Array {
  return createHash('sha256').update(createHash('sha256').update(data).digest()).digest();
}

/** Hashes are stored in internal byte order; humans read them reversed. */
export function hashToHex(hash: Uint8Array): string {
  return Buffer.from(hash).reverse().toString('hex');
}

export function hexToHash(hex: string): Uint8Array {
  return new Uint8Array(Buffer.from(hex, 'hex').reverse());
}

export function toHex(bytes: Uint8Array): string {
  return Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).toString('hex');
}
