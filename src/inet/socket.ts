/**
 * UDP sockets and the multicast socket API (RFC 3678; FreeBSD's in_mcast.c
 * and in6_mcast.c): IP_ADD_MEMBERSHIP ... MCAST_UNBLOCK_SOURCE,
 * IPV6_JOIN_GROUP/IPV6_LEAVE_GROUP, setsourcefilter/getsourcefilter and the
 * IP_MULTICAST_* / IPV6_MULTICAST_* options, with the errors real stacks
 * give. Each membership is a SockFilter listed on the interface's InMulti,
 * so every change re-merges the interface state (in_mcast.ts).
 */
import { kerr, KernError, type ErrnoName } from '../kern/errno.js';
import type { Callout } from '../kern/clock.js';
import { IFF_MULTICAST } from '../driver/if_var.js';
import type { Ifnet } from '../driver/ifnet.js';
import { AF_INET, AF_INET6 } from '../driver/sockaddr.js';
import { inIsMulticast, inIsUnspecified, inParse, inToString } from './in.js';
import { in6IsMulticast, in6IsUnspecified, in6ParseScoped, in6ToString, in6IsLinkLocal } from './in6.js';
import { addrKey, InMulti, MCAST_EXCLUDE, MCAST_INCLUDE, SockFilter, type FilterMode } from './in_mcast.js';
import type { Inet } from './inet.js';

export const IPPROTO_IP = 0;
export const IPPROTO_IPV6 = 41;

// netinet/in.h
export const IP_MULTICAST_IF = 9;
export const IP_MULTICAST_TTL = 10;
export const IP_MULTICAST_LOOP = 11;
export const IP_ADD_MEMBERSHIP = 12;
export const IP_DROP_MEMBERSHIP = 13;
export const IP_ADD_SOURCE_MEMBERSHIP = 70;
export const IP_DROP_SOURCE_MEMBERSHIP = 71;
export const IP_BLOCK_SOURCE = 72;
export const IP_UNBLOCK_SOURCE = 73;
export const MCAST_JOIN_GROUP = 80;
export const MCAST_LEAVE_GROUP = 81;
export const MCAST_BLOCK_SOURCE = 82;
export const MCAST_UNBLOCK_SOURCE = 83;
export const MCAST_JOIN_SOURCE_GROUP = 84;
export const MCAST_LEAVE_SOURCE_GROUP = 85;
// netinet6/in6.h
export const IPV6_MULTICAST_IF = 9;
export const IPV6_MULTICAST_HOPS = 10;
export const IPV6_MULTICAST_LOOP = 11;
export const IPV6_JOIN_GROUP = 12;
export const IPV6_LEAVE_GROUP = 13;

/** IP_MAX_MEMBERSHIPS: memberships per socket. */
export const IP_MAX_MEMBERSHIPS = 4095;
/** net.inet.udp.recvspace */
export const UDP_RECVSPACE = 42080;

const OPT_NAMES: Record<number, Record<number, string>> = {
  [IPPROTO_IP]: {
    [IP_MULTICAST_IF]: 'IP_MULTICAST_IF',
    [IP_MULTICAST_TTL]: 'IP_MULTICAST_TTL',
    [IP_MULTICAST_LOOP]: 'IP_MULTICAST_LOOP',
    [IP_ADD_MEMBERSHIP]: 'IP_ADD_MEMBERSHIP',
    [IP_DROP_MEMBERSHIP]: 'IP_DROP_MEMBERSHIP',
    [IP_ADD_SOURCE_MEMBERSHIP]: 'IP_ADD_SOURCE_MEMBERSHIP',
    [IP_DROP_SOURCE_MEMBERSHIP]: 'IP_DROP_SOURCE_MEMBERSHIP',
    [IP_BLOCK_SOURCE]: 'IP_BLOCK_SOURCE',
    [IP_UNBLOCK_SOURCE]: 'IP_UNBLOCK_SOURCE',
  },
  [IPPROTO_IPV6]: {
    [IPV6_MULTICAST_IF]: 'IPV6_MULTICAST_IF',
    [IPV6_MULTICAST_HOPS]: 'IPV6_MULTICAST_HOPS',
    [IPV6_MULTICAST_LOOP]: 'IPV6_MULTICAST_LOOP',
    [IPV6_JOIN_GROUP]: 'IPV6_JOIN_GROUP',
    [IPV6_LEAVE_GROUP]: 'IPV6_LEAVE_GROUP',
  },
};
const MCAST_NAMES: Record<number, string> = {
  [MCAST_JOIN_GROUP]: 'MCAST_JOIN_GROUP',
  [MCAST_LEAVE_GROUP]: 'MCAST_LEAVE_GROUP',
  [MCAST_BLOCK_SOURCE]: 'MCAST_BLOCK_SOURCE',
  [MCAST_UNBLOCK_SOURCE]: 'MCAST_UNBLOCK_SOURCE',
  [MCAST_JOIN_SOURCE_GROUP]: 'MCAST_JOIN_SOURCE_GROUP',
  [MCAST_LEAVE_SOURCE_GROUP]: 'MCAST_LEAVE_SOURCE_GROUP',
};

export function sockoptName(level: number, name: number): string {
  return OPT_NAMES[level]?.[name] ?? MCAST_NAMES[name] ?? `option ${name} at level ${level}`;
}

/** An address given as text or bytes. */
export type AddrArg = string | Uint8Array;

/** The option values, as the C structures they stand for. */
export interface IpMreq {
  imr_multiaddr: AddrArg;
  /** Local address of the interface; 0.0.0.0 or absent: the default multicast interface. */
  imr_interface?: AddrArg;
  /** ip_mreqn: the interface by index instead. */
  imr_ifindex?: number;
}
export interface IpMreqSource extends IpMreq {
  imr_sourceaddr: AddrArg;
}
export interface GroupReq {
  gr_interface: number;
  gr_group: AddrArg;
}
export interface GroupSourceReq {
  gsr_interface: number;
  gsr_group: AddrArg;
  gsr_source: AddrArg;
}
export interface Ipv6Mreq {
  ipv6mr_multiaddr: AddrArg;
  ipv6mr_interface: number;
}

/** A received datagram with where it came from and where it arrived. */
export interface Datagram {
  data: Uint8Array;
  src: string;
  srcPort: number;
  dst: string;
  dstPort: number;
  ifindex: number;
  ifname: string;
}

/** What the socket layer needs from an address family. */
export interface FamilyOps {
  readonly af: typeof AF_INET | typeof AF_INET6;
  readonly label: 'IPv4' | 'IPv6';
  parse(text: string): { addr: Uint8Array; zone?: string } | undefined;
  format(a: Uint8Array): string;
  isMulticast(a: Uint8Array): boolean;
  isUnspecified(a: Uint8Array): boolean;
  join(ifp: Ifnet, group: Uint8Array, f: SockFilter): InMulti<Ifnet>;
  leave(ifp: Ifnet, group: Uint8Array, f: SockFilter): void;
  changed(inm: InMulti<Ifnet>): void;
  defaultMulticastIf(group: Uint8Array): Ifnet | undefined;
  /** The interface holding local address `a`. */
  ifOfAddress(a: Uint8Array): Ifnet | undefined;
}

/**
 * A socket's membership of a group on an interface: its filter (the socket's
 * in_mfilter) and the interface's group it listens to, in one object.
 */
class Membership extends SockFilter {
  inm!: InMulti<Ifnet>;
  get ifp(): Ifnet {
    return this.inm.ifp;
  }
  get group(): Uint8Array {
    return this.inm.group;
  }
  get filter(): SockFilter {
    return this;
  }
}

/** A socket's memberships by interface and group (the group's key string is the group table's own). */
/**
 * A socket's memberships, by group; a group joined on several interfaces
 * keeps them in join order (imo_match_group with no interface takes the
 * first), most sockets holding one membership per group, stored bare.
 */
class MembershipTable {
  private readonly byGroup = new Map<string, Membership | Membership[]>();
  size = 0;

  get(ifp: Ifnet, group: Uint8Array): Membership | undefined {
    return this.find(ifp, addrKey(group));
  }

  /** The membership of the group (by key) on `ifp`, or, with no interface, the first one joined. */
  find(ifp: Ifnet | undefined, key: string): Membership | undefined {
    const e = this.byGroup.get(key);
    if (e === undefined) return undefined;
    if (!Array.isArray(e)) return ifp === undefined || e.ifp === ifp ? e : undefined;
    return ifp === undefined ? e[0] : e.find((m) => m.ifp === ifp);
  }

  add(m: Membership): void {
    const k = m.inm.key;
    const e = this.byGroup.get(k);
    if (e === undefined) this.byGroup.set(k, m);
    else if (!Array.isArray(e)) {
      if (e.ifp === m.ifp) {
        this.byGroup.set(k, m);
        return;
      }
      this.byGroup.set(k, [e, m]);
    } else {
      const i = e.findIndex((x) => x.ifp === m.ifp);
      if (i >= 0) {
        e[i] = m;
        return;
      }
      e.push(m);
    }
    this.size++;
  }

  delete(m: Membership): void {
    const k = m.inm.key;
    const e = this.byGroup.get(k);
    if (e === m) this.byGroup.delete(k);
    else if (Array.isArray(e) && e.includes(m)) {
      const rest = e.filter((x) => x !== m);
      this.byGroup.set(k, rest.length === 1 ? rest[0] : rest);
    } else return;
    this.size--;
  }

  *values(): IterableIterator<Membership> {
    for (const e of this.byGroup.values()) {
      if (Array.isArray(e)) yield* e;
      else yield e;
    }
  }

  clear(): void {
    this.byGroup.clear();
    this.size = 0;
  }
}

/** ip_moptions / ip6_moptions */
export interface MulticastOptions {
  ifp: Ifnet | undefined;
  ttl: number;
  loop: boolean;
}

export class UdpSocket {
  laddr: Uint8Array;
  lport = 0;
  reuse = false;
  closed = false;
  readonly mopts: MulticastOptions = { ifp: undefined, ttl: 1, loop: true };
  readonly memberships = new MembershipTable();
  /** Received datagrams not yet read. */
  readonly rcvq: Datagram[] = [];
  rcvqBytes = 0;
  rcvqLimit = UDP_RECVSPACE;
  /** Datagrams dropped because the queue was full. */
  drops = 0;
  private listeners: ((d: Datagram) => void)[] = [];
  private notify: Callout | undefined;

  constructor(
    readonly inet: Inet,
    readonly ops: FamilyOps,
  ) {
    this.laddr = new Uint8Array(ops.af === AF_INET ? 4 : 16);
  }

  get family(): 'inet' | 'inet6' {
    return this.ops.af === AF_INET ? 'inet' : 'inet6';
  }

  /** bind(2). Port 0 picks an ephemeral port; `reuse` is SO_REUSEPORT (several receivers of a group). */
  bind(addr?: string, port = 0, opts: { reuse?: boolean } = {}): this {
    this.checkOpen('bind');
    if (this.lport) throw kerr('EINVAL', `bind: the socket is already bound to port ${this.lport}`);
    if (!Number.isInteger(port) || port < 0 || port > 65535) throw kerr('EINVAL', `bind: port ${port} is not between 0 and 65535`);
    const a = addr === undefined ? this.laddr : this.addr(addr, 'bind');
    if (!this.ops.isUnspecified(a) && !this.ops.isMulticast(a) && !this.ops.ifOfAddress(a))
      throw kerr('EADDRNOTAVAIL', `bind: ${this.ops.format(a)} is not an address of host ${this.inet.host.name}`);
    this.reuse = opts.reuse ?? false;
    this.laddr = a;
    this.lport = port || this.inet.udp.ephemeralPort(this);
    this.inet.udp.bind(this);
    return this;
  }

  /** sendto(2): one datagram to `dst`:`port` (text; IPv6 link-local needs %ifname). */
  send(data: Uint8Array | string, dst: string, port: number): void {
    this.checkOpen('send');
    const payload = typeof data === 'string' ? new TextEncoder().encode(data) : data;
    const parsed = this.ops.parse(dst);
    if (!parsed) throw kerr('EINVAL', `send: "${dst}" is not an ${this.ops.label} address`);
    if (!Number.isInteger(port) || port < 1 || port > 65535) throw kerr('EINVAL', `send: port ${port} is not between 1 and 65535`);
    if (!this.lport) this.bind();
    const err = this.inet.udp.output(this, payload, parsed.addr, port, parsed.zone);
    if (err) throw err;
  }

  /** recvfrom(2) without blocking: the oldest datagram, or undefined. */
  recv(): Datagram | undefined {
    const d = this.rcvq.shift();
    if (d) this.rcvqBytes -= d.data.length;
    return d;
  }

  /** Be told about each datagram as it is queued (asynchronously, through the host's clock). */
  onMessage(fn: (d: Datagram) => void): () => void {
    this.listeners.push(fn);
    return () => (this.listeners = this.listeners.filter((x) => x !== fn));
  }

  /** @internal udp_append */
  deliver(d: Datagram): boolean {
    if (this.rcvqBytes + d.data.length > this.rcvqLimit) {
      this.drops++;
      return false;
    }
    this.rcvq.push(d);
    this.rcvqBytes += d.data.length;
    if (this.listeners.length && !this.notify?.pending)
      this.notify = this.inet.host.sched.callout(0, () => {
        while (this.listeners.length && this.rcvq.length) {
          const x = this.recv()!;
          for (const fn of this.listeners) fn(x);
        }
      }, 'socket wakeup');
    return true;
  }

  close(): void {
    if (this.closed) return;
    for (const m of this.memberships.values()) this.ops.leave(m.ifp, m.group, m.filter);
    this.memberships.clear();
    this.notify?.stop();
    this.inet.udp.unbind(this);
    this.closed = true;
  }

  // ------------------------------------------------------------ options

  setsockopt(level: number, name: number, val: unknown): void {
    this.checkOpen('setsockopt');
    const what = sockoptName(level, name);
    const v4 = this.ops.af === AF_INET;
    if (level !== IPPROTO_IP && level !== IPPROTO_IPV6)
      throw kerr('ENOPROTOOPT', `setsockopt ${what}: level ${level} is not IPPROTO_IP or IPPROTO_IPV6`);
    // The protocol-independent MCAST_* options too: FreeBSD hands an IPv4 socket's options to
    // ip_ctloutput and an IPv6 socket's to ip6_ctloutput, each EINVAL for the other's level.
    if ((level === IPPROTO_IP) !== v4)
      throw kerr('EINVAL', `setsockopt ${what}: an ${level === IPPROTO_IP ? 'IPv4' : 'IPv6'}-level option on an ${this.ops.label} socket`);
    if (name in MCAST_NAMES) return this.mcastOpt(name, val as GroupReq & GroupSourceReq, what);
    if (v4) {
      switch (name) {
        case IP_MULTICAST_IF:
          return this.setMulticastIf4(val as AddrArg | IpMreq, what);
        case IP_MULTICAST_TTL:
          this.mopts.ttl = intIn(val, 0, 255, what);
          return;
        case IP_MULTICAST_LOOP:
          this.mopts.loop = boolOpt(val, what);
          return;
        case IP_ADD_MEMBERSHIP:
        case IP_DROP_MEMBERSHIP: {
          const m = val as IpMreq;
          const group = this.group(m?.imr_multiaddr, what);
          if (name === IP_ADD_MEMBERSHIP) this.joinGroup(this.ifp4(m, group, what), group, undefined, what);
          else this.leaveGroup(this.hintIfp4(m, what), group, undefined, what);
          return;
        }
        case IP_ADD_SOURCE_MEMBERSHIP:
        case IP_DROP_SOURCE_MEMBERSHIP:
        case IP_BLOCK_SOURCE:
        case IP_UNBLOCK_SOURCE: {
          const m = val as IpMreqSource;
          const group = this.group(m?.imr_multiaddr, what);
          const src = this.source(m.imr_sourceaddr, what);
          if (name === IP_ADD_SOURCE_MEMBERSHIP) this.joinGroup(this.ifp4(m, group, what), group, src, what);
          else if (name === IP_DROP_SOURCE_MEMBERSHIP) this.leaveGroup(this.hintIfp4(m, what), group, src, what);
          else this.blockSource(this.hintIfp4(m, what), group, src, name === IP_BLOCK_SOURCE, what);
          return;
        }
      }
    } else {
      switch (name) {
        case IPV6_MULTICAST_IF: {
          const idx = intIn(val, 0, 0xffffffff, what);
          if (idx === 0) {
            this.mopts.ifp = undefined;
            return;
          }
          this.mopts.ifp = this.ifByIndex(idx, what);
          return;
        }
        case IPV6_MULTICAST_HOPS: {
          const h = intIn(val, -1, 255, what);
          this.mopts.ttl = h === -1 ? 1 : h;
          return;
        }
        case IPV6_MULTICAST_LOOP: {
          const l = intIn(typeof val === 'boolean' ? Number(val) : val, 0, 1, what);
          this.mopts.loop = l === 1;
          return;
        }
        case IPV6_JOIN_GROUP:
        case IPV6_LEAVE_GROUP: {
          const m = val as Ipv6Mreq;
          const group = this.group(m?.ipv6mr_multiaddr, what);
          const ifp = this.ifp6(m.ipv6mr_interface, group, what);
          if (name === IPV6_JOIN_GROUP) this.joinGroup(ifp, group, undefined, what);
          else this.leaveGroup(ifp, group, undefined, what);
          return;
        }
      }
    }
    throw kerr('ENOPROTOOPT', `setsockopt: ${what} is not a socket option taplab knows`);
  }

  getsockopt(level: number, name: number): number | string | undefined {
    const v4 = this.ops.af === AF_INET;
    if (v4 && level === IPPROTO_IP) {
      if (name === IP_MULTICAST_TTL) return this.mopts.ttl;
      if (name === IP_MULTICAST_LOOP) return this.mopts.loop ? 1 : 0;
      if (name === IP_MULTICAST_IF) return this.mopts.ifp ? inToString(this.inet.v4.primaryAddress(this.mopts.ifp) ?? new Uint8Array(4)) : '0.0.0.0';
    }
    if (!v4 && level === IPPROTO_IPV6) {
      if (name === IPV6_MULTICAST_HOPS) return this.mopts.ttl;
      if (name === IPV6_MULTICAST_LOOP) return this.mopts.loop ? 1 : 0;
      if (name === IPV6_MULTICAST_IF) return this.mopts.ifp?.if_index ?? 0;
    }
    throw kerr('ENOPROTOOPT', `getsockopt: ${sockoptName(level, name)} cannot be read on an ${this.ops.label} socket`);
  }

  /**
   * setsourcefilter(3): replace the socket's filter for a group it has
   * joined with `mode` and `sources` (the full-state API of RFC 3678 §4.2).
   * INCLUDE with no sources leaves the group.
   */
  setsourcefilter(ifindex: number, group: AddrArg, mode: FilterMode, sources: AddrArg[]): void {
    const what = 'setsourcefilter';
    this.checkOpen(what);
    const g = this.group(group, what);
    if (mode !== MCAST_INCLUDE && mode !== MCAST_EXCLUDE) throw kerr('EINVAL', `${what} ${this.ops.format(g)}: mode ${mode} is not MCAST_INCLUDE (1) or MCAST_EXCLUDE (2)`);
    if (!Array.isArray(sources)) throw kerr('EINVAL', `${what} ${this.ops.format(g)}: the source list must be an array`);
    if (sources.length > this.inet.limits.maxsocksrc)
      throw kerr('ENOBUFS', `${what} ${this.ops.format(g)}: ${sources.length} sources is more than the ${this.inet.limits.maxsocksrc} a socket may have (net.inet.ip.mcast.maxsocksrc)`);
    const ifp = this.ifByIndex(ifindex, what);
    const m = this.memberships.get(ifp, g);
    if (!m) throw kerr('EADDRNOTAVAIL', `${what} ${this.ops.format(g)} on ${ifp.if_xname}: this socket has not joined the group there`);
    const next = new Map<string, Uint8Array>();
    for (const s of sources) {
      const a = this.source(s, what);
      next.set(addrKey(a), a);
    }
    if (mode === MCAST_INCLUDE && next.size === 0) {
      this.drop(m);
      return;
    }
    const old = { mode: m.filter.mode, sources: m.filter.sources };
    m.filter.mode = mode;
    m.filter.sources = next;
    try {
      checkLimit(this, m);
    } catch (e) {
      m.filter.mode = old.mode;
      m.filter.sources = old.sources;
      throw e;
    }
    this.ops.changed(m.inm);
  }

  /** getsourcefilter(3) */
  getsourcefilter(ifindex: number, group: AddrArg): { mode: FilterMode; sources: string[] } {
    const what = 'getsourcefilter';
    const g = this.group(group, what);
    // inp_get_source_filters answers a bad IPv4 index with EINVAL (in6p_get_source_filters: EADDRNOTAVAIL).
    if (this.ops.af === AF_INET && (!Number.isInteger(ifindex) || !this.inet.host.ifnets.byindex(ifindex)))
      throw kerr('EINVAL', `${what}: host ${this.inet.host.name} has no interface with index ${ifindex}`);
    const ifp = this.ifByIndex(ifindex, what);
    const m = this.memberships.get(ifp, g);
    if (!m) throw kerr('EADDRNOTAVAIL', `${what} ${this.ops.format(g)} on ${ifp.if_xname}: this socket has not joined the group there`);
    return { mode: m.filter.mode, sources: [...m.filter.sources.values()].map((a) => this.ops.format(a)) };
  }

  /** Whether a datagram to `group` from `src` arriving on `ifp` passes this socket's filter (imo_multi_filter). */
  multiFilter(ifp: Ifnet, group: Uint8Array, src: Uint8Array): 'pass' | 'notgmember' | 'notsmember' {
    const m = this.memberships.get(ifp, group);
    if (!m) return 'notgmember';
    return m.filter.admits(src) ? 'pass' : 'notsmember';
  }

  // ------------------------------------------------------------ internals

  private mcastOpt(name: number, val: GroupReq & GroupSourceReq, what: string): void {
    const withSource = name !== MCAST_JOIN_GROUP && name !== MCAST_LEAVE_GROUP;
    const group = this.group(withSource ? val?.gsr_group : val?.gr_group, what);
    const index = withSource ? val.gsr_interface : val.gr_interface;
    // RFC 3678 §5.1 names the interface by index; FreeBSD's inp_join_group, inp_leave_group and
    // inp_block_unblock_source refuse index 0 with EADDRNOTAVAIL (no default interface here).
    if (index === 0 || index === undefined)
      throw kerr('EADDRNOTAVAIL', `${what} ${this.ops.format(group)}: ${withSource ? 'gsr_interface' : 'gr_interface'} must name an interface (index 0 is not one)`);
    const ifp = this.ifByIndex(index, what);
    const src = withSource ? this.source(val.gsr_source, what) : undefined;
    switch (name) {
      case MCAST_JOIN_GROUP:
      case MCAST_JOIN_SOURCE_GROUP:
        return void this.joinGroup(ifp, group, src, what);
      case MCAST_LEAVE_GROUP:
      case MCAST_LEAVE_SOURCE_GROUP:
        return this.leaveGroup(ifp, group, src, what);
      case MCAST_BLOCK_SOURCE:
      case MCAST_UNBLOCK_SOURCE:
        return this.blockSource(ifp, group, src!, name === MCAST_BLOCK_SOURCE, what);
    }
  }

  /** inp_join_group */
  private joinGroup(ifp: Ifnet, group: Uint8Array, src: Uint8Array | undefined, what: string): void {
    const where = `${what} ${this.ops.format(group)}${src ? ` source ${this.ops.format(src)}` : ''} on ${ifp.if_xname}`;
    if (!(ifp.if_flags & IFF_MULTICAST)) throw kerr('EADDRNOTAVAIL', `${where}: the interface does not do multicast`);
    const m = this.memberships.get(ifp, group);
    if (m) {
      if (!src) {
        // Joining again is EADDRINUSE on an any-source membership (4.4BSD), EINVAL on a source-specific one.
        if (m.filter.mode === MCAST_EXCLUDE) throw kerr('EADDRINUSE', `${where}: this socket is already a member`);
        throw kerr('EINVAL', `${where}: the socket has a source-specific (INCLUDE) membership; use setsourcefilter to change its mode`);
      }
      if (m.filter.mode !== MCAST_INCLUDE) throw kerr('EINVAL', `${where}: the socket's membership is any-source (EXCLUDE); block sources instead`);
      if (m.filter.has(src)) throw kerr('EADDRNOTAVAIL', `${where}: the source is already included`);
      m.filter.addSource(src);
      try {
        checkLimit(this, m);
      } catch (e) {
        m.filter.deleteSource(src);
        throw e;
      }
      this.ops.changed(m.inm);
      return;
    }
    if (this.memberships.size >= IP_MAX_MEMBERSHIPS)
      throw kerr('ETOOMANYREFS', `${where}: the socket already has ${IP_MAX_MEMBERSHIPS} memberships`);
    const membership = src ? new Membership(MCAST_INCLUDE, new Map([[addrKey(src), src]])) : new Membership(MCAST_EXCLUDE);
    try {
      membership.inm = this.ops.join(ifp, group, membership);
    } catch (e) {
      if (e instanceof KernError) throw kerr(e.code as ErrnoName, `${where}: ${e.message.replace(/^\w+: /, '')}`);
      throw e;
    }
    this.memberships.add(membership);
  }

  /**
   * imo_match_group: the socket's membership of `group` on `ifp`, or, with
   * no interface (IPv4 calls with imr_interface INADDR_ANY), on whichever
   * interface it joined first, as FreeBSD matches a NULL ifp.
   */
  private match(ifp: Ifnet | undefined, group: Uint8Array): Membership | undefined {
    return this.memberships.find(ifp, addrKey(group));
  }

  /** inp_leave_group (ifp undefined: the membership on any interface) */
  private leaveGroup(ifp: Ifnet | undefined, group: Uint8Array, src: Uint8Array | undefined, what: string): void {
    const m = this.match(ifp, group);
    const where = `${what} ${this.ops.format(group)}${src ? ` source ${this.ops.format(src)}` : ''} on ${(m?.ifp ?? ifp)?.if_xname ?? 'any interface'}`;
    if (!m) throw kerr('EADDRNOTAVAIL', `${where}: this socket is not a member of the group there`);
    if (!src) return this.drop(m);
    if (m.filter.mode !== MCAST_INCLUDE) throw kerr('EADDRNOTAVAIL', `${where}: the membership is any-source; unblock or leave the group instead`);
    if (!m.filter.has(src)) throw kerr('EADDRNOTAVAIL', `${where}: the source is not in the socket's filter`);
    m.filter.deleteSource(src);
    // An INCLUDE filter with no sources is no membership at all (RFC 3678 §4.1.2).
    if (m.filter.sources.size === 0) return this.drop(m);
    this.ops.changed(m.inm);
  }

  /** inp_block_unblock_source (ifp undefined: the membership on any interface) */
  private blockSource(ifp: Ifnet | undefined, group: Uint8Array, src: Uint8Array, block: boolean, what: string): void {
    const m = this.match(ifp, group);
    const where = `${what} ${this.ops.format(group)} source ${this.ops.format(src)} on ${(m?.ifp ?? ifp)?.if_xname ?? 'any interface'}`;
    if (!m) throw kerr('EADDRNOTAVAIL', `${where}: this socket is not a member of the group there`);
    if (m.filter.mode !== MCAST_EXCLUDE) throw kerr('EINVAL', `${where}: blocking needs an any-source (EXCLUDE) membership`);
    const has = m.filter.has(src);
    if (block && has) throw kerr('EADDRNOTAVAIL', `${where}: the source is already blocked`);
    if (!block && !has) throw kerr('EADDRNOTAVAIL', `${where}: the source is not blocked`);
    if (block) {
      m.filter.addSource(src);
      try {
        checkLimit(this, m);
      } catch (e) {
        m.filter.deleteSource(src);
        throw e;
      }
    } else m.filter.deleteSource(src);
    this.ops.changed(m.inm);
  }

  private drop(m: Membership): void {
    this.memberships.delete(m);
    this.ops.leave(m.ifp, m.group, m.filter);
  }

  private checkOpen(what: string): void {
    if (this.closed) throw kerr('EBADF', `${what}: the socket is closed`);
  }

  private addr(a: AddrArg, what: string): Uint8Array {
    if (a instanceof Uint8Array) {
      if (a.length !== (this.ops.af === AF_INET ? 4 : 16)) throw kerr('EINVAL', `${what}: an ${this.ops.label} address has ${this.ops.af === AF_INET ? 4 : 16} bytes`);
      return Uint8Array.from(a);
    }
    const p = typeof a === 'string' ? this.ops.parse(a) : undefined;
    if (!p) throw kerr('EINVAL', `${what}: "${String(a)}" is not an ${this.ops.label} address`);
    return p.addr;
  }

  private group(a: AddrArg | undefined, what: string): Uint8Array {
    if (a === undefined) throw kerr('EINVAL', `${what}: no group address given`);
    const g = this.addr(a, what);
    if (!this.ops.isMulticast(g)) throw kerr('EINVAL', `${what}: ${this.ops.format(g)} is not a multicast group`);
    return g;
  }

  private source(a: AddrArg | undefined, what: string): Uint8Array {
    if (a === undefined) throw kerr('EINVAL', `${what}: no source address given`);
    const s = this.addr(a, what);
    if (this.ops.isMulticast(s) || this.ops.isUnspecified(s)) throw kerr('EINVAL', `${what}: ${this.ops.format(s)} cannot be a source address`);
    return this.inet.intern(s);
  }

  private ifByIndex(index: number, what: string): Ifnet {
    if (!Number.isInteger(index) || index < 0) throw kerr('EINVAL', `${what}: interface index ${index} is not valid`);
    const ifp = this.inet.host.ifnets.byindex(index);
    if (!ifp) throw kerr('EADDRNOTAVAIL', `${what}: host ${this.inet.host.name} has no interface with index ${index}`);
    if (!(ifp.if_flags & IFF_MULTICAST)) throw kerr('EADDRNOTAVAIL', `${what}: ${ifp.if_xname} does not do multicast`);
    return ifp;
  }

  private defaultIf(group: Uint8Array, what: string): Ifnet {
    const ifp = this.ops.defaultMulticastIf(group);
    if (!ifp) throw kerr('EADDRNOTAVAIL', `${what} ${this.ops.format(group)}: no interface given and no multicast route to choose one`);
    return ifp;
  }

  private ifp4(m: IpMreq, group: Uint8Array, what: string): Ifnet {
    if (m.imr_ifindex) return this.ifByIndex(m.imr_ifindex, what);
    const ia = m.imr_interface === undefined ? undefined : this.addr(m.imr_interface, what);
    if (!ia || inIsUnspecified(ia)) return this.defaultIf(group, what);
    const ifp = this.ops.ifOfAddress(ia);
    if (!ifp) throw kerr('EADDRNOTAVAIL', `${what} ${this.ops.format(group)}: ${inToString(ia)} is not an address of this host`);
    return ifp;
  }

  /**
   * The interface hint of IP_DROP_MEMBERSHIP, IP_DROP_SOURCE_MEMBERSHIP and
   * IP_{BLOCK,UNBLOCK}_SOURCE: FreeBSD looks imr_interface up only when it is
   * not INADDR_ANY and falls through with no interface when the lookup fails
   * ("to preserve 4.4BSD mcast API idempotence"), matching the group on any
   * interface; it never consults the routing table here.
   */
  private hintIfp4(m: IpMreq, what: string): Ifnet | undefined {
    if (m.imr_ifindex) return this.ifByIndex(m.imr_ifindex, what);
    const ia = m.imr_interface === undefined ? undefined : this.addr(m.imr_interface, what);
    if (!ia || inIsUnspecified(ia)) return undefined;
    return this.ops.ifOfAddress(ia);
  }

  private ifp6(index: number, group: Uint8Array, what: string): Ifnet {
    if (index === 0 || index === undefined) return this.defaultIf(group, what);
    return this.ifByIndex(index, what);
  }

  private setMulticastIf4(val: AddrArg | IpMreq, what: string): void {
    if (typeof val === 'object' && !(val instanceof Uint8Array) && val?.imr_ifindex) {
      this.mopts.ifp = this.ifByIndex(val.imr_ifindex, what);
      return;
    }
    const a = this.addr((typeof val === 'object' && !(val instanceof Uint8Array) ? val.imr_interface : val) ?? '0.0.0.0', what);
    if (inIsUnspecified(a)) {
      this.mopts.ifp = undefined;
      return;
    }
    const ifp = this.ops.ifOfAddress(a);
    if (!ifp || !(ifp.if_flags & IFF_MULTICAST))
      throw kerr('EADDRNOTAVAIL', `${what}: ${inToString(a)} is not the address of a multicast interface of this host`);
    this.mopts.ifp = ifp;
  }
}

/**
 * The group's source limit after a change of this socket's filter: ENOSPC,
 * as FreeBSD's inm_get_source. (maxsocksrc bounds setsourcefilter only,
 * checked up front there: FreeBSD's delta calls graft sources without it.)
 */
function checkLimit(so: UdpSocket, m: Membership): void {
  const inm = m.inm;
  if (inm.recordedSources() > inm.maxGroupSources)
    throw kerr('ENOSPC', `${so.ops.format(m.group)} on ${m.ifp.if_xname}: the group would have more than ${inm.maxGroupSources} sources (net.inet.ip.mcast.maxgrpsrc)`);
}

function intIn(v: unknown, lo: number, hi: number, what: string): number {
  if (typeof v !== 'number' || !Number.isInteger(v) || v < lo || v > hi)
    throw kerr('EINVAL', `setsockopt ${what}: ${String(v)} is not an integer from ${lo} to ${hi}`);
  return v;
}

function boolOpt(v: unknown, what: string): boolean {
  if (typeof v === 'boolean') return v;
  if (v === 0 || v === 1) return v === 1;
  throw kerr('EINVAL', `setsockopt ${what}: ${String(v)} is not 0 or 1`);
}

/** The IPv4 family for sockets. */
export function inetOps(inet: Inet): FamilyOps {
  return {
    af: AF_INET,
    label: 'IPv4',
    parse: (t) => {
      const a = inParse(t);
      return a ? { addr: a } : undefined;
    },
    format: (a) => inToString(a),
    isMulticast: (a) => inIsMulticast(a),
    isUnspecified: (a) => inIsUnspecified(a),
    join: (ifp, g, f) => inet.v4.join(ifp, g, f),
    leave: (ifp, g, f) => inet.v4.leave(ifp, g, f),
    changed: (inm) => inet.v4.changed(inm),
    defaultMulticastIf: (g) => inet.v4.defaultMulticastIf(g),
    ifOfAddress: (a) => inet.v4.ifaOf(a)?.ifp,
  };
}

/** The IPv6 family for sockets. */
export function inet6Ops(inet: Inet): FamilyOps {
  return {
    af: AF_INET6,
    label: 'IPv6',
    parse: (t) => in6ParseScoped(t),
    format: (a) => in6ToString(a),
    isMulticast: (a) => in6IsMulticast(a),
    isUnspecified: (a) => in6IsUnspecified(a),
    join: (ifp, g, f) => inet.v6.join(ifp, g, f),
    leave: (ifp, g, f) => inet.v6.leave(ifp, g, f),
    changed: (inm) => inet.v6.changed(inm),
    defaultMulticastIf: (g) => inet.v6.defaultMulticastIf(g),
    ifOfAddress: (a) => (in6IsLinkLocal(a) ? undefined : inet.v6.ifaOf(a)?.ifp) ?? inet.v6.ifaOf(a)?.ifp,
  };
}
