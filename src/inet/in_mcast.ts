/**
 * Multicast group membership state shared by IPv4 and IPv6 (FreeBSD's
 * in_mcast.c / in6_mcast.c, RFC 3678's source-filter model):
 *
 *  - SockFilter (in_mfilter): one socket's filter for one group on one
 *    interface: a mode (INCLUDE or EXCLUDE) and a source list.
 *  - InMulti (in_multi / in6_multi): the interface's state for the group,
 *    merged from every listener's filter as RFC 3376 §3.2 and RFC 3810 §4.2
 *    (RFC 9776/9777) define it, kept as t0 (committed: what the group
 *    protocol last reported) and t1 (pending). The group protocol reads the
 *    difference between them (stateChangeRecords) and commits.
 *
 * Addresses are byte arrays; sources are keyed by their hex text.
 */
import { kerr } from '../kern/errno.js';

export const MCAST_UNDEFINED = 0;
export const MCAST_INCLUDE = 1;
export const MCAST_EXCLUDE = 2;
export type FilterMode = typeof MCAST_INCLUDE | typeof MCAST_EXCLUDE;

/** FreeBSD's defaults: net.inet.ip.mcast.maxsocksrc and maxgrpsrc. */
export const MCAST_MAXSOCKSRC = 128;
export const MCAST_MAXGRPSRC = 512;

/**
 * A map key for an address: its bytes as a one-byte-per-character string,
 * built in one piece (concatenation would leave a chain of string pieces
 * behind every key). Keys are for lookups only, never shown.
 */
export function addrKey(a: Uint8Array): string {
  if (a.length === 4) return String.fromCharCode(a[0], a[1], a[2], a[3]);
  // IPv6 spelled out too: fromCharCode.apply on a typed array costs several times more
  // (the arguments are first copied into a list), and MLD input keys every datagram.
  if (a.length === 16)
    return String.fromCharCode(a[0], a[1], a[2], a[3], a[4], a[5], a[6], a[7], a[8], a[9], a[10], a[11], a[12], a[13], a[14], a[15]);
  return String.fromCharCode.apply(null, a as unknown as number[]);
}

/** A filter state: a mode and the sources "in mode" (included or excluded). */
export interface FilterState {
  mode: typeof MCAST_UNDEFINED | FilterMode;
  /** Sources by key. */
  sources: Map<string, Uint8Array>;
}

/**
 * The source map of every state without sources. States are replaced, never
 * edited in place, so one shared empty map saves an allocation per group
 * (most groups are any-source).
 */
export const NO_SOURCES: ReadonlyMap<string, Uint8Array> = new Map();

/** The two states without sources, shared by every group in them (states are replaced, never edited). */
const UNDEFINED_STATE: FilterState = Object.freeze({ mode: MCAST_UNDEFINED, sources: NO_SOURCES as Map<string, Uint8Array> });
const EXCLUDE_NONE: FilterState = Object.freeze({ mode: MCAST_EXCLUDE, sources: NO_SOURCES as Map<string, Uint8Array> });

export function emptyState(): FilterState {
  return UNDEFINED_STATE;
}

function copyState(s: FilterState): FilterState {
  if (s.sources.size === 0) return s.mode === MCAST_EXCLUDE ? EXCLUDE_NONE : UNDEFINED_STATE;
  return { mode: s.mode, sources: new Map(s.sources) };
}

/**
 * The listeners of a group: nearly always one or two, so an array is
 * smaller and faster than a Set.
 */
export class Listeners implements Iterable<SockFilter> {
  // Almost every group has one listener: keep it in a field, and make an
  // array only for the others (an array's first growth reserves 17 slots).
  private one: SockFilter | undefined;
  private more: SockFilter[] | undefined;

  add(f: SockFilter): void {
    if (this.has(f)) return;
    if (!this.one) this.one = f;
    else (this.more ??= []).push(f);
  }

  delete(f: SockFilter): boolean {
    if (this.one === f) {
      this.one = this.more?.shift();
      if (this.more?.length === 0) this.more = undefined;
      return true;
    }
    const i = this.more ? this.more.indexOf(f) : -1;
    if (i < 0) return false;
    this.more!.splice(i, 1);
    if (this.more!.length === 0) this.more = undefined;
    return true;
  }

  has(f: SockFilter): boolean {
    return this.one === f || (this.more?.includes(f) ?? false);
  }

  get size(): number {
    return (this.one ? 1 : 0) + (this.more?.length ?? 0);
  }

  *[Symbol.iterator](): Iterator<SockFilter> {
    if (this.one) yield this.one;
    if (this.more) yield* this.more;
  }
}

/** One listener's filter (a socket's, or the stack's own for groups like 224.0.0.1). */
export class SockFilter {
  constructor(
    public mode: FilterMode,
    /** Shared and empty until the first source: most memberships are any-source. */
    public sources: Map<string, Uint8Array> = NO_SOURCES as Map<string, Uint8Array>,
  ) {}

  addSource(src: Uint8Array): void {
    if (this.sources === NO_SOURCES) this.sources = new Map();
    this.sources.set(addrKey(src), src);
  }

  deleteSource(src: Uint8Array): void {
    if (this.sources !== NO_SOURCES) this.sources.delete(addrKey(src));
  }


  has(src: Uint8Array): boolean {
    return this.sources.has(addrKey(src));
  }

  /** Whether a datagram from `src` passes this filter (imo_multi_filter). */
  admits(src: Uint8Array): boolean {
    const listed = this.sources.has(addrKey(src));
    return this.mode === MCAST_INCLUDE ? listed : !listed;
  }
}

/**
 * The RFC 3376 §3.2 merge: EXCLUDE if any listener excludes, with the
 * intersection of the exclude lists minus the union of the include lists;
 * otherwise INCLUDE with the union of the include lists. No listeners, or
 * INCLUDE with no sources: no state (UNDEFINED).
 */
export function mergeFilters(listeners: Iterable<SockFilter>): FilterState {
  const ex: SockFilter[] = [];
  const inc: SockFilter[] = [];
  for (const f of listeners) (f.mode === MCAST_EXCLUDE ? ex : inc).push(f);
  if (ex.length === 1 && inc.length === 0 && ex[0].sources.size === 0) return EXCLUDE_NONE;
  const out: FilterState = { mode: MCAST_UNDEFINED, sources: NO_SOURCES as Map<string, Uint8Array> };
  if (ex.length) {
    out.mode = MCAST_EXCLUDE;
    const [first, ...rest] = ex;
    for (const [k, a] of first.sources) {
      if (rest.every((f) => f.sources.has(k)) && !inc.some((f) => f.sources.has(k))) {
        if (out.sources === NO_SOURCES) out.sources = new Map();
        out.sources.set(k, a);
      }
    }
    return out;
  }
  for (const f of inc)
    for (const [k, a] of f.sources) {
      if (out.sources === NO_SOURCES) out.sources = new Map();
      out.sources.set(k, a);
    }
  if (out.sources.size) out.mode = MCAST_INCLUDE;
  return out.sources.size ? out : copyState(out);
}

export type RecordType = 'IS_IN' | 'IS_EX' | 'TO_IN' | 'TO_EX' | 'ALLOW' | 'BLOCK';

export interface GroupRecord {
  type: RecordType;
  sources: Uint8Array[];
}

/**
 * The state-change records for a change of interface state from `from` to
 * `to` (RFC 3376 §5.1, RFC 9776 §5.1; RFC 3810 §6.1): INCLUDE(A) -> INCLUDE(B)
 * gives ALLOW(B-A) and BLOCK(A-B); EXCLUDE(A) -> EXCLUDE(B) gives ALLOW(A-B)
 * and BLOCK(B-A); a mode change gives TO_EX(B) or TO_IN(B). "No state" is
 * INCLUDE({}). Empty ALLOW/BLOCK records are not sent.
 */
export function stateChangeRecords(from: FilterState, to: FilterState): GroupRecord[] {
  const fm = from.mode === MCAST_EXCLUDE ? MCAST_EXCLUDE : MCAST_INCLUDE;
  const tm = to.mode === MCAST_EXCLUDE ? MCAST_EXCLUDE : MCAST_INCLUDE;
  if (fm !== tm) return [{ type: tm === MCAST_EXCLUDE ? 'TO_EX' : 'TO_IN', sources: [...to.sources.values()] }];
  const aMinusB = [...from.sources].filter(([k]) => !to.sources.has(k)).map(([, a]) => a);
  const bMinusA = [...to.sources].filter(([k]) => !from.sources.has(k)).map(([, a]) => a);
  const allow = fm === MCAST_INCLUDE ? bMinusA : aMinusB;
  const block = fm === MCAST_INCLUDE ? aMinusB : bMinusA;
  const recs: GroupRecord[] = [];
  if (allow.length) recs.push({ type: 'ALLOW', sources: allow });
  if (block.length) recs.push({ type: 'BLOCK', sources: block });
  return recs;
}

/** in_multi: the interface's membership of one group. */
export class InMulti<Ifp = unknown> {
  readonly listeners = new Listeners();
  /** st[0]: committed (last reported); st[1]: pending (merged now). */
  readonly st: [FilterState, FilterState] = [UNDEFINED_STATE, UNDEFINED_STATE];
  /** Protocol-private state (the IGMP/MLD group state machine). */
  protospec: unknown;
  /** Drops the interface-layer membership when the group goes (set by the address family). */
  // Method syntax keeps the parameter bivariant, so an InMulti<Ifnet> is still an InMulti.
  release?(inm: InMulti<Ifp>): void;
  /**
   * Set by the group protocol while it still has reports to send for a
   * group nobody listens to any more (FreeBSD keeps such an in_multi on its
   * leaving list); the stack releases the group when it is cleared.
   */
  protospecHolds = false;

  constructor(
    readonly ifp: Ifp,
    /** Kept as given, not copied: the caller hands over a fresh address. */
    readonly group: Uint8Array,
    readonly maxGroupSources = MCAST_MAXGRPSRC,
    readonly key: string = addrKey(group),
  ) {}

  /** Number of distinct sources any listener names (FreeBSD's inm_nsrc). */
  recordedSources(extra?: SockFilter): number {
    const all = new Set<string>();
    for (const f of this.listeners) for (const k of f.sources.keys()) all.add(k);
    if (extra) for (const k of extra.sources.keys()) all.add(k);
    return all.size;
  }

  /** Recompute t1 from the listeners. Returns whether t1 changed. */
  merge(): boolean {
    const next = mergeFilters(this.listeners);
    const changed = !sameState(next, this.st[1]);
    this.st[1] = changed ? next : this.st[1];
    return changed;
  }

  /** The records that take the reported state (t0) to the pending one (t1). */
  changes(): GroupRecord[] {
    return stateChangeRecords(this.st[0], this.st[1]);
  }

  /** t0 := t1 (the group protocol reported the change). */
  commit(): void {
    // States are replaced by merge(), never edited in place, so t0 can share t1's.
    this.st[0] = this.st[1];
  }

  /** The filter mode at t1, as net.inet.ip.mcast.filters exposes it. */
  get mode(): number {
    return this.st[1].mode;
  }

  /** Whether the interface as a whole wants traffic from `src` (t1). */
  admits(src: Uint8Array): boolean {
    const s = this.st[1];
    if (s.mode === MCAST_UNDEFINED) return false;
    const listed = s.sources.has(addrKey(src));
    return s.mode === MCAST_INCLUDE ? listed : !listed;
  }
}

export function sameState(a: FilterState, b: FilterState): boolean {
  if (a.mode !== b.mode || a.sources.size !== b.sources.size) return false;
  for (const k of a.sources.keys()) if (!b.sources.has(k)) return false;
  return true;
}

/** Throws ENOSPC (FreeBSD's inm_get_source) if adding `f` would take the group past its source limit. */
export function checkGroupLimit(inm: InMulti, f: SockFilter, what: string): void {
  if (inm.recordedSources(f) > inm.maxGroupSources)
    throw kerr('ENOSPC', `${what}: the group would have more than ${inm.maxGroupSources} sources (net.inet.ip.mcast.maxgrpsrc)`);
}
