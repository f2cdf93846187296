/**
 * The per-interface group table of one address family (FreeBSD's in_multi
 * list for IPv4, in6_multi for IPv6): listeners join and leave, the merged
 * state is recomputed, the group protocol hears about changes, and the
 * interface-layer membership (if_addmulti) lives exactly as long as the
 * group is needed.
 */
import { type Ifnet, if_addmulti, if_delmulti } from '../driver/ifnet.js';
import type { Sockaddr } from '../driver/sockaddr.js';
import { addrKey, checkGroupLimit, InMulti, type SockFilter } from './in_mcast.js';

export interface GroupFamily {
  /** The table of an interface (in its if_afdata). */
  table(ifp: Ifnet): Map<string, InMulti<Ifnet>>;
  /** The protocol address if_addmulti keeps for the group. */
  sockaddr(ifp: Ifnet, group: Uint8Array): Sockaddr;
  format(group: Uint8Array): string;
  maxGroupSources(): number;
  /** The merged state of a group changed (the group protocols listen). */
  notify(inm: InMulti<Ifnet>): void;
}

export class GroupTable {
  /** One function for every group (a closure per group would cost memory per membership). */
  private readonly releaseLink: (inm: InMulti<Ifnet>) => void;

  constructor(private readonly fam: GroupFamily) {
    this.releaseLink = (g) => if_delmulti(g.ifp, this.fam.sockaddr(g.ifp, g.group));
  }

  /** in_joingroup: add a listener's filter, creating the group (and its link-layer membership) on first use. */
  join(ifp: Ifnet, group: Uint8Array, f: SockFilter): InMulti<Ifnet> {
    const table = this.fam.table(ifp);
    const key = addrKey(group);
    const where = `join ${this.fam.format(group)} on ${ifp.if_xname}`;
    let inm = table.get(key);
    if (inm) checkGroupLimit(inm, f, where);
    else {
      inm = new InMulti<Ifnet>(ifp, group, this.fam.maxGroupSources(), key);
      checkGroupLimit(inm, f, where);
      if_addmulti(ifp, this.fam.sockaddr(ifp, inm.group)).ifma_protospec = inm;
      inm.release = this.releaseLink;
      table.set(key, inm);
    }
    inm.listeners.add(f);
    this.changed(inm);
    return inm;
  }

  /** in_leavegroup */
  leave(ifp: Ifnet, group: Uint8Array, f: SockFilter): void {
    const inm = this.fam.table(ifp).get(addrKey(group));
    if (!inm) return;
    inm.listeners.delete(f);
    this.changed(inm);
  }

  /** Re-merge after a listener's filter changed; release a group nobody needs. */
  changed(inm: InMulti<Ifnet>): void {
    if (inm.merge()) this.fam.notify(inm);
    if (inm.listeners.size === 0 && !inm.protospecHolds) this.release(inm);
  }

  /** Drop a group nobody listens to and no protocol still needs. */
  release(inm: InMulti<Ifnet>): void {
    const table = this.fam.table(inm.ifp);
    if (inm.listeners.size || table.get(inm.key) !== inm) return;
    table.delete(inm.key);
    inm.release?.(inm);
    delete inm.release;
  }

  /** An interface's groups, keyed by address. */
  tableOf(ifp: Ifnet): Map<string, InMulti<Ifnet>> {
    return this.fam.table(ifp);
  }

  find(ifp: Ifnet, group: Uint8Array): InMulti<Ifnet> | undefined {
    return this.fam.table(ifp).get(addrKey(group));
  }
}
