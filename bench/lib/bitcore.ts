/**
 * bitcore-p2p's message parser, loaded for comparison in benchmarks. It is the
 * parser bitcore's `Peer` runs on every socket read: a `Buffers` list of chunks
 * and `Messages#parseBuffer`, called until it returns nothing.
 *
 * Quirks handled here: its `buffers` dependency calls `Buffer.prototype.get`,
 * which Node removed (a one-line shim); it knows only 70001-era commands and
 * throws on any other (after consuming the frame).
 */
import { createRequire } from 'node:module';

declare global {
  interface Buffer {
    get?(i: number): number;
  }
}

interface BitcoreBuffers {
  readonly length: number;
  push(b: Buffer): void;
}
interface BitcoreMessage {
  command: string;
}
interface BitcoreMessages {
  parseBuffer(b: BitcoreBuffers): BitcoreMessage | undefined;
}
interface BitcoreNetwork {
  name: string;
  networkMagic: Buffer;
}

export interface BitcoreParser {
  /** Feed one socket chunk; returns the messages it completed (and counts unsupported ones). */
  push(chunk: Uint8Array): number;
  /** Frames consumed but rejected (unsupported command or payload it cannot parse). */
  readonly errors: number;
}

let loaded:
  | {
      Messages: new (o: { network: BitcoreNetwork }) => BitcoreMessages;
      Buffers: new () => BitcoreBuffers;
      networks: Record<string, BitcoreNetwork>;
    }
  | undefined;

function load() {
  if (loaded) return loaded;
  Buffer.prototype.get ??= function (this: Buffer, i: number): number {
    return this[i]!;
  };
  const require = createRequire(import.meta.url);
  const p2p = require('bitcore-p2p') as { Messages: new (o: { network: BitcoreNetwork }) => BitcoreMessages };
  const Buffers = require('bitcore-p2p/lib/buffers.js') as new () => BitcoreBuffers;
  const bitcoreLib = requireBitcoreLib(require);
  const networks: Record<string, BitcoreNetwork> = {};
  for (const name of ['livenet', 'testnet', 'regtest']) {
    const n = bitcoreLib.Networks.get(name);
    if (n) networks[name === 'livenet' ? 'mainnet' : name === 'testnet' ? 'testnet3' : name] = n;
  }
  loaded = { Messages: p2p.Messages, Buffers, networks };
  return loaded;
}

/** bitcore-lib as bitcore-p2p itself resolves it (its own copy if it has one, else the top-level one). */
function requireBitcoreLib(require: NodeJS.Require): { Networks: { get(name: string): BitcoreNetwork | undefined } } {
  const p2pDir = require.resolve('bitcore-p2p/package.json').replace(/package\.json$/, '');
  const path = require.resolve('bitcore-lib', { paths: [p2pDir] });
  return require(path) as { Networks: { get(name: string): BitcoreNetwork | undefined } };
}

export function bitcoreParser(network: 'mainnet' | 'testnet3' | 'regtest'): BitcoreParser {
  const { Messages, Buffers, networks } = load();
  const net = networks[network];
  if (!net) throw new Error(`bitcore-lib has no network ${network}`);
  const messages = new Messages({ network: net });
  const buffers = new Buffers();
  let errors = 0;
  return {
    get errors() {
      return errors;
    },
    push(chunk) {
      buffers.push(Buffer.from(chunk.buffer, chunk.byteOffset, chunk.byteLength));
      let n = 0;
      for (;;) {
        let m: BitcoreMessage | undefined;
        try {
          m = messages.parseBuffer(buffers);
        } catch {
          // bitcore's Peer disconnects here; the frame was already skipped, so we count and go on.
          errors++;
          continue;
        }
        if (!m) break;
        n++;
      }
      return n;
    },
  };
}
