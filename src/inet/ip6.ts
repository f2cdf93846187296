/**
 * IPv6 for a host (RFC 8200; FreeBSD's ip6_input.c, ip6_output.c, in6.c,
 * nd6.c, icmp6.c): addresses (a link-local one from the modified EUI-64 at
 * attach, RFC 4291 App. A), Duplicate Address Detection (RFC 4862 §5.4),
 * Neighbor Solicitation/Advertisement and a neighbor cache (RFC 4861),
 * the all-nodes and solicited-node groups every node joins, ip6_input with
 * the extension-header walk and ip6stat/in6_ifstat counting, ip6_output,
 * and ICMPv6 echo. MLD messages are handed to the group protocol.
 */
import type { Callout } from '../kern/clock.js';
import { ERRNO, kerr, KernError } from '../kern/errno.js';
import { IFF_DRV_RUNNING, IFF_LOOPBACK, IFF_MULTICAST, IFF_UP, LINK_STATE_UP } from '../driver/if_var.js';
import { type IfAddr, type Ifnet, M_MCAST } from '../driver/ifnet.js';
import { AF_INET6, AF_LINK } from '../driver/sockaddr.js';
import { ETHERTYPE_IPV6 } from '../l2/ether.js';
import { Icmp6IfStat, In6IfStat, icmp6IfCount } from '../stats/inet_stats.js';
import {
  IN6ADDR_LINKLOCAL_ALLNODES,
  IN6ADDR_LOOPBACK,
  in6Equal,
  in6IsLinkLocal,
  in6IsLoopback,
  in6IsMulticast,
  in6IsUnspecified,
  in6LinkLocalFromMac,
  in6MulticastScope,
  in6Parse,
  in6PrefixMatch,
  in6SolicitedNode,
  in6ToString,
} from './in6.js';
import {
  ICMP6_DST_UNREACH,
  ICMP6_ECHO_REPLY,
  ICMP6_ECHO_REQUEST,
  ICMP6_PARAM_PROB,
  ICMP6_PARAMPROB_NEXTHEADER,
  IPPROTO_ICMPV6,
  MLD_LISTENER_DONE,
  MLD_LISTENER_QUERY,
  MLD_LISTENER_REPORT,
  MLDV2_LISTENER_REPORT,
  ND_NEIGHBOR_ADVERT,
  ND_NEIGHBOR_SOLICIT,
  icmp6EchoEmit,
  icmp6EchoParse,
  icmp6Emit,
  icmp6ErrorEmit,
  icmp6ParamProblemEmit,
  icmp6Parse,
  nd6NaEmit,
  nd6NaParse,
  nd6NsEmit,
  nd6NsParse,
  type Icmp6Message,
} from './icmp6_codec.js';
import { addrKey, type InMulti, MCAST_EXCLUDE, SockFilter } from './in_mcast.js';
import { GroupTable } from './in_groups.js';
import { LlTable } from './lltable.js';
import { IP6_HDR_LEN, IPPROTO_FRAGMENT, IPPROTO_NONE, ip6Emit, ip6Parse, ip6WalkExtensions, type Ip6Datagram } from './ip6_codec.js';
import { IPPROTO_UDP } from './ip_codec.js';
import type { Inet } from './inet.js';
import { udpEmit } from './udp.js';
import { pseudoHeaderSum6 } from './cksum.js';
import type { UdpSocket } from './socket.js';

export const IPV6_DEFHLIM = 64;
export const IPV6_DEFAULT_MULTICAST_HOPS = 1;
/** RFC 4861 §10 */
export const MAX_MULTICAST_SOLICIT = 3;
export const RETRANS_TIMER_MS = 1000;
export const MAX_RTR_SOLICITATION_DELAY_MS = 1000;
/** RFC 4862 §5.1: DupAddrDetectTransmits, default 1. */
export const DUP_ADDR_DETECT_TRANSMITS = 1;
const ND_HOLD_MAX = 16;
/** Entries are kept like ARP's (taplab does no Neighbor Unreachability Detection). */
const ND_LIFETIME_MS = 1200_000;

/** struct in6_ifaddr */
export interface In6Ifaddr {
  addr: Uint8Array;
  plen: number;
  ifp: Ifnet;
  /** IN6_IFF_TENTATIVE: DAD has not finished. */
  tentative: boolean;
  /** IN6_IFF_DUPLICATE: DAD found another node using it. */
  duplicate: boolean;
  /** The stack's membership of the address's solicited-node group. */
  solicit: SockFilter | undefined;
  dadSent: number;
  dadTimer: Callout | undefined;
  /** The address's entry in ifp.if_addrhead, whose per-address counters ip6_input/ip6_output keep. */
  ifa?: IfAddr;
}

/** Per-interface IPv6 state, in ifp.if_afdata[AF_INET6]. */
export class In6Ifinfo {
  readonly addrs: In6Ifaddr[] = [];
  readonly multi = new Map<string, InMulti<Ifnet>>();
  readonly stat = new In6IfStat();
  readonly icmp6stat = new Icmp6IfStat();
  allnodes: SockFilter | undefined;
  nodelocal: SockFilter | undefined;
  /** A multicast router (the MLD querier) runs here: packets to every group are taken in. */
  mrouter = false;
}

/** MLD input hook: (ifp, src, dst, message, hop limit, Router Alert present). */
export type MldInput = (ifp: Ifnet, src: Uint8Array, dst: Uint8Array, m: Icmp6Message, hlim: number, routerAlert: boolean) => void;

export interface Ip6OutputOptions {
  nxt: number;
  dst: Uint8Array;
  src?: Uint8Array;
  ifp?: Ifnet;
  hlim?: number;
  /** Multicast hop limit; default 1. */
  mhops?: number;
  loop?: boolean;
  /** Add a Hop-by-Hop Router Alert option with this value (MLD: 0). */
  routerAlert?: number;
}

const FF01_1 = Uint8Array.of(0xff, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1);

export class Ipv6 {
  /** Set by the MLD binding. */
  mldInput: MldInput | undefined;
  /** The neighbor cache (RFC 4861 §7.2: NS to the solicited-node group, MAX_MULTICAST_SOLICIT tries). */
  readonly nd: LlTable;

  constructor(private readonly inet: Inet) {
    this.nd = new LlTable({
      sched: inet.host.sched,
      maxHold: ND_HOLD_MAX,
      lifetimeMs: ND_LIFETIME_MS,
      retransMs: RETRANS_TIMER_MS,
      maxTries: MAX_MULTICAST_SOLICIT,
      label: 'nd6',
      solicit: (ifp, target) => {
        const src = this.sourceFor(ifp, target);
        if (!src) return false;
        const ns = nd6NsEmit({ target, options: { sourceLinkAddr: ifp.if_lladdr.lladdr } });
        this.sendIcmp6(ifp, ND_NEIGHBOR_SOLICIT, 0, ns, src, in6SolicitedNode(target), 255);
        return true;
      },
      output: (ifp, d, mac) => ifp.if_output(ifp, d, 0, d.length, { family: AF_LINK, index: 0, type: 0, name: '', lladdr: mac }, ETHERTYPE_IPV6),
    });
  }

  info(ifp: Ifnet): In6Ifinfo {
    let i = ifp.if_afdata[AF_INET6] as In6Ifinfo | undefined;
    if (!i) ifp.if_afdata[AF_INET6] = i = new In6Ifinfo();
    return i;
  }

  // ------------------------------------------------------------ interface life

  /** in6_ifattach: all-nodes groups and the link-local address. */
  attach(ifp: Ifnet): void {
    const info = this.info(ifp);
    if (ifp.if_flags & IFF_MULTICAST && !info.allnodes) {
      info.nodelocal = new SockFilter(MCAST_EXCLUDE);
      this.join(ifp, FF01_1, info.nodelocal);
      info.allnodes = new SockFilter(MCAST_EXCLUDE);
      this.join(ifp, IN6ADDR_LINKLOCAL_ALLNODES, info.allnodes);
    }
    if (ifp.if_flags & IFF_LOOPBACK) {
      if (!info.addrs.length) this.addAddr(ifp, IN6ADDR_LOOPBACK, 128, false);
      return;
    }
    const mac = ifp.if_lladdr?.lladdr;
    if (mac && mac.length === 6 && !info.addrs.some((a) => in6IsLinkLocal(a.addr))) this.addAddr(ifp, in6LinkLocalFromMac(mac), 64, true);
  }

  detach(ifp: Ifnet): void {
    const info = this.info(ifp);
    for (const a of info.addrs) a.dadTimer?.stop();
    this.nd.flush(ifp);
  }

  /** The interface came up or its link changed: start DAD for tentative addresses (RFC 4862 §5.4.2). */
  linkChanged(ifp: Ifnet): void {
    if (!this.usable(ifp)) return;
    for (const a of this.info(ifp).addrs) if (a.tentative && !a.duplicate && !a.dadTimer) this.startDad(a);
  }

  private usable(ifp: Ifnet): boolean {
    return (ifp.if_flags & IFF_UP) !== 0 && (ifp.if_drv_flags & IFF_DRV_RUNNING) !== 0 && ifp.if_link_state === LINK_STATE_UP;
  }

  /** SIOCAIFADDR_IN6: add "addr/len". */
  addAddress(ifp: Ifnet, prefix: string): In6Ifaddr {
    const m = /^([^/]+)\/(\d{1,3})$/.exec(prefix);
    const addr = m ? in6Parse(m[1]) : undefined;
    const plen = m ? Number(m[2]) : NaN;
    if (!addr || !(plen >= 0 && plen <= 128))
      throw kerr('EINVAL', `${ifp.if_xname}: "${prefix}" is not an IPv6 address with a prefix length (like 2001:db8::10/64)`);
    if (in6IsMulticast(addr) || in6IsUnspecified(addr)) throw kerr('EINVAL', `${ifp.if_xname}: ${in6ToString(addr)} cannot be an interface address`);
    if (this.info(ifp).addrs.some((a) => in6Equal(a.addr, addr))) throw kerr('EEXIST', `${in6ToString(addr)} is already configured on ${ifp.if_xname}`);
    return this.addAddr(ifp, addr, plen, !(ifp.if_flags & IFF_LOOPBACK));
  }

  private addAddr(ifp: Ifnet, addr: Uint8Array, plen: number, dad: boolean): In6Ifaddr {
    const ia: In6Ifaddr = { addr, plen, ifp, tentative: dad, duplicate: false, solicit: undefined, dadSent: 0, dadTimer: undefined };
    const info = this.info(ifp);
    info.addrs.push(ia);
    ia.ifa = {
      ifa_addr: { family: AF_INET6, addr, scopeId: in6IsLinkLocal(addr) ? ifp.if_index : 0 },
      ifa_plen: plen,
      ifa_ifp: ifp,
      ifa_ipackets: 0,
      ifa_opackets: 0,
      ifa_ibytes: 0,
      ifa_obytes: 0,
    };
    ifp.if_addrhead.push(ia.ifa);
    if (ifp.if_flags & IFF_MULTICAST && !(ifp.if_flags & IFF_LOOPBACK)) {
      // RFC 4861 §7.2.1: join the solicited-node group of every address.
      ia.solicit = new SockFilter(MCAST_EXCLUDE);
      this.join(ifp, in6SolicitedNode(addr), ia.solicit);
    }
    if (dad && this.usable(ifp)) this.startDad(ia);
    return ia;
  }

  removeAddress(ifp: Ifnet, text: string): void {
    const addr = in6Parse(text.split('/')[0].split('%')[0]);
    const info = this.info(ifp);
    const i = addr ? info.addrs.findIndex((a) => in6Equal(a.addr, addr)) : -1;
    if (i < 0) throw kerr('EADDRNOTAVAIL', `${ifp.if_xname} has no IPv6 address ${text}`);
    const [ia] = info.addrs.splice(i, 1);
    ia.dadTimer?.stop();
    if (ia.solicit) this.leave(ifp, in6SolicitedNode(ia.addr), ia.solicit);
    const hi = ifp.if_addrhead.findIndex((x) => x.ifa_addr.family === AF_INET6 && in6Equal(x.ifa_addr.addr, ia.addr));
    if (hi >= 0) ifp.if_addrhead.splice(hi, 1);
  }

  addresses(ifp: Ifnet): readonly In6Ifaddr[] {
    return this.info(ifp).addrs;
  }

  /** The usable link-local address of an interface (in6ifa_ifpforlinklocal). */
  linkLocal(ifp: Ifnet): Uint8Array | undefined {
    return this.info(ifp).addrs.find((a) => in6IsLinkLocal(a.addr) && !a.tentative && !a.duplicate)?.addr;
  }

  /** Address `a` if interface `ifp` holds it (no allocation: the output path calls it per datagram). */
  private ifaOn(ifp: Ifnet, a: Uint8Array): In6Ifaddr | undefined {
    const addrs = this.info(ifp).addrs;
    for (let i = 0; i < addrs.length; i++) if (in6Equal(addrs[i].addr, a)) return addrs[i];
    return undefined;
  }

  ifaOf(a: Uint8Array, ifp?: Ifnet): In6Ifaddr | undefined {
    for (const i of ifp ? [ifp] : this.inet.host.interfaces()) for (const x of this.info(i).addrs) if (in6Equal(x.addr, a)) return x;
    return undefined;
  }

  // ------------------------------------------------------------ DAD (RFC 4862 §5.4)

  private startDad(ia: In6Ifaddr): void {
    // A random delay before the first NS, so nodes starting together do not collide (§5.4.2).
    const delay = this.inet.host.random.below(MAX_RTR_SOLICITATION_DELAY_MS);
    ia.dadTimer = this.inet.host.sched.callout(delay, () => this.dadStep(ia), 'nd6 dad');
  }

  private dadStep(ia: In6Ifaddr): void {
    ia.dadTimer = undefined;
    if (!ia.tentative || ia.duplicate || !this.info(ia.ifp).addrs.includes(ia)) return;
    if (ia.dadSent >= DUP_ADDR_DETECT_TRANSMITS) {
      ia.tentative = false; // nobody objected within RetransTimer: the address is ours
      return;
    }
    ia.dadSent++;
    const ns = nd6NsEmit({ target: ia.addr });
    this.sendIcmp6(ia.ifp, ND_NEIGHBOR_SOLICIT, 0, ns, new Uint8Array(16), in6SolicitedNode(ia.addr), 255);
    ia.dadTimer = this.inet.host.sched.callout(RETRANS_TIMER_MS, () => this.dadStep(ia), 'nd6 dad');
  }

  private dadFailed(ia: In6Ifaddr): void {
    ia.duplicate = true;
    ia.dadTimer?.stop();
    ia.dadTimer = undefined;
  }

  // ------------------------------------------------------------ groups

  /** The interface group tables of this family (in_multi). */
  readonly groups = new GroupTable({
    table: (ifp) => this.info(ifp).multi,
    sockaddr: (ifp, g) => ({ family: AF_INET6, addr: g, scopeId: in6MulticastScope(g) <= 2 ? ifp.if_index : 0 }),
    format: (g) => in6ToString(g),
    maxGroupSources: () => this.inet.limits.maxgrpsrc,
    notify: (inm) => this.inet.groupChanged(AF_INET6, inm),
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

  defaultMulticastIf(_group: Uint8Array): Ifnet | undefined {
    for (const ifp of this.inet.host.interfaces())
      if (ifp.if_flags & IFF_MULTICAST && !(ifp.if_flags & IFF_LOOPBACK) && this.linkLocal(ifp)) return ifp;
    return undefined;
  }

  // ------------------------------------------------------------ input

  /** ip6_input; `looped` marks ip6_mloopback's copy (FreeBSD's M_LOOP). */
  input(ifp: Ifnet, buf: Uint8Array, off: number, len: number, mflags: number, looped = false): void {
    const st = this.inet.ip6stat;
    const ist = this.info(ifp).stat;
    st.ip6s_total++;
    ist.ifs6_in_receive++;
    const p = ip6Parse(buf, off, len);
    if ('error' in p) {
      if (p.error === 'badvers') st.ip6s_badvers++;
      else st.ip6s_tooshort++;
      if (p.error === 'truncated') ist.ifs6_in_truncated++;
      else ist.ifs6_in_hdrerr++;
      return;
    }
    const h = p.hdr;
    // RFC 4291 §2.5.2/§2.5.3: no packet may claim :: as destination, nor carry loopback on the wire.
    if (
      in6IsUnspecified(h.dst) ||
      in6IsMulticast(h.src) ||
      (!(ifp.if_flags & IFF_LOOPBACK) && (in6IsLoopback(h.src) || in6IsLoopback(h.dst))) ||
      (in6IsMulticast(h.dst) && in6MulticastScope(h.dst) === 0) ||
      // RFC 4291 §2.7: interface-local scope is for loopback transmission only; from the wire it is
      // a forgery (FreeBSD's ip6_input: IN6_IS_ADDR_MC_INTFACELOCAL without M_LOOP).
      (in6IsMulticast(h.dst) && in6MulticastScope(h.dst) === 1 && !looped && !(ifp.if_flags & IFF_LOOPBACK))
    ) {
      st.ip6s_badscope++;
      ist.ifs6_in_addrerr++;
      return;
    }
    let flags = mflags;
    if (in6IsMulticast(h.dst)) {
      ist.ifs6_in_mcast++;
      // A group still being left stays ours until MLD lets it go (its queries must reach MLD).
      const inm = this.info(ifp).multi.get(addrKey(h.dst));
      if ((!inm || (inm.listeners.size === 0 && !inm.protospecHolds)) && !this.info(ifp).mrouter) {
        st.ip6s_notmember++;
        ist.ifs6_in_discard++;
        return;
      }
      flags |= M_MCAST;
    } else {
      // A link-local address belongs to its link's zone (RFC 4007 §5, §9): it is ours only on
      // the interface that holds it.
      const ia = in6IsLinkLocal(h.dst) && !(ifp.if_flags & IFF_LOOPBACK) ? this.ifaOf(h.dst, ifp) : this.ifaOf(h.dst);
      if (!ia && !(ifp.if_flags & IFF_LOOPBACK)) {
        st.ip6s_cantforward++; // a host does not forward
        ist.ifs6_in_addrerr++;
        return;
      }
      // RFC 4862 §5.4: "other packets addressed to the tentative address should be silently
      // discarded", NS and NA to it included (DAD's NS goes to the solicited-node group); a
      // duplicate address is not assigned at all (§5.4.5). FreeBSD: IN6_IFF_NOTREADY.
      if (ia && (ia.tentative || ia.duplicate)) {
        ist.ifs6_in_addrerr++;
        return;
      }
      // Ours: count the datagram on that address (ifa_ipackets/ifa_ibytes, netstat -i address rows).
      if (ia) {
        const ifa = ia.ifa!;
        ifa.ifa_ipackets!++;
        ifa.ifa_ibytes! += IP6_HDR_LEN + p.payloadLen;
      }
    }
    const w = ip6WalkExtensions(buf, p.payloadOff, p.payloadLen, h.nextHeader, false); // no option list: only routerAlert is read
    if ('error' in w) {
      if (w.error === 'too-many-headers') st.ip6s_toomanyhdr++;
      else if (w.error === 'exthdr-truncated') st.ip6s_tooshort++;
      else st.ip6s_badoptions++;
      ist.ifs6_in_hdrerr++;
      // RFC 4443 §2.4 (e.3): to a multicast destination only Parameter Problem code 2 (an
      // unrecognized option whose action bits ask for it, RFC 8200 §4.2) may be sent.
      if (w.icmpCode !== undefined && w.pointer !== undefined && !(in6IsMulticast(h.dst) && (w.icmpCode !== 2 || w.action === 'discard-icmp-unicast')))
        this.icmp6Error(ifp, buf, off, len, h.src, h.dst, ICMP6_PARAM_PROB, w.icmpCode, w.pointer);
      return;
    }
    st.ip6s_nxthist[h.nextHeader]++;
    if (w.upper === IPPROTO_FRAGMENT) {
      st.ip6s_fragments++;
      st.ip6s_fragdropped++; // taplab does not reassemble
      ist.ifs6_reass_reqd++;
      ist.ifs6_reass_fail++;
      return;
    }
    if (w.upper === IPPROTO_NONE) {
      ist.ifs6_in_deliver++;
      st.ip6s_delivered++;
      return;
    }
    if (w.upper === IPPROTO_ICMPV6) {
      st.ip6s_delivered++;
      ist.ifs6_in_deliver++;
      this.icmp6Input(ifp, h.src, h.dst, h.hopLimit, buf.subarray(w.upperOff, w.upperOff + w.upperLen), w.routerAlert !== undefined, flags);
      return;
    }
    if (w.upper === IPPROTO_UDP) {
      st.ip6s_delivered++;
      ist.ifs6_in_deliver++;
      const ok = this.inet.udp.input6(ifp, h.src, h.dst, buf, w.upperOff, w.upperLen, flags);
      if (!ok) this.icmp6Error(ifp, buf, off, IP6_HDR_LEN + p.payloadLen, h.src, h.dst, ICMP6_DST_UNREACH, 4, -1);
      return;
    }
    ist.ifs6_in_protounknown++;
    if (!in6IsMulticast(h.dst))
      this.icmp6Error(ifp, buf, off, IP6_HDR_LEN + p.payloadLen, h.src, h.dst, ICMP6_PARAM_PROB, ICMP6_PARAMPROB_NEXTHEADER, w.nxtPointer);
  }

  private icmp6Input(ifp: Ifnet, src: Uint8Array, dst: Uint8Array, hlim: number, msg: Uint8Array, ra: boolean, mflags: number): void {
    const st = this.inet.icmp6stat;
    const m = icmp6Parse(msg, src, dst);
    if ('error' in m) {
      if (m.error === 'badsum') st.icp6s_checksum++;
      else st.icp6s_tooshort++;
      return;
    }
    st.icp6s_inhist[m.type]++;
    icmp6IfCount(this.info(ifp).icmp6stat, 'in', m.type, m.code);
    switch (m.type) {
      case ICMP6_ECHO_REQUEST: {
        const e = icmp6EchoParse(m);
        if ('error' in e) {
          st.icp6s_badlen++;
          return;
        }
        // Echo to a group is answered from a unicast address, as FreeBSD does.
        const from = in6IsMulticast(dst) ? this.sourceFor(ifp, src) : dst;
        if (!from) return;
        st.icp6s_reflect++;
        this.sendIcmp6(ifp, ICMP6_ECHO_REPLY, 0, icmp6EchoEmit(e), from, src, undefined);
        return;
      }
      case ND_NEIGHBOR_SOLICIT:
        return this.nsInput(ifp, src, dst, hlim, m);
      case ND_NEIGHBOR_ADVERT:
        return this.naInput(ifp, src, dst, hlim, m);
      case MLD_LISTENER_QUERY:
      case MLD_LISTENER_REPORT:
      case MLD_LISTENER_DONE:
      case MLDV2_LISTENER_REPORT:
        this.mldInput?.(ifp, src, dst, m, hlim, ra);
        return;
      default:
        void mflags;
    }
  }

  // ------------------------------------------------------------ ND (RFC 4861)

  private nsInput(ifp: Ifnet, src: Uint8Array, dst: Uint8Array, hlim: number, m: Icmp6Message): void {
    const st = this.inet.icmp6stat;
    const ns = nd6NsParse(m);
    // §7.1.1: hop limit 255, and from :: only to a solicited-node group without SLLA.
    if ('error' in ns || hlim !== 255) {
      st.icp6s_badns++;
      return;
    }
    const dad = in6IsUnspecified(src);
    // §7.1.1: from :: only to a solicited-node multicast address (ff02::1:ffXX:XXXX).
    if (dad && (!isSolicitedNode(dst) || ns.options.sourceLinkAddr)) {
      st.icp6s_badns++;
      return;
    }
    const ia = this.ifaOf(ns.target, ifp);
    if (!ia) return;
    if (ia.tentative) {
      // §5.4.3: another node doing DAD for our tentative address: duplicate.
      if (dad) this.dadFailed(ia);
      return;
    }
    if (ns.options.sourceLinkAddr && !dad) this.nd.learn(ifp, src, ns.options.sourceLinkAddr, true);
    const na = nd6NaEmit({ solicited: !dad, override: true, target: ns.target, options: { targetLinkAddr: ifp.if_lladdr.lladdr } });
    this.sendIcmp6(ifp, ND_NEIGHBOR_ADVERT, 0, na, ia.addr, dad ? IN6ADDR_LINKLOCAL_ALLNODES : src, 255);
  }

  private naInput(ifp: Ifnet, _src: Uint8Array, dst: Uint8Array, hlim: number, m: Icmp6Message): void {
    const st = this.inet.icmp6stat;
    const na = nd6NaParse(m);
    // §7.1.2: hop limit 255, and "if the IP Destination Address is a multicast address the
    // Solicited flag is zero".
    if ('error' in na || hlim !== 255 || (in6IsMulticast(dst) && na.solicited)) {
      st.icp6s_badna++;
      return;
    }
    const ia = this.ifaOf(na.target, ifp);
    if (ia) {
      // §5.4.4: an advertisement for our address: if still tentative, it is a duplicate.
      if (ia.tentative) this.dadFailed(ia);
      return;
    }
    if (na.options.targetLinkAddr) this.nd.learn(ifp, na.target, na.options.targetLinkAddr, false);
  }

  /** The neighbor cache of an interface as `ndp -a` would list it. */
  neighbors(ifp: Ifnet): { addr: string; mac: Uint8Array | null }[] {
    return this.nd.entries(ifp).map((e) => ({ addr: in6ToString(e.addr), mac: e.mac }));
  }

  // ------------------------------------------------------------ output

  /** Source address selection, reduced: link-local for link-scope peers, else a global one of the interface. */
  sourceFor(ifp: Ifnet, dst: Uint8Array): Uint8Array | undefined {
    const addrs = this.info(ifp).addrs.filter((a) => !a.tentative && !a.duplicate);
    const linkScope = in6IsLinkLocal(dst) || (in6IsMulticast(dst) && in6MulticastScope(dst) <= 2);
    const pick = linkScope ? addrs.find((a) => in6IsLinkLocal(a.addr)) : (addrs.find((a) => !in6IsLinkLocal(a.addr) && in6PrefixMatch(a.addr, dst, a.plen)) ?? addrs.find((a) => !in6IsLinkLocal(a.addr)) ?? addrs[0]);
    return pick?.addr;
  }

  private route(dst: Uint8Array): Ifnet | undefined {
    for (const ifp of this.inet.host.interfaces())
      if (this.info(ifp).addrs.some((a) => !in6IsLinkLocal(a.addr) && in6PrefixMatch(a.addr, dst, a.plen))) return ifp;
    return undefined;
  }

  /** ip6_output: returns 0 or an errno number. */
  output(payload: Uint8Array, o: Ip6OutputOptions): number {
    const st = this.inet.ip6stat;
    const mcast = in6IsMulticast(o.dst);
    let ifp = o.ifp;
    if (!ifp && this.ifaOf(o.dst)) ifp = this.inet.host.lo0;
    if (!ifp) ifp = mcast ? this.defaultMulticastIf(o.dst) : in6IsLinkLocal(o.dst) ? undefined : this.route(o.dst);
    if (!ifp) {
      st.ip6s_noroute++;
      return ERRNO.ENETUNREACH;
    }
    const src = o.src ?? (ifp === this.inet.host.lo0 && !mcast ? o.dst : this.sourceFor(ifp, o.dst));
    if (!src) {
      st.ip6s_noroute++;
      return ERRNO.EADDRNOTAVAIL;
    }
    const hlim = mcast ? (o.mhops ?? IPV6_DEFAULT_MULTICAST_HOPS) : (o.hlim ?? IPV6_DEFHLIM);
    let dgram: Uint8Array;
    try {
      const d: Ip6Datagram = { hopLimit: hlim, src, dst: o.dst, nextHeader: o.nxt, payload };
      if (o.routerAlert !== undefined) d.hopByHop = { routerAlert: o.routerAlert };
      dgram = ip6Emit(d);
    } catch (e) {
      if (e instanceof KernError) return e.errno;
      throw e;
    }
    const ist = this.info(ifp).stat;
    st.ip6s_localout++;
    ist.ifs6_out_request++;
    if (dgram.length > ifp.if_mtu) {
      st.ip6s_cantfrag++;
      ist.ifs6_out_fragfail++;
      return ERRNO.EMSGSIZE;
    }
    if (!(ifp.if_flags & IFF_UP) || !(ifp.if_drv_flags & IFF_DRV_RUNNING)) {
      st.ip6s_odropped++;
      ist.ifs6_out_discard++;
      return ERRNO.ENETDOWN;
    }
    if (mcast) {
      ist.ifs6_out_mcast++;
      st.ip6s_m1++;
      if ((o.loop ?? true) && this.findGroup(ifp, o.dst)?.listeners.size) {
        const copy = dgram.slice();
        this.inet.host.netisr.batch(() => this.input(ifp!, copy, 0, copy.length, M_MCAST, true));
      }
      // FreeBSD's ip6_output: a hop limit of 0 stays on the host; nothing multicast goes out a
      // loopback interface (the copy above is the delivery); interface-local scope never leaves
      // the node (RFC 4291 §2.7).
      if (hlim === 0 || ifp.if_flags & IFF_LOOPBACK || in6MulticastScope(o.dst) === 1) return 0;
    }
    // The datagram goes to the interface: count it on its source address (ifa_opackets/ifa_obytes).
    // The source is usually an address of the outgoing interface; traffic to ourselves leaves by lo0.
    const sia = this.ifaOn(ifp, src) ?? (ifp.if_flags & IFF_LOOPBACK ? this.ifaOf(src) : undefined);
    if (sia) {
      sia.ifa!.ifa_opackets!++;
      sia.ifa!.ifa_obytes! += dgram.length;
    }
    let err: number;
    if (ifp.if_flags & IFF_LOOPBACK || mcast) {
      err = ifp.if_output(ifp, dgram, 0, dgram.length, { family: AF_INET6, addr: o.dst, scopeId: 0 }, ETHERTYPE_IPV6);
    } else {
      const mac = this.nd.resolve(ifp, o.dst, dgram);
      if (!mac) return 0;
      err = ifp.if_output(ifp, dgram, 0, dgram.length, { family: AF_LINK, index: 0, type: 0, name: '', lladdr: mac }, ETHERTYPE_IPV6);
    }
    if (err) {
      st.ip6s_odropped++;
      ist.ifs6_out_discard++;
    }
    return err;
  }

  /** Send an ICMPv6 message (ND and MLD pass hlim 255 / 1 and the Router Alert as needed). */
  sendIcmp6(ifp: Ifnet, type: number, code: number, body: Uint8Array, src: Uint8Array, dst: Uint8Array, hlim: number | undefined, routerAlert?: number): number {
    const msg = icmp6Emit(type, code, body, src, dst);
    this.inet.icmp6stat.icp6s_outhist[type]++;
    icmp6IfCount(this.info(ifp).icmp6stat, 'out', type, code);
    return this.output(msg, { nxt: IPPROTO_ICMPV6, src, dst, ifp, hlim, mhops: hlim, loop: false, routerAlert });
  }

  /** icmp6_error (RFC 4443 §2.4): never about errors, never to multicast or unspecified sources. */
  private icmp6Error(ifp: Ifnet, buf: Uint8Array, off: number, len: number, src: Uint8Array, dst: Uint8Array, type: number, code: number, pointer: number): void {
    const st = this.inet.icmp6stat;
    st.icp6s_error++;
    if (in6IsUnspecified(src) || in6IsMulticast(src)) {
      st.icp6s_canterror++;
      return;
    }
    const from = in6IsMulticast(dst) ? this.sourceFor(ifp, src) : dst;
    if (!from) {
      st.icp6s_canterror++;
      return;
    }
    const invoking = buf.slice(off, off + len);
    const body = type === ICMP6_PARAM_PROB ? icmp6ParamProblemEmit(pointer, invoking) : icmp6ErrorEmit({ param: 0, invoking });
    if (type === ICMP6_PARAM_PROB) {
      if (code === ICMP6_PARAMPROB_NEXTHEADER) st.icp6s_outerrhist.icp6errs_paramprob_nextheader++;
      else if (code === 2) st.icp6s_outerrhist.icp6errs_paramprob_option++;
      else st.icp6s_outerrhist.icp6errs_paramprob_header++;
    } else if (type === ICMP6_DST_UNREACH && code === 4) st.icp6s_outerrhist.icp6errs_dst_unreach_noport++;
    this.sendIcmp6(ifp, type, code, body, from, src, undefined);
  }

  /** UDP over IPv6 for a socket. */
  udpOutput(so: UdpSocket, data: Uint8Array, dst: Uint8Array, dport: number, zone?: string): number | KernError {
    const where = `send to ${in6ToString(dst)} port ${dport}`;
    let ifp: Ifnet | undefined;
    if (zone !== undefined) {
      ifp = this.inet.host.ifunit(zone) ?? this.inet.host.ifnets.byindex(Number(zone));
      if (!ifp) return kerr('ENXIO', `${where}: no interface "${zone}"`);
    } else if (in6IsMulticast(dst)) ifp = so.mopts.ifp ?? this.defaultMulticastIf(dst);
    else if (in6IsLinkLocal(dst)) return kerr('EINVAL', `${where}: a link-local destination needs an interface (${in6ToString(dst)}%em0)`);
    const bound = !so.laddr.every((b) => b === 0) && !in6IsMulticast(so.laddr);
    const src = bound ? so.laddr : ifp ? this.sourceFor(ifp, dst) : this.ifaOf(dst) ? dst : (this.route(dst) && this.sourceFor(this.route(dst)!, dst));
    if (!src) return kerr('EADDRNOTAVAIL', `${where}: no usable IPv6 source address (is the link-local address still tentative?)`);
    const pkt = udpEmit(so.lport, dport, data, (ulen) => pseudoHeaderSum6(src, dst, ulen, IPPROTO_UDP));
    return this.output(pkt, { nxt: IPPROTO_UDP, src, dst, ifp, mhops: so.mopts.ttl, loop: so.mopts.loop });
  }
}

/** ff02::1:ffXX:XXXX, the solicited-node prefix (RFC 4291 §2.7.1). */
function isSolicitedNode(a: Uint8Array): boolean {
  const p = in6SolicitedNode(new Uint8Array(16));
  for (let i = 0; i < 13; i++) if (a[i] !== p[i]) return false;
  return true;
}
