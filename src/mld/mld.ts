/**
 * The MLD binding of the group-membership core (FreeBSD's mld6.c, host
 * side): MLDv1 (RFC 2710) and MLDv2 (RFC 3810 as revised by RFC 9777).
 * Messages go from the interface's link-local address (or :: while it is
 * still tentative, RFC 9777 §5.2.13) with hop limit 1 and a Hop-by-Hop
 * Router Alert, which Linux requires; MLDv1 reports to the group, Done to
 * ff02::2, MLDv2 reports to ff02::16. ff02::1 and groups of scope 0 and 1
 * are never reported.
 */
import { kerr } from '../kern/errno.js';
import { Observers } from '../kern/observers.js';
import { remainingSeconds } from '../kern/clock.js';
import { IFF_MULTICAST, LINK_STATE_UP } from '../driver/if_var.js';
import type { Ifnet } from '../driver/ifnet.js';
import { AF_INET6 } from '../driver/sockaddr.js';
import type { Host } from '../host.js';
import { IN6ADDR_LINKLOCAL_ALLNODES, IN6ADDR_LINKLOCAL_ALLROUTERS, IN6ADDR_LINKLOCAL_ALLV2ROUTERS, in6Equal, in6IsLinkLocal, in6IsMulticast, in6MulticastScope, in6ToString } from '../inet/in6.js';
import type { Icmp6Message } from '../inet/icmp6_codec.js';
import { MCAST_UNDEFINED } from '../inet/in_mcast.js';
import type { MgmdHostIf } from '../mgmd/host.js';
import { HostInterfaces } from '../mgmd/interfaces.js';
import { MgmdRouterIf, RouterInterfaces, type RouterConfig, type RouterQuery } from '../mgmd/router.js';
import { if_allmulti } from '../driver/ifnet.js';
import { type Generation, type HostMessage, type McRecord, MLIF_SILENT, MLIF_USEALLOW } from '../mgmd/types.js';

const RECORD_NAMES = new Set(['IS_IN', 'IS_EX', 'TO_IN', 'TO_EX', 'ALLOW', 'BLOCK']);

/** The source-specific range FF3x::/32 (RFC 4607 §1). */
function in6IsSsm(g: Uint8Array): boolean {
  return g[0] === 0xff && (g[1] & 0xf0) === 0x30 && g[2] === 0 && g[3] === 0;
}
import {
  MLD_V2_RECORD_HDRLEN,
  MLD_V2_REPORT_HDRLEN,
  mldEmitBody,
  toWireRecord,
  mldParseBody,
  mldQuery,
  recordTypeName,
  type MldMessage,
} from './codec.js';



/**
 * MLD receive counters. FreeBSD keeps none for MLD beyond the ICMPv6
 * histograms (reference §2.8); taplab adds these so that dropped MLD input
 * can be seen, with names in the style of igmpstat.
 */
export class MldStat {
  mlds_rcv_total = 0;
  mlds_rcv_badsum = 0;
  mlds_rcv_tooshort = 0;
  mlds_rcv_badhlim = 0;
  mlds_rcv_badsrc = 0;
  mlds_rcv_nora = 0;
  mlds_rcv_badqueries = 0;
  mlds_rcv_gen_queries = 0;
  mlds_rcv_group_queries = 0;
  mlds_rcv_gsr_queries = 0;
  mlds_rcv_reports = 0;
  mlds_rcv_ourreports = 0;
  mlds_snd_reports = 0;
}

export interface MldKnobs {
  v1enable: boolean;
  v2enable: boolean;
  use_allow: boolean;
  gsrdelay: number;
  /** taplab: the version new interfaces start at (FreeBSD always starts at 2). */
  default_version: 1 | 2;
}

/** struct mld_ifinfo (net.inet6.mld.ifinfo.<ifindex>) */
export interface MldIfinfo {
  mli_version: number;
  mli_v1_timer: number;
  mli_v2_timer: number;
  mli_flags: number;
  mli_rv: number;
  mli_qi: number;
  mli_qri: number;
  mli_uri: number;
}

export interface MldEvent {
  dir: 'in' | 'out';
  ifp: Ifnet;
  src: Uint8Array;
  dst: Uint8Array;
  msg: MldMessage;
  time: number;
}

export class Mld {
  readonly stat = new MldStat();
  readonly knobs: MldKnobs = { v1enable: true, v2enable: true, use_allow: true, gsrdelay: 10, default_version: 2 };
  private readonly ifs: HostInterfaces;
  private readonly forced = new WeakMap<Ifnet, Generation>();
  private readonly taps = new Observers<MldEvent>();
  /** The querier side, per interface (RFC 9777 §7, RFC 2710 §5). */
  readonly routers: RouterInterfaces<Ifnet>;

  constructor(readonly host: Host) {
    const inet = host.inet;
    inet.v6.mldInput = (ifp, src, dst, m, hlim, ra) => this.input(ifp, src, dst, m, hlim, ra);
    this.ifs = new HostInterfaces(host, () => inet.v6.groups, (ifp) => ({
      binding: {
        isReported: (g) => this.isReported(g),
        // IPv6 header 40, Hop-by-Hop 8, report header 8.
        recordBudget: () => ifp.if_mtu - 40 - 8 - MLD_V2_REPORT_HDRLEN,
        recordHeaderLen: MLD_V2_RECORD_HDRLEN,
        addrLen: 16,
        send: (m) => this.send(ifp, m),
      },
      config: { maxGeneration: this.forced.get(ifp) ?? ((this.knobs.default_version + 1) as Generation) },
    }));
    inet.onGroupChange((af, inm) => {
      if (af === AF_INET6) this.ifinfo(inm.ifp as Ifnet).changed(inm);
    });
    this.routers = new RouterInterfaces<Ifnet>(
      (ifp) =>
        new MgmdRouterIf({
          sched: host.sched,
          addrLen: 16,
          address: () => inet.v6.linkLocal(ifp),
          send: (q) => this.sendQuery(ifp, q),
          // IPv6 header 40 + Hop-by-Hop 8 + query header 28; 16 bytes a source.
          maxQuerySources: () => Math.floor((ifp.if_mtu - 48 - 28) / 16),
          isSsm: in6IsSsm,
          fmt: in6ToString,
          warn: (m) => host.msgbuf.log(`mld: ${ifp.if_xname}: ${m}`),
          // Generation 2 is MLDv1 (RFC 2710), 3 is MLDv2.
          versionName: (g) => `MLDv${g - 1}`,
        }, { generation: 3 }),
      (ifp, on) => {
        if_allmulti(ifp, on);
        // Like FreeBSD's ip6_input with a multicast router: every group's packets come in.
        inet.v6.info(ifp).mrouter = on;
      },
    );
    host.ifnets.subscribe((ifp, ev) => {
      if (ev === 'link' && ifp.if_link_state === LINK_STATE_UP) this.routers.linkUp(ifp);
      if (ev === 'detach') this.routers.detach(ifp);
    });
  }

  /** Make this host the MLD querier of an interface: version 2 (RFC 9777 §7) or 1 (RFC 2710). */
  enableQuerier(ifp: Ifnet, config: Partial<Omit<RouterConfig, 'generation'>> & { version?: 1 | 2 } = {}): MgmdRouterIf {
    const { version, ...rest } = config;
    try {
      return this.routers.enable(ifp, version ? { ...rest, generation: (version + 1) as Generation } : rest);
    } catch (e) {
      if (e instanceof RangeError) throw kerr('EINVAL', `${ifp.if_xname}: MLD querier: ${e.message}`);
      throw e;
    }
  }

  disableQuerier(ifp: Ifnet): void {
    this.routers.disable(ifp);
  }

  /** A query from this host's querier: from the link-local address, hop limit 1, Hop-by-Hop Router Alert (RFC 9777 §5.1.14). */
  private sendQuery(ifp: Ifnet, q: RouterQuery): boolean {
    const v6 = this.host.inet.v6;
    const src = v6.linkLocal(ifp);
    if (!src) return false;
    const general = q.group.every((b) => b === 0);
    const msg = mldQuery({
      version: q.generation === 3 ? 2 : 1,
      group: q.group,
      maxRespMs: q.maxRespMs,
      sFlag: q.sFlag,
      qrv: q.qrv,
      qqiSeconds: q.qqiSeconds,
      sources: q.sources,
    });
    const dst = general ? IN6ADDR_LINKLOCAL_ALLNODES : q.group;
    if (this.taps.size) this.taps.emit({ dir: 'out', ifp, src, dst, msg, time: this.host.sched.now() });
    const { type, body } = mldEmitBody(msg);
    return v6.sendIcmp6(ifp, type, 0, body, src, dst, 1, 0) === 0;
  }

  /** The records of an MLDv2 report a router acts on (unknown types and non-multicast addresses dropped and counted). */
  private routerRecords(records: readonly { type: number | string; group: Uint8Array; sources: Uint8Array[] }[], router: MgmdRouterIf): McRecord[] {
    const out: McRecord[] = [];
    for (const r of records) {
      const name = recordTypeName(r.type);
      if (!RECORD_NAMES.has(name) || !in6IsMulticast(r.group)) {
        router.stats.badRecords++;
        continue;
      }
      out.push({ type: name as McRecord['type'], group: r.group, sources: r.sources });
    }
    return out;
  }

  /** The interface's MLD state, created on first use (mld_domifattach). */
  ifinfo(ifp: Ifnet): MgmdHostIf {
    return this.ifs.get(ifp);
  }

  /** Force an interface's MLD version (Linux's force_mld_version); 0 returns to the default. */
  forceVersion(ifp: Ifnet, version: 0 | 1 | 2): void {
    if (![0, 1, 2].includes(version)) throw kerr('EINVAL', `${ifp.if_xname}: MLD version ${version} is not 0 (default), 1 or 2`);
    const gen = (version ? version + 1 : this.knobs.default_version + 1) as Generation;
    if (version) this.forced.set(ifp, gen);
    else this.forced.delete(ifp);
    this.ifinfo(ifp).setMaxGeneration(gen);
  }

  /** net.inet6.mld.default_version (taplab): applies to interfaces without a forced version. */
  setDefaultVersion(version: number): void {
    if (version !== 1 && version !== 2) throw kerr('EINVAL', `net.inet6.mld.default_version must be 1 or 2, not ${version}`);
    this.knobs.default_version = version;
    for (const ifp of this.host.interfaces()) if (!this.forced.has(ifp) && this.ifs.peek(ifp)) this.ifinfo(ifp).setMaxGeneration((version + 1) as Generation);
  }

  ifinfoView(ifp: Ifnet): MldIfinfo {
    const hi = this.ifinfo(ifp);
    return {
      mli_version: hi.generation - 1,
      mli_v1_timer: remainingSeconds(hi.v2Timer),
      mli_v2_timer: remainingSeconds(hi.gqTimer),
      mli_flags: (ifp.if_flags & IFF_MULTICAST ? 0 : MLIF_SILENT) | (this.knobs.use_allow ? MLIF_USEALLOW : 0),
      mli_rv: hi.config.rv,
      mli_qi: hi.config.qi,
      mli_qri: hi.config.qri,
      mli_uri: Math.round(hi.config.uriMs / 1000),
    };
  }

  observe(fn: (ev: MldEvent) => void): () => void {
    return this.taps.add(fn);
  }

  /** mld_is_addr_reported: never ff02::1, never scopes 0 (reserved) and 1 (interface-local). */
  isReported(g: Uint8Array): boolean {
    if (in6Equal(g, IN6ADDR_LINKLOCAL_ALLNODES)) return false;
    const scope = in6MulticastScope(g);
    return scope !== 0 && scope !== 1;
  }

  private send(ifp: Ifnet, m: HostMessage): void {
    let msg: MldMessage;
    let dst: Uint8Array;
    switch (m.kind) {
      case 'report':
        msg = { kind: 'v1report', group: m.group } as MldMessage;
        dst = m.group;
        break;
      case 'leave':
        msg = { kind: 'done', group: m.group } as MldMessage;
        dst = IN6ADDR_LINKLOCAL_ALLROUTERS;
        break;
      case 'v3report':
        msg = { kind: 'v2report', records: m.records } as MldMessage;
        dst = IN6ADDR_LINKLOCAL_ALLV2ROUTERS;
        break;
    }
    const v6 = this.host.inet.v6;
    const src = v6.linkLocal(ifp) ?? new Uint8Array(16);
    const { type, body } = mldEmitBody(msg);
    this.stat.mlds_snd_reports++;
    // Observers see record types as on the wire (numbers), like the messages they receive,
    // and source lists of their own: the host's report packer reuses its lists.
    if (this.taps.size) {
      const seen = msg.kind === 'v2report' ? { ...msg, records: msg.records.map((r) => toWireRecord({ ...r, sources: r.sources.slice() })) } : msg;
      this.taps.emit({ dir: 'out', ifp, src, dst, msg: seen, time: this.host.sched.now() });
    }
    v6.sendIcmp6(ifp, type, 0, body, src, dst, 1, 0);
  }

  /**
   * Whether `dst` is one of the interface's own addresses: ff02::1, our
   * unicast addresses there, or a group joined there. RFC 9777 §5.1.15 and
   * §5.2.15: queries and MLDv1 reports go to ff02::1 or to the address of
   * interest, but a node MUST accept and process one sent to any address,
   * unicast or multicast, assigned to the interface it arrives on.
   */
  private isAssignedHere(ifp: Ifnet, dst: Uint8Array): boolean {
    if (in6Equal(dst, IN6ADDR_LINKLOCAL_ALLNODES)) return true;
    const v6 = this.host.inet.v6;
    if (!in6IsMulticast(dst)) return v6.addresses(ifp).some((a) => in6Equal(a.addr, dst));
    const inm = v6.groups.find(ifp, dst);
    return inm !== undefined && inm.st[1].mode !== MCAST_UNDEFINED; // a group being left is no longer joined
  }

  /** RFC 9777 §7.4: a router drops a Report without the Router Alert option (counted in mlds_rcv_nora). */
  private routerAlertOk(ra: boolean): boolean {
    if (!ra) this.stat.mlds_rcv_nora++;
    return ra;
  }

  /** mld_input: the ICMPv6 layer has checked length and checksum. */
  input(ifp: Ifnet, src: Uint8Array, dst: Uint8Array, icmp: Icmp6Message, hlim: number, ra: boolean): void {
    const st = this.stat;
    st.mlds_rcv_total++;
    const m = mldParseBody(icmp);
    if ('error' in m) {
      if (m.error === 'badquery') st.mlds_rcv_badqueries++;
      else if (m.error === 'tooshort' || m.error === 'badreport') st.mlds_rcv_tooshort++;
      return;
    }
    if (this.taps.size) this.taps.emit({ dir: 'in', ifp, src, dst, msg: m, time: this.host.sched.now() });
    if (hlim !== 1) {
      st.mlds_rcv_badhlim++;
      return;
    }
    const hi = this.ifinfo(ifp);
    if (m.kind === 'query') {
      // RFC 9777 §5.1.14: queries come from a link-local source with Router Alert.
      if (!in6IsLinkLocal(src)) {
        st.mlds_rcv_badsrc++;
        return;
      }
      if (!ra) {
        st.mlds_rcv_nora++;
        return;
      }
      if ((m.version === 1 && !this.knobs.v1enable) || (m.version === 2 && !this.knobs.v2enable)) return;
      const general = m.group.every((b) => b === 0);
      if (general && !this.isAssignedHere(ifp, dst)) {
        st.mlds_rcv_badqueries++;
        return;
      }
      if (!general && !in6IsMulticast(m.group)) {
        st.mlds_rcv_badqueries++;
        return;
      }
      if (general) st.mlds_rcv_gen_queries++;
      else if (m.sources.length) st.mlds_rcv_gsr_queries++;
      else st.mlds_rcv_group_queries++;
      this.routers.active(ifp)?.query({
        generation: m.version === 1 ? 2 : 3,
        src,
        group: m.group,
        sources: m.sources,
        maxRespMs: m.maxRespMs,
        sFlag: m.sFlag,
        qrv: m.qrv,
        qqiSeconds: m.qqiSeconds,
      });
      hi.query({
        generation: m.version === 1 ? 2 : 3,
        group: m.group,
        sources: m.sources,
        maxRespMs: m.maxRespMs,
        qrv: m.qrv,
        qqiSeconds: m.qqiSeconds,
        sFlag: m.sFlag,
      });
      return;
    }
    if (m.kind === 'v1report') {
      st.mlds_rcv_reports++;
      if (!in6IsMulticast(m.group) || !(in6Equal(m.group, dst) || this.isAssignedHere(ifp, dst))) return;
      if (this.host.inet.v6.ifaOf(src, ifp)) return; // our own
      // RFC 9777 §5.2.14: routers take reports only from a link-local source (:: is ignored),
      // and §7.4 (RFC 3810 §7.4): with the Router Alert option.
      const r = in6IsLinkLocal(src) ? this.routers.active(ifp) : undefined;
      if (r && this.routerAlertOk(ra)) r.oldReport(src, 2, m.group);
      if (this.host.inet.v6.findGroup(ifp, m.group)) {
        st.mlds_rcv_ourreports++;
        // Suppression assumes the routers heard that report: not so for one sent to our
        // unicast address.
        if (in6IsMulticast(dst)) hi.otherReport(m.group);
      }
      return;
    }
    // RFC 9777 §5.2.14: routers take reports and dones only from a link-local source.
    const router = in6IsLinkLocal(src) ? this.routers.active(ifp) : undefined;
    if (m.kind === 'v2report') {
      st.mlds_rcv_reports++;
      if (router && !this.host.inet.v6.ifaOf(src, ifp) && this.routerAlertOk(ra)) router.report(src, this.routerRecords(m.records, router));
      return;
    }
    if (m.kind === 'done' && router && !this.host.inet.v6.ifaOf(src, ifp)) {
      if (!in6IsMulticast(m.group)) return;
      router.leave(src, m.group);
    }
  }
}

export function describeMld(m: MldMessage): string {
  switch (m.kind) {
    case 'query': {
      const what = m.group.every((b) => b === 0) ? 'general' : m.sources.length ? `address-and-source ${in6ToString(m.group)} {${m.sources.map((s) => in6ToString(s)).join(', ')}}` : `address ${in6ToString(m.group)}`;
      return `MLDv${m.version} ${what} query, max resp ${m.maxRespMs / 1000} s`;
    }
    case 'v1report':
      return `MLDv1 report ${in6ToString(m.group)}`;
    case 'done':
      return `MLDv1 done ${in6ToString(m.group)}`;
    case 'v2report':
      return `MLDv2 report: ${m.records.map((r) => `${recordTypeName(r.type)}(${in6ToString(r.group)} {${r.sources.map((s) => in6ToString(s)).join(', ')}})`).join(' ')}`;
  }
}
