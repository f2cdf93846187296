/**
 * The IGMP binding of the group-membership core (FreeBSD's igmp.c, host
 * side): input validation with igmpstat counting, the IPv4 rules (224.0.0.1
 * is never reported, 224.0.0.0/24 only with sendlocal, v1 has no leave),
 * report and leave transmission with TTL 1 and Router Alert (v1/v2 reports
 * to the group, leaves to 224.0.0.2, v3 reports to 224.0.0.22), and the
 * per-interface state that net.inet.igmp.ifinfo exposes.
 */
import { kerr } from '../kern/errno.js';
import { Observers } from '../kern/observers.js';
import { remainingSeconds } from '../kern/clock.js';
import { IFF_MULTICAST, LINK_STATE_UP } from '../driver/if_var.js';
import type { Ifnet } from '../driver/ifnet.js';
import { AF_INET } from '../driver/sockaddr.js';
import { IgmpStat } from '../stats/igmp_stats.js';
import type { Host } from '../host.js';
import { INADDR_ALLHOSTS_GROUP, INADDR_ALLRPTS_GROUP, INADDR_ALLRTRS_GROUP, INADDR_ANY, inEqual, inIsMulticast, inToString } from '../inet/in.js';
import { IPPROTO_IGMP, type IpHeader } from '../inet/ip_codec.js';
import { MCAST_UNDEFINED } from '../inet/in_mcast.js';
import type { MgmdHostIf } from '../mgmd/host.js';
import { HostInterfaces } from '../mgmd/interfaces.js';
import { MgmdRouterIf, RouterInterfaces, type RouterConfig, type RouterQuery } from '../mgmd/router.js';
import { if_allmulti } from '../driver/ifnet.js';
import { type Generation, type HostMessage, type McRecord, IGIF_SILENT } from '../mgmd/types.js';

const RECORD_NAMES = new Set(['IS_IN', 'IS_EX', 'TO_IN', 'TO_EX', 'ALLOW', 'BLOCK']);
import {
  igmpEmit,
  igmpQuery,
  toWireRecord,
  recordTypeName,
  igmpParse,
  IGMP_V3_GROUP_RECORD_HDRLEN,
  IGMP_V3_REPORT_HDRLEN,
  type IgmpMessage,
} from './codec.js';

/** Writable knobs under net.inet.igmp, with FreeBSD's defaults. */
export interface IgmpKnobs {
  default_version: 1 | 2 | 3;
  v1enable: boolean;
  v2enable: boolean;
  legacysupp: boolean;
  sendra: boolean;
  sendlocal: boolean;
  /** Accept a query's version only if it matches the interface's when true (kept for the sysctl; taplab always accepts). */
  recvifkludge: boolean;
  gsrdelay: number;
}



/** The userland view of an interface's IGMP state (struct igmp_ifinfo). */
export interface IgmpIfinfo {
  igi_version: number;
  igi_v1_timer: number;
  igi_v2_timer: number;
  igi_v3_timer: number;
  igi_flags: number;
  igi_rv: number;
  igi_qi: number;
  igi_qri: number;
  igi_uri: number;
}

export class Igmp {
  readonly stat = new IgmpStat();
  readonly knobs: IgmpKnobs = {
    default_version: 3,
    v1enable: true,
    v2enable: true,
    legacysupp: false,
    sendra: true,
    sendlocal: true,
    recvifkludge: true,
    gsrdelay: 10,
  };
  private readonly ifs: HostInterfaces;
  /** Per-interface forced versions (0: follow default_version). */
  private readonly forced = new WeakMap<Ifnet, Generation>();
  /** Observers of every message sent or received (timelines, tests). */
  private readonly taps = new Observers<IgmpEvent>();
  /** The querier side, per interface (RFC 9776 §6, RFC 2236 §3). */
  readonly routers: RouterInterfaces<Ifnet>;

  constructor(readonly host: Host) {
    const inet = host.inet;
    inet.v4.protosw.set(IPPROTO_IGMP, (ifp, ip, buf, off, len) => this.input(ifp, ip, buf, off, len));
    this.ifs = new HostInterfaces(host, () => inet.v4.groups, (ifp) => ({
      binding: {
        isReported: (g) => this.isReported(g),
        recordBudget: () => ifp.if_mtu - 24 - IGMP_V3_REPORT_HDRLEN,
        recordHeaderLen: IGMP_V3_GROUP_RECORD_HDRLEN,
        addrLen: 4,
        send: (m) => this.send(ifp, m),
      },
      config: { maxGeneration: this.forced.get(ifp) ?? this.knobs.default_version, legacysupp: this.knobs.legacysupp },
    }));
    inet.onGroupChange((af, inm) => {
      if (af === AF_INET) this.ifinfo(inm.ifp as Ifnet).changed(inm);
    });
    this.routers = new RouterInterfaces<Ifnet>(
      (ifp) =>
        new MgmdRouterIf({
          sched: host.sched,
          addrLen: 4,
          address: () => inet.v4.primaryAddress(ifp),
          send: (q) => this.sendQuery(ifp, q),
          // IPv4 header 20 + Router Alert 4 + query header 12; 4 bytes a source.
          maxQuerySources: () => Math.floor((ifp.if_mtu - 24 - 12) / 4),
          isSsm: (g) => g[0] === 232,
          fmt: inToString,
          warn: (m) => host.msgbuf.log(`igmp: ${ifp.if_xname}: ${m}`),
          versionName: (g) => `IGMPv${g}`,
        }),
      (ifp, on) => if_allmulti(ifp, on),
    );
    host.ifnets.subscribe((ifp, ev) => {
      if (ev === 'link' && ifp.if_link_state === LINK_STATE_UP) this.routers.linkUp(ifp);
      if (ev === 'detach') this.routers.detach(ifp);
    });
  }

  /** Make this host the IGMP querier of an interface (RFC 9776 §6; version 1 or 2 for RFC 1112/2236 routers). */
  enableQuerier(ifp: Ifnet, config: Partial<RouterConfig> = {}): MgmdRouterIf {
    try {
      return this.routers.enable(ifp, config);
    } catch (e) {
      if (e instanceof RangeError) throw kerr('EINVAL', `${ifp.if_xname}: IGMP querier: ${e.message}`);
      throw e;
    }
  }

  disableQuerier(ifp: Ifnet): void {
    this.routers.disable(ifp);
  }

  /** A query from this host's querier: TTL 1, Router Alert (not in v1), general ones to 224.0.0.1. */
  private sendQuery(ifp: Ifnet, q: RouterQuery): boolean {
    const src = this.host.inet.v4.primaryAddress(ifp);
    if (!src) return false;
    const general = q.group.every((b) => b === 0);
    const msg = igmpQuery({
      version: q.generation,
      group: q.group,
      // Rounded down (RFC 9776 §8.8: the next lower value when the exact one cannot be sent): a
      // host must never be allowed to answer after the router has given up on the group.
      maxRespTenths: Math.max(1, Math.floor(q.maxRespMs / 100)),
      sFlag: q.sFlag,
      qrv: q.qrv,
      qqiSeconds: q.qqiSeconds,
      sources: q.sources,
    });
    const dst = general ? INADDR_ALLHOSTS_GROUP : q.group;
    if (this.taps.size) this.taps.emit({ dir: 'out', ifp, src, dst, msg, time: this.host.sched.now() });
    return this.host.inet.v4.output(igmpEmit(msg), { p: IPPROTO_IGMP, src, dst, ifp, mttl: 1, loop: false, routerAlert: q.generation > 1 }) === 0;
  }

  /** The interface's IGMP state, created on first use (igmp_domifattach). */
  ifinfo(ifp: Ifnet): MgmdHostIf {
    return this.ifs.get(ifp);
  }

  /** Force an interface's IGMP version (Linux's force_igmp_version); 0 returns to default_version. */
  forceVersion(ifp: Ifnet, version: 0 | 1 | 2 | 3): void {
    if (![0, 1, 2, 3].includes(version)) throw kerr('EINVAL', `${ifp.if_xname}: IGMP version ${version} is not 0 (default), 1, 2 or 3`);
    if (version) this.forced.set(ifp, version as Generation);
    else this.forced.delete(ifp);
    this.ifinfo(ifp).setMaxGeneration((version || this.knobs.default_version) as Generation);
  }

  /** net.inet.igmp.default_version: applies to interfaces without a forced version. */
  setDefaultVersion(version: number): void {
    if (![1, 2, 3].includes(version)) throw kerr('EINVAL', `net.inet.igmp.default_version must be 1, 2 or 3, not ${version}`);
    this.knobs.default_version = version as 1 | 2 | 3;
    for (const ifp of this.host.interfaces()) if (!this.forced.has(ifp) && this.ifs.peek(ifp)) this.ifinfo(ifp).setMaxGeneration(version as Generation);
  }

  /** net.inet.igmp.legacysupp: a global knob in FreeBSD, so it applies to every interface at once. */
  setLegacysupp(on: boolean): void {
    this.knobs.legacysupp = on;
    for (const ifp of this.host.interfaces()) {
      const hi = this.ifs.peek(ifp);
      if (hi) hi.config.legacysupp = on;
    }
  }

  /** struct igmp_ifinfo for net.inet.igmp.ifinfo.<ifindex> (timers in seconds, rounded up). */
  ifinfoView(ifp: Ifnet): IgmpIfinfo {
    const hi = this.ifinfo(ifp);
    return {
      igi_version: hi.generation,
      igi_v1_timer: remainingSeconds(hi.v1Timer),
      igi_v2_timer: remainingSeconds(hi.v2Timer),
      igi_v3_timer: remainingSeconds(hi.gqTimer),
      // SILENT marks an interface without IFF_MULTICAST; loopback groups are silent without the flag, as on FreeBSD.
      igi_flags: ifp.if_flags & IFF_MULTICAST ? 0 : IGIF_SILENT,
      igi_rv: hi.config.rv,
      igi_qi: hi.config.qi,
      igi_qri: hi.config.qri,
      igi_uri: Math.round(hi.config.uriMs / 1000),
    };
  }

  /** Watch IGMP traffic of this host. */
  observe(fn: (ev: IgmpEvent) => void): () => void {
    return this.taps.add(fn);
  }

  /** igmp_isgroupreported */
  isReported(g: Uint8Array): boolean {
    if (inEqual(g, INADDR_ALLHOSTS_GROUP)) return false;
    if (g[0] === 224 && g[1] === 0 && g[2] === 0) return this.knobs.sendlocal;
    return true;
  }

  private send(ifp: Ifnet, m: HostMessage): void {
    let msg: IgmpMessage;
    let dst: Uint8Array;
    switch (m.kind) {
      case 'report':
        msg = { kind: m.generation === 1 ? 'v1report' : 'v2report', group: m.group };
        dst = m.group;
        break;
      case 'leave':
        msg = { kind: 'leave', group: m.group };
        dst = INADDR_ALLRTRS_GROUP;
        break;
      case 'v3report':
        msg = { kind: 'v3report', records: m.records };
        dst = INADDR_ALLRPTS_GROUP;
        break;
    }
    const bytes = igmpEmit(msg);
    const src = this.host.inet.v4.primaryAddress(ifp) ?? INADDR_ANY;
    this.stat.igps_snd_reports++;
    // Observers see record types as on the wire (numbers), like the messages they receive,
    // and source lists of their own: the host's report packer reuses its lists.
    if (this.taps.size) {
      const seen = msg.kind === 'v3report' ? { ...msg, records: msg.records.map((r) => toWireRecord({ ...r, sources: r.sources.slice() })) } : msg;
      this.taps.emit({ dir: 'out', ifp, src, dst, msg: seen, time: this.host.sched.now() });
    }
    this.host.inet.v4.output(bytes, { p: IPPROTO_IGMP, src, dst, ifp, mttl: 1, loop: false, routerAlert: this.knobs.sendra });
  }

  /**
   * The records of a v3 report a router acts on: unknown record types and
   * groups that are not multicast are dropped and counted (RFC 9776 §4.2.12:
   * unrecognized record types are ignored), the others keep their sources.
   */
  private routerRecords(records: readonly { type: number | string; group: Uint8Array; sources: Uint8Array[] }[], router: MgmdRouterIf): McRecord[] {
    const out: McRecord[] = [];
    for (const r of records) {
      const name = typeof r.type === 'number' ? recordTypeName(r.type) : r.type;
      if (!RECORD_NAMES.has(name) || !(r.group[0] >= 224 && r.group[0] <= 239)) {
        router.stats.badRecords++;
        continue;
      }
      out.push({ type: name as McRecord['type'], group: r.group, sources: r.sources });
    }
    return out;
  }

  /**
   * Whether `dst` is one of the interface's own addresses: 224.0.0.1, our
   * unicast address there, or a group joined there. RFC 9776 §4.1.12 and
   * §4.2.15: queries and v1/v2 reports go to 224.0.0.1 or to the group, but a
   * system MUST accept and process one sent to any address, unicast or
   * multicast, assigned to the interface it arrives on. Anything else
   * (another group, another interface's address) makes the message bad.
   */
  private isAssignedHere(ifp: Ifnet, dst: Uint8Array): boolean {
    if (inEqual(dst, INADDR_ALLHOSTS_GROUP)) return true;
    const v4 = this.host.inet.v4;
    if (!inIsMulticast(dst)) return v4.isLocalAddress(ifp, dst);
    const inm = v4.groups.find(ifp, dst);
    return inm !== undefined && inm.st[1].mode !== MCAST_UNDEFINED; // a group being left is no longer joined
  }

  /** igmp_input */
  input(ifp: Ifnet, ip: IpHeader, buf: Uint8Array, off: number, len: number): void {
    const st = this.stat;
    st.igps_rcv_total++;
    const m = igmpParse(buf, off, len);
    if ('error' in m) {
      if (m.error !== 'unknown-type') st[m.error]++;
      return;
    }
    if (this.taps.size) this.taps.emit({ dir: 'in', ifp, src: ip.src, dst: ip.dst, msg: m, time: this.host.sched.now() });
    if (ip.ttl !== 1) {
      st.igps_rcv_badttl++;
      return;
    }
    const hi = this.ifinfo(ifp);
    switch (m.kind) {
      case 'query': {
        const general = m.group.every((b) => b === 0);
        if (m.version < 3) {
          st.igps_rcv_v1v2_queries++;
          if ((m.version === 1 && !this.knobs.v1enable) || (m.version === 2 && !this.knobs.v2enable)) return;
          if ((m.version === 1 && !general) || (general && !this.isAssignedHere(ifp, ip.dst))) {
            st.igps_rcv_badqueries++;
            return;
          }
          // RFC 9776 §9.1: a v2 query without Router Alert is ignored (v1 routers never set it).
          if (m.version === 2 && ip.routerAlert === undefined) {
            st.igps_rcv_nora++;
            return;
          }
        } else {
          st.igps_rcv_v3_queries++;
          if (ip.routerAlert === undefined) {
            st.igps_rcv_nora++;
            return;
          }
          if (general && !this.isAssignedHere(ifp, ip.dst)) {
            st.igps_rcv_badqueries++;
            return;
          }
        }
        if (general) st.igps_rcv_gen_queries++;
        else if (m.sources.length) st.igps_rcv_gsr_queries++;
        else st.igps_rcv_group_queries++;
        if (!general && !(m.group[0] >= 224 && m.group[0] <= 239)) {
          st.igps_rcv_badqueries++;
          return;
        }
        this.routers.active(ifp)?.query({
          generation: m.version,
          src: ip.src,
          group: m.group,
          sources: m.sources,
          maxRespMs: m.maxRespTenths * 100,
          sFlag: m.sFlag,
          qrv: m.qrv,
          qqiSeconds: m.qqiSeconds,
        });
        if (m.sources.length && !this.host.inet.v4.findGroup(ifp, m.group)) st.igps_drop_gsr_queries++;
        hi.query({
          generation: m.version,
          group: m.group,
          sources: m.sources,
          maxRespMs: m.maxRespTenths * 100,
          qrv: m.qrv,
          qqiSeconds: m.qqiSeconds,
          sFlag: m.sFlag,
        });
        return;
      }
      case 'v1report':
      case 'v2report': {
        st.igps_rcv_reports++;
        if (!(m.group[0] >= 224 && m.group[0] <= 239) || !(inEqual(m.group, ip.dst) || this.isAssignedHere(ifp, ip.dst))) {
          st.igps_rcv_badreports++;
          return;
        }
        if (this.host.inet.v4.isLocalAddress(ifp, ip.src)) return; // our own, looped
        const router = this.routers.active(ifp);
        if (router) {
          // RFC 2236 §2.5: octets past the first 8 are ignored; the router counts such reports.
          if (len > 8) router.stats.reportsWithTrailingData++;
          router.oldReport(ip.src, m.kind === 'v1report' ? 1 : 2, m.group);
        }
        if (this.host.inet.v4.findGroup(ifp, m.group)) {
          st.igps_rcv_ourreports++;
          // Suppression assumes the routers heard that report: not so for one sent to our
          // unicast address.
          if (inIsMulticast(ip.dst)) hi.otherReport(m.group);
        }
        return;
      }
      case 'v3report': {
        st.igps_rcv_reports++; // hosts ignore other hosts' v3 reports
        const router = this.routers.active(ifp);
        if (!router || this.host.inet.v4.isLocalAddress(ifp, ip.src)) return;
        if (ip.routerAlert === undefined) {
          st.igps_rcv_nora++;
          return;
        }
        router.report(ip.src, this.routerRecords(m.records, router));
        return;
      }
      case 'leave': {
        const router = this.routers.active(ifp);
        if (!router || this.host.inet.v4.isLocalAddress(ifp, ip.src)) return;
        if (!(m.group[0] >= 224 && m.group[0] <= 239)) {
          st.igps_rcv_badreports++;
          return;
        }
        router.leave(ip.src, m.group);
        return;
      }
    }
  }
}

/** One IGMP message seen by a host, for timelines. */
export interface IgmpEvent {
  dir: 'in' | 'out';
  ifp: Ifnet;
  src: Uint8Array;
  dst: Uint8Array;
  msg: IgmpMessage;
  time: number;
}

export function describeIgmp(m: IgmpMessage): string {
  switch (m.kind) {
    case 'query': {
      const what = m.group.every((b) => b === 0) ? 'general' : m.sources.length ? `group-and-source ${inToString(m.group)} {${m.sources.map((s) => inToString(s)).join(', ')}}` : `group ${inToString(m.group)}`;
      return `IGMPv${m.version} ${what} query, max resp ${m.maxRespTenths / 10} s`;
    }
    case 'v1report':
      return `IGMPv1 report ${inToString(m.group)}`;
    case 'v2report':
      return `IGMPv2 report ${inToString(m.group)}`;
    case 'leave':
      return `IGMPv2 leave ${inToString(m.group)}`;
    case 'v3report':
      return `IGMPv3 report: ${m.records.map((r) => `${recordTypeName(r.type)}(${inToString(r.group)} {${r.sources.map((s) => inToString(s)).join(', ')}})`).join(' ')}`;
  }
}
