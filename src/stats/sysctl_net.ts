/**
 * What netstat(1) reads besides the protocol statistics (sysctl_proto.ts)
 * and the interface lists (net.route.iflist / ifmalist in sysctl.ts):
 *
 *   net.inet.udp.pcblist   {4,2,17,5}     the UDP sockets, IPv4 and IPv6 (netstat, netstat -a)
 *   net.route.dump         {4,17,AUTO}    the route tables, IPv4 and IPv6 (netstat -r)
 *   net.route.stats        {4,17,AUTO}    struct rtstat plus rttrash (netstat -rs)
 *   kern.ipc.pktbufs       {1,30,AUTO}    taplab's packet buffers (netstat -m)
 *   kern.msgbuf            {1,AUTO}       the kernel message buffer (dmesg), as text
 *   kern.msgbuf_clear      {1,AUTO}       writing non-zero clears it
 *
 * FreeBSD's pcblist is a stream of struct xinpcb and its route dump a
 * stream of routing messages; taplab models neither, so these leaves, like
 * net.route.iflist, answer with a typed value whose bytes are its UTF-8
 * JSON. All are read-only (EPERM). net.inet.udp.pcblist has FreeBSD's
 * number 5 (UDPCTL_PCBLIST; the statistics are UDPCTL_STATS, 2).
 *
 * What the route tables are: taplab routes IPv4 by longest-prefix match
 * over Ipv4.routes (connected prefixes and the default route), and sends
 * anything addressed to one of its own addresses over lo0; IPv6 reaches
 * the on-link prefix of each address (link-local ones only with a zone)
 * and its own addresses over lo0. The dump shows exactly those rules, in
 * the form a BSD kernel keeps them: the prefix routes (gateway link#N) and
 * gateway routes, and one host route per local address via lo0 (UHS; UH
 * for the loopback's own addresses). taplab keeps no per-route use counts
 * or expiry: `pksent` and `expire` read 0.
 */
import type { SysctlTree, SysctlValue } from './sysctl.js';
import { CTL_NET, PF_INET, PF_ROUTE, int32Bytes, intValue } from './sysctl.js';
import { kerr } from '../kern/errno.js';
import { IFF_LOOPBACK } from '../driver/if_var.js';
import type { Ifnet } from '../driver/ifnet.js';
import { inMask, inToString, inToU32 } from '../inet/in.js';
import { in6IsLinkLocal, in6IsUnspecified, in6Mask, in6ToString } from '../inet/in6.js';
import type { UdpSocket } from '../inet/socket.js';

export const CTL_KERN = 1;
export const KERN_IPC = 30;
export const IPPROTO_UDP = 17;

// net/route.h route flags (RTF_*), the bits netstat -r prints.
export const RTF_UP = 0x1;
export const RTF_GATEWAY = 0x2;
export const RTF_HOST = 0x4;
export const RTF_REJECT = 0x8;
export const RTF_DYNAMIC = 0x10;
export const RTF_MODIFIED = 0x20;
export const RTF_DONE = 0x40;
export const RTF_XRESOLVE = 0x200;
export const RTF_LLINFO = 0x400;
export const RTF_STATIC = 0x800;
export const RTF_BLACKHOLE = 0x1000;
export const RTF_PROTO2 = 0x4000;
export const RTF_PROTO1 = 0x8000;
export const RTF_PROTO3 = 0x40000;
export const RTF_BROADCAST = 0x400000;

/** One socket of net.inet.udp.pcblist (the fields of struct xinpcb netstat prints). */
export interface PcbEntry {
  /** A per-host identity of the socket (xso_so / so_pcb: what netstat -A prints). */
  so: number;
  /** IPPROTO_UDP */
  protocol: number;
  /** inp_vflag: INP_IPV4 ('inet') or INP_IPV6 ('inet6'); taplab has no dual-stack sockets. */
  family: 'inet' | 'inet6';
  /** Numeric local address; 0.0.0.0 or :: when bound to the wildcard. */
  laddr: string;
  /** The interface name of a link-local laddr's zone (what netstat appends after %), else null. */
  lzone: string | null;
  lport: number;
  /** taplab's UDP sockets are never connected: the foreign address is always the wildcard. */
  faddr: string;
  fport: number;
  /** so_rcv.sb_cc: bytes of datagrams waiting to be read; sb_hiwat: the receive buffer limit. */
  rcv_cc: number;
  rcv_hiwat: number;
  /** so_snd.sb_cc: UDP keeps no send buffer, so always 0. */
  snd_cc: number;
  /** Datagrams refused because the receive buffer was full. */
  drops: number;
  /** Memberships the socket holds. */
  memberships: number;
}

/** One route of net.route.dump (a NET_RT_DUMP routing message, as data). */
export interface RtEntry {
  family: 'inet' | 'inet6';
  /** Numeric destination (masked for networks), "%ifname" appended for a link-local one. */
  dst: string;
  /** The prefix length; null for a host route (RTF_HOST, no netmask). */
  prefixlen: number | null;
  /** "link#N" for an interface route, else the numeric gateway address. */
  gateway: string;
  /** RTF_* bits. */
  flags: number;
  /** The outgoing interface (rtm_index) and its name. */
  ifindex: number;
  ifname: string;
  /** rmx_mtu: the outgoing interface's MTU. */
  mtu: number;
  /** rmx_pksent: taplab does not count route uses; always 0. */
  pksent: number;
  /** rmx_expire: taplab's routes never expire; always 0. */
  expire: number;
}

/** struct rtstat (net/route.h) and the rttrash count netstat -rs prints. */
export interface RtStat {
  /** Bogus redirect calls: taplab ignores ICMP redirects altogether (a host that never acts on one), so 0. */
  rts_badredirect: number;
  /** Routes created by redirects: never, so 0. */
  rts_dynamic: number;
  /** Routes modified by redirects: never, so 0. */
  rts_newgateway: number;
  /**
   * Lookups that failed: the datagrams ip_output/ip6_output could not route
   * (taplab counts them as ips_noroute / ip6s_noroute, which also take the
   * few sends that found a route but no source address).
   */
  rts_unreach: number;
  /** Lookups satisfied by a wildcard: not counted by modern kernels either, 0. */
  rts_wildcard: number;
  /** Routes removed from the table but still referenced: taplab keeps no references, 0. */
  rttrash: number;
}

/** One interface send queue (struct ifqueue if_snd) in kern.ipc.pktbufs. */
export interface IfqBufStat {
  ifindex: number;
  ifname: string;
  /** Frames queued now, the limit, and frames refused because the queue was full (ifq_drops). */
  len: number;
  maxlen: number;
  drops: number;
  /** The fixed slot each frame is copied into, and the bytes the ring holds (maxlen * slotsize). */
  slotsize: number;
  bytes: number;
}

/** taplab's packet buffers (kern.ipc.pktbufs): there are no mbufs; these are what holds packets. */
export interface PktBufStats {
  /** Every interface's if_snd ring. */
  ifqueues: IfqBufStat[];
  /** UDP socket receive buffers, summed over the host's sockets. */
  sockets: {
    count: number;
    /** Datagrams and bytes waiting to be read, and the sum of the buffers' limits (sb_hiwat). */
    datagrams: number;
    bytes: number;
    limit: number;
    /** Datagrams refused because a receive buffer was full. */
    drops: number;
  };
}

const utf8 = new TextEncoder();
const json = (value: unknown): SysctlValue => ({ value, bytes: utf8.encode(JSON.stringify(value)) });
const readOnly = (what: string) => (_v: unknown, where: string): never => {
  throw kerr('EPERM', `sysctl ${where}: ${what} is read-only`);
};

export function registerNet(tree: SysctlTree): void {
  const host = tree.host;
  const inet = host.inet;

  // ---- net.inet.udp.pcblist
  const ids = new WeakMap<UdpSocket, number>();
  let nextId = 1;
  const udp = tree.node(`net:${CTL_NET}.inet:${PF_INET}.udp:${IPPROTO_UDP}`);
  tree.addLeaf(udp, 'pcblist', 5, {
    fmt: 'S,json',
    descr: 'List of active UDP sockets, IPv4 and IPv6, newest bound first (what netstat lists), as JSON',
    writable: false,
    read: () => {
      const out: PcbEntry[] = [];
      // FreeBSD lists its inpcbs newest first; taplab's table keeps bind order.
      for (const so of inet.udp.sockets().reverse()) {
        if (so.closed) continue;
        let id = ids.get(so);
        if (id === undefined) ids.set(so, (id = nextId++));
        const v4 = so.family === 'inet';
        const lzone = !v4 && in6IsLinkLocal(so.laddr) ? (inet.v6.ifaOf(so.laddr)?.ifp.if_xname ?? null) : null;
        out.push({
          so: id,
          protocol: IPPROTO_UDP,
          family: so.family,
          laddr: v4 ? inToString(so.laddr) : in6ToString(so.laddr),
          lzone,
          lport: so.lport,
          faddr: v4 ? '0.0.0.0' : '::',
          fport: 0,
          rcv_cc: so.rcvqBytes,
          rcv_hiwat: so.rcvqLimit,
          snd_cc: 0,
          drops: so.drops,
          memberships: so.memberships.size,
        });
      }
      return json(out);
    },
    write: readOnly('the UDP socket list'),
  });

  // ---- net.route.dump and net.route.stats
  const route = tree.node(`net:${CTL_NET}.route:${PF_ROUTE}`);
  tree.addLeaf(route, 'dump', 'auto', {
    fmt: 'S,json',
    descr: 'The route tables (IPv4 then IPv6, each in address order), as JSON',
    writable: false,
    read: () => json([...routes4(host.interfaces(), inet.v4.routes, (ifp) => inet.v4.addresses(ifp), host.lo0), ...routes6(host.interfaces(), (ifp) => inet.v6.addresses(ifp), host.lo0)]),
    write: readOnly('the route table'),
  });
  tree.addLeaf(route, 'stats', 'auto', {
    fmt: 'S,rtstat',
    descr: 'Routing statistics (struct rtstat and rttrash), as JSON',
    writable: false,
    read: () => {
      const value: RtStat = {
        rts_badredirect: 0,
        rts_dynamic: 0,
        rts_newgateway: 0,
        rts_unreach: inet.ipstat.ips_noroute + inet.ip6stat.ip6s_noroute,
        rts_wildcard: 0,
        rttrash: 0,
      };
      return json(value);
    },
    write: readOnly('struct rtstat'),
  });

  // ---- kern.ipc.pktbufs
  const ipc = tree.node(`kern:${CTL_KERN}.ipc:${KERN_IPC}`);
  tree.addLeaf(ipc, 'pktbufs', 'auto', {
    fmt: 'S,json',
    descr: "taplab's packet buffers (interface send queues, socket receive buffers; there are no mbufs), as JSON",
    writable: false,
    read: () => {
      const ifqueues: IfqBufStat[] = host.interfaces().map((ifp) => ({
        ifindex: ifp.if_index,
        ifname: ifp.if_xname,
        len: ifp.if_snd.ifq_len,
        maxlen: ifp.if_snd.ifq_maxlen,
        drops: ifp.if_snd.ifq_drops,
        slotsize: ifp.if_snd.slotSize,
        bytes: ifp.if_snd.buf.byteLength,
      }));
      const sockets = { count: 0, datagrams: 0, bytes: 0, limit: 0, drops: 0 };
      for (const so of inet.udp.sockets()) {
        if (so.closed) continue;
        sockets.count++;
        sockets.datagrams += so.rcvq.length;
        sockets.bytes += so.rcvqBytes;
        sockets.limit += so.rcvqLimit;
        sockets.drops += so.drops;
      }
      const value: PktBufStats = { ifqueues, sockets };
      return json(value);
    },
    write: readOnly('the packet buffer statistics'),
  });

  // ---- kern.msgbuf, kern.msgbuf_clear (what dmesg(8) reads and clears)
  const kern = tree.node(`kern:${CTL_KERN}`);
  tree.addLeaf(kern, 'msgbuf', 'auto', {
    fmt: 'A',
    descr: 'Contents of kernel message buffer',
    writable: false,
    read: () => {
      const text = host.msgbuf.text();
      return { value: text, bytes: utf8.encode(text) };
    },
    write: readOnly('the kernel message buffer'),
  });
  tree.addLeaf(kern, 'msgbuf_clear', 'auto', {
    fmt: 'I',
    descr: 'Clear kernel message buffer',
    read: () => ({ value: 0, bytes: int32Bytes(0) }),
    write: (value, where) => {
      if (intValue(value, where) !== 0) host.msgbuf.clear();
    },
  });
}

interface V4Addr {
  addr: Uint8Array;
  plen: number;
}
interface V4Route {
  dst: Uint8Array;
  plen: number;
  gateway: Uint8Array | undefined;
  ifp: Ifnet;
  flags: string;
}

function flagBits(letters: string, plen: number, max: number): number {
  let f = 0;
  if (letters.includes('U')) f |= RTF_UP;
  if (letters.includes('G')) f |= RTF_GATEWAY;
  if (letters.includes('S')) f |= RTF_STATIC;
  // Ipv4 marks the loopback's connected 127.0.0.0/8 'UH'; only a full-length prefix is a host route.
  if (letters.includes('H') && plen === max) f |= RTF_HOST;
  return f;
}

function routes4(ifps: Ifnet[], table: readonly V4Route[], addrs: (ifp: Ifnet) => readonly V4Addr[], lo0: Ifnet): RtEntry[] {
  const rows: { key: number; plen: number; e: RtEntry }[] = [];
  for (const r of table) {
    const flags = flagBits(r.flags, r.plen, 32);
    const net = (inToU32(r.dst) & inMask(r.plen)) >>> 0;
    rows.push({
      key: net,
      plen: flags & RTF_HOST ? 33 : r.plen,
      e: {
        family: 'inet',
        dst: inToString(r.dst),
        prefixlen: flags & RTF_HOST ? null : r.plen,
        gateway: r.gateway ? inToString(r.gateway) : `link#${r.ifp.if_index}`,
        flags,
        ifindex: r.ifp.if_index,
        ifname: r.ifp.if_xname,
        mtu: r.ifp.if_mtu,
        pksent: 0,
        expire: 0,
      },
    });
  }
  for (const ifp of ifps)
    for (const a of addrs(ifp)) {
      const loop = (ifp.if_flags & IFF_LOOPBACK) !== 0;
      rows.push({
        key: inToU32(a.addr) >>> 0,
        plen: 33,
        e: {
          family: 'inet',
          dst: inToString(a.addr),
          prefixlen: null,
          gateway: `link#${ifp.if_index}`,
          flags: RTF_UP | RTF_HOST | (loop ? 0 : RTF_STATIC),
          ifindex: lo0.if_index,
          ifname: lo0.if_xname,
          mtu: lo0.if_mtu,
          pksent: 0,
          expire: 0,
        },
      });
    }
  rows.sort((a, b) => a.key - b.key || a.plen - b.plen);
  return rows.map((r) => r.e);
}

interface V6Addr {
  addr: Uint8Array;
  plen: number;
}

function routes6(ifps: Ifnet[], addrs: (ifp: Ifnet) => readonly V6Addr[], lo0: Ifnet): RtEntry[] {
  const rows: { key: Uint8Array; plen: number; e: RtEntry }[] = [];
  const seen = new Set<string>();
  // The sort key embeds a link-local address's zone in bytes 2-3, as KAME kernels keep it.
  const keyOf = (a: Uint8Array, ifp: Ifnet): Uint8Array => {
    const k = Uint8Array.from(a);
    if (in6IsLinkLocal(a)) {
      k[2] = (ifp.if_index >> 8) & 0xff;
      k[3] = ifp.if_index & 0xff;
    }
    return k;
  };
  const text = (a: Uint8Array, ifp: Ifnet): string => (in6IsLinkLocal(a) ? `${in6ToString(a)}%${ifp.if_xname}` : in6ToString(a));
  for (const ifp of ifps) {
    const loop = (ifp.if_flags & IFF_LOOPBACK) !== 0;
    for (const a of addrs(ifp)) {
      if (!loop && a.plen < 128) {
        const mask = in6Mask(a.plen);
        const net = a.addr.map((b, i) => b & mask[i]);
        const k = `${ifp.if_index} ${in6ToString(net)}/${a.plen}`;
        if (!seen.has(k) && !(in6IsUnspecified(net) && a.plen === 0)) {
          seen.add(k);
          rows.push({
            key: keyOf(net, ifp),
            plen: a.plen,
            e: {
              family: 'inet6',
              dst: text(net, ifp),
              prefixlen: a.plen,
              gateway: `link#${ifp.if_index}`,
              flags: RTF_UP,
              ifindex: ifp.if_index,
              ifname: ifp.if_xname,
              mtu: ifp.if_mtu,
              pksent: 0,
              expire: 0,
            },
          });
        }
      }
      rows.push({
        key: keyOf(a.addr, ifp),
        plen: 129,
        e: {
          family: 'inet6',
          dst: text(a.addr, ifp),
          prefixlen: null,
          gateway: `link#${ifp.if_index}`,
          flags: RTF_UP | RTF_HOST | (loop ? 0 : RTF_STATIC),
          ifindex: lo0.if_index,
          ifname: lo0.if_xname,
          mtu: lo0.if_mtu,
          pksent: 0,
          expire: 0,
        },
      });
    }
  }
  rows.sort((a, b) => {
    for (let i = 0; i < 16; i++) if (a.key[i] !== b.key[i]) return a.key[i] - b.key[i];
    return a.plen - b.plen;
  });
  return rows.map((r) => r.e);
}
