/**
 * The router side of Multicast Group Membership Discovery, shared by IGMP
 * and MLD: the querier of RFC 9776 §6 (IGMPv3) and RFC 9777 §7 (MLDv2),
 * and of RFC 2236 (IGMPv2) / RFC 2710 (MLDv1) when the interface runs an
 * older generation. One MgmdRouterIf per interface; the protocol bindings
 * (src/igmp, src/mld) turn its abstract queries into bytes and feed it
 * decoded reports and other routers' queries.
 *
 * Router state per group (RFC 9776 §6.2.1): a filter mode, a group timer
 * (running only in EXCLUDE mode) and source records with timers. In
 * EXCLUDE mode a source with a running timer is in the "requested" list X
 * and a source whose timer is 0 in the "exclude" list Y. Timers are kept as
 * deadlines (ms on the scheduler's clock, 0 = not running) and one callout
 * per group fires at the earliest of them, so a group with many sources
 * costs one timer.
 *
 * Older generations (RFC 9776 §7.3.2, RFC 9777 §8.3.2): a v1 or v2 report
 * starts that generation's Older Host Present timer for the group; while it
 * runs the group is in that compatibility mode: v1/v2 reports are IS_EX({}),
 * leaves are TO_IN({}) (ignored in v1 mode), BLOCK records are ignored and
 * TO_EX(A) is TO_EX({}). An interface configured for generation 2 (an
 * IGMPv2 or MLDv1 router) is the same machine with every group held at
 * compatibility mode 2 or lower: RFC 2236's "members present / checking
 * membership" states are EXCLUDE({}) with the group timer running, and its
 * leave processing is TO_IN({}) with Q(G).
 *
 * SSM (RFC 4604 §3.1, §3.5, §3.7): for groups in the SSM range, EXCLUDE-mode records
 * and v1/v2 reports and leaves are ignored (and counted).
 */
import type { Callout, Scheduler } from '../kern/clock.js';
import { addrKey, MCAST_EXCLUDE, MCAST_INCLUDE, type RecordType } from '../inet/in_mcast.js';
import type { Generation, McRecord } from './types.js';

/** A query the router asks its binding to send. */
export interface RouterQuery {
  generation: Generation;
  /** All zeroes for a general query. */
  group: Uint8Array;
  sources: Uint8Array[];
  maxRespMs: number;
  /** Suppress Router-Side Processing (generation 3 only). */
  sFlag: boolean;
  /** Querier's Robustness Variable and Query Interval (seconds) to advertise (generation 3). */
  qrv: number;
  qqiSeconds: number;
}

/** A query received from another router, decoded. */
export interface ReceivedQuery {
  generation: Generation;
  src: Uint8Array;
  group: Uint8Array;
  sources: Uint8Array[];
  maxRespMs: number;
  sFlag: boolean;
  qrv: number;
  qqiSeconds: number;
}

export interface RouterBinding {
  readonly sched: Scheduler;
  readonly addrLen: number;
  /** The address this router queries from (IPv4 interface address, IPv6 link-local); undefined: none yet. */
  address(): Uint8Array | undefined;
  /** Put a query on the wire; false when it could not go (no address to send from, link down). */
  send(q: RouterQuery): boolean;
  /** How many sources fit in one group-and-source query on this link (RFC 9776 §4.1.8: the MTU limits them). */
  maxQuerySources(): number;
  /** Whether a group is in the source-specific range (232/8, ff3x::/32). */
  isSsm(group: Uint8Array): boolean;
  /** Address text for traces and tables. */
  fmt(a: Uint8Array): string;
  /** Log a protocol event for timelines (optional). */
  trace?(event: string): void;
  /** Warn the operator (the host's kernel messages, log(9)); the router rate-limits its warnings. */
  warn?(message: string): void;
  /** The protocol's name for a generation, such as IGMPv2 or MLDv1 (for warnings). */
  versionName?(generation: Generation): string;
}

/** At most one version-mismatch warning (older or newer querier) per interface in this long (RFC 9776 §7.3.1: "MUST be rate-limited"). */
export const VERSION_WARN_INTERVAL_MS = 60_000;

/** Tunables of RFC 9776 §8 / RFC 9777 §9, with the RFC defaults. */
export interface RouterConfig {
  /** The version the interface runs as a router: IGMP 1, 2, 3; MLDv1 = 2, MLDv2 = 3. */
  generation: Generation;
  /** Robustness Variable. */
  rv: number;
  /** Query Interval, seconds. */
  qi: number;
  /** Query Response Interval, seconds (less than qi). */
  qri: number;
  /** Last Member Query Interval (Last Listener Query Interval), milliseconds. */
  lmqiMs: number;
  /** Last Member Query Count; undefined: the Robustness Variable. */
  lmqc?: number;
  /** Startup Query Count; undefined: the Robustness Variable. */
  startupQueryCount?: number;
  /** Startup Query Interval, milliseconds; undefined: a quarter of the Query Interval. */
  startupQueryIntervalMs?: number;
}

export const DEFAULT_ROUTER_CONFIG: RouterConfig = { generation: 3, rv: 2, qi: 125, qri: 10, lmqiMs: 1000 };

/** Router-side counters (taplab's; FreeBSD has no querier). */
export class RouterStats {
  generalQueriesSent = 0;
  groupQueriesSent = 0;
  groupSourceQueriesSent = 0;
  reportsReceived = 0;
  recordsProcessed = 0;
  /** Records or reports ignored: BLOCK in compatibility mode, EXCLUDE for SSM groups, leaves in v1 mode, v3 reports to an older router. */
  recordsIgnored = 0;
  queriesReceived = 0;
  /** v3 records dropped as malformed: unknown record type, group not multicast. */
  badRecords = 0;
  /** General queries of an older version than ours (an older router on the link, §7.3.1). */
  olderVersionQueries = 0;
  /** Queries of a newer version than the one this router is configured for (§7.3.1: that querier should be configured down). */
  newerVersionQueries = 0;
  /** v1/v2 reports longer than 8 octets (the extra octets are ignored, RFC 2236 §2.5). */
  reportsWithTrailingData = 0;
  /** Times this router gave up being querier to a lower address. */
  querierLost = 0;
  groupsCreated = 0;
  groupsExpired = 0;
}

export class RouterSource {
  /** Source timer deadline; 0 = not running (the EXCLUDE-mode "exclude" list). */
  expires = 0;
  /** Group-and-source query retransmissions still to send for this source. */
  retrans = 0;
  constructor(readonly addr: Uint8Array) {}
}

/** The source list of a record without sources, as apply() keys it. */
const NO_SOURCES: ReadonlyMap<string, Uint8Array> = new Map();

export class RouterGroup {
  mode: typeof MCAST_INCLUDE | typeof MCAST_EXCLUDE = MCAST_INCLUDE;
  /** Group timer deadline (EXCLUDE mode); 0 = not running. */
  expires = 0;
  readonly sources = new Map<string, RouterSource>();
  /** Older Host Present timer deadlines for generations 1 and 2. */
  v1Host = 0;
  v2Host = 0;
  /** Group-specific query retransmissions still to send. */
  gRetrans = 0;
  lastReporter: Uint8Array | undefined;
  timer: Callout | undefined;
  /** What `timer` runs (made by the router on first use). */
  onTimer: (() => void) | undefined;
  rtx: Callout | undefined;
  constructor(
    readonly group: Uint8Array,
    /** When the group was learnt (scheduler ms), for the uptime column. */
    readonly created: number,
  ) {}
}

/** One row of the router membership table, as the sysctl tree and the querier tool show it. */
export interface RouterGroupView {
  group: string;
  mode: 'include' | 'exclude';
  /** Seconds left on the group timer (0: not running). */
  timer: number;
  /** Compatibility mode of the group: 1, 2 or 3 (generation). */
  compat: Generation;
  v1HostTimer: number;
  v2HostTimer: number;
  lastReporter: string | null;
  /** Seconds since the group was learnt. */
  uptime: number;
  sources: { addr: string; timer: number }[];
}

export interface RouterIfView {
  enabled: boolean;
  generation: Generation;
  querier: boolean;
  /** The current querier's address (ours when we are querier), null when unknown. */
  querierAddr: string | null;
  /** Seconds left on the Other Querier Present timer (0 when we are querier). */
  otherQuerierTimer: number;
  /** Seconds until our next general query (0 when we do not send them). */
  nextQuery: number;
  startupQueriesLeft: number;
  rv: number;
  qi: number;
  qri: number;
  lmqi: number;
  lmqc: number;
  groups: RouterGroupView[];
}

const secs = (ms: number): number => (ms > 0 ? Math.ceil(ms / 1000) : 0);

function compareAddr(a: Uint8Array, b: Uint8Array): number {
  for (let i = 0; i < a.length && i < b.length; i++) if (a[i] !== b[i]) return a[i] - b[i];
  return a.length - b.length;
}

export class MgmdRouterIf {
  readonly stats = new RouterStats();
  readonly groups = new Map<string, RouterGroup>();
  private cfg: RouterConfig;
  private enabled = false;
  private isQuerier = false;
  private otherQuerier: Uint8Array | undefined;
  /** When the last older-version warning went out, and how many were held back since. */
  private versionWarnedAt = -Infinity;
  private versionHeldBack = 0;
  private oqpTimer: Callout | undefined;
  private gqTimer: Callout | undefined;
  private startupLeft = 0;
  /** QRV/QQI adopted from the querier's queries while we are not querier (RFC 9776 §8.1, §8.2). */
  private adoptedRv = 0;
  private adoptedQi = 0;

  constructor(
    private readonly b: RouterBinding,
    config: Partial<RouterConfig> = {},
  ) {
    this.cfg = { ...DEFAULT_ROUTER_CONFIG, ...config };
  }

  // ------------------------------------------------------------------ configuration

  get config(): Readonly<RouterConfig> {
    return this.cfg;
  }

  /** Change tunables; the next timers use them. Ranges are the caller's to check (see checkRouterConfig). */
  configure(config: Partial<RouterConfig>): void {
    const next = { ...this.cfg, ...config };
    checkRouterConfig(next);
    const genChanged = next.generation !== this.cfg.generation;
    this.cfg = next;
    if (!genChanged) return;
    // Queries pending in the old version are dropped (a v1 router has no group queries);
    // a general query in the new version tells the hosts at once.
    for (const g of this.groups.values()) {
      g.gRetrans = 0;
      for (const src of g.sources.values()) src.retrans = 0;
      g.rtx?.stop();
      g.rtx = undefined;
      this.rearm(g);
    }
    if (this.querier) this.generalQuery();
  }

  /** The robustness variable, query interval and query response interval in use (adopted ones as a non-querier). */
  get rv(): number {
    return !this.isQuerier && this.adoptedRv ? this.adoptedRv : this.cfg.rv;
  }
  get qiMs(): number {
    return (!this.isQuerier && this.adoptedQi ? this.adoptedQi : this.cfg.qi) * 1000;
  }
  get qriMs(): number {
    return this.cfg.qri * 1000;
  }
  get lmqc(): number {
    return this.cfg.lmqc ?? this.rv;
  }
  /**
   * Group Membership Interval (RFC 9776 §8.4; MALI, RFC 9777 §9.4): RV times
   * QI plus twice the Query Response Interval (the 2025 revisions; RFC
   * 3376/3810 added it once).
   */
  get gmi(): number {
    return this.rv * this.qiMs + 2 * this.qriMs;
  }
  /** Last Member Query Time (§8.8). */
  get lmqt(): number {
    return this.cfg.lmqiMs * this.lmqc;
  }
  /** Other Querier Present Interval (§8.5). */
  get oqpi(): number {
    return this.rv * this.qiMs + this.qriMs / 2;
  }
  /** Older Host Present Interval (§8.13). */
  get ohpi(): number {
    return this.rv * this.qiMs + this.qriMs;
  }

  // ------------------------------------------------------------------ life

  get active(): boolean {
    return this.enabled;
  }

  get querier(): boolean {
    return this.enabled && this.isQuerier;
  }

  /** Start as querier: Startup Query Count general queries, Startup Query Interval apart (§6.6.2 "initially"). */
  enable(): void {
    if (this.enabled) return;
    this.enabled = true;
    this.isQuerier = true;
    this.otherQuerier = undefined;
    this.startupLeft = (this.cfg.startupQueryCount ?? this.cfg.rv) - 1;
    this.trace('querier enabled: startup');
    this.generalQuery();
  }

  /** Stop: no queries, no timers, the table forgotten. */
  disable(): void {
    if (!this.enabled) return;
    this.enabled = false;
    this.isQuerier = false;
    this.gqTimer?.stop();
    this.oqpTimer?.stop();
    this.gqTimer = this.oqpTimer = undefined;
    for (const g of this.groups.values()) {
      g.timer?.stop();
      g.rtx?.stop();
    }
    this.groups.clear();
  }

  /** The link went down and up again: start over as querier, as after enable() (the table is kept). */
  linkUp(): void {
    if (!this.enabled) return;
    this.oqpTimer?.stop();
    this.oqpTimer = undefined;
    this.isQuerier = true;
    this.otherQuerier = undefined;
    this.startupLeft = (this.cfg.startupQueryCount ?? this.cfg.rv) - 1;
    this.generalQuery();
  }

  private warnVersionMismatch(q: ReceivedQuery, now: number): void {
    if (now - this.versionWarnedAt < VERSION_WARN_INTERVAL_MS) {
      this.versionHeldBack++;
      return;
    }
    const more = this.versionHeldBack ? ` (${this.versionHeldBack} more since the last warning)` : '';
    this.versionWarnedAt = now;
    this.versionHeldBack = 0;
    const name = (g: Generation) => this.b.versionName?.(g) ?? `version ${g}`;
    const theirs = name(q.generation);
    const ours = name(this.cfg.generation);
    this.b.warn?.(
      q.generation < this.cfg.generation
        ? `${theirs} querier ${this.b.fmt(q.src)} on the link, and this router runs ${ours}: configure it for ${theirs}${more}`
        : `${theirs} querier ${this.b.fmt(q.src)} on the link, and this router is configured for ${ours}: configure that querier for ${ours}${more}`,
    );
  }

  private trace(event: string): void {
    this.b.trace?.(event);
  }

  // ------------------------------------------------------------------ queries we send

  private zeroGroup(): Uint8Array {
    return new Uint8Array(this.b.addrLen);
  }

  /**
   * Put a query on the wire, split into as many group-and-source queries as
   * the link's MTU needs (RFC 9776 §4.1.8, RFC 9777 §5.1.10). Counted only
   * when it went out.
   */
  private sendQuery(group: Uint8Array, sources: Uint8Array[], maxRespMs: number, sFlag: boolean): void {
    const gen = this.cfg.generation;
    const max = Math.max(1, this.b.maxQuerySources());
    for (let i = 0; i === 0 || i < sources.length; i += max) {
      const part = sources.length > max ? sources.slice(i, i + max) : sources;
      const sent = this.b.send({
        generation: gen,
        group,
        sources: part,
        // IGMPv1 queries carry no response time (hosts use 10 s).
        maxRespMs: gen === 1 ? 0 : maxRespMs,
        sFlag: gen === 3 && sFlag,
        qrv: this.cfg.rv,
        qqiSeconds: this.cfg.qi,
      });
      if (!sent) return;
      if (group.every((x) => x === 0)) this.stats.generalQueriesSent++;
      else if (part.length) this.stats.groupSourceQueriesSent++;
      else this.stats.groupQueriesSent++;
    }
  }

  /**
   * Send a general query now and schedule the next: Startup Query Interval
   * apart while startup queries are left (`startupLeft` counts those still
   * to send after this one), Query Interval apart after.
   */
  private generalQuery(startupFollowUp = false): void {
    this.gqTimer?.stop();
    if (startupFollowUp && this.startupLeft > 0) this.startupLeft--;
    this.sendQuery(this.zeroGroup(), [], this.qriMs, false);
    const startup = this.startupLeft > 0;
    const next = startup ? (this.cfg.startupQueryIntervalMs ?? this.cfg.qi * 250) : this.qiMs;
    this.gqTimer = this.b.sched.callout(next, () => {
      this.gqTimer = undefined;
      if (this.querier) this.generalQuery(startup);
    }, 'querier general query');
  }

  /** Lab control: a general query now (only the querier sends queries). */
  queryNow(group?: Uint8Array, sources: Uint8Array[] = []): void {
    if (!this.querier) return;
    if (!group || group.every((x) => x === 0)) {
      this.sendQuery(this.zeroGroup(), [], this.qriMs, false);
      return;
    }
    if (this.cfg.generation === 1) return; // v1 has no group-specific queries
    const g = this.groups.get(addrKey(group));
    if (sources.length && this.cfg.generation === 3) {
      if (g) this.sendQG_S(g, sources);
      else this.sendQuery(group, sources, this.cfg.lmqiMs, false);
    } else if (g) this.sendQG(g);
    else this.sendQuery(group, [], this.cfg.lmqiMs, false);
  }

  /**
   * Send Q(G) (§6.6.3.1): lower the group timer to LMQT, query now, and
   * retransmit Last Member Query Count - 1 times, LMQI apart; a
   * retransmission sets S when the group timer is above LMQT by then.
   */
  private sendQG(g: RouterGroup): void {
    if (!this.querier || this.cfg.generation === 1) return;
    const now = this.b.sched.now();
    const lmqtAt = now + this.lmqt;
    if (g.mode === MCAST_EXCLUDE && (g.expires === 0 || g.expires > lmqtAt)) g.expires = lmqtAt;
    this.sendQuery(g.group, [], this.cfg.lmqiMs, g.expires - now > this.lmqt);
    g.gRetrans = this.lmqc - 1;
    this.rearm(g);
    this.armRtx(g);
  }

  /**
   * Send Q(G,A) (§6.6.3.2): sources of A whose timer is above LMQT get
   * their timer lowered to LMQT and Last Member Query Count transmissions;
   * each transmission is two queries, S set for sources whose timer is
   * (again) above LMQT and S clear for the others, empty ones not sent.
   */
  private sendQG_S(g: RouterGroup, addrs: Uint8Array[]): void {
    if (!this.querier || this.cfg.generation !== 3) return;
    const now = this.b.sched.now();
    const lmqt = this.lmqt;
    let any = false;
    for (const a of addrs) {
      const s = g.sources.get(addrKey(a));
      if (!s || s.expires - now <= lmqt) continue;
      s.expires = now + lmqt;
      s.retrans = this.lmqc;
      any = true;
    }
    if (!any) return;
    this.sendSourceQueries(g);
    this.rearm(g);
    this.armRtx(g);
  }

  private sendSourceQueries(g: RouterGroup): void {
    const now = this.b.sched.now();
    const withS: Uint8Array[] = [];
    const withoutS: Uint8Array[] = [];
    for (const s of g.sources.values()) {
      if (s.retrans <= 0) continue;
      (s.expires - now > this.lmqt ? withS : withoutS).push(s.addr);
      s.retrans--;
    }
    if (withS.length) this.sendQuery(g.group, withS, this.cfg.lmqiMs, true);
    if (withoutS.length) this.sendQuery(g.group, withoutS, this.cfg.lmqiMs, false);
  }

  private armRtx(g: RouterGroup): void {
    if (g.rtx?.pending) return;
    const pending = g.gRetrans > 0 || [...g.sources.values()].some((s) => s.retrans > 0);
    if (!pending) return;
    g.rtx = this.b.sched.callout(this.cfg.lmqiMs, () => {
      g.rtx = undefined;
      if (!this.querier || this.groups.get(addrKey(g.group)) !== g) return;
      if (g.gRetrans > 0) {
        g.gRetrans--;
        const now = this.b.sched.now();
        this.sendQuery(g.group, [], this.cfg.lmqiMs, g.mode === MCAST_EXCLUDE && g.expires - now > this.lmqt);
      }
      this.sendSourceQueries(g);
      this.armRtx(g);
    }, 'querier retransmission');
  }

  // ------------------------------------------------------------------ queries we receive

  /** Another router's query: election (§6.6.2), adopted QRV/QQI, timer lowering by non-queriers (§6.6.1). */
  query(q: ReceivedQuery): void {
    if (!this.enabled) return;
    this.stats.queriesReceived++;
    const own = this.b.address();
    const now = this.b.sched.now();
    const general = q.group.every((x) => x === 0);
    if (own && compareAddr(q.src, own) === 0) return; // our own, looped
    // §7.3.1 (RFC 9777 §8.3.1): the link runs the oldest version present, set by
    // hand. A router hearing an older version's general query should warn (configure
    // this router down), and so should one configured for an older version that hears
    // a newer version's query (configure that querier down); rate-limited. A query
    // from 0.0.0.0 or :: is a snooping switch without an address, not a router.
    if (q.src.some((x) => x !== 0)) {
      if (general && q.generation < this.cfg.generation) {
        this.stats.olderVersionQueries++;
        this.trace(`querier: an older-version general query from ${this.b.fmt(q.src)}: configure this router for that version`);
        this.warnVersionMismatch(q, now);
      } else if (q.generation > this.cfg.generation) {
        this.stats.newerVersionQueries++;
        this.trace(`querier: a newer-version query from ${this.b.fmt(q.src)}: configure that querier for this router's version`);
        this.warnVersionMismatch(q, now);
      }
    }
    // Which queries elect: RFC 9776 §6.6.2 (IGMPv3) counts General Queries only; RFC 2236
    // §3 (IGMPv2), RFC 2710 §4 (MLDv1) and RFC 9777 §7.6.2 (MLDv2) any Query from a lower
    // address. A query from the unspecified address (a snooping switch without an
    // address) is no querier to defer to.
    const elects = general || this.cfg.generation < 3 || this.b.addrLen === 16;
    if (elects && !q.src.every((x) => x === 0) && (!own || compareAddr(q.src, own) < 0)) {
      if (this.isQuerier) {
        this.stats.querierLost++;
        this.trace(`querier: ${this.b.fmt(q.src)} has a lower address, becoming non-querier`);
      }
      this.isQuerier = false;
      this.otherQuerier = q.src;
      this.gqTimer?.stop();
      this.gqTimer = undefined;
      this.startupLeft = 0;
      // §4.1.6/§4.1.7: the most recent query's QRV and QQI, or our configured values when it gives 0.
      if (q.generation === 3) {
        this.adoptedRv = q.qrv;
        this.adoptedQi = q.qqiSeconds;
      }
      this.oqpTimer?.stop();
      this.oqpTimer = this.b.sched.callout(this.oqpi, () => {
        this.oqpTimer = undefined;
        if (!this.enabled) return;
        this.trace('querier: other querier present timer expired, resuming as querier');
        this.isQuerier = true;
        this.otherQuerier = undefined;
        this.generalQuery();
      }, 'other querier present');
    }
    // §6.6.1: a router that receives (or sends) a group query without S lowers its timers.
    if (general || q.sFlag) return;
    const g = this.groups.get(addrKey(q.group));
    if (!g) return;
    const lmqt = this.lmqc * (q.maxRespMs || this.cfg.lmqiMs);
    if (q.sources.length === 0) {
      if (g.mode === MCAST_EXCLUDE && g.expires - now > lmqt) g.expires = now + lmqt;
    } else {
      for (const a of q.sources) {
        const s = g.sources.get(addrKey(a));
        if (s && s.expires - now > lmqt) s.expires = now + lmqt;
      }
    }
    this.rearm(g);
  }

  // ------------------------------------------------------------------ reports we receive

  /** The group's compatibility mode (§7.3.2), capped by the interface's generation. */
  compatMode(g: RouterGroup): Generation {
    const now = this.b.sched.now();
    let m: Generation = this.cfg.generation;
    if (g.v2Host > now && m > 2) m = 2;
    if (g.v1Host > now) m = 1;
    return m;
  }

  private group(key: string, addr: Uint8Array, create: boolean): RouterGroup | undefined {
    let g = this.groups.get(key);
    if (!g && create) {
      g = new RouterGroup(addr, this.b.sched.now());
      this.groups.set(key, g);
      this.stats.groupsCreated++;
    }
    return g;
  }

  /** A v1 or v2 report (IGMPv1/v2, MLDv1): IS_EX({}) and the Older Host Present timer. */
  oldReport(src: Uint8Array, generation: 1 | 2, group: Uint8Array): void {
    if (!this.enabled) return;
    this.stats.reportsReceived++;
    if (this.b.isSsm(group) || generation > this.cfg.generation) {
      this.stats.recordsIgnored++;
      return;
    }
    const key = addrKey(group);
    const g = this.group(key, group, true)!;
    const now = this.b.sched.now();
    if (generation === 1) g.v1Host = now + this.ohpi;
    else g.v2Host = now + this.ohpi;
    g.lastReporter = src;
    this.apply(g, 'IS_EX', []);
  }

  /** A leave (IGMPv2) or done (MLDv1): TO_IN({}), ignored while the group is in v1 mode. */
  leave(src: Uint8Array, group: Uint8Array): void {
    if (!this.enabled) return;
    this.stats.reportsReceived++;
    const g = this.groups.get(addrKey(group));
    if (!g) return;
    if (this.b.isSsm(group) || this.compatMode(g) === 1) {
      this.stats.recordsIgnored++;
      return;
    }
    g.lastReporter = src;
    this.apply(g, 'TO_IN', []);
  }

  /** A v3 / MLDv2 report: its records, each applied by the action table. */
  report(src: Uint8Array, records: McRecord[]): void {
    if (!this.enabled) return;
    this.stats.reportsReceived++;
    if (this.cfg.generation < 3) {
      this.stats.recordsIgnored += records.length;
      return;
    }
    for (const r of records) this.record(src, r);
  }

  private record(src: Uint8Array, r: McRecord): void {
    const type = r.type;
    let sources = r.sources;
    if (this.b.isSsm(r.group) && (type === 'IS_EX' || type === 'TO_EX')) {
      this.stats.recordsIgnored++;
      return;
    }
    const key = addrKey(r.group);
    const existing = this.groups.get(key);
    if (existing) {
      const mode = this.compatMode(existing);
      if (mode < 3) {
        // §7.3.2: BLOCK is ignored and TO_EX loses its sources; in v1 mode TO_IN is ignored too.
        if (type === 'BLOCK' || (mode === 1 && type === 'TO_IN')) {
          this.stats.recordsIgnored++;
          return;
        }
        if (type === 'TO_EX') sources = [];
      }
    }
    // A record that leaves a non-existent group in INCLUDE({}) creates nothing.
    const creates = type === 'IS_EX' || type === 'TO_EX' || sources.length > 0;
    if (!existing && (!creates || type === 'BLOCK')) {
      this.stats.recordsProcessed++;
      return;
    }
    const g = existing ?? this.group(key, r.group, true)!;
    g.lastReporter = src;
    this.apply(g, type, sources);
  }

  /** The action tables of RFC 9776 §6.4.1 (current state) and §6.4.2 (state change). */
  private apply(g: RouterGroup, type: RecordType, list: Uint8Array[]): void {
    this.stats.recordsProcessed++;
    const now = this.b.sched.now();
    const gmiAt = now + this.gmi;
    // Most records carry no sources (IS_EX {} of an any-source join): those share one empty map.
    let inB: ReadonlyMap<string, Uint8Array> = NO_SOURCES;
    if (list.length) {
      const m = new Map<string, Uint8Array>();
      for (const a of list) m.set(addrKey(a), a);
      inB = m;
    }
    const src = (k: string, a: Uint8Array): RouterSource => {
      let s = g.sources.get(k);
      if (!s) g.sources.set(k, (s = new RouterSource(a)));
      return s;
    };
    const queryList: Uint8Array[] = [];
    let queryGroup = false;

    if (g.mode === MCAST_INCLUDE) {
      switch (type) {
        case 'IS_IN':
        case 'ALLOW':
        case 'TO_IN': {
          // INCLUDE(A+B); (B)=GMI; TO_IN also Send Q(G,A-B).
          if (type === 'TO_IN') for (const [k, s] of g.sources) if (!inB.has(k)) queryList.push(s.addr);
          for (const [k, a] of inB) src(k, a).expires = gmiAt;
          break;
        }
        case 'BLOCK':
          // INCLUDE(A); Send Q(G,A*B).
          for (const k of inB.keys()) {
            const s = g.sources.get(k);
            if (s) queryList.push(s.addr);
          }
          break;
        case 'IS_EX':
        case 'TO_EX': {
          // EXCLUDE(A*B, B-A); (B-A)=0; Delete(A-B); Group Timer=GMI; TO_EX also Send Q(G,A*B).
          for (const k of [...g.sources.keys()]) if (!inB.has(k)) g.sources.delete(k);
          for (const [k, a] of inB) {
            const s = g.sources.get(k);
            if (s) {
              if (type === 'TO_EX') queryList.push(s.addr);
            } else src(k, a).expires = 0;
          }
          g.mode = MCAST_EXCLUDE;
          g.expires = gmiAt;
          break;
        }
      }
    } else {
      const inX = (s: RouterSource): boolean => s.expires > 0;
      switch (type) {
        case 'IS_IN':
        case 'ALLOW':
        case 'TO_IN': {
          // EXCLUDE(X+A, Y-A); (A)=GMI; TO_IN also Send Q(G,X-A) and Send Q(G).
          if (type === 'TO_IN') {
            for (const [k, s] of g.sources) if (inX(s) && !inB.has(k)) queryList.push(s.addr);
            queryGroup = true;
          }
          for (const [k, a] of inB) src(k, a).expires = gmiAt;
          break;
        }
        case 'BLOCK':
          // EXCLUDE(X+(A-Y), Y); (A-X-Y)=Group Timer; Send Q(G,A-Y).
          for (const [k, a] of inB) {
            const s = g.sources.get(k);
            if (!s) {
              src(k, a).expires = g.expires;
              queryList.push(a);
            } else if (inX(s)) queryList.push(s.addr);
          }
          break;
        case 'IS_EX':
        case 'TO_EX': {
          // EXCLUDE(A-Y, Y*A); (A-X-Y)=GMI (IS_EX) or Group Timer (TO_EX);
          // Delete(X-A); Delete(Y-A); TO_EX also Send Q(G,A-Y); Group Timer=GMI.
          for (const k of [...g.sources.keys()]) if (!inB.has(k)) g.sources.delete(k);
          for (const [k, a] of inB) {
            const s = g.sources.get(k);
            if (!s) {
              src(k, a).expires = type === 'IS_EX' ? gmiAt : g.expires;
              if (type === 'TO_EX') queryList.push(a);
            } else if (type === 'TO_EX' && inX(s)) queryList.push(s.addr);
          }
          g.expires = gmiAt;
          break;
        }
      }
    }
    if (queryList.length) this.sendQG_S(g, queryList);
    if (queryGroup) this.sendQG(g);
    this.settle(g);
  }

  // ------------------------------------------------------------------ timers

  /** Arm the group's one callout at its earliest deadline, or drop the group when nothing is left. */
  private rearm(g: RouterGroup): void {
    let next = Infinity;
    if (g.mode === MCAST_EXCLUDE && g.expires > 0) next = g.expires;
    for (const s of g.sources.values()) if (s.expires > 0 && s.expires < next) next = s.expires;
    const now = this.b.sched.now();
    if (g.v1Host > now && g.v1Host < next) next = g.v1Host;
    if (g.v2Host > now && g.v2Host < next) next = g.v2Host;
    // Timers mostly move later (every report refreshes them): a callout due
    // no later than the new earliest deadline is kept, and when it fires
    // early expire() finds nothing due and arms the next one.
    if (g.timer?.pending && g.timer.deadline <= next) return;
    g.timer?.stop();
    g.timer = undefined;
    if (next === Infinity) return;
    // The function is made once per group: every report re-arms the timer.
    g.onTimer ??= () => {
      g.timer = undefined;
      this.expire(g);
    };
    g.timer = this.b.sched.callout(next - now, g.onTimer, 'router group timer');
  }

  /** Timers that are due (§6.3, §6.5). */
  private expire(g: RouterGroup): void {
    const now = this.b.sched.now();
    if (g.mode === MCAST_EXCLUDE) {
      for (const s of g.sources.values()) if (s.expires > 0 && s.expires <= now) s.expires = 0; // X → Y: do not forward
      if (g.expires > 0 && g.expires <= now) {
        // Group timer expired: INCLUDE with the sources whose timers still run, or gone.
        g.expires = 0;
        for (const [k, s] of g.sources) if (s.expires === 0) g.sources.delete(k);
        g.mode = MCAST_INCLUDE;
        this.trace(`router: group ${this.b.fmt(g.group)} timer expired, ${g.sources.size ? 'now INCLUDE' : 'deleted'}`);
      }
    } else {
      for (const [k, s] of g.sources) if (s.expires > 0 && s.expires <= now) g.sources.delete(k);
    }
    this.settle(g);
  }

  private settle(g: RouterGroup): void {
    if (g.mode === MCAST_INCLUDE && g.sources.size === 0) {
      g.timer?.stop();
      g.rtx?.stop();
      if (this.groups.get(addrKey(g.group)) === g) {
        this.groups.delete(addrKey(g.group));
        this.stats.groupsExpired++;
      }
      return;
    }
    this.rearm(g);
  }

  // ------------------------------------------------------------------ views

  view(): RouterIfView {
    const now = this.b.sched.now();
    const own = this.b.address();
    const groups: RouterGroupView[] = [];
    for (const g of this.groups.values()) {
      groups.push({
        group: this.b.fmt(g.group),
        mode: g.mode === MCAST_EXCLUDE ? 'exclude' : 'include',
        timer: g.mode === MCAST_EXCLUDE ? secs(g.expires - now) : 0,
        compat: this.compatMode(g),
        v1HostTimer: secs(g.v1Host - now),
        v2HostTimer: secs(g.v2Host - now),
        lastReporter: g.lastReporter ? this.b.fmt(g.lastReporter) : null,
        uptime: Math.floor((now - g.created) / 1000),
        sources: [...g.sources.values()]
          .sort((a, b) => compareAddr(a.addr, b.addr))
          .map((s) => ({ addr: this.b.fmt(s.addr), timer: secs(s.expires - now) })),
      });
    }
    groups.sort((a, b) => (a.group < b.group ? -1 : a.group > b.group ? 1 : 0));
    return {
      enabled: this.enabled,
      generation: this.cfg.generation,
      querier: this.querier,
      querierAddr: this.querier ? (own ? this.b.fmt(own) : null) : this.otherQuerier ? this.b.fmt(this.otherQuerier) : null,
      otherQuerierTimer: this.oqpTimer?.pending ? secs(this.oqpTimer.remaining()) : 0,
      nextQuery: this.gqTimer?.pending ? secs(this.gqTimer.remaining()) : 0,
      startupQueriesLeft: this.startupLeft,
      rv: this.rv,
      qi: this.qiMs / 1000,
      qri: this.cfg.qri,
      lmqi: this.cfg.lmqiMs / 1000,
      lmqc: this.lmqc,
      groups,
    };
  }
}

/** Check a router configuration against the RFC's constraints; throws a RangeError naming the field. */
export function checkRouterConfig(c: RouterConfig): void {
  const int = (n: number, lo: number, hi: number, what: string): void => {
    if (!Number.isInteger(n) || n < lo || n > hi) throw new RangeError(`${what} must be an integer in ${lo}..${hi}, not ${n}`);
  };
  if (![1, 2, 3].includes(c.generation)) throw new RangeError(`the router version must be 1, 2 or 3, not ${c.generation}`);
  int(c.rv, 1, 7, 'the robustness variable');
  int(c.qi, 1, 31744, 'the query interval (seconds)');
  int(c.qri, 1, 3174, 'the query response interval (seconds)');
  if (c.qri >= c.qi) throw new RangeError(`the query response interval (${c.qri} s) must be less than the query interval (${c.qi} s)`);
  int(c.lmqiMs, 100, 31744_000, 'the last member query interval (ms)');
  if (c.lmqc !== undefined) int(c.lmqc, 1, 7, 'the last member query count');
  if (c.startupQueryCount !== undefined) int(c.startupQueryCount, 1, 7, 'the startup query count');
  if (c.startupQueryIntervalMs !== undefined) int(c.startupQueryIntervalMs, 100, 31744_000, 'the startup query interval (ms)');
}

/**
 * The routers of one protocol on a host, one per interface, made on first
 * use. Enabling a router puts the interface in all-multicast mode (as a
 * multicast router's interfaces are: v1/v2 reports go to the group address
 * itself) and taking it away undoes that.
 */
export class RouterInterfaces<I extends object> {
  private readonly map = new Map<I, MgmdRouterIf>();
  constructor(
    private readonly make: (ifp: I) => MgmdRouterIf,
    private readonly allmulti: (ifp: I, on: boolean) => void,
  ) {}

  /**
   * The interface layer's news: the link came back (start over with
   * startup queries, RFC 9776 §8.6), or the interface is going (stop and
   * forget it, so no timer outlives it).
   */
  linkUp(ifp: I): void {
    this.active(ifp)?.linkUp();
  }

  get(ifp: I): MgmdRouterIf {
    let r = this.map.get(ifp);
    if (!r) this.map.set(ifp, (r = this.make(ifp)));
    return r;
  }

  peek(ifp: I): MgmdRouterIf | undefined {
    return this.map.get(ifp);
  }

  /** The active router of an interface, if any (the input path asks this for every message). */
  active(ifp: I): MgmdRouterIf | undefined {
    const r = this.map.get(ifp);
    return r?.active ? r : undefined;
  }

  enable(ifp: I, config: Partial<RouterConfig> = {}): MgmdRouterIf {
    const r = this.get(ifp);
    r.configure(config);
    if (!r.active) {
      this.allmulti(ifp, true);
      r.enable();
    }
    return r;
  }

  disable(ifp: I): void {
    const r = this.map.get(ifp);
    if (!r?.active) return;
    r.disable();
    this.allmulti(ifp, false);
  }

  /** Forget an interface that is going away. */
  detach(ifp: I): void {
    this.map.get(ifp)?.disable();
    this.map.delete(ifp);
  }
}
