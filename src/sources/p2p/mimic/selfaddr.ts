/**
 * What a peer is sent in addr/addrv2 and when, as Core's MaybeSendAddr
 * (net_processing.cpp) decides it for us: we never relay addresses a peer sent
 * (a honeypot must not amplify), so all that goes out is the getaddr answer and
 * our own address (`--external-address`, Core's -externalip: AdvertiseLocal /
 * GetLocalAddrForPeer).
 *
 * - Nothing before address relay is set up with the peer (m_addr_relay_enabled,
 *   SetupAddressRelay): for an inbound peer when it sends addr, addrv2 or getaddr.
 * - Our address is pushed at the first chance (m_next_local_addr_send starts at
 *   0), then every AVG_LOCAL_ADDRESS_BROADCAST_INTERVAL (24 h) on average, not
 *   while the backend is in IBD.
 * - What is pushed goes out together when m_next_addr_send has passed (at once
 *   the first time), then not again for AVG_ADDRESS_BROADCAST_INTERVAL (30 s) on
 *   average.
 *
 * Pure: the session calls `tick` when something changed or the returned wake-up
 * time comes.
 */
import type { NodeAddress } from '../../backend/backend.js';
import { expDelay } from './txserve.js';

/** net_processing.cpp AVG_LOCAL_ADDRESS_BROADCAST_INTERVAL. */
export const AVG_LOCAL_ADDRESS_BROADCAST_INTERVAL_MS = 24 * 3600 * 1000;
/** net_processing.cpp AVG_ADDRESS_BROADCAST_INTERVAL. */
export const AVG_ADDRESS_BROADCAST_INTERVAL_MS = 30 * 1000;
/** net.cpp MAX_ADDR_TO_SEND: m_addrs_to_send's bound. */
const MAX_ADDR_TO_SEND = 1000;

export class AddrSender {
  private enabled = false;
  private nextLocal = 0;
  private nextSend = 0;
  private toSend: NodeAddress[] = [];

  constructor(private readonly random: () => number = Math.random) {}

  /** SetupAddressRelay. */
  enable(): void {
    this.enabled = true;
  }

  get relayEnabled(): boolean {
    return this.enabled;
  }

  /** ProcessMessage(GETADDR): m_addrs_to_send.clear(), then the answer. */
  answer(list: readonly NodeAddress[]): void {
    this.toSend = list.slice(0, MAX_ADDR_TO_SEND);
  }

  /**
   * One MaybeSendAddr at `now` (ms): what to send now (undefined: nothing) and
   * when to look again. `local` is our address for this peer (none: nothing to
   * advertise), with our services.
   */
  tick(now: number, local: NodeAddress | undefined, ibd: boolean): { send?: NodeAddress[]; wakeAt: number } {
    if (!this.enabled) return { wakeAt: Infinity };
    if (!ibd && this.nextLocal < now) {
      if (local) this.push(local);
      this.nextLocal = now + expDelay(AVG_LOCAL_ADDRESS_BROADCAST_INTERVAL_MS, this.random);
    }
    let send: NodeAddress[] | undefined;
    if (now > this.nextSend) {
      this.nextSend = now + expDelay(AVG_ADDRESS_BROADCAST_INTERVAL_MS, this.random);
      if (this.toSend.length) send = this.toSend;
      this.toSend = [];
    }
    const wakeAt = Math.min(ibd ? now + 60_000 : this.nextLocal, this.toSend.length ? this.nextSend : Infinity);
    return send ? { send, wakeAt } : { wakeAt };
  }

  /** PushAddress: at MAX_ADDR_TO_SEND, a random entry is replaced. */
  private push(a: NodeAddress): void {
    if (this.toSend.length >= MAX_ADDR_TO_SEND) this.toSend[Math.floor(this.random() * this.toSend.length)] = a;
    else this.toSend.push(a);
  }
}

/** An `--external-address` HOST:PORT as a getnodeaddresses-style entry (its network from the host's form). */
export function localAddress(host: string, port: number): Omit<NodeAddress, 'time' | 'services'> {
  const h = host.replace(/^\[|\]$/g, '').toLowerCase();
  const network = h.endsWith('.onion')
    ? 'onion'
    : h.endsWith('.b32.i2p')
      ? 'i2p'
      : h.includes(':')
        ? /^fc[0-9a-f]{2}:/.test(h)
          ? 'cjdns'
          : 'ipv6'
        : 'ipv4';
  return { address: h, port, network };
}
