/**
 * What IGMP and MLD do alike around the host state machine: one MgmdHostIf
 * per interface, made on first use, told about group changes of its address
 * family and about the link coming back or the interface going.
 */
import { IFF_DRV_RUNNING, IFF_LOOPBACK, IFF_MULTICAST, IFF_UP, LINK_STATE_UP } from '../driver/if_var.js';
import type { Ifnet } from '../driver/ifnet.js';
import type { Host } from '../host.js';
import type { InMulti } from '../inet/in_mcast.js';
import type { GroupTable } from '../inet/in_groups.js';
import { type HostBinding, type HostIfConfig, MgmdHostIf } from './host.js';

/** The protocol-specific part of a binding: sizes, reporting rules, sending. */
export type ProtocolBinding = Pick<HostBinding, 'isReported' | 'recordBudget' | 'recordHeaderLen' | 'addrLen' | 'send'>;

export class HostInterfaces {
  private readonly ifs = new WeakMap<Ifnet, MgmdHostIf>();

  constructor(
    private readonly host: Host,
    /** The family's group tables (inet.v4.groups or inet.v6.groups). */
    private readonly groups: () => GroupTable & { tableOf(ifp: Ifnet): Map<string, InMulti<Ifnet>> },
    private readonly make: (ifp: Ifnet) => { binding: ProtocolBinding; config: Partial<HostIfConfig> },
  ) {
    host.ifnets.subscribe((ifp, ev) => {
      const hi = this.ifs.get(ifp);
      if (!hi) return;
      if (ev === 'link' && ifp.if_link_state === LINK_STATE_UP) hi.linkUp();
      if (ev === 'detach') hi.stop();
    });
  }

  /** The interface's state machine (igmp_domifattach / mld_domifattach on first use). */
  get(ifp: Ifnet): MgmdHostIf {
    let hi = this.ifs.get(ifp);
    if (hi) return hi;
    const { binding, config } = this.make(ifp);
    const table = this.groups();
    hi = new MgmdHostIf(
      {
        ...binding,
        sched: this.host.sched,
        random: this.host.random,
        linkReady: () => (ifp.if_flags & IFF_UP) !== 0 && (ifp.if_drv_flags & IFF_DRV_RUNNING) !== 0 && ifp.if_link_state === LINK_STATE_UP,
        groups: () => table.tableOf(ifp).values(),
        release: (inm: InMulti) => table.release(inm as InMulti<Ifnet>),
      },
      config,
      // No protocol on an interface without multicast, and none on the loopback.
      !(ifp.if_flags & IFF_MULTICAST) || (ifp.if_flags & IFF_LOOPBACK) !== 0,
    );
    this.ifs.set(ifp, hi);
    return hi;
  }

  /** The interface's state machine if it has one yet. */
  peek(ifp: Ifnet): MgmdHostIf | undefined {
    return this.ifs.get(ifp);
  }
}
