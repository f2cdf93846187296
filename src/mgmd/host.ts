/**
 * The host side of IGMP and MLD, once for both protocols: RFC 1112 (v1),
 * RFC 2236 (v2), RFC 2710 (MLDv1), and RFC 3376/3810 as revised by RFC 9776
 * and RFC 9777 (v3 and MLDv2), including the compatibility modes between
 * them. One MgmdHostIf runs per interface; it follows the interface's
 * group state (InMulti, merged by the socket layer) and answers queries.
 *
 * Timers are callouts on the host's scheduler and random delays come from
 * the host's seeded stream, so traces in virtual time are reproducible.
 */
import type { Callout, Scheduler } from '../kern/clock.js';
import type { Random } from '../kern/random.js';
import {
  addrKey,
  emptyState,
  type FilterState,
  type InMulti,
  MCAST_EXCLUDE,
  MCAST_INCLUDE,
  MCAST_UNDEFINED,
  stateChangeRecords,
  type RecordType,
} from '../inet/in_mcast.js';
import {
  AWAKENING_MEMBER,
  G_QUERY_PENDING_MEMBER,
  type Generation,
  type HostMessage,
  type HostQuery,
  IDLE_MEMBER,
  LAZY_MEMBER,
  LEAVING_MEMBER,
  type McRecord,
  NOT_MEMBER,
  REPORTING_MEMBER,
  SG_QUERY_PENDING_MEMBER,
  SILENT_MEMBER,
  SLEEPING_MEMBER,
} from './types.js';

/** What the host machine needs from its protocol binding (IGMP or MLD). */
export interface HostBinding {
  readonly sched: Scheduler;
  readonly random: Random;
  /** Whether this group is ever reported (224.0.0.1, ff02::1, scopes 0/1 are not). */
  isReported(group: Uint8Array): boolean;
  /** Bytes of records that fit one v3/MLDv2 report on this interface. */
  recordBudget(): number;
  /** Size of a group record with no sources (IGMPv3 8, MLDv2 20) and of one source (4, 16). */
  readonly recordHeaderLen: number;
  readonly addrLen: number;
  /**
   * Put a message on the wire. A v3report's records (the array, the record
   * objects and their source lists) are lent for the call only: the host
   * reuses them for its next report.
   */
  send(m: HostMessage): void;
  /** The interface's groups as the socket layer keeps them. */
  groups(): Iterable<InMulti>;
  /** Tell the socket layer a group it kept for us can go. */
  release(inm: InMulti): void;
  /** Whether the interface can send now (up, running, carrier); changes while it cannot wait for linkUp(). */
  linkReady(): boolean;
  /** Log a protocol event for timelines (optional). */
  trace?(event: string): void;
}

/** Tunables with FreeBSD's names (igmp_ifinfo / mld_ifinfo) and the RFC defaults. */
export interface HostIfConfig {
  /** Highest generation this interface may use (net.inet.igmp.default_version, a forced version). */
  maxGeneration: Generation;
  rv: number;
  /** Query Interval, seconds. */
  qi: number;
  /** Query Response Interval, seconds. */
  qri: number;
  /** Unsolicited Report Interval for v3/MLDv2 state changes, milliseconds (RFC 9776 §8.11: 1 s). */
  uriMs: number;
  /** Unsolicited Report Interval of v1/v2 (RFC 2236 §8.10: 10 s), milliseconds. */
  v2UriMs: number;
  /** Let other hosts' v1/v2 reports suppress ours even in v3 mode (net.inet.igmp.legacysupp). */
  legacysupp: boolean;
}

export const DEFAULT_HOST_CONFIG: HostIfConfig = {
  maxGeneration: 3,
  rv: 2,
  qi: 125,
  qri: 10,
  uriMs: 1000,
  v2UriMs: 10_000,
  legacysupp: false,
};

/**
 * A source's pending state-change retransmissions (RFC 9776 §5.1). Whether
 * it goes in ALLOW or BLOCK is decided when the report is built, from the
 * interface state then: "all with retransmission state that must be
 * forwarded" / "... blocked".
 */
interface SourceRetrans {
  addr: Uint8Array;
  left: number;
}

/** The per-group protocol state, kept in inm.protospec. */
export class HostGroup {
  state = NOT_MEMBER;
  /** v1/v2 report timer, or the v3 pending response to a group(-and-source) query. */
  timer: Callout | undefined;
  /**
   * v1/v2: another host's report was the last one heard for the group, so
   * the leave is theirs to send (RFC 2236 §3's flag, inverted). False by
   * default: a group reported in v3 before the switch to v2 mode was
   * reported by us, and its leave goes out (FreeBSD's igmp_final_leave
   * sends one from REPORTING and IDLE).
   */
  otherReported = false;
  /** v3: sources recorded from group-and-source queries; null for a group query. */
  querySources: Map<string, Uint8Array> | null = null;
  /** v3: reports with a filter-mode-change record still to send. */
  modeChangeLeft = 0;
  /** v3: per-source retransmission state (made on first use: most groups never need it). */
  private retrans: Map<string, SourceRetrans> | undefined;
  get srcRetrans(): Map<string, SourceRetrans> {
    return (this.retrans ??= new Map());
  }
  get hasSrcRetrans(): boolean {
    return !!this.retrans?.size;
  }
  /** v3: the next state-change retransmission. */
  scTimer: Callout | undefined;
  /** v1/v2: unsolicited reports still to send after a join. */
  unsolicitedLeft = 0;

  constructor(readonly inm: InMulti) {}
}

export class MgmdHostIf {
  readonly config: HostIfConfig;
  /** The compatibility mode now (Host Compatibility Mode, RFC 9776 §7.2.1). */
  generation: Generation;
  /** Older Version Querier Present timers (generation 1 and 2). */
  v1Timer: Callout | undefined;
  v2Timer: Callout | undefined;
  /** v3: the interface timer for a pending general query response. */
  gqTimer: Callout | undefined;
  /** No protocol on this interface (no IFF_MULTICAST, or loopback). */
  silent: boolean;
  /**
   * The packer of general-query answers, kept from one answer to the next
   * with its record objects and source lists: every host answers every
   * general query it hears, and only the timer callout calls answerGeneral,
   * so the packer is never in use twice at once.
   */
  private readonly gqPacker: ReportPacker;
  /** answerGeneral as a callout function, made once rather than for every general query heard. */
  private readonly answerGeneralFn = (): void => this.answerGeneral();

  constructor(
    readonly b: HostBinding,
    config: Partial<HostIfConfig> = {},
    silent = false,
  ) {
    this.config = { ...DEFAULT_HOST_CONFIG, ...config };
    this.generation = this.config.maxGeneration;
    this.silent = silent;
    this.gqPacker = new ReportPacker(b);
  }

  /** A response delay in (0, maxMs] ms: RFC 9776 §5.2 and RFC 2236 §3 never allow an immediate answer. */
  private rand(maxMs: number): number {
    return 1 + this.b.random.below(Math.max(1, Math.floor(maxMs)));
  }

  /**
   * The group's protocol state, made when the group needs one. A v3 group
   * with nothing pending keeps none (it is REPORTING by definition): with
   * 100,000 groups that is 100,000 objects fewer.
   */
  groupState(inm: InMulti): HostGroup {
    let g = inm.protospec as HostGroup | undefined;
    if (!(g instanceof HostGroup)) {
      const state = this.stateOf(inm);
      inm.protospec = g = new HostGroup(inm);
      g.state = state;
    }
    return g;
  }

  /** The group's state (reference §5.1), with or without a HostGroup. */
  stateOf(inm: InMulti): number {
    const g = inm.protospec;
    if (g instanceof HostGroup) return g.state;
    if (inm.st[1].mode === MCAST_UNDEFINED) return NOT_MEMBER;
    return this.silent || !this.b.isReported(inm.group) ? SILENT_MEMBER : REPORTING_MEMBER;
  }

  /** Let go of a v3 group's state once nothing is pending: stateOf() says REPORTING from then on. */
  private settle(g: HostGroup): void {
    if (this.generation === 3 && g.state === REPORTING_MEMBER && !g.timer?.pending && !g.scTimer?.pending && g.inm.protospec === g)
      g.inm.protospec = undefined;
  }

  /** Drop a group's state and its timers (the group is silent, or nothing can be sent). */
  private forget(inm: InMulti): void {
    const g = inm.protospec;
    if (g instanceof HostGroup) {
      g.timer?.stop();
      g.scTimer?.stop();
      inm.protospec = undefined;
    }
  }

  /**
   * Older Version Querier Present Timeout: RV * QI + QRI, ms. RFC 9776 §8.12
   * recommends the default values, since a host cannot know the older
   * querier's; like FreeBSD (igi_rv/igi_qi/igi_qri), taplab uses the values
   * last learnt from a v3 query, the defaults until one came. That is what
   * lets a lab with short query intervals show the return to v3 in seconds.
   */
  ovqpTimeoutMs(): number {
    return (this.config.rv * this.config.qi + this.config.qri) * 1000;
  }

  // ------------------------------------------------------------ state changes (§5.1)

  /** The socket layer changed the interface state of a group (t1 differs from t0). */
  changed(inm: InMulti): void {
    if (this.silent || !this.b.isReported(inm.group)) {
      // SILENT (or NOT_MEMBER once left): stateOf() says so without any protocol state.
      this.forget(inm);
      inm.commit();
      return;
    }
    if (!this.b.linkReady()) {
      // Nothing can be sent: remember the state; linkUp() reports it when the link comes.
      const leaving = inm.st[1].mode === MCAST_UNDEFINED;
      this.forget(inm);
      if (inm.protospecHolds) inm.protospecHolds = false;
      inm.commit();
      if (leaving) this.b.release(inm);
      return;
    }
    const g = this.groupState(inm);
    if (this.generation < 3) this.changedV1V2(g);
    else this.changedV3(g);
  }

  private changedV1V2(g: HostGroup): void {
    const inm = g.inm;
    const was = inm.st[0].mode !== MCAST_UNDEFINED;
    const is = inm.st[1].mode !== MCAST_UNDEFINED;
    inm.commit();
    if (!was && is) {
      // RFC 2236 §3 / RFC 2710 §4: report at once, then repeat after a short random delay.
      this.sendReport(g);
      g.state = IDLE_MEMBER;
      g.otherReported = false;
      g.unsolicitedLeft = this.config.rv - 1;
      this.armUnsolicited(g);
    } else if (was && !is) {
      g.timer?.stop();
      g.timer = undefined;
      // Only the last reporter sends the leave; IGMPv1 has none (RFC 2236 §3).
      if (this.generation === 2 && !g.otherReported) this.b.send({ kind: 'leave', group: inm.group });
      g.state = NOT_MEMBER;
      this.b.release(inm);
    }
    // A source-list change in v1/v2 mode has nothing to say: those versions know no sources.
  }

  private armUnsolicited(g: HostGroup): void {
    if (g.unsolicitedLeft <= 0) return;
    g.timer?.stop();
    // RFC 2236 §3: the repetition follows "after short delays", in (0, Unsolicited Report Interval].
    g.timer = this.b.sched.callout(this.rand(this.config.v2UriMs), () => {
      g.timer = undefined;
      if (g.inm.st[1].mode === MCAST_UNDEFINED || this.generation === 3) return;
      g.unsolicitedLeft--;
      this.sendReport(g);
      g.state = IDLE_MEMBER;
      this.armUnsolicited(g);
    }, 'mgmd unsolicited report');
  }

  private sendReport(g: HostGroup): void {
    this.b.send({ kind: 'report', generation: this.generation === 1 ? 1 : 2, group: g.inm.group });
    g.otherReported = false;
  }

  /**
   * v3 state change: the records that take t0 to t1 are merged into the
   * pending retransmission state (a filter-mode change is reported in the
   * next RV reports; every changed source in the next RV source-list
   * reports), sent at once, then retransmitted at random intervals in
   * (0, Unsolicited Report Interval].
   */
  private changedV3(g: HostGroup): void {
    const inm = g.inm;
    const recs = stateChangeRecords(inm.st[0], inm.st[1]);
    inm.commit();
    if (recs.length === 0) return;
    const rv = this.config.rv;
    const leaving = inm.st[1].mode === MCAST_UNDEFINED;
    // Leaving an EXCLUDE group is TO_IN {}: it says every source is unwanted, and pending
    // source changes mean nothing after it (FreeBSD's igmp_final_leave drains them too).
    // Leaving an INCLUDE group is BLOCK of its list: a source blocked just before, whose
    // BLOCK still has retransmissions to go, keeps them and rides along (§5.1: a
    // retransmitted BLOCK lists every source with retransmission state to be blocked).
    if (leaving && recs.some((r) => r.type === 'TO_IN')) g.srcRetrans.clear();
    for (const r of recs) {
      if (r.type === 'TO_IN' || r.type === 'TO_EX') {
        // The next RV reports carry the Filter-Mode-Change record, whatever source-list
        // changes come meanwhile; sources with retransmission state keep it and follow (§5.1).
        g.modeChangeLeft = rv;
      } else {
        for (const s of r.sources) g.srcRetrans.set(addrKey(s), { addr: s, left: rv });
      }
    }
    g.state = leaving ? LEAVING_MEMBER : REPORTING_MEMBER;
    if (g.state === LEAVING_MEMBER) {
      // A leaving group answers no more queries.
      g.timer?.stop();
      g.timer = undefined;
      g.querySources = null;
      inm.protospecHolds = true;
    } else inm.protospecHolds = false;
    g.scTimer?.stop();
    this.sendStateChange(g);
  }

  private sendStateChange(g: HostGroup): void {
    g.scTimer = undefined;
    const inm = g.inm;
    const records: McRecord[] = [];
    if (g.modeChangeLeft > 0) {
      const cur = inm.st[1];
      records.push({ type: cur.mode === MCAST_EXCLUDE ? 'TO_EX' : 'TO_IN', group: inm.group, sources: [...cur.sources.values()] });
      g.modeChangeLeft--;
    } else {
      // ALLOW: all with retransmission state that must be forwarded; BLOCK: ... that must be blocked.
      const cur = inm.st[1];
      const allow: Uint8Array[] = [];
      const block: Uint8Array[] = [];
      for (const [k, s] of g.srcRetrans) {
        const listed = cur.sources.has(k);
        const forwarded = cur.mode === MCAST_INCLUDE ? listed : cur.mode === MCAST_EXCLUDE ? !listed : false;
        (forwarded ? allow : block).push(s.addr);
        if (--s.left <= 0) g.srcRetrans.delete(k);
      }
      if (allow.length) records.push({ type: 'ALLOW', group: inm.group, sources: allow });
      if (block.length) records.push({ type: 'BLOCK', group: inm.group, sources: block });
    }
    if (records.length) this.sendRecords(records);
    if (g.modeChangeLeft > 0 || g.hasSrcRetrans) {
      g.scTimer = this.b.sched.callout(this.rand(this.config.uriMs), () => this.sendStateChange(g), 'mgmd state-change retransmission');
    } else if (g.state === LEAVING_MEMBER) {
      g.state = NOT_MEMBER;
      inm.protospecHolds = false;
      this.b.release(inm);
    } else this.settle(g);
  }

  // ------------------------------------------------------------ queries (§5.2, RFC 2236 §3)

  /** A valid query arrived on this interface. */
  query(q: HostQuery): void {
    if (this.silent) return;
    const general = q.group.every((b) => b === 0);
    if (q.generation < 3) {
      // Only an older version's General Query starts its Older Version Querier Present timer
      // (RFC 9776 §7.2.1, RFC 9777 §8.2.1; every v1 query is general): a group-specific v2 or
      // MLDv1 query is answered in the current mode.
      if (q.generation === 1 || general) this.olderQuerierPresent(q.generation as 1 | 2);
    } else {
      // RFC 9776 §4.1.6/§4.1.7: adopt the querier's robustness and interval when given.
      // A zero QRV or QQIC means the querier's value is not given: use the default (§4.1.6, §4.1.7).
      this.config.rv = q.qrv ? q.qrv : DEFAULT_HOST_CONFIG.rv;
      this.config.qi = q.qqiSeconds ? q.qqiSeconds : DEFAULT_HOST_CONFIG.qi;
      this.config.qri = Math.max(1, Math.round(q.maxRespMs / 1000));
    }
    const maxResp = q.generation === 1 ? 10_000 : q.maxRespMs;
    if (this.generation < 3) {
      for (const inm of general ? this.b.groups() : [this.findGroup(q.group)].filter((x): x is InMulti => !!x)) this.v1v2QueryGroup(inm, maxResp);
      return;
    }
    const delay = this.rand(maxResp);
    if (general) {
      // Rule 1-2: one interface timer; a pending response due sooner stands.
      const pending = this.gqTimer?.remaining() ?? -1;
      if (pending >= 0 && pending <= delay) return;
      this.gqTimer?.stop();
      this.gqTimer = this.b.sched.callout(delay, this.answerGeneralFn, 'mgmd general query response');
      return;
    }
    // Rule 1 holds for every query: a general-query response due sooner covers this one.
    const gqPending = this.gqTimer?.remaining() ?? -1;
    if (gqPending >= 0 && gqPending <= delay) return;
    const inm = this.findGroup(q.group);
    if (!inm || !this.b.isReported(inm.group)) return;
    const g = this.groupState(inm);
    if (g.state !== REPORTING_MEMBER && g.state !== G_QUERY_PENDING_MEMBER && g.state !== SG_QUERY_PENDING_MEMBER) return;
    const pending = g.timer?.remaining() ?? -1;
    const at = pending >= 0 ? Math.min(pending, delay) : delay;
    if (pending < 0) {
      // Rule 3: nothing pending for the group: record the queried sources, if any.
      g.querySources = q.sources.length ? new Map(q.sources.map((s) => [addrKey(s), s])) : null;
    } else if (q.sources.length === 0 || g.querySources === null) {
      // Rule 4: a group query, or a pending group query: answer for the whole group.
      g.querySources = null;
    } else {
      // Rule 5: add the new sources to the recorded list.
      for (const s of q.sources) g.querySources.set(addrKey(s), s);
    }
    g.state = g.querySources ? SG_QUERY_PENDING_MEMBER : G_QUERY_PENDING_MEMBER;
    g.timer?.stop();
    g.timer = this.b.sched.callout(at, () => this.answerGroup(g), 'mgmd group query response');
  }

  private findGroup(group: Uint8Array): InMulti | undefined {
    const k = addrKey(group);
    for (const inm of this.b.groups()) if (inm.key === k && inm.st[1].mode !== MCAST_UNDEFINED) return inm;
    return undefined;
  }

  /**
   * RFC 2236 §3: start a random report timer for the group; a running timer
   * "is reset to the random value only if the requested Max Response Time is
   * less than the remaining value of the running timer".
   */
  private v1v2QueryGroup(inm: InMulti, maxResp: number): void {
    if (inm.st[1].mode === MCAST_UNDEFINED || !this.b.isReported(inm.group)) return;
    const g = this.groupState(inm);
    const pending = g.timer?.remaining() ?? -1;
    if (pending >= 0 && pending <= maxResp) return;
    const delay = this.rand(maxResp);
    g.timer?.stop();
    g.unsolicitedLeft = 0;
    g.state = g.state === SLEEPING_MEMBER ? AWAKENING_MEMBER : REPORTING_MEMBER;
    g.timer = this.b.sched.callout(delay, () => {
      g.timer = undefined;
      if (inm.st[1].mode === MCAST_UNDEFINED || this.generation === 3) return;
      this.sendReport(g);
      g.state = IDLE_MEMBER;
    }, 'mgmd query response');
  }

  /** Another host's v1/v2 report for a group: suppress ours (RFC 2236 §3). */
  otherReport(group: Uint8Array): void {
    if (this.generation === 3 && !this.config.legacysupp) return;
    const inm = this.findGroup(group);
    if (!inm) return;
    if (this.generation === 3) {
      // legacysupp (RFC 9776 §7.2.2 allows it): the other host's report answers a pending
      // query response for the group; the group stays REPORTING and answers the next query.
      // State-change retransmissions (a leave, too) are not responses and go on.
      const g = inm.protospec;
      if (g instanceof HostGroup && (g.state === G_QUERY_PENDING_MEMBER || g.state === SG_QUERY_PENDING_MEMBER)) {
        g.timer?.stop();
        g.timer = undefined;
        g.querySources = null;
        g.state = REPORTING_MEMBER;
        this.settle(g);
      }
      return;
    }
    const g = this.groupState(inm);
    if (g.timer?.pending) {
      g.timer.stop();
      g.timer = undefined;
    }
    g.unsolicitedLeft = 0;
    g.otherReported = true;
    g.state = this.generation === 1 ? LAZY_MEMBER : SLEEPING_MEMBER;
  }

  /** The general query timer fired: every reported group's current state, packed (§5.2). */
  private answerGeneral(): void {
    this.gqTimer = undefined;
    // Records stream into the packer, which reuses its record objects from
    // one report to the next (and from one answer to the next): answering
    // 100,000 groups allocates per report, not per group.
    const packer = this.gqPacker;
    packer.start(); // the MTU may have changed since the last answer
    for (const inm of this.b.groups()) {
      const st = inm.st[1];
      // A group being left (LEAVING) is one the stack keeps only for us: protospecHolds says so
      // without reaching for the group's protocol state (one memory access less per group).
      if (st.mode === MCAST_UNDEFINED || inm.protospecHolds || !this.b.isReported(inm.group)) continue;
      packer.addState(st.mode === MCAST_EXCLUDE ? 'IS_EX' : 'IS_IN', inm.group, st.sources);
    }
    packer.flush();
  }

  /** A group(-and-source) query's timer fired (§5.2, the three cases of the timer expiry). */
  private answerGroup(g: HostGroup): void {
    g.timer = undefined;
    const st = g.inm.st[1];
    const q = g.querySources;
    g.querySources = null;
    if (g.state === LEAVING_MEMBER || st.mode === MCAST_UNDEFINED) return;
    g.state = REPORTING_MEMBER;
    if (!q) {
      this.sendRecords([currentState(g.inm.group, st)]);
    } else {
      // INCLUDE(A): IS_IN(A * Q); EXCLUDE(A): IS_IN(Q - A). Nothing to say when empty.
      const srcs = [...q].filter(([k]) => (st.mode === MCAST_INCLUDE ? st.sources.has(k) : !st.sources.has(k))).map(([, a]) => a);
      if (srcs.length) this.sendRecords([{ type: 'IS_IN', group: g.inm.group, sources: srcs }]);
    }
    this.settle(g);
  }

  // ------------------------------------------------------------ compatibility (§7.2.1)

  private olderQuerierPresent(gen: 1 | 2): void {
    const ms = this.ovqpTimeoutMs();
    if (gen === 1) {
      this.v1Timer?.stop();
      this.v1Timer = this.b.sched.callout(ms, () => this.timerExpired(1), 'mgmd v1 querier present');
    } else {
      this.v2Timer?.stop();
      this.v2Timer = this.b.sched.callout(ms, () => this.timerExpired(2), 'mgmd v2 querier present');
    }
    this.recomputeGeneration();
  }

  private timerExpired(gen: 1 | 2): void {
    if (gen === 1) this.v1Timer = undefined;
    else this.v2Timer = undefined;
    this.recomputeGeneration();
  }

  /** Host Compatibility Mode: the oldest querier heard recently, never above the configured maximum. */
  recomputeGeneration(): void {
    let gen: Generation = this.config.maxGeneration;
    if (this.v2Timer?.pending && gen > 2) gen = 2;
    if (this.v1Timer?.pending) gen = 1;
    if (gen === this.generation) return;
    const from = this.generation;
    this.generation = gen;
    this.b.trace?.(`compatibility mode ${from} -> ${gen}`);
    if (from === 3) {
      // Leaving v3: cancel state-change retransmissions and pending query responses.
      this.gqTimer?.stop();
      this.gqTimer = undefined;
      for (const inm of [...this.b.groups()]) {
        const g = inm.protospec;
        if (!(g instanceof HostGroup)) continue; // REPORTING with nothing pending: nothing to cancel
        g.scTimer?.stop();
        g.scTimer = undefined;
        g.modeChangeLeft = 0;
        g.srcRetrans.clear();
        g.timer?.stop();
        g.timer = undefined;
        g.querySources = null;
        if (g.state === LEAVING_MEMBER) {
          // The older querier must still hear the leave (FreeBSD's igmp_v3_cancel_link_timers):
          // in v2 mode that is a leave (MLDv1: Done); v1 has none.
          if (gen === 2) this.b.send({ kind: 'leave', group: inm.group });
          g.state = NOT_MEMBER;
          inm.protospecHolds = false;
          this.b.release(inm);
        } else if (inm.st[1].mode !== MCAST_UNDEFINED && this.b.isReported(inm.group)) g.state = REPORTING_MEMBER;
      }
    } else {
      // §7.2.1: "When Host Compatibility Mode changes, hosts cancel all pending response and retransmission timers."
      for (const inm of this.b.groups()) {
        const g = inm.protospec;
        if (!(g instanceof HostGroup)) continue;
        g.timer?.stop();
        g.timer = undefined;
        g.unsolicitedLeft = 0;
        if (inm.st[1].mode !== MCAST_UNDEFINED && this.b.isReported(inm.group)) {
          if (gen === 3) {
            g.state = REPORTING_MEMBER;
            this.settle(g);
          }
        }
      }
    }
  }

  /** Change the highest generation (a forced version); takes effect at once. */
  setMaxGeneration(gen: Generation): void {
    this.config.maxGeneration = gen;
    this.recomputeGeneration();
  }

  // ------------------------------------------------------------ link events

  /** The link came (back) up: report every group again, as after a fresh join. */
  linkUp(): void {
    if (this.silent) return;
    for (const inm of [...this.b.groups()]) {
      if (inm.st[1].mode === MCAST_UNDEFINED || !this.b.isReported(inm.group)) continue;
      this.forget(inm);
      inm.st[0] = emptyState();
      this.changed(inm);
    }
  }

  /** Stop every timer (interface detached or host stopping). */
  stop(): void {
    for (const t of [this.v1Timer, this.v2Timer, this.gqTimer]) t?.stop();
    for (const inm of this.b.groups()) this.forget(inm);
  }

  // ------------------------------------------------------------ packing (§4.2.16)

  /**
   * Send records in as few reports as the MTU allows. A record too large for
   * one report is split into several of the same type, except IS_EX and
   * TO_EX, which keep as many sources as fit and drop the rest.
   */
  sendRecords(records: McRecord[]): void {
    const packer = new ReportPacker(this.b);
    for (const r of records) packer.add(r.type, r.group, r.sources);
    packer.flush();
  }
}

/**
 * Packs records into reports as RFC 9776 §4.2.16 says: as few reports as
 * the MTU allows; a record too large for one report is split into several
 * of the same type, except IS_EX and TO_EX, which keep as many sources as
 * fit and drop the rest. A report goes to the binding as soon as it is
 * full; the binding encodes it at once, so the record objects are reused
 * for the next report.
 */
class ReportPacker {
  private budget = 0;
  private readonly hdr: number;
  private readonly alen: number;
  private maxSrcs = 0;
  private readonly pool: McRecord[] = [];
  /** Per pool slot, a source list addState fills (kept for the slot's next use). */
  private readonly lists: Uint8Array[][] = [];
  private n = 0;
  private used = 0;

  constructor(private readonly b: HostBinding) {
    this.hdr = b.recordHeaderLen;
    this.alen = b.addrLen;
    this.start();
  }

  /** Take the budget of the interface as it is now; call before packing a new set of records. */
  start(): void {
    this.budget = this.b.recordBudget();
    this.maxSrcs = Math.floor((this.budget - this.hdr) / this.alen);
    this.n = 0;
    this.used = 0;
  }

  add(type: RecordType, group: Uint8Array, sources: Uint8Array[]): void {
    const max = this.maxSrcs;
    if (sources.length <= max) this.place(type, group, sources);
    else if (type === 'IS_EX' || type === 'TO_EX') this.place(type, group, sources.slice(0, max));
    else for (let i = 0; i < sources.length; i += max) this.place(type, group, sources.slice(i, i + max));
  }

  /** add() for the sources of a filter state, listed in an array of the packer's own when they fit one record. */
  addState(type: RecordType, group: Uint8Array, sources: ReadonlyMap<string, Uint8Array>): void {
    const k = sources.size;
    if (k === 0 || k > this.maxSrcs) {
      this.add(type, group, k ? [...sources.values()] : NO_ADDRS);
      return;
    }
    const r = this.slot(k);
    const list = (this.lists[this.n - 1] ??= []);
    if (list.length > k) list.length = k;
    let i = 0;
    for (const a of sources.values()) list[i++] = a;
    r.type = type;
    r.group = group;
    r.sources = list;
  }

  private place(type: RecordType, group: Uint8Array, sources: Uint8Array[]): void {
    const r = this.slot(sources.length);
    r.type = type;
    r.group = group;
    r.sources = sources;
  }

  /** The pool's next record, for one of `nsrc` sources, after sending the report when it would not fit. */
  private slot(nsrc: number): McRecord {
    const size = this.hdr + this.alen * nsrc;
    if (this.used + size > this.budget) this.flush();
    let r = this.pool[this.n];
    if (!r) this.pool.push((r = { type: 'IS_IN', group: NO_GROUP, sources: NO_ADDRS }));
    this.n++;
    this.used += size;
    return r;
  }

  flush(): void {
    // The binding encodes the records at once (HostBinding.send), so the pool itself goes when it is all in use.
    if (this.n) this.b.send({ kind: 'v3report', records: this.n === this.pool.length ? this.pool : this.pool.slice(0, this.n) });
    this.n = 0;
    this.used = 0;
  }
}

const NO_ADDRS: Uint8Array[] = [];
/** Placeholder group of a pool record not yet filled. */
const NO_GROUP = new Uint8Array(0);

function currentState(group: Uint8Array, st: FilterState): McRecord {
  const type: RecordType = st.mode === MCAST_EXCLUDE ? 'IS_EX' : 'IS_IN';
  return { type, group, sources: st.sources.size ? [...st.sources.values()] : NO_ADDRS };
}

export { SILENT_MEMBER };
