/**
 * Ed25519 keys for the collective (node:crypto, nothing else).
 *
 * - A member's public key travels as the base64url of its 32 raw bytes (what
 *   goes into collective.json); its key id is the first 16 hex digits of the
 *   SHA-256 of those bytes (in every signed report, so a verifier picks the key
 *   without trying them all).
 * - The private key stays in a PKCS#8 PEM file, created with mode 0600 and
 *   never overwritten (`keygen` refuses an existing file).
 */
import { createHash, createPrivateKey, createPublicKey, generateKeyPairSync, type KeyObject } from 'node:crypto';
import { readFileSync, writeFileSync } from 'node:fs';

/** base64url of 32 bytes: 43 characters. */
export const PUBLIC_KEY_TEXT = /^[A-Za-z0-9_-]{43}$/;

export interface KeyPairText {
  /** PKCS#8 PEM. */
  privateKeyPem: string;
  /** base64url of the raw 32-byte public key. */
  publicKey: string;
  keyId: string;
}

export function generateKeyPair(): KeyPairText {
  const { privateKey, publicKey } = generateKeyPairSync('ed25519');
  const raw = publicKeyText(publicKey);
  return { privateKeyPem: privateKey.export({ type: 'pkcs8', format: 'pem' }).toString(), publicKey: raw, keyId: keyIdOf(raw) };
}

/** The base64url raw public key of a KeyObject (public or private). */
export function publicKeyText(key: KeyObject): string {
  const pub = key.type === 'private' ? createPublicKey(key) : key;
  const jwk = pub.export({ format: 'jwk' });
  if (jwk.kty !== 'OKP' || jwk.crv !== 'Ed25519' || typeof jwk.x !== 'string') throw new Error('not an Ed25519 key');
  return jwk.x;
}

export function keyIdOf(publicKey: string): string {
  return createHash('sha256').update(Buffer.from(publicKey, 'base64url')).digest('hex').slice(0, 16);
}

/** A public key from its base64url text; throws on anything that is not 32 bytes of Ed25519 key. */
export function parsePublicKey(text: string): KeyObject {
  if (!PUBLIC_KEY_TEXT.test(text)) throw new Error('expected an Ed25519 public key: 43 base64url characters');
  try {
    return createPublicKey({ key: { kty: 'OKP', crv: 'Ed25519', x: text }, format: 'jwk' });
  } catch {
    throw new Error('not a valid Ed25519 public key');
  }
}

/** Write a new private key file (mode 0600); refuses to overwrite. */
export function writePrivateKey(path: string, pem: string): void {
  writeFileSync(path, pem, { mode: 0o600, flag: 'wx' });
}

/** Read a private key file: an Ed25519 PKCS#8 PEM. Errors say which file and why, never the key. */
export function loadPrivateKey(path: string): KeyObject {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    throw new Error(`${path}: cannot read: ${code === 'ENOENT' ? 'no such file' : code === 'EACCES' ? 'permission denied' : String(code)}`);
  }
  let key: KeyObject;
  try {
    key = createPrivateKey({ key: text, format: 'pem' });
  } catch {
    throw new Error(`${path}: not a PEM private key`);
  }
  if (key.asymmetricKeyType !== 'ed25519') throw new Error(`${path}: not an Ed25519 key (${key.asymmetricKeyType ?? 'unknown'})`);
  return key;
}
