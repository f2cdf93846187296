/**
 * The per-host sysctl tree (a first slice): the ifmib branch of ifmib(4)
 * under net.link.generic, and the IGMP/MLD nodes the multicast tools read.
 *
 * Every node has a name and a number; a leaf answers with the typed value
 * the stack keeps and with the bytes a FreeBSD LP64 kernel would copy out
 * (layouts.ts). Names and numeric OIDs are two spellings of one path:
 *
 *   net.link.generic.system.ifcount            {4,18,0,1,1}
 *   net.link.generic.ifdata.<idx>.general      {4,18,0,2,idx,1}
 *   net.link.generic.ifdata.<idx>.linkspecific {4,18,0,2,idx,2}
 *   net.link.generic.ifdata.<idx>.drivername   {4,18,0,2,idx,3}
 *   net.inet.igmp.stats                        {4,2,2,1}
 *   net.inet.igmp.ifinfo.<ifindex>             {4,2,2,AUTO,ifindex}
 *   net.inet.igmp.default_version              {4,2,2,AUTO}
 *   net.inet6.mld.ifinfo.<ifindex>             {4,28,AUTO,AUTO,ifindex}
 *   net.inet.ip.mcast.filters.<ifindex>.<group>
 *                                              {4,2,0,AUTO,AUTO,ifindex,group}
 *   net.inet6.ip6.mcast.filters.<ifindex>.<g0>.<g1>.<g2>.<g3>
 *                                              {4,28,41,AUTO,AUTO,ifindex,g0..g3}
 *   net.route.iflist                           {4,17,AUTO}  (getifaddrs)
 *   net.route.ifmalist                         {4,17,AUTO}  (getifmaddrs)
 *
 * FreeBSD declares the nodes marked AUTO with OID_AUTO; as in the kernel
 * they are numbered from CTL_AUTO_START (0x100) in the order they are
 * registered, so those numbers are stable for one taplab build only: look
 * them up with name2oid(), as sysctl(3) users do.
 *
 * Errors are KernErrors naming the sysctl: unknown names ENOENT, writes to
 * read-only leaves EPERM, badly formed names or values EINVAL, and the
 * table handlers (ifdata, ifinfo) follow freebsd-formats.md §3.4 and §4.3.
 * The tree only reads the stack, except for the writable leaves, which go
 * through the protocols' own setters.
 */
import type { Host } from '../host.js';
import type { Ifnet } from '../driver/ifnet.js';
import { Dot3Stats, type IfData } from '../driver/ifnet.js';
import { IF_DUNIT_NONE, IFF_LOOPBACK, IFF_MULTICAST } from '../driver/if_var.js';
import { isKernError, kerr } from '../kern/errno.js';
import type { Igmp, IgmpIfinfo } from '../igmp/igmp.js';
import type { Mld, MldIfinfo } from '../mld/mld.js';
import { IgmpStat } from './igmp_stats.js';
import { registerProto } from './sysctl_proto.js';
import { registerNet } from './sysctl_net.js';
import { registerKvm } from './sysctl_kvm.js';
import { registerQuerier } from './sysctl_querier.js';
import type { Inet } from '../inet/inet.js';
import type { InMulti } from '../inet/in_mcast.js';
import { AF_INET as SA_INET, AF_INET6 as SA_INET6, AF_LINK as SA_LINK, sockaddrToString } from '../driver/sockaddr.js';
import {
  decodeDot3,
  decodeIgmpstat,
  encodeDot3,
  encodeIfmibdata,
  encodeIgmpIfinfo,
  encodeIgmpstat,
  encodeMldIfinfo,
  IGMPSTAT_SIZE,
  IFMIB_ISO_8802_3_SIZE,
  isLayoutError,
  type IfmibData,
} from './layouts.js';

// ---------------------------------------------------------------------------
// Numbers (freebsd-formats.md §3.1, §4.1; sys/sys/socket.h, netinet/in.h).

export const CTL_NET = 4;
export const AF_LINK = 18;
export const NETLINK_GENERIC = 0;
export const IFMIB_SYSTEM = 1;
export const IFMIB_IFDATA = 2;
export const IFMIB_IFCOUNT = 1;
export const IFDATA_GENERAL = 1;
export const IFDATA_LINKSPECIFIC = 2;
export const IFDATA_DRIVERNAME = 3;
/** net.inet is PF_INET, net.inet.igmp is IPPROTO_IGMP. */
export const PF_INET = 2;
export const IPPROTO_IGMP = 2;
export const IGMPCTL_STATS = 1;
/** net.inet6 is PF_INET6 (28 on FreeBSD). */
export const PF_INET6 = 28;
/** net.inet.ip is IPPROTO_IP, net.inet6.ip6 is IPPROTO_IPV6. */
export const IPPROTO_IP = 0;
export const IPPROTO_IPV6 = 41;
/** net.route is PF_ROUTE. */
export const PF_ROUTE = 17;
/** The first number the kernel gives an OID_AUTO node. */
export const CTL_AUTO_START = 0x100;

const IFDATA_COLUMNS: Record<string, number> = {
  general: IFDATA_GENERAL,
  linkspecific: IFDATA_LINKSPECIFIC,
  drivername: IFDATA_DRIVERNAME,
};
const IFDATA_COLUMN_NAMES: Record<number, string> = {
  [IFDATA_GENERAL]: 'general',
  [IFDATA_LINKSPECIFIC]: 'linkspecific',
  [IFDATA_DRIVERNAME]: 'drivername',
};

// ---------------------------------------------------------------------------
// Node shapes.

/** What a read returns: the typed value and the bytes FreeBSD would copy out. */
export interface SysctlValue {
  value: unknown;
  bytes: Uint8Array;
}

/**
 * A table handler: a node whose remaining name components (the tail) it
 * interprets itself, as FreeBSD's CTLTYPE_NODE handlers do (ifdata, ifinfo).
 * `where` is the full name for error sentences.
 */
export interface TableHandler {
  /** Turn a tail of name components into numbers (ENOENT for an unknown component, EINVAL for a malformed one). */
  tailToOid(parts: string[], where: string): number[];
  /** Turn a numeric tail back into name components (best effort: numbers it does not know stay numbers). */
  tailToName(tail: number[]): string[];
  read(tail: number[], where: string): SysctlValue;
  write(tail: number[], value: unknown, where: string): void;
  /** The tails that currently name leaves, for list(). */
  tails(): number[][];
  /** sysctl(8)'s format string of the leaves ("I", "IU", "A", "S,igmpstat", "Q"...). */
  fmt: string;
  /** The format of one leaf when the columns differ (ifdata: general, linkspecific, drivername); `fmt` otherwise. */
  fmtOf?(tail: number[]): string;
  /** One line for `sysctl -d`. */
  descr: string;
  /** False when write() only ever refuses (EPERM). */
  writable?: boolean;
}

export interface LeafHandler {
  read(where: string): SysctlValue;
  write?(value: unknown, where: string): void;
  /** sysctl(8)'s format string ("I" int, "IU" unsigned, "A" string, "S,<struct>" opaque struct...). */
  fmt: string;
  /** One line for `sysctl -d`. */
  descr: string;
  /** False when write() only ever refuses (EPERM), so `sysctl -a -W` can skip it. */
  writable?: boolean;
}

/** What sysctl(8) -d/-t and the OID_FMT query tell about a leaf. */
export interface SysctlInfo {
  name: string;
  oid: number[];
  fmt: string;
  descr: string;
  /** False for leaves that always answer EPERM to a write. */
  writable: boolean;
}

export interface Node {
  name: string;
  number: number;
  children?: Map<string, Node>;
  byNumber?: Map<number, Node>;
  leaf?: LeafHandler;
  table?: TableHandler;
}

/** A path resolved to its node, with the numeric OID and the canonical name. */
interface Resolved {
  node: Node;
  oid: number[];
  name: string;
  tail: number[];
}

// ---------------------------------------------------------------------------
// Small helpers.

export function int32Bytes(n: number): Uint8Array {
  const out = new Uint8Array(4);
  new DataView(out.buffer).setInt32(0, n, true);
  return out;
}

const utf8 = new TextEncoder();

/** A C string as the kernel copies it out: the bytes and the NUL. */
export function cstringBytes(s: string): Uint8Array {
  const b = utf8.encode(s);
  const out = new Uint8Array(b.length + 1);
  out.set(b);
  return out;
}

/** An int written to a sysctl: a JS integer, or the 4 LE bytes a C program would pass. */
export function intValue(value: unknown, where: string): number {
  if (value instanceof Uint8Array) {
    if (value.byteLength !== 4) throw kerr('EINVAL', `sysctl ${where}: an int is 4 bytes, but ${value.byteLength} bytes were given`);
    return new DataView(value.buffer, value.byteOffset, 4).getInt32(0, true);
  }
  if (typeof value === 'number' && Number.isInteger(value)) return value;
  if (typeof value === 'string' && /^-?\d+$/.test(value.trim())) return Number(value.trim());
  throw kerr('EINVAL', `sysctl ${where}: ${JSON.stringify(String(value))} is not an integer`);
}

export function parseIndex(part: string, where: string): number {
  if (!/^\d+$/.test(part)) throw kerr('ENOENT', `sysctl ${where}: "${part}" is not an interface index`);
  return Number(part);
}

function optional<T>(get: () => T): T | undefined {
  try {
    return get();
  } catch {
    return undefined;
  }
}

/** 1..ifcount where an interface lives. */
export function liveIndices(host: Host): number[] {
  const out: number[] = [];
  for (let i = 1; i <= host.ifnets.if_index; i++) if (host.ifnets.byindex(i)) out.push(i);
  return out;
}

// ---------------------------------------------------------------------------
// The tree.

export class SysctlTree {
  private readonly root: Node = { name: '', number: 0, children: new Map(), byNumber: new Map() };
  private nextAuto = CTL_AUTO_START;

  constructor(readonly host: Host) {
    this.buildIfmib();
    const igmp = optional(() => host.igmp);
    if (igmp) this.buildIgmp(igmp);
    const mld = optional(() => host.mld);
    if (mld) this.buildMld(mld);
    const inet = optional(() => host.inet);
    // net.route only with the Internet protocols: a bare host (inet: false)
    // keeps only the ifmib branch, as test/unit/sysctl.test.ts expects.
    if (inet) {
      this.buildMcastFilters(inet);
      this.buildRoute(inet);
      registerProto(this);
      registerNet(this);
      registerKvm(this);
      registerQuerier(this);
    }
  }

  /** Read a leaf by name ('net.link.generic.system.ifcount') or numeric OID ([4,18,0,1,1]). */
  get(name: string | number[]): SysctlValue {
    const r = this.resolve(name);
    if (r.node.table) return r.node.table.read(r.tail, r.name);
    if (r.node.leaf) return r.node.leaf.read(r.name);
    throw kerr('ENOENT', `sysctl ${r.name}: is a node, not a leaf`);
  }

  /** Write a leaf. Read-only leaves and interior nodes answer EPERM. */
  set(name: string | number[], value: unknown): void {
    const r = this.resolve(name);
    if (r.node.table) return r.node.table.write(r.tail, value, r.name);
    if (r.node.leaf?.write) return r.node.leaf.write(value, r.name);
    throw kerr('EPERM', `sysctl ${r.name}: read-only`);
  }

  /** The names of the leaves under `prefix` (all leaves without one), in OID order. */
  list(prefix?: string): string[] {
    const out: string[] = [];
    const walk = (node: Node, path: string[]): void => {
      const name = path.join('.');
      if (node.leaf) out.push(name);
      if (node.table) for (const t of node.table.tails()) out.push([...path, ...node.table.tailToName(t)].join('.'));
      if (node.byNumber) for (const n of [...node.byNumber.keys()].sort((a, b) => a - b)) walk(node.byNumber.get(n)!, [...path, node.byNumber.get(n)!.name]);
    };
    walk(this.root, []);
    if (prefix === undefined || prefix === '') return out;
    const hits = out.filter((n) => n === prefix || n.startsWith(prefix + '.'));
    if (hits.length === 0 && !this.isInteriorName(prefix)) throw kerr('ENOENT', `sysctl ${prefix}: unknown oid`);
    return hits;
  }

  /** The format, description and writability of a leaf (sysctl -d, -t; the OID_FMT query). */
  describe(name: string | number[]): SysctlInfo {
    const r = this.resolve(name);
    const h = r.node.table ?? r.node.leaf;
    if (!h) throw kerr('ENOENT', `sysctl ${r.name}: is a node, not a leaf`);
    const writable = r.node.table ? r.node.table.writable !== false : r.node.leaf!.write !== undefined && r.node.leaf!.writable !== false;
    return { name: r.name, oid: r.oid, fmt: r.node.table?.fmtOf?.(r.tail) ?? h.fmt, descr: h.descr, writable };
  }

  /** sysctlnametomib(3): the numeric OID of a name. */
  name2oid(name: string): number[] {
    return this.resolve(name).oid;
  }

  /** The canonical name of a numeric OID. */
  oid2name(oid: number[]): string {
    return this.resolve(oid).name;
  }

  // -------------------------------------------------------------------------
  // Resolution.

  private isInteriorName(name: string): boolean {
    let node = this.root;
    for (const part of name.split('.')) {
      const next = node.children?.get(part);
      if (!next) return false;
      node = next;
    }
    return node !== this.root;
  }

  private resolve(name: string | number[]): Resolved {
    if (typeof name === 'string') return this.resolveName(name);
    if (Array.isArray(name)) return this.resolveOid(name);
    throw kerr('EINVAL', `sysctl: a name is a dotted string or an array of numbers, not ${typeof name}`);
  }

  private resolveName(name: string): Resolved {
    const parts = name.split('.');
    if (name === '' || parts.some((p) => p === '')) throw kerr('EINVAL', `sysctl "${name}": empty name component`);
    let node = this.root;
    const oid: number[] = [];
    for (let i = 0; i < parts.length; i++) {
      if (node.table) {
        const tail = node.table.tailToOid(parts.slice(i), name);
        return { node, oid: [...oid, ...tail], name, tail };
      }
      const next = node.children?.get(parts[i]);
      if (!next) throw kerr('ENOENT', `sysctl ${name}: unknown oid`);
      node = next;
      oid.push(next.number);
    }
    if (node.table) return { node, oid, name, tail: [] };
    if (!node.leaf) throw kerr('ENOENT', `sysctl ${name}: is a node, not a leaf (try list("${name}"))`);
    return { node, oid, name, tail: [] };
  }

  private resolveOid(oid: number[]): Resolved {
    const text = `{${oid.join(',')}}`;
    if (oid.length === 0 || oid.some((n) => !Number.isInteger(n))) throw kerr('EINVAL', `sysctl ${text}: an OID is a non-empty list of integers`);
    let node = this.root;
    const path: string[] = [];
    for (let i = 0; i < oid.length; i++) {
      if (node.table) {
        const tail = oid.slice(i);
        return { node, oid: [...oid], name: [...path, ...node.table.tailToName(tail)].join('.'), tail };
      }
      const next = node.byNumber?.get(oid[i]);
      if (!next) throw kerr('ENOENT', `sysctl ${path.length ? path.join('.') + '.' : ''}${oid.slice(i).join('.')} ${text}: unknown oid`);
      node = next;
      path.push(next.name);
    }
    const name = path.join('.');
    if (node.table) return { node, oid: [...oid], name, tail: [] };
    if (!node.leaf) throw kerr('ENOENT', `sysctl ${name} ${text}: is a node, not a leaf`);
    return { node, oid: [...oid], name, tail: [] };
  }

  // -------------------------------------------------------------------------
  // Registration.

  /** The interior node at `path` ("name:number" or "name:auto" per level), created as needed. */
  node(path: string): Node {
    let node = this.root;
    for (const step of path.split('.')) {
      const [name, num] = step.split(':');
      let next = node.children!.get(name);
      if (!next) {
        const number = num === 'auto' ? this.nextAuto++ : Number(num);
        next = { name, number, children: new Map(), byNumber: new Map() };
        this.attach(node, next);
      }
      node = next;
    }
    return node;
  }

  private attach(parent: Node, child: Node): void {
    if (parent.children!.has(child.name) || parent.byNumber!.has(child.number))
      throw kerr('EEXIST', `sysctl: ${child.name} (${child.number}) is already registered under ${parent.name || 'the root'}`);
    parent.children!.set(child.name, child);
    parent.byNumber!.set(child.number, child);
  }

  addLeaf(parent: Node, name: string, number: number | 'auto', leaf: LeafHandler): void {
    this.attach(parent, { name, number: number === 'auto' ? this.nextAuto++ : number, leaf });
  }

  addTable(parent: Node, name: string, number: number | 'auto', table: TableHandler): void {
    this.attach(parent, { name, number: number === 'auto' ? this.nextAuto++ : number, table });
  }

  // -------------------------------------------------------------------------
  // net.link.generic (if_mib.c)

  private buildIfmib(): void {
    const host = this.host;
    const generic = this.node(`net:${CTL_NET}.link:${AF_LINK}.generic:${NETLINK_GENERIC}`);
    const system = this.node(`net:${CTL_NET}.link:${AF_LINK}.generic:${NETLINK_GENERIC}.system:${IFMIB_SYSTEM}`);
    this.addLeaf(system, 'ifcount', IFMIB_IFCOUNT, {
      fmt: 'I',
      descr: 'Number of configured interfaces',
      writable: false,
      read: () => {
        const n = host.ifnets.if_index;
        return { value: n, bytes: int32Bytes(n) };
      },
      write: (_v, where) => {
        throw kerr('EPERM', `sysctl ${where}: read-only (the highest interface index in use)`);
      },
    });

    const lookup = (tail: number[], where: string): { ifp: Ifnet; column: number } => {
      if (tail.length !== 2)
        throw kerr('EINVAL', `sysctl ${where}: an ifdata name is <index>.<column> (2 components after ifdata), not ${tail.length}`);
      const [idx, column] = tail;
      if (idx <= 0) throw kerr('ENOENT', `sysctl ${where}: interface index ${idx} is not positive`);
      const ifp = host.ifnets.byindex(idx);
      if (!ifp) throw kerr('ENOENT', `sysctl ${where}: host ${host.name} has no interface at index ${idx}`);
      if (!(column in IFDATA_COLUMN_NAMES))
        throw kerr('ENOENT', `sysctl ${where}: unknown ifdata column ${column} (general 1, linkspecific 2, drivername 3)`);
      return { ifp, column };
    };

    this.addTable(generic, 'ifdata', IFMIB_IFDATA, {
      fmt: 'S,ifmibdata',
      fmtOf: (tail) => (tail[1] === IFDATA_DRIVERNAME ? 'A' : tail[1] === IFDATA_LINKSPECIFIC ? 'S,ifmib_iso_8802_3' : 'S,ifmibdata'),
      descr: 'Interface table (general: struct ifmibdata, linkspecific: struct ifmib_iso_8802_3, drivername: string)',
      tailToOid: (parts, where) => {
        if (parts.length !== 2)
          throw kerr('EINVAL', `sysctl ${where}: an ifdata name is <index>.<column> (2 components after ifdata), not ${parts.length}`);
        const idx = parseIndex(parts[0], where);
        const column = IFDATA_COLUMNS[parts[1]] ?? (/^\d+$/.test(parts[1]) ? Number(parts[1]) : undefined);
        if (column === undefined) throw kerr('ENOENT', `sysctl ${where}: unknown ifdata column "${parts[1]}" (general, linkspecific, drivername)`);
        return [idx, column];
      },
      tailToName: (tail) => tail.map((n, i) => (i === 1 ? (IFDATA_COLUMN_NAMES[n] ?? String(n)) : String(n))),
      read: (tail, where) => {
        const { ifp, column } = lookup(tail, where);
        switch (column) {
          case IFDATA_GENERAL: {
            const value = ifmibdataOf(ifp);
            return { value, bytes: encodeIfmibdata(value) };
          }
          case IFDATA_LINKSPECIFIC: {
            const mib = ifp.if_linkmib;
            if (!mib) return { value: null, bytes: new Uint8Array(0) };
            const value = Object.assign(new Dot3Stats(), mib, { dot3StatsCollFrequencies: [...mib.dot3StatsCollFrequencies] });
            return { value, bytes: encodeDot3(value) };
          }
          default: {
            const value = drivername(ifp);
            return { value, bytes: cstringBytes(value) };
          }
        }
      },
      write: (tail, value, where) => {
        const { ifp, column } = lookup(tail, where);
        if (column === IFDATA_GENERAL) throw kerr('EPERM', `sysctl ${where}: struct ifmibdata is read-only`);
        if (column === IFDATA_DRIVERNAME) throw kerr('EPERM', `sysctl ${where}: the driver name is read-only`);
        // IFDATA_LINKSPECIFIC: copied in, as if_mib.c does, when it is the driver's MIB.
        if (!ifp.if_linkmib) {
          if (value instanceof Uint8Array && value.byteLength === 0) return;
          throw kerr('EINVAL', `sysctl ${where}: ${ifp.if_xname} has no link-specific MIB (its length is 0)`);
        }
        if (!(value instanceof Uint8Array) || value.byteLength !== IFMIB_ISO_8802_3_SIZE)
          throw kerr('EINVAL', `sysctl ${where}: expected the ${IFMIB_ISO_8802_3_SIZE} bytes of struct ifmib_iso_8802_3`);
        const d = decodeDot3(value);
        if (isLayoutError(d)) throw kerr('EINVAL', `sysctl ${where}: ${d.error}`);
        Object.assign(ifp.if_linkmib, d);
      },
      tails: () => liveIndices(host).flatMap((i) => [[i, IFDATA_GENERAL], [i, IFDATA_LINKSPECIFIC], [i, IFDATA_DRIVERNAME]]),
    });
  }

  // -------------------------------------------------------------------------
  // net.inet.igmp and net.inet6.mld

  /** A per-interface table indexed by ifindex (igmp_ifinfo / mld_ifinfo, §4.3/§4.5). */
  private ifinfoTable(what: string, view: (ifp: Ifnet) => { value: unknown; bytes: Uint8Array }): TableHandler {
    const host = this.host;
    return {
      fmt: `S,${what}`,
      descr: `Per-interface ${what === 'igmp_ifinfo' ? 'IGMPv3' : 'MLDv2'} state`,
      writable: false,
      tailToOid: (parts, where) => {
        if (parts.length !== 1) throw kerr('EINVAL', `sysctl ${where}: an ifinfo name has 1 component (the interface index), not ${parts.length}`);
        return [parseIndex(parts[0], where)];
      },
      tailToName: (tail) => tail.map(String),
      read: (tail, where) => {
        if (tail.length !== 1) throw kerr('EINVAL', `sysctl ${where}: an ifinfo name has 1 component (the interface index), not ${tail.length}`);
        const idx = tail[0];
        if (idx <= 0 || idx > host.ifnets.if_index) throw kerr('ENOENT', `sysctl ${where}: interface index ${idx} is out of range 1..${host.ifnets.if_index}`);
        const ifp = host.ifnets.byindex(idx);
        if (!ifp) throw kerr('ENOENT', `sysctl ${where}: host ${host.name} has no interface at index ${idx}`);
        return view(ifp);
      },
      write: (_tail, _value, where) => {
        throw kerr('EPERM', `sysctl ${where}: struct ${what} is read-only`);
      },
      tails: () => liveIndices(host).map((i) => [i]),
    };
  }

  private buildIgmp(igmp: Igmp): void {
    const node = this.node(`net:${CTL_NET}.inet:${PF_INET}.igmp:${IPPROTO_IGMP}`);
    this.addLeaf(node, 'stats', IGMPCTL_STATS, {
      fmt: 'S,igmpstat',
      descr: 'IGMP statistics',
      read: () => {
        const value = Object.assign(new IgmpStat(), igmp.stat);
        return { value, bytes: encodeIgmpstat(value) };
      },
      // Writable, as in the kernel: `netstat -z` writes a zeroed struct.
      write: (value, where) => {
        if (!(value instanceof Uint8Array) || value.byteLength !== IGMPSTAT_SIZE)
          throw kerr('EINVAL', `sysctl ${where}: expected the ${IGMPSTAT_SIZE} bytes of struct igmpstat`);
        const s = decodeIgmpstat(value);
        if (isLayoutError(s)) throw kerr('EINVAL', `sysctl ${where}: ${s.error}`);
        for (const k of Object.keys(s) as (keyof IgmpStat)[]) {
          if (k === 'igps_version' || k === 'igps_len') continue;
          igmp.stat[k] = s[k];
        }
      },
    });
    this.addTable(node, 'ifinfo', 'auto', this.ifinfoTable('igmp_ifinfo', (ifp) => {
      const value: IgmpIfinfo = igmp.ifinfoView(ifp);
      return { value, bytes: encodeIgmpIfinfo(value) };
    }));
    this.addLeaf(node, 'default_version', 'auto', {
      fmt: 'I',
      descr: 'Default version of IGMP to run on each interface',
      read: () => {
        const v = igmp.knobs.default_version;
        return { value: v, bytes: int32Bytes(v) };
      },
      write: (value, where) => {
        const v = intValue(value, where);
        if (v < 1 || v > 3) throw kerr('EINVAL', `sysctl ${where}: IGMP version ${v} is out of range; use 1, 2 or 3`);
        igmp.setDefaultVersion(v);
      },
    });
  }

  private buildMld(mld: Mld): void {
    const node = this.node(`net:${CTL_NET}.inet6:${PF_INET6}.mld:auto`);
    this.addTable(node, 'ifinfo', 'auto', this.ifinfoTable('mld_ifinfo', (ifp) => {
      const value: MldIfinfo = mld.ifinfoView(ifp);
      return { value, bytes: encodeMldIfinfo(value) };
    }));
  }

  // -------------------------------------------------------------------------
  // net.inet.ip.mcast.filters and net.inet6.ip6.mcast.filters
  // (in_mcast.c sysctl_ip_mcast_filters, in6_mcast.c sysctl_ip6_mcast_filters; §1.2, §4.6)

  /**
   * The filter table of one family. The name after `filters` is the
   * interface index and then the group: one 32-bit word for IPv4, four for
   * IPv6, each the value of four address bytes read in network order (so
   * 232.1.1.1 is 3892379905 = 0xe8010101; ff02::1 is 4278321152.0.0.1).
   * The answer is the t1 filter mode as a uint32 (little-endian, as an amd64
   * kernel copies it out) followed by the in-mode sources as in_addr /
   * in6_addr in network order, sorted by address as the kernel's source
   * tree is; a group the interface has not joined answers zero bytes.
   */
  private filtersTable(family: 'inet' | 'inet6', words: number, find: (ifp: Ifnet, group: Uint8Array) => InMulti<Ifnet> | undefined, groups: (ifp: Ifnet) => Uint8Array[]): TableHandler {
    const host = this.host;
    const alen = words * 4;
    const shape = family === 'inet' ? '<ifindex>.<group>' : '<ifindex>.<g0>.<g1>.<g2>.<g3>';
    const checkLength = (n: number, where: string): void => {
      if (n !== words + 1) throw kerr('EINVAL', `sysctl ${where}: a filters name is ${shape} (${words + 1} components after filters), not ${n}`);
    };
    const groupOf = (tail: number[]): Uint8Array => {
      const g = new Uint8Array(alen);
      const dv = new DataView(g.buffer);
      for (let i = 0; i < words; i++) dv.setUint32(i * 4, tail[1 + i] >>> 0, false);
      return g;
    };
    return {
      fmt: 'S,in_addr_filter',
      descr: `Per-interface stack-wide source filters of ${family === 'inet' ? 'IPv4' : 'IPv6'} groups (mode and sources)`,
      writable: false,
      tailToOid: (parts, where) => {
        checkLength(parts.length, where);
        const out = [parseIndex(parts[0], where)];
        for (const p of parts.slice(1)) {
          if (!/^\d+$/.test(p) || Number(p) > 0xffffffff) throw kerr('EINVAL', `sysctl ${where}: "${p}" is not a 32-bit word of a group address`);
          out.push(Number(p));
        }
        return out;
      },
      tailToName: (tail) => tail.map(String),
      read: (tail, where) => {
        checkLength(tail.length, where);
        if (tail.slice(1).some((w) => !Number.isInteger(w) || w < 0 || w > 0xffffffff))
          throw kerr('EINVAL', `sysctl ${where}: a group word is an unsigned 32-bit number`);
        const group = groupOf(tail);
        const multicast = family === 'inet' ? (group[0] & 0xf0) === 0xe0 : group[0] === 0xff;
        if (!multicast) throw kerr('EINVAL', `sysctl ${where}: ${family === 'inet' ? sockaddrToString({ family: SA_INET, addr: group }) : sockaddrToString({ family: SA_INET6, addr: group, scopeId: 0 })} is not a multicast group`);
        const idx = tail[0];
        const ifp = idx > 0 ? host.ifnets.byindex(idx) : undefined;
        if (!ifp) throw kerr('ENOENT', `sysctl ${where}: host ${host.name} has no interface at index ${idx}`);
        const inm = find(ifp, group);
        if (!inm) return { value: { fmode: 0, sources: [] as string[] }, bytes: new Uint8Array(0) };
        const st = inm.st[1];
        const srcs = [...st.sources.values()].sort(compareBytes);
        const bytes = new Uint8Array(4 + srcs.length * alen);
        new DataView(bytes.buffer).setUint32(0, st.mode, true);
        srcs.forEach((a, i) => bytes.set(a, 4 + i * alen));
        const sources = srcs.map((a) => (family === 'inet' ? sockaddrToString({ family: SA_INET, addr: a }) : sockaddrToString({ family: SA_INET6, addr: a, scopeId: 0 })));
        return { value: { fmode: st.mode, sources }, bytes };
      },
      write: (_tail, _value, where) => {
        throw kerr('EPERM', `sysctl ${where}: the multicast filters are read-only (use the socket options to change them)`);
      },
      tails: () =>
        liveIndices(host).flatMap((i) =>
          groups(host.ifnets.byindex(i)!).map((g) => {
            const dv = new DataView(g.buffer, g.byteOffset, g.byteLength);
            return [i, ...Array.from({ length: words }, (_, w) => dv.getUint32(w * 4, false))];
          }),
        ),
    };
  }

  private buildMcastFilters(inet: Inet): void {
    const groupsOf = (family: number) => (ifp: Ifnet): Uint8Array[] => {
      const out: Uint8Array[] = [];
      for (const ma of ifp.if_multiaddrs) if (ma.ifma_addr.family === family && ma.ifma_addr.family !== SA_LINK) out.push(ma.ifma_addr.addr);
      return out;
    };
    const v4 = this.node(`net:${CTL_NET}.inet:${PF_INET}.ip:${IPPROTO_IP}.mcast:auto`);
    this.addTable(v4, 'filters', 'auto', this.filtersTable('inet', 1, (ifp, g) => inet.v4.findGroup(ifp, g), groupsOf(SA_INET)));
    const v6 = this.node(`net:${CTL_NET}.inet6:${PF_INET6}.ip6:${IPPROTO_IPV6}.mcast:auto`);
    this.addTable(v6, 'filters', 'auto', this.filtersTable('inet6', 4, (ifp, g) => inet.v6.findGroup(ifp, g), groupsOf(SA_INET6)));
  }

  // -------------------------------------------------------------------------
  // net.route.iflist / net.route.ifmalist: what getifaddrs(3) and
  // getifmaddrs(3) read (FreeBSD's NET_RT_IFLIST / NET_RT_IFMALIST dumps).
  //
  // These two have no FreeBSD binary layout here (the kernel's are routing
  // messages, if_msghdr/ifa_msghdr/ifma_msghdr, which taplab does not
  // model): their bytes are the UTF-8 JSON encoding of the typed value.

  private buildRoute(inet: Inet): void {
    const host = this.host;
    const node = this.node(`net:${CTL_NET}.route:${PF_ROUTE}`);
    const json = (value: unknown): SysctlValue => ({ value, bytes: utf8.encode(JSON.stringify(value)) });
    const readOnly = (what: string) => (_v: unknown, where: string): never => {
      throw kerr('EPERM', `sysctl ${where}: ${what} is read-only`);
    };
    this.addLeaf(node, 'iflist', 'auto', {
      fmt: 'S,json',
      descr: 'Interface addresses (what getifaddrs(3) reads), as JSON',
      writable: false,
      read: () => {
        const out: IflistEntry[] = [];
        for (const i of liveIndices(host)) {
          const ifp = host.ifnets.byindex(i)!;
          for (const ifa of ifp.if_addrhead) {
            const sa = ifa.ifa_addr;
            const link = sa.family === SA_LINK;
            out.push({
              ifindex: i,
              ifname: ifp.if_xname,
              family: familyName(sa.family),
              // An AF_LINK address without a hardware address reads as the interface's name, as getnameinfo(3) gives it.
              addr: sockaddrToString(sa),
              scopeid: sa.family === SA_INET6 ? sa.scopeId : 0,
              flags: (ifp.if_flags | ifp.if_drv_flags) >>> 0,
              capenable: ifp.if_capenable >>> 0,
              mtu: ifp.if_mtu,
              metric: ifp.if_metric,
              addrflags: sa.family === SA_INET6 ? in6AddrFlags(inet, ifp, sa.addr) : 0,
              nd6flags: link ? nd6Flags(ifp) : null,
              prefixlen: link ? null : (ifa.ifa_plen ?? null),
              netmask: ifa.ifa_netmask ? sockaddrToString(ifa.ifa_netmask) : null,
              broadaddr: ifa.ifa_broadaddr ? sockaddrToString(ifa.ifa_broadaddr) : null,
              data: link
                ? ifp.snapshot()
                : { ipackets: ifa.ifa_ipackets ?? 0, opackets: ifa.ifa_opackets ?? 0, ibytes: ifa.ifa_ibytes ?? 0, obytes: ifa.ifa_obytes ?? 0 },
            });
          }
        }
        return json(out);
      },
      write: readOnly('the interface address list'),
    });
    this.addLeaf(node, 'ifmalist', 'auto', {
      fmt: 'S,json',
      descr: 'Interface multicast memberships (what getifmaddrs(3) reads), as JSON',
      writable: false,
      read: () => {
        const out: IfmalistEntry[] = [];
        for (const i of liveIndices(host)) {
          const ifp = host.ifnets.byindex(i)!;
          for (const ma of ifp.if_multiaddrs) {
            const sa = ma.ifma_addr;
            out.push({
              ifindex: i,
              ifname: ifp.if_xname,
              family: familyName(sa.family),
              group: sockaddrToString(sa),
              lladdr: ma.ifma_lladdr ? sockaddrToString(ma.ifma_lladdr) : null,
              scopeid: sa.family === SA_INET6 ? sa.scopeId : 0,
            });
          }
        }
        return json(out);
      },
      write: readOnly('the multicast membership list'),
    });
  }
}

// ---------------------------------------------------------------------------
// getifaddrs / getifmaddrs entries (net.route.iflist / net.route.ifmalist).

export type IfFamily = 'link' | 'inet' | 'inet6';

/** One interface address, interfaces in index order, the AF_LINK address first. */
export interface IflistEntry {
  ifindex: number;
  ifname: string;
  family: IfFamily;
  /** Numeric text; a MAC for link (the interface name when it has no hardware address). */
  addr: string;
  /** sin6_scope_id (the ifindex for link-local addresses); 0 otherwise. */
  scopeid: number;
  /** ifa_flags: the interface's if_flags | if_drv_flags. */
  flags: number;
  /** The interface's enabled capabilities (if_capenable, IFCAP_*), what SIOCGIFCAP gives as ifr_curcap. */
  capenable: number;
  mtu: number;
  metric: number;
  /** IPv6 address flags (ia6_flags: IN6_IFF_TENTATIVE 0x2, IN6_IFF_DUPLICATED 0x4); 0 for other families. */
  addrflags: number;
  /**
   * The link entry only (null elsewhere): the interface's ND6 flags
   * (nd_ifinfo.flags, what SIOCGIFINFO_IN6 gives; ND6_IFF_*). taplab does no
   * Neighbor Unreachability Detection, so ND6_IFF_PERFORMNUD is never set;
   * ND6_IFF_AUTO_LINKLOCAL (0x20) is set where in6_ifattach configures a
   * link-local address by itself (multicast interfaces other than loopback).
   */
  nd6flags: number | null;
  /** The address's prefix length (null for the link entry). */
  prefixlen: number | null;
  /** The netmask as text (IPv4 only), else null. */
  netmask: string | null;
  /** The broadcast address (IPv4 on a broadcast interface), else null. */
  broadaddr: string | null;
  /**
   * ifa_data: the interface's whole if_data for the link entry; for an
   * address, its own packet and byte counters (what netstat -i shows on
   * address rows).
   */
  data: IfData | IfaData;
}

/** The per-address counters FreeBSD keeps in struct ifaddr. */
export interface IfaData {
  ipackets: number;
  opackets: number;
  ibytes: number;
  obytes: number;
}

/** One multicast membership, in kernel order: interfaces by index, each newest first. */
export interface IfmalistEntry {
  ifindex: number;
  ifname: string;
  family: IfFamily;
  /** The group: dotted quad, IPv6 text (no zone) or MAC. */
  group: string;
  /** The link-layer mapping (ifma_lladdr), null for link entries and interfaces that do not map. */
  lladdr: string | null;
  /** The group sockaddr's sin6_scope_id (the ifindex for interface- and link-local groups); 0 otherwise. */
  scopeid: number;
}

/** IN6_IFF_* of an interface address (in6_var.h). */
const IN6_IFF_TENTATIVE = 0x02;
const IN6_IFF_DUPLICATED = 0x04;
const ND6_IFF_AUTO_LINKLOCAL = 0x20;

function in6AddrFlags(inet: Inet, ifp: Ifnet, addr: Uint8Array): number {
  const ia = inet.v6.addresses(ifp).find((a) => compareBytes(a.addr, addr) === 0);
  return ia ? (ia.tentative ? IN6_IFF_TENTATIVE : 0) | (ia.duplicate ? IN6_IFF_DUPLICATED : 0) : 0;
}

function nd6Flags(ifp: Ifnet): number {
  return ifp.if_flags & IFF_MULTICAST && !(ifp.if_flags & IFF_LOOPBACK) ? ND6_IFF_AUTO_LINKLOCAL : 0;
}

function familyName(af: number): IfFamily {
  return af === SA_INET ? 'inet' : af === SA_INET6 ? 'inet6' : 'link';
}

function compareBytes(a: Uint8Array, b: Uint8Array): number {
  for (let i = 0; i < Math.min(a.length, b.length); i++) if (a[i] !== b[i]) return a[i] - b[i];
  return a.length - b.length;
}

// ---------------------------------------------------------------------------
// Row builders (if_mib.c sysctl_ifdata).

/** struct ifmibdata of an interface, as IFDATA_GENERAL fills it. */
export function ifmibdataOf(ifp: Ifnet): IfmibData {
  return {
    name: ifp.if_xname,
    pcount: ifp.if_pcount,
    flags: (ifp.if_flags | ifp.if_drv_flags) | 0,
    snd_len: ifp.if_snd.ifq_len,
    snd_maxlen: ifp.if_snd.ifq_maxlen,
    // Modern kernels fill ifmd_snd_drops from the OQDROPS counter.
    snd_drops: ifp.if_data.ifi_oqdrops,
    data: ifp.snapshot(),
  };
}

/** IFDATA_DRIVERNAME: "<dname><dunit>", or the dname alone for IF_DUNIT_NONE. */
export function drivername(ifp: Ifnet): string {
  return ifp.if_dunit === IF_DUNIT_NONE ? ifp.if_dname : `${ifp.if_dname}${ifp.if_dunit}`;
}

// ---------------------------------------------------------------------------
// ifmib(4) consumer helper.

export interface IfmibRow {
  /** The interface index (the row number). */
  index: number;
  general: IfmibData;
  drivername: string;
  /** The IFDATA_LINKSPECIFIC bytes (124 for Ethernet, 0 when the driver has no link MIB). */
  linkspecific: Uint8Array;
}

/**
 * Walk rows 1..ifcount through numeric OIDs, skipping rows that answer
 * ENOENT (holes left by detached interfaces), as ifmib(4) tells consumers to.
 */
export function ifmibRows(tree: SysctlTree): IfmibRow[] {
  const ifcount = tree.get([CTL_NET, AF_LINK, NETLINK_GENERIC, IFMIB_SYSTEM, IFMIB_IFCOUNT]).value as number;
  const base = [CTL_NET, AF_LINK, NETLINK_GENERIC, IFMIB_IFDATA];
  const rows: IfmibRow[] = [];
  for (let i = 1; i <= ifcount; i++) {
    let general: SysctlValue;
    try {
      general = tree.get([...base, i, IFDATA_GENERAL]);
    } catch (e) {
      if (isKernError(e, 'ENOENT')) continue;
      throw e;
    }
    rows.push({
      index: i,
      general: general.value as IfmibData,
      drivername: tree.get([...base, i, IFDATA_DRIVERNAME]).value as string,
      linkspecific: tree.get([...base, i, IFDATA_LINKSPECIFIC]).bytes,
    });
  }
  return rows;
}
