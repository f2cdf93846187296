/**
 * ARP (RFC 826) for IPv4 over Ethernet: the packet codec, the cache
 * (llentry) with expiry, resolution that holds packets while a request is
 * outstanding, and answers for our own addresses. Timers and limits are
 * FreeBSD's: entries live net.link.ether.inet.max_age = 1200 s, an
 * unanswered request is retried once a second up to 5 times, and at most
 * 16 packets wait per entry.
 */
import type { Ifnet } from '../driver/ifnet.js';
import { AF_LINK } from '../driver/sockaddr.js';
import { ETHER_BROADCAST, ETHERTYPE_ARP, ETHERTYPE_IP } from '../l2/ether.js';
import { inToString, type InAddr } from './in.js';
import { LlTable } from './lltable.js';
import type { Inet } from './inet.js';

export const ARPOP_REQUEST = 1;
export const ARPOP_REPLY = 2;
export const ARP_MAX_AGE_S = 1200;
export const ARP_MAXTRIES = 5;
export const ARP_MAXHOLD = 16;

export interface ArpPacket {
  op: number;
  sha: Uint8Array;
  spa: InAddr;
  tha: Uint8Array;
  tpa: InAddr;
}

export function arpParse(buf: Uint8Array, off: number, len: number): ArpPacket | { error: string } {
  if (len < 28) return { error: `ARP packet of ${len} bytes (28 needed)` };
  const htype = (buf[off] << 8) | buf[off + 1];
  const ptype = (buf[off + 2] << 8) | buf[off + 3];
  if (htype !== 1 || ptype !== ETHERTYPE_IP || buf[off + 4] !== 6 || buf[off + 5] !== 4)
    return { error: `not Ethernet/IPv4 ARP (hardware ${htype}, protocol 0x${ptype.toString(16)})` };
  return {
    op: (buf[off + 6] << 8) | buf[off + 7],
    sha: buf.slice(off + 8, off + 14),
    spa: buf.slice(off + 14, off + 18),
    tha: buf.slice(off + 18, off + 24),
    tpa: buf.slice(off + 24, off + 28),
  };
}

export function arpEmit(p: ArpPacket): Uint8Array {
  const out = new Uint8Array(28);
  out.set([0, 1, 0x08, 0x00, 6, 4, 0, p.op], 0);
  out.set(p.sha, 8);
  out.set(p.spa, 14);
  out.set(p.tha, 18);
  out.set(p.tpa, 24);
  return out;
}

/** struct arpstat (the fields taplab counts). */
export class ArpStat {
  txrequests = 0;
  txreplies = 0;
  rxrequests = 0;
  rxreplies = 0;
  received = 0;
  dupips = 0;
  dropped = 0; // packets dropped waiting for resolution
  timeouts = 0; // entries that never resolved
}

export class Arp {
  readonly stat = new ArpStat();
  readonly cache: LlTable;

  constructor(private readonly inet: Inet) {
    this.cache = new LlTable({
      sched: inet.host.sched,
      maxHold: ARP_MAXHOLD,
      lifetimeMs: ARP_MAX_AGE_S * 1000,
      retransMs: 1000,
      maxTries: ARP_MAXTRIES,
      label: 'arp',
      solicit: (ifp, dst) => {
        const src = this.inet.v4.primaryAddress(ifp);
        if (!src) return false;
        this.send(ifp, ARPOP_REQUEST, src, new Uint8Array(6), dst, ETHER_BROADCAST);
        return true;
      },
      output: (ifp, d, mac) => ifp.if_output(ifp, d, 0, d.length, { family: AF_LINK, index: 0, type: 0, name: '', lladdr: mac }, ETHERTYPE_IP),
      dropped: (n, gaveUp) => {
        this.stat.dropped += n;
        if (gaveUp) this.stat.timeouts++;
      },
    });
  }

  /** The cache as `arp -a` would list it. */
  entries(ifp: Ifnet): { addr: string; mac: Uint8Array | null; expiresInS: number }[] {
    const now = this.inet.host.sched.now();
    return this.cache.entries(ifp).map((e) => ({ addr: inToString(e.addr), mac: e.mac, expiresInS: Math.max(0, Math.round((e.expires - now) / 1000)) }));
  }

  /** arpresolve: the MAC for next hop `dst`, or null when the datagram was held (a request is out). */
  resolve(ifp: Ifnet, dst: InAddr, dgram: Uint8Array): Uint8Array | null {
    return this.cache.resolve(ifp, dst, dgram);
  }

  /** Announce an address (gratuitous ARP request, sender = target). */
  announce(ifp: Ifnet, addr: InAddr): void {
    this.send(ifp, ARPOP_REQUEST, addr, new Uint8Array(6), addr, ETHER_BROADCAST);
  }

  private send(ifp: Ifnet, op: number, spa: InAddr, tha: Uint8Array, tpa: InAddr, dstMac: Uint8Array): void {
    const sha = ifp.if_lladdr.lladdr;
    const pkt = arpEmit({ op, sha, spa, tha, tpa });
    if (op === ARPOP_REQUEST) this.stat.txrequests++;
    else this.stat.txreplies++;
    ifp.if_output(ifp, pkt, 0, pkt.length, { family: AF_LINK, index: 0, type: 0, name: '', lladdr: dstMac }, ETHERTYPE_ARP);
  }

  /** in_arpinput */
  input(ifp: Ifnet, buf: Uint8Array, off: number, len: number): void {
    const p = arpParse(buf, off, len);
    this.stat.received++;
    if ('error' in p) {
      this.stat.dropped++;
      return;
    }
    if (p.op === ARPOP_REQUEST) this.stat.rxrequests++;
    else if (p.op === ARPOP_REPLY) this.stat.rxreplies++;
    const v4 = this.inet.v4;
    const myMac = ifp.if_lladdr.lladdr;
    if (p.sha.every((b, i) => b === myMac[i])) return; // our own frame, looped
    if (v4.isLocalAddress(ifp, p.spa)) {
      // Someone else claims our address.
      this.stat.dupips++;
      return;
    }
    const forUs = v4.isLocalAddress(ifp, p.tpa);
    // RFC 826: update an existing entry; make one only when the packet was for us.
    if (p.spa.some((b) => b !== 0)) this.cache.learn(ifp, p.spa, p.sha, forUs);
    if (forUs && p.op === ARPOP_REQUEST) this.send(ifp, ARPOP_REPLY, p.tpa, p.sha, p.spa, p.sha);
  }

  /** Forget everything learnt on an interface (link down, address removed). */
  flush(ifp: Ifnet): void {
    this.cache.flush(ifp);
  }
}
