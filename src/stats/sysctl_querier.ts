/**
 * The querier side in the sysctl tree (taplab nodes; FreeBSD has no
 * querier in the kernel, so these have OID_AUTO numbers):
 *
 *   net.inet.igmp.querier.<ifindex>   the IGMP router state of an interface
 *   net.inet6.mld.querier.<ifindex>   the MLD router state of an interface
 *
 * Each value is the interface's RouterIfView (querier or not, who is, the
 * other-querier timer, the next query, the timers in use, and the router
 * membership table: group, filter mode, group timer, compatibility mode and
 * older-host timers, last reporter, uptime, sources with their timers) plus
 * its RouterStats; the bytes are its UTF-8 JSON. Interfaces without a
 * router read as { enabled: false }. Read-only: the querier is driven by
 * the `querier` tool and the lab API (Igmp/Mld enableQuerier).
 */
import { kerr } from '../kern/errno.js';
import type { Ifnet } from '../driver/ifnet.js';
import type { RouterInterfaces, RouterIfView, RouterStats } from '../mgmd/router.js';
import { CTL_NET, PF_INET, PF_INET6, liveIndices, parseIndex, type SysctlTree, type TableHandler } from './sysctl.js';

export type QuerierInfo = (RouterIfView & { stats: RouterStats }) | { enabled: false };

function table(tree: SysctlTree, proto: 'IGMP' | 'MLD', routers: RouterInterfaces<Ifnet>): TableHandler {
  const host = tree.host;
  return {
    fmt: 'S,json',
    descr: `Per-interface ${proto} querier state and router membership table, as JSON`,
    writable: false,
    tailToOid: (parts, where) => {
      if (parts.length !== 1) throw kerr('EINVAL', `sysctl ${where}: a querier name has 1 component (the interface index), not ${parts.length}`);
      return [parseIndex(parts[0], where)];
    },
    tailToName: (tail) => tail.map(String),
    read: (tail, where) => {
      if (tail.length !== 1) throw kerr('EINVAL', `sysctl ${where}: a querier name has 1 component (the interface index), not ${tail.length}`);
      const ifp = tail[0] > 0 ? host.ifnets.byindex(tail[0]) : undefined;
      if (!ifp) throw kerr('ENOENT', `sysctl ${where}: host ${host.name} has no interface at index ${tail[0]}`);
      const r = routers.peek(ifp);
      const value: QuerierInfo = r?.active ? { ...r.view(), stats: { ...r.stats } } : { enabled: false };
      return { value, bytes: new TextEncoder().encode(JSON.stringify(value)) };
    },
    write: (_tail, _value, where) => {
      throw kerr('EPERM', `sysctl ${where}: read-only (use the querier tool to change the querier)`);
    },
    tails: () => liveIndices(host).map((i) => [i]),
  };
}

export function registerQuerier(tree: SysctlTree): void {
  const host = tree.host;
  tree.addTable(tree.node(`net:${CTL_NET}.inet:${PF_INET}.igmp:2`), 'querier', 'auto', table(tree, 'IGMP', host.igmp.routers));
  tree.addTable(tree.node(`net:${CTL_NET}.inet6:${PF_INET6}.mld:auto`), 'querier', 'auto', table(tree, 'MLD', host.mld.routers));
}
