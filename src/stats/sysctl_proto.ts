/**
 * Protocol statistics and knobs in the sysctl tree.
 *
 *   net.inet.ip.stats          {4,2,0,12}    struct ipstat      (232 bytes)
 *   net.inet.icmp.stats        {4,2,1,2}     struct icmpstat    (752)
 *   net.inet.udp.stats         {4,2,17,2}    struct udpstat     (112)
 *   net.inet6.ip6.stats        {4,28,41,6}   struct ip6stat     (3320)
 *   net.inet6.icmp6.stats      {4,28,58,1}   struct icmp6stat   (4632)
 *   net.inet6.ip6.ifstats.<ifindex>     struct in6_ifstat   (160)
 *   net.inet6.icmp6.ifstats.<ifindex>   struct icmp6_ifstat (272)
 *
 * The per-interface IPv6 counters are what FreeBSD hands out through the
 * SIOCGIFSTAT_IN6 / SIOCGIFSTAT_ICMP6 ioctls; taplab puts them in the tree
 * (OID_AUTO numbers, look them up with name2oid) so that every tool reads
 * only sysctls. An interface without IPv6 state answers EPFNOSUPPORT, as
 * the ioctls do.
 *
 * Writing a statistics leaf zeroes it, as FreeBSD's VNET_PCPUSTAT handlers
 * do (`netstat -z`): the value written must have the structure's length
 * (or be the number 0), and its contents are not used.
 *
 * Knobs (int, read-write, with FreeBSD's ranges):
 *   net.inet.igmp.{v1enable,v2enable,legacysupp,sendra,sendlocal,recvifkludge}  0/1 (any nonzero is 1)
 *   net.inet.igmp.gsrdelay                     -1..59 seconds
 *   net.inet.igmp.default_version              1..3    (in sysctl.ts)
 *   net.inet6.mld.{v1enable,v2enable,use_allow}       0/1
 *   net.inet6.mld.gsrdelay                     -1..59 seconds
 *   net.inet6.mld.default_version              1..2    (taplab: the version new interfaces start at)
 *   net.inet.ip.mcast.{maxgrpsrc,maxsocksrc}   unsigned long (also under net.inet6.ip6.mcast: one limit for both families)
 */
import type { Host } from '../host.js';
import { kerr } from '../kern/errno.js';
import type { Ifnet } from '../driver/ifnet.js';
import { AF_INET6 } from '../driver/sockaddr.js';
import type { In6Ifinfo } from '../inet/ip6.js';
import { Icmp6IfStat, Icmp6Stat, IcmpStat, In6IfStat, Ip6Stat, IpStat, UdpStat } from './inet_stats.js';
import { countersSize, decodeCounters, encodeCounters, isLayoutError } from './layouts.js';
import { CTL_NET, IPPROTO_IP, IPPROTO_IPV6, PF_INET, PF_INET6, int32Bytes, intValue, liveIndices, parseIndex, type LeafHandler, type SysctlTree, type SysctlValue, type TableHandler } from './sysctl.js';

export const IPPROTO_ICMP = 1;
export const IPPROTO_UDP = 17;
export const IPPROTO_ICMPV6 = 58;
export const IPCTL_STATS = 12;
export const ICMPCTL_STATS = 2;
export const UDPCTL_STATS = 2;
export const IPV6CTL_STATS = 6;
export const ICMPV6CTL_STATS = 1;

/** Zero every counter of a statistics object in place (arrays and nested structures too). */
function zeroCounters(obj: object): void {
  const o = obj as Record<string, unknown>;
  for (const k of Object.keys(o)) {
    const v = o[k];
    if (typeof v === 'number') o[k] = 0;
    else if (Array.isArray(v)) v.fill(0);
    else if (v && typeof v === 'object') zeroCounters(v);
  }
}

/** Check a write to a statistics leaf: the structure's bytes, or 0. */
function checkZeroWrite(value: unknown, size: number, what: string, where: string): void {
  if (value === 0 || value === '0') return;
  if (value instanceof Uint8Array && value.byteLength === size) return;
  throw kerr('EINVAL', `sysctl ${where}: writing zeroes struct ${what}; give its ${size} bytes or 0`);
}

/** A copy of a counters object (so a reader keeps a stable value). */
function copyOf<T extends object>(fresh: T, live: T): T {
  const bytes = encodeCounters(live);
  const out = decodeCounters(fresh, bytes, 'copy');
  if (isLayoutError(out)) throw kerr('EINVAL', out.error);
  return out;
}

function statsLeaf<T extends object>(what: string, descr: string, live: () => T, fresh: () => T): LeafHandler {
  const size = countersSize(fresh());
  return {
    fmt: `S,${what}`,
    descr,
    read: (): SysctlValue => {
      const value = copyOf(fresh(), live());
      return { value, bytes: encodeCounters(value) };
    },
    write: (value, where) => {
      checkZeroWrite(value, size, what, where);
      zeroCounters(live());
    },
  };
}

function boolKnob(descr: string, get: () => boolean, set: (v: boolean) => void): LeafHandler {
  return {
    fmt: 'I',
    descr,
    read: () => {
      const v = get() ? 1 : 0;
      return { value: v, bytes: int32Bytes(v) };
    },
    write: (value, where) => set(intValue(value, where) !== 0),
  };
}

function intKnob(descr: string, min: number, max: number, get: () => number, set: (v: number) => void): LeafHandler {
  return {
    fmt: 'I',
    descr,
    read: () => {
      const v = get();
      return { value: v, bytes: int32Bytes(v) };
    },
    write: (value, where) => {
      const v = intValue(value, where);
      if (v < min || v > max) throw kerr('EINVAL', `sysctl ${where}: ${v} is out of range ${min}..${max}`);
      set(v);
    },
  };
}

function ulongKnob(descr: string, get: () => number, set: (v: number) => void): LeafHandler {
  return {
    fmt: 'LU',
    descr,
    read: () => {
      const v = get();
      const bytes = new Uint8Array(8);
      new DataView(bytes.buffer).setBigUint64(0, BigInt(v), true);
      return { value: v, bytes };
    },
    write: (value, where) => {
      let v: number;
      if (value instanceof Uint8Array) {
        if (value.byteLength !== 8) throw kerr('EINVAL', `sysctl ${where}: an unsigned long is 8 bytes, not ${value.byteLength}`);
        v = Number(new DataView(value.buffer, value.byteOffset, 8).getBigUint64(0, true));
      } else v = intValue(value, where);
      if (v < 0 || !Number.isSafeInteger(v)) throw kerr('EINVAL', `sysctl ${where}: ${v} is not an unsigned long`);
      set(v);
    },
  };
}

/** A per-interface counters table (net.inet6.ip6.ifstats.<ifindex>). */
function ifStatsTable<T extends object>(host: Host, what: string, descr: string, pick: (ii: In6Ifinfo) => T, fresh: () => T): TableHandler {
  const size = countersSize(fresh());
  const lookup = (tail: number[], where: string): T => {
    if (tail.length !== 1) throw kerr('EINVAL', `sysctl ${where}: an ifstats name has 1 component (the interface index), not ${tail.length}`);
    const ifp: Ifnet | undefined = tail[0] > 0 ? host.ifnets.byindex(tail[0]) : undefined;
    if (!ifp) throw kerr('ENOENT', `sysctl ${where}: host ${host.name} has no interface at index ${tail[0]}`);
    const ii = ifp.if_afdata[AF_INET6] as In6Ifinfo | undefined;
    if (!ii) throw kerr('EPFNOSUPPORT', `sysctl ${where}: ${ifp.if_xname} has no IPv6`);
    return pick(ii);
  };
  return {
    fmt: `S,${what}`,
    descr,
    tailToOid: (parts, where) => {
      if (parts.length !== 1) throw kerr('EINVAL', `sysctl ${where}: an ifstats name has 1 component (the interface index), not ${parts.length}`);
      return [parseIndex(parts[0], where)];
    },
    tailToName: (tail) => tail.map(String),
    read: (tail, where) => {
      const value = copyOf(fresh(), lookup(tail, where));
      return { value, bytes: encodeCounters(value) };
    },
    write: (tail, value, where) => {
      const live = lookup(tail, where);
      checkZeroWrite(value, size, what, where);
      zeroCounters(live);
    },
    tails: () => liveIndices(host).filter((i) => host.ifnets.byindex(i)!.if_afdata[AF_INET6] !== undefined).map((i) => [i]),
  };
}

export function registerProto(tree: SysctlTree): void {
  const host = tree.host;
  const inet = host.inet;

  // ---- statistics
  const ip = tree.node(`net:${CTL_NET}.inet:${PF_INET}.ip:${IPPROTO_IP}`);
  tree.addLeaf(ip, 'stats', IPCTL_STATS, statsLeaf('ipstat', 'IP statistics (struct ipstat, netinet/ip_var.h)', () => inet.ipstat, () => new IpStat()));
  const icmp = tree.node(`net:${CTL_NET}.inet:${PF_INET}.icmp:${IPPROTO_ICMP}`);
  tree.addLeaf(icmp, 'stats', ICMPCTL_STATS, statsLeaf('icmpstat', 'ICMP statistics (struct icmpstat, netinet/icmp_var.h)', () => inet.icmpstat, () => new IcmpStat()));
  const udp = tree.node(`net:${CTL_NET}.inet:${PF_INET}.udp:${IPPROTO_UDP}`);
  tree.addLeaf(udp, 'stats', UDPCTL_STATS, statsLeaf('udpstat', 'UDP statistics (struct udpstat, netinet/udp_var.h)', () => inet.udpstat, () => new UdpStat()));
  const ip6 = tree.node(`net:${CTL_NET}.inet6:${PF_INET6}.ip6:${IPPROTO_IPV6}`);
  tree.addLeaf(ip6, 'stats', IPV6CTL_STATS, statsLeaf('ip6stat', 'IP6 statistics (struct ip6stat, netinet6/ip6_var.h)', () => inet.ip6stat, () => new Ip6Stat()));
  const icmp6 = tree.node(`net:${CTL_NET}.inet6:${PF_INET6}.icmp6:${IPPROTO_ICMPV6}`);
  tree.addLeaf(icmp6, 'stats', ICMPV6CTL_STATS, statsLeaf('icmp6stat', 'ICMPv6 statistics (struct icmp6stat, netinet/icmp6.h)', () => inet.icmp6stat, () => new Icmp6Stat()));
  tree.addTable(ip6, 'ifstats', 'auto', ifStatsTable(host, 'in6_ifstat', 'Per-interface IPv6 statistics (struct in6_ifstat, what SIOCGIFSTAT_IN6 returns)', (ii) => ii.stat, () => new In6IfStat()));
  tree.addTable(icmp6, 'ifstats', 'auto', ifStatsTable(host, 'icmp6_ifstat', 'Per-interface ICMPv6 statistics (struct icmp6_ifstat, what SIOCGIFSTAT_ICMP6 returns)', (ii) => ii.icmp6stat, () => new Icmp6IfStat()));

  // ---- multicast limits (in_mcast.c / in6_mcast.c)
  const limits = inet.limits;
  for (const path of [`net:${CTL_NET}.inet:${PF_INET}.ip:${IPPROTO_IP}.mcast:auto`, `net:${CTL_NET}.inet6:${PF_INET6}.ip6:${IPPROTO_IPV6}.mcast:auto`]) {
    const mcast = tree.node(path);
    tree.addLeaf(mcast, 'maxgrpsrc', 'auto', ulongKnob('Max source filters per group (both families share it in taplab)', () => limits.maxgrpsrc, (v) => void (limits.maxgrpsrc = v)));
    tree.addLeaf(mcast, 'maxsocksrc', 'auto', ulongKnob('Max source filters per socket (both families share it in taplab)', () => limits.maxsocksrc, (v) => void (limits.maxsocksrc = v)));
  }

  // ---- IGMP knobs (igmp.c)
  const igmp = host.igmp;
  const ik = igmp.knobs;
  const ig = tree.node(`net:${CTL_NET}.inet:${PF_INET}.igmp:2`);
  tree.addLeaf(ig, 'recvifkludge', 'auto', boolKnob('Rewrite IGMPv1/v2 reports from 0.0.0.0 to contain subnet address', () => ik.recvifkludge, (v) => void (ik.recvifkludge = v)));
  tree.addLeaf(ig, 'sendra', 'auto', boolKnob('Send IP Router Alert option in IGMPv2/v3 messages', () => ik.sendra, (v) => void (ik.sendra = v)));
  tree.addLeaf(ig, 'sendlocal', 'auto', boolKnob('Send IGMP membership reports for 224.0.0.0/24 groups', () => ik.sendlocal, (v) => void (ik.sendlocal = v)));
  tree.addLeaf(ig, 'v1enable', 'auto', boolKnob('Enable backwards compatibility with IGMPv1', () => ik.v1enable, (v) => void (ik.v1enable = v)));
  tree.addLeaf(ig, 'v2enable', 'auto', boolKnob('Enable backwards compatibility with IGMPv2', () => ik.v2enable, (v) => void (ik.v2enable = v)));
  tree.addLeaf(ig, 'legacysupp', 'auto', boolKnob('Allow v1/v2 reports to suppress v3 group responses', () => ik.legacysupp, (v) => igmp.setLegacysupp(v)));
  tree.addLeaf(ig, 'gsrdelay', 'auto', intKnob('Rate limit for IGMPv3 Group-and-Source queries in seconds', -1, 59, () => ik.gsrdelay, (v) => void (ik.gsrdelay = v)));

  // ---- MLD knobs (mld6.c)
  const mk = host.mld.knobs;
  const ml = tree.node(`net:${CTL_NET}.inet6:${PF_INET6}.mld:auto`);
  tree.addLeaf(ml, 'gsrdelay', 'auto', intKnob('Rate limit for MLDv2 Group-and-Source queries in seconds', -1, 59, () => mk.gsrdelay, (v) => void (mk.gsrdelay = v)));
  tree.addLeaf(ml, 'v1enable', 'auto', boolKnob('Enable fallback to MLDv1', () => mk.v1enable, (v) => void (mk.v1enable = v)));
  tree.addLeaf(ml, 'v2enable', 'auto', boolKnob('Enable MLDv2', () => mk.v2enable, (v) => void (mk.v2enable = v)));
  tree.addLeaf(ml, 'use_allow', 'auto', boolKnob('Use ALLOW/BLOCK for RFC 4604 SSM joins/leaves', () => mk.use_allow, (v) => void (mk.use_allow = v)));
  tree.addLeaf(ml, 'default_version', 'auto', intKnob('taplab: the MLD version new interfaces start at', 1, 2, () => mk.default_version, (v) => host.mld.setDefaultVersion(v as 1 | 2)));
}
