/**
 * The v2 key pool's thread (v2-keys.ts): makes ephemeral BIP324 key pairs with
 * their ElligatorSwift encodings on request, and posts each as it is made (a
 * KeyObject crosses threads by reference to OpenSSL's key; the secret never
 * becomes bytes in JavaScript).
 */
import { parentPort } from 'node:worker_threads';
import { ellswiftCreate } from '../../protocol/v2/ellswift.js';

export interface KeyRequest {
  make: number;
}

export function main(): void {
  const port = parentPort;
  if (!port) throw new Error('v2-keys-thread runs as a worker thread');
  port.on('message', (m: KeyRequest) => {
    for (let i = 0; i < m.make; i++) port.postMessage(ellswiftCreate());
  });
}
