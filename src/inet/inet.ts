/**
 * The Internet protocols of one host: IPv4 (with ARP, ICMP) and IPv6 (with
 * ND, ICMPv6), UDP sockets, the multicast membership state, and their
 * statistics. One Inet per Host; it registers itself with the host's
 * Ethernet demultiplexer and follows interface events.
 */
import type { Host } from '../host.js';
import { IFF_LOOPBACK } from '../driver/if_var.js';
import type { Ifnet, IfnetEvent } from '../driver/ifnet.js';
import { AF_INET, AF_INET6 } from '../driver/sockaddr.js';
import { ETHERTYPE_ARP, ETHERTYPE_IP, ETHERTYPE_IPV6 } from '../l2/ether.js';
import { IcmpStat, Icmp6Stat, Ip6Stat, IpStat, UdpStat } from '../stats/inet_stats.js';
import { Arp } from './arp.js';
import { Icmp } from './icmp.js';
import { addrKey, type InMulti, MCAST_MAXGRPSRC, MCAST_MAXSOCKSRC } from './in_mcast.js';
import { Ipv4 } from './ip.js';
import { IPPROTO_ICMP, IPPROTO_UDP } from './ip_codec.js';
import { Ipv6 } from './ip6.js';
import { inet6Ops, inetOps, UdpSocket } from './socket.js';
import { Udp } from './udp.js';

/** Listens to membership changes: the group protocols (IGMP, MLD) subscribe. */
export type GroupListener = (af: typeof AF_INET | typeof AF_INET6, inm: InMulti<Ifnet>) => void;

/** Writable limits, FreeBSD's net.inet.ip.mcast.maxgrpsrc / maxsocksrc. */
export interface McastLimits {
  maxgrpsrc: number;
  maxsocksrc: number;
}

export class Inet {
  readonly ipstat = new IpStat();
  readonly icmpstat = new IcmpStat();
  readonly udpstat = new UdpStat();
  readonly ip6stat = new Ip6Stat();
  readonly icmp6stat = new Icmp6Stat();
  readonly limits: McastLimits = { maxgrpsrc: MCAST_MAXGRPSRC, maxsocksrc: MCAST_MAXSOCKSRC };
  readonly v4: Ipv4;
  readonly v6: Ipv6;
  readonly arp: Arp;
  readonly icmp: Icmp;
  readonly udp: Udp;
  private readonly groupListeners: GroupListener[] = [];
  /** Source addresses shared by every filter that names them (see intern). */
  private readonly interned = new Map<string, Uint8Array>();

  constructor(readonly host: Host) {
    this.v4 = new Ipv4(this);
    this.v6 = new Ipv6(this);
    this.arp = new Arp(this);
    this.icmp = new Icmp(this);
    this.udp = new Udp(this);
    this.v4.protosw.set(IPPROTO_ICMP, (ifp, ip, buf, off, len, m) => this.icmp.input(ifp, ip, buf, off, len, m));
    this.v4.protosw.set(IPPROTO_UDP, (ifp, ip, buf, off, len, m) => this.udp.input4(ifp, ip, buf, off, len, m));
    host.registerEthertype(ETHERTYPE_IP, (ifp, buf, off, len, m) => this.v4.input(ifp, buf, off, len, m));
    host.registerEthertype(ETHERTYPE_ARP, (ifp, buf, off, len) => this.arp.input(ifp, buf, off, len));
    host.registerEthertype(ETHERTYPE_IPV6, (ifp, buf, off, len, m) => this.v6.input(ifp, buf, off, len, m));
    host.ifnets.subscribe((ifp, ev) => this.ifEvent(ifp, ev));
    // The loopback: 127.0.0.1/8 and ::1, as every BSD host has them.
    this.v4.addAddress(host.lo0, '127.0.0.1/8');
    this.v6.attach(host.lo0);
  }

  /**
   * One copy of a source address for every filter that names it: a few
   * sources usually serve many groups (a channel's sender), and addresses
   * are never changed once made. Bounded, so a flood of distinct sources
   * costs nothing extra.
   */
  intern(a: Uint8Array): Uint8Array {
    const k = addrKey(a);
    const known = this.interned.get(k);
    if (known) return known;
    if (this.interned.size < 4096) this.interned.set(k, a);
    return a;
  }

  /** A UDP socket (AF_INET or AF_INET6). */
  socket(family: 'inet' | 'inet6' = 'inet'): UdpSocket {
    return new UdpSocket(this, family === 'inet' ? inetOps(this) : inet6Ops(this));
  }

  /** Be told whenever an interface's merged state of a group changes (t1 differs). */
  onGroupChange(fn: GroupListener): () => void {
    this.groupListeners.push(fn);
    return () => {
      const i = this.groupListeners.indexOf(fn);
      if (i >= 0) this.groupListeners.splice(i, 1);
    };
  }

  /** @internal */
  groupChanged(af: typeof AF_INET | typeof AF_INET6, inm: InMulti<Ifnet>): void {
    if (this.deferredChanges) {
      if (!this.deferredChanges.some((d) => d.inm === inm)) this.deferredChanges.push({ af, inm });
      return;
    }
    for (const fn of [...this.groupListeners]) fn(af, inm);
  }

  private deferredChanges: { af: typeof AF_INET | typeof AF_INET6; inm: InMulti<Ifnet> }[] | undefined;

  /**
   * Run `fn` (socket calls that join, add or block sources) as one change
   * of interface state: IGMP/MLD hear of each group once, at the end, and
   * report the difference in one state-change report, as a program using
   * the full-state API would cause (and as FreeBSD's reports, sent on the
   * next fast timeout, merge calls made in between). Used by the join
   * command for its source lists; nests.
   */
  atomically<T>(fn: () => T): T {
    if (this.deferredChanges) return fn();
    this.deferredChanges = [];
    try {
      return fn();
    } finally {
      const list = this.deferredChanges;
      this.deferredChanges = undefined;
      for (const d of list) this.groupChanged(d.af, d.inm);
    }
  }

  private ifEvent(ifp: Ifnet, ev: IfnetEvent): void {
    if (ifp.if_flags & IFF_LOOPBACK) return;
    if (ev === 'attach') this.v6.attach(ifp);
    else if (ev === 'up' || ev === 'link') this.v6.linkChanged(ifp);
    else if (ev === 'detach') {
      this.arp.flush(ifp);
      this.v6.detach(ifp);
    }
  }
}
