/**
 * debug.taplab.kvm: the view a kvm(3) reader of a FreeBSD kernel gets by
 * walking the ifnet list directly (ifmcstat -K, freebsd-formats.md §1.9):
 * every interface, its addresses, and each membership with the counts the
 * sysctl interface does not export: the group's reference count (one per
 * listener: socket or stack join), its IGMP/MLD state, the t1 filter-state
 * counters (iss_asm, iss_ex, iss_in, iss_rec) and the reference count of the
 * link-layer membership it holds.
 *
 * taplab has no kernel memory to read, so the walk is a sysctl leaf whose
 * value is this typed list (bytes: its UTF-8 JSON, like net.route.iflist).
 * Snapshots carry it, so `ifmcstat -K -M FILE` works on them too.
 */
import type { Ifnet } from '../driver/ifnet.js';
import { AF_INET, AF_INET6, AF_LINK, sockaddrToString } from '../driver/sockaddr.js';
import { kerr } from '../kern/errno.js';
import { MCAST_EXCLUDE, MCAST_INCLUDE, type InMulti } from '../inet/in_mcast.js';
import type { SysctlTree } from './sysctl.js';
import { liveIndices } from './sysctl.js';

export interface KvmFilterCounts {
  /** Listeners in ASM mode (EXCLUDE with no sources). */
  asm: number;
  /** Listeners in EXCLUDE mode. */
  ex: number;
  /** Listeners in INCLUDE mode. */
  in: number;
  /** Distinct sources recorded by any listener. */
  rec: number;
}

export interface KvmGroup {
  family: 'inet' | 'inet6' | 'link';
  group: string;
  /** sin6_scope_id of an IPv6 group (the ifindex for link- and interface-local ones), else 0. */
  scopeid: number;
  /** inm_refcount: listeners (socket memberships and stack joins); for a link group its ifma_refcount. */
  refcnt: number;
  /** The IGMP/MLD state (reference §5.1), inet/inet6 only. */
  state?: number;
  /** t1 filter mode (0 undefined, 1 include, 2 exclude), inet/inet6 only. */
  mode?: number;
  t1?: KvmFilterCounts;
  /** The link-layer mapping and the reference count of that link membership. */
  lladdr?: string;
  llrefcnt?: number;
}

export interface KvmIfnet {
  ifindex: number;
  name: string;
  /** The interface's own link-layer address (null when it has none, e.g. lo0). */
  lladdr: string | null;
  addrs: { family: 'inet' | 'inet6'; addr: string; scopeid: number }[];
  /** Memberships in if_multiaddrs order (newest first). */
  groups: KvmGroup[];
}

function counts(inm: InMulti): KvmFilterCounts {
  const c = { asm: 0, ex: 0, in: 0, rec: inm.recordedSources() };
  for (const f of inm.listeners) {
    if (f.mode === MCAST_EXCLUDE) {
      c.ex++;
      if (f.sources.size === 0) c.asm++;
    } else if (f.mode === MCAST_INCLUDE) c.in++;
  }
  return c;
}

function walk(tree: SysctlTree): KvmIfnet[] {
  const host = tree.host;
  const inet = host.inet;
  const out: KvmIfnet[] = [];
  for (const i of liveIndices(host)) {
    const ifp: Ifnet = host.ifnets.byindex(i)!;
    const link = ifp.if_addrhead[0]?.ifa_addr;
    const lladdr = link && link.family === AF_LINK && link.lladdr.length ? sockaddrToString(link) : null;
    const addrs: KvmIfnet['addrs'] = [];
    for (const ifa of ifp.if_addrhead) {
      const sa = ifa.ifa_addr;
      if (sa.family === AF_INET) addrs.push({ family: 'inet', addr: sockaddrToString(sa), scopeid: 0 });
      else if (sa.family === AF_INET6) addrs.push({ family: 'inet6', addr: sockaddrToString(sa), scopeid: sa.scopeId });
    }
    const groups: KvmGroup[] = [];
    for (const ma of ifp.if_multiaddrs) {
      const sa = ma.ifma_addr;
      if (sa.family === AF_LINK) {
        groups.push({ family: 'link', group: sockaddrToString(sa), scopeid: 0, refcnt: ma.ifma_refcount });
        continue;
      }
      const v6 = sa.family === AF_INET6;
      const inm = v6 ? inet.v6.findGroup(ifp, sa.addr) : inet.v4.findGroup(ifp, sa.addr);
      const g: KvmGroup = {
        family: v6 ? 'inet6' : 'inet',
        group: sockaddrToString(sa),
        scopeid: v6 ? sa.scopeId : 0,
        refcnt: inm ? inm.listeners.size : ma.ifma_refcount,
      };
      if (inm) {
        const proto = v6 ? host.mld : host.igmp;
        g.state = proto.ifinfo(ifp).stateOf(inm);
        g.mode = inm.st[1].mode;
        g.t1 = counts(inm);
      }
      if (ma.ifma_lladdr) {
        g.lladdr = sockaddrToString(ma.ifma_lladdr);
        g.llrefcnt = ma.ifma_llifma?.ifma_refcount ?? 0;
      }
      groups.push(g);
    }
    out.push({ ifindex: i, name: ifp.if_xname, lladdr, addrs, groups });
  }
  return out;
}

export function registerKvm(tree: SysctlTree): void {
  const node = tree.node('debug:5.taplab:auto');
  tree.addLeaf(node, 'kvm', 'auto', {
    fmt: 'S,json',
    descr: 'The direct walk of interfaces and memberships (refcounts, group states, t1 counters) that ifmcstat -K prints, as JSON',
    writable: false,
    read: () => {
      const value = walk(tree);
      return { value, bytes: new TextEncoder().encode(JSON.stringify(value)) };
    },
    write: (_v, where) => {
      throw kerr('EPERM', `sysctl ${where}: read-only`);
    },
  });
}
