/**
 * IPv4 for a host (FreeBSD's ip_input.c, ip_output.c, in.c): interface
 * addresses with prefix and broadcast, connected and default routes,
 * ip_input with ipstat counting, ip_output with source selection, TTL,
 * multicast interface/TTL/loop and Router Alert, and the per-interface
 * group memberships (in_multi) that sockets and the stack join.
 */
import { ERRNO, kerr } from '../kern/errno.js';
import { IFF_BROADCAST, IFF_LOOPBACK, IFF_MULTICAST, IFF_UP, IFF_DRV_RUNNING } from '../driver/if_var.js';
import { type IfAddr, type Ifnet, M_BCAST, M_MCAST } from '../driver/ifnet.js';
import { AF_INET, AF_LINK } from '../driver/sockaddr.js';
import { ETHERTYPE_IP } from '../l2/ether.js';
import {
  INADDR_ALLHOSTS_GROUP,
  inEqual,
  inFromU32,
  inIsLoopback,
  inIsMulticast,
  inIsUnspecified,
  inMask,
  inParsePrefix,
  inToString,
  inToU32,
  type InAddr,
} from './in.js';
import { addrKey, type InMulti, MCAST_EXCLUDE, SockFilter } from './in_mcast.js';
import { GroupTable } from './in_groups.js';
import { IP_MF, IP_OFFMASK, IPPROTO_IGMP, ipEmit, ipParse, type IpHeader } from './ip_codec.js';
import type { Inet } from './inet.js';
import { ICMP_UNREACH, ICMP_UNREACH_PROTOCOL } from './icmp.js';

export const IPDEFTTL = 64;
export const IP_DEFAULT_MULTICAST_TTL = 1;

/** struct in_ifaddr */
export interface InIfaddr {
  addr: InAddr;
  plen: number;
  mask: number;
  broadcast: InAddr;
  ifp: Ifnet;
  /** The address's entry in ifp.if_addrhead, whose per-address counters ip_input/ip_output keep. */
  ifa?: IfAddr;
}

/** A route: connected (no gateway) or via a gateway. */
export interface Route4 {
  dst: InAddr;
  plen: number;
  gateway: InAddr | undefined;
  ifp: Ifnet;
  /** netstat -r flags: U (up), G (gateway), H (host), S (static), C (connected, shown as lladdr link#) */
  flags: string;
}

/** Per-interface IPv4 state, in ifp.if_afdata[AF_INET]. */
export class InIfinfo {
  readonly addrs: InIfaddr[] = [];
  readonly multi = new Map<string, InMulti<Ifnet>>();
  /** The stack's own membership of 224.0.0.1 (RFC 1112: every host joins all-hosts). */
  allhosts: SockFilter | undefined;
}

export type ProtoInput = (ifp: Ifnet, ip: IpHeader, buf: Uint8Array, off: number, len: number, mflags: number) => void;

export interface IpOutputOptions {
  p: number;
  dst: InAddr;
  /** Source address; default: the outgoing interface's address. */
  src?: InAddr;
  ttl?: number;
  tos?: number;
  /** Add the Router Alert option (IGMP). */
  routerAlert?: boolean;
  /** Outgoing interface for multicast (IP_MULTICAST_IF) or a forced one. */
  ifp?: Ifnet;
  /** Multicast TTL (IP_MULTICAST_TTL); default 1. */
  mttl?: number;
  /** Loop multicast back to local listeners (IP_MULTICAST_LOOP); default true. */
  loop?: boolean;
}

export class Ipv4 {
  private id: number;
  readonly routes: Route4[] = [];
  readonly protosw = new Map<number, ProtoInput>();

  constructor(private readonly inet: Inet) {
    this.id = inet.host.random.u32() & 0xffff;
  }

  info(ifp: Ifnet): InIfinfo {
    let i = ifp.if_afdata[AF_INET] as InIfinfo | undefined;
    if (!i) ifp.if_afdata[AF_INET] = i = new InIfinfo();
    return i;
  }

  // ------------------------------------------------------------ addresses

  /** SIOCAIFADDR: add `a.b.c.d/len` to an interface, with its connected route. */
  addAddress(ifp: Ifnet, prefix: string): InIfaddr {
    const p = inParsePrefix(prefix);
    if (!p) throw kerr('EINVAL', `${ifp.if_xname}: "${prefix}" is not an IPv4 address with a prefix length (like 192.0.2.10/24)`);
    const { addr, plen } = p;
    if (inIsMulticast(addr) || inIsUnspecified(addr) || addr[0] === 255)
      throw kerr('EINVAL', `${ifp.if_xname}: ${inToString(addr)} cannot be an interface address`);
    for (const other of this.inet.host.interfaces())
      for (const a of this.info(other).addrs)
        if (inEqual(a.addr, addr)) throw kerr('EEXIST', `${inToString(addr)} is already configured on ${other.if_xname}`);
    const mask = inMask(plen);
    const net = inToU32(addr) & mask;
    const ia: InIfaddr = {
      addr,
      plen,
      mask,
      broadcast: plen >= 31 ? inFromU32(0xffffffff) : inFromU32(net | (~mask >>> 0)),
      ifp,
    };
    const info = this.info(ifp);
    info.addrs.push(ia);
    ia.ifa = {
      ifa_addr: { family: AF_INET, addr },
      ifa_netmask: { family: AF_INET, addr: inFromU32(mask) },
      ifa_broadaddr: ifp.if_flags & IFF_BROADCAST ? { family: AF_INET, addr: ia.broadcast } : undefined,
      ifa_plen: plen,
      ifa_ifp: ifp,
      ifa_ipackets: 0,
      ifa_opackets: 0,
      ifa_ibytes: 0,
      ifa_obytes: 0,
    };
    ifp.if_addrhead.push(ia.ifa);
    this.routes.push({ dst: inFromU32(net), plen, gateway: undefined, ifp, flags: ifp.if_flags & IFF_LOOPBACK ? 'UH' : 'U' });
    if (info.addrs.length === 1 && ifp.if_flags & IFF_MULTICAST) {
      info.allhosts = new SockFilter(MCAST_EXCLUDE);
      this.join(ifp, INADDR_ALLHOSTS_GROUP, info.allhosts);
    }
    if (!(ifp.if_flags & IFF_LOOPBACK) && ifp.if_flags & IFF_UP) this.inet.arp.announce(ifp, addr);
    return ia;
  }

  removeAddress(ifp: Ifnet, addrText: string): void {
    const info = this.info(ifp);
    const i = info.addrs.findIndex((a) => inToString(a.addr) === addrText.split('/')[0]);
    if (i < 0) throw kerr('EADDRNOTAVAIL', `${ifp.if_xname} has no IPv4 address ${addrText}`);
    const [ia] = info.addrs.splice(i, 1);
    const hi = ifp.if_addrhead.findIndex((x) => x.ifa_addr.family === AF_INET && inEqual(x.ifa_addr.addr, ia.addr));
    if (hi >= 0) ifp.if_addrhead.splice(hi, 1);
    const ri = this.routes.findIndex((r) => r.ifp === ifp && !r.gateway && r.plen === ia.plen && inToU32(r.dst) === (inToU32(ia.addr) & ia.mask));
    if (ri >= 0) this.routes.splice(ri, 1);
    if (info.addrs.length === 0) {
      if (info.allhosts) this.leave(ifp, INADDR_ALLHOSTS_GROUP, info.allhosts);
      info.allhosts = undefined;
      this.inet.arp.flush(ifp);
    }
  }

  addresses(ifp: Ifnet): readonly InIfaddr[] {
    return this.info(ifp).addrs;
  }

  primaryAddress(ifp: Ifnet): InAddr | undefined {
    return this.info(ifp).addrs[0]?.addr;
  }

  isLocalAddress(ifp: Ifnet, a: InAddr): boolean {
    return this.info(ifp).addrs.some((x) => inEqual(x.addr, a));
  }

  /** Address `a` if interface `ifp` holds it. */
  private ifaOn(ifp: Ifnet, a: InAddr): InIfaddr | undefined {
    const addrs = this.info(ifp).addrs;
    for (let i = 0; i < addrs.length; i++) if (inEqual(addrs[i].addr, a)) return addrs[i];
    return undefined;
  }

  /** The interface that holds address `a`, if any. */
  ifaOf(a: InAddr): InIfaddr | undefined {
    for (const ifp of this.inet.host.interfaces()) for (const x of this.info(ifp).addrs) if (inEqual(x.addr, a)) return x;
    return undefined;
  }

  /** route add default GW */
  addDefaultRoute(gatewayText: string): void {
    const gw = inParsePrefix(`${gatewayText}/32`)?.addr;
    if (!gw) throw kerr('EINVAL', `"${gatewayText}" is not an IPv4 address`);
    const r = this.lookup(gw);
    if (!r || r.gateway) throw kerr('ENETUNREACH', `gateway ${gatewayText} is not on a connected network`);
    if (this.routes.some((x) => x.plen === 0)) throw kerr('EEXIST', 'a default route already exists');
    this.routes.push({ dst: inFromU32(0), plen: 0, gateway: gw, ifp: r.ifp, flags: 'UGS' });
  }

  /** Longest-prefix match. */
  lookup(dst: InAddr): Route4 | undefined {
    const d = inToU32(dst);
    let best: Route4 | undefined;
    for (const r of this.routes) {
      if (!(r.ifp.if_flags & IFF_UP)) continue;
      const m = inMask(r.plen);
      if ((d & m) === (inToU32(r.dst) & m) && (!best || r.plen > best.plen)) best = r;
    }
    return best;
  }

  /** The default interface for multicast when a socket names none (inp_lookup_mcast_ifp). */
  defaultMulticastIf(group: InAddr): Ifnet | undefined {
    const r = this.lookup(group);
    if (r && r.ifp.if_flags & IFF_MULTICAST && !(r.ifp.if_flags & IFF_LOOPBACK)) return r.ifp;
    for (const ifp of this.inet.host.interfaces())
      if (ifp.if_flags & IFF_MULTICAST && !(ifp.if_flags & IFF_LOOPBACK) && this.info(ifp).addrs.length) return ifp;
    return undefined;
  }

  // ------------------------------------------------------------ groups

  /** The interface group tables of this family (in_multi). */
  readonly groups = new GroupTable({
    table: (ifp) => this.info(ifp).multi,
    sockaddr: (ifp, g) => ({ family: AF_INET, addr: g }),
    format: (g) => inToString(g),
    maxGroupSources: () => this.inet.limits.maxgrpsrc,
    notify: (inm) => this.inet.groupChanged(AF_INET, inm),
  });

  join(ifp: Ifnet, group: Uint8Array, f: SockFilter): InMulti<Ifnet> {
    return this.groups.join(ifp, group, f);
  }

  leave(ifp: Ifnet, group: Uint8Array, f: SockFilter): void {
    this.groups.leave(ifp, group, f);
  }

  changed(inm: InMulti<Ifnet>): void {
    this.groups.changed(inm);
  }

  release(inm: InMulti<Ifnet>): void {
    this.groups.release(inm);
  }

  findGroup(ifp: Ifnet, group: Uint8Array): InMulti<Ifnet> | undefined {
    return this.groups.find(ifp, group);
  }

  // ------------------------------------------------------------ input

  /** ip_input */
  input(ifp: Ifnet, buf: Uint8Array, off: number, len: number, mflags: number): void {
    const st = this.inet.ipstat;
    st.ips_total++;
    const r = ipParse(buf, off, len);
    if ('error' in r) {
      st[r.error]++;
      return;
    }
    const ip = r.hdr;
    // Loopback addresses arriving on a real interface are spoofed (RFC 1122 §3.2.1.3).
    if (!(ifp.if_flags & IFF_LOOPBACK) && (inIsLoopback(ip.dst) || inIsLoopback(ip.src))) {
      st.ips_badaddr++;
      return;
    }
    if (ip.off & (IP_MF | IP_OFFMASK)) {
      // taplab does not reassemble: count the fragment and drop it.
      st.ips_fragments++;
      st.ips_fragdropped++;
      return;
    }
    let flags = mflags;
    let ia: InIfaddr | undefined;
    if (inIsMulticast(ip.dst)) {
      // IGMP goes to igmp_input whatever the membership (as FreeBSD's ip_input does), and a
      // group still being left stays ours until its protocol lets it go.
      const inm = this.info(ifp).multi.get(addrKey(ip.dst));
      if (ip.p !== IPPROTO_IGMP && (!inm || (inm.listeners.size === 0 && !inm.protospecHolds))) {
        st.ips_notmember++;
        return;
      }
      flags |= M_MCAST;
    } else if ((ia = this.ifaOf(ip.dst))) {
      // Ours (weak host model, as BSD: any of our addresses, on any interface): count the
      // datagram on that address (FreeBSD's ifa_ipackets/ifa_ibytes, netstat -i address rows).
      const ifa = ia.ifa!;
      ifa.ifa_ipackets!++;
      ifa.ifa_ibytes! += ip.len;
    } else if (!(ifp.if_flags & IFF_LOOPBACK)) {
      if (this.isBroadcast(ifp, ip.dst)) flags |= M_BCAST;
      else {
        st.ips_cantforward++; // a host does not forward
        return;
      }
    }
    const proto = this.protosw.get(ip.p);
    if (!proto) {
      st.ips_noproto++;
      // RFC 1122 §3.2.2.1: a host SHOULD send Protocol Unreachable for a transport it does not
      // support (FreeBSD's rip_input when no raw socket takes it); icmp_error keeps quiet about
      // broadcasts and multicasts.
      this.inet.icmp.error(ip, buf.subarray(off, off + ip.len), ICMP_UNREACH, ICMP_UNREACH_PROTOCOL, flags);
      return;
    }
    st.ips_delivered++;
    proto(ifp, ip, buf, r.payloadOff, r.payloadLen, flags);
  }

  isBroadcast(ifp: Ifnet, dst: InAddr): boolean {
    if (dst[0] === 255 && dst[1] === 255 && dst[2] === 255 && dst[3] === 255) return true;
    return this.info(ifp).addrs.some((a) => inEqual(a.broadcast, dst));
  }

  // ------------------------------------------------------------ output

  /** ip_output: returns 0 or an errno number; the datagram is counted in ipstat. */
  output(payload: Uint8Array, o: IpOutputOptions): number {
    const st = this.inet.ipstat;
    const mcast = inIsMulticast(o.dst);
    let ifp: Ifnet | undefined;
    let nexthop = o.dst;
    if (mcast || (o.dst[0] === 255 && o.dst[1] === 255 && o.dst[2] === 255 && o.dst[3] === 255)) {
      ifp = o.ifp ?? (mcast ? this.defaultMulticastIf(o.dst) : this.lookup(o.src ?? o.dst)?.ifp);
    } else if (this.ifaOf(o.dst)) {
      ifp = this.inet.host.lo0; // traffic to ourselves goes over the loopback, as on BSD
    } else {
      const r = o.ifp ? undefined : this.lookup(o.dst);
      ifp = o.ifp ?? r?.ifp;
      if (r?.gateway) nexthop = r.gateway;
    }
    if (!ifp) {
      st.ips_noroute++;
      return ERRNO.ENETUNREACH;
    }
    const src = o.src ?? this.primaryAddress(ifp) ?? (ifp === this.inet.host.lo0 ? o.dst : undefined);
    if (!src) {
      st.ips_noroute++;
      return ERRNO.EADDRNOTAVAIL;
    }
    const ttl = mcast ? (o.mttl ?? IP_DEFAULT_MULTICAST_TTL) : (o.ttl ?? IPDEFTTL);
    const dgram = ipEmit(
      { id: this.nextId(), ttl, p: o.p, src, dst: o.dst, tos: o.tos, routerAlert: o.routerAlert },
      payload,
    );
    if (dgram.length > ifp.if_mtu) {
      st.ips_cantfrag++;
      return ERRNO.EMSGSIZE;
    }
    st.ips_localout++;
    if (!(ifp.if_flags & IFF_UP) || !(ifp.if_drv_flags & IFF_DRV_RUNNING)) {
      st.ips_odropped++;
      return ERRNO.ENETDOWN;
    }
    if (mcast) {
      // ip_mloopback: a copy for local listeners on the sending interface.
      if ((o.loop ?? true) && this.findGroup(ifp, o.dst)?.listeners.size) {
        const copy = dgram.slice();
        this.inet.host.netisr.batch(() => this.input(ifp!, copy, 0, copy.length, M_MCAST));
      }
      // A TTL of 0 stays on the host, and nothing multicast goes out a loopback interface: the
      // copy above is the local delivery (FreeBSD's ip_output).
      if (ttl === 0 || ifp.if_flags & IFF_LOOPBACK) return 0;
    }
    // The datagram goes to the interface: count it on its source address (ifa_opackets/ifa_obytes).
    // The source is usually an address of the outgoing interface; traffic to ourselves leaves by lo0.
    const sia = this.ifaOn(ifp, src) ?? (ifp.if_flags & IFF_LOOPBACK ? this.ifaOf(src) : undefined);
    if (sia) {
      sia.ifa!.ifa_opackets!++;
      sia.ifa!.ifa_obytes! += dgram.length;
    }
    let err: number;
    if (ifp.if_flags & IFF_LOOPBACK) {
      err = ifp.if_output(ifp, dgram, 0, dgram.length, { family: AF_INET, addr: o.dst }, ETHERTYPE_IP);
    } else if (mcast || this.isBroadcast(ifp, o.dst)) {
      err = ifp.if_output(ifp, dgram, 0, dgram.length, { family: AF_INET, addr: mcast ? o.dst : Uint8Array.of(255, 255, 255, 255) }, ETHERTYPE_IP);
    } else {
      const mac = this.inet.arp.resolve(ifp, nexthop, dgram);
      if (!mac) return 0; // held until ARP answers
      err = ifp.if_output(ifp, dgram, 0, dgram.length, { family: AF_LINK, index: 0, type: 0, name: '', lladdr: mac }, ETHERTYPE_IP);
    }
    if (err) st.ips_odropped++;
    return err;
  }

  private nextId(): number {
    this.id = (this.id + 1) & 0xffff;
    return this.id;
  }
}
