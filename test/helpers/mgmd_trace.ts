// A "wire" on an in-memory segment for golden IGMP/MLD traces: a raw
// SegmentPort that injects queries and reports as a fake router or another
// host would, and a capture of every IGMP/MLD frame on the segment with its
// virtual time, decoded into one readable line per message.
import type { Segment, SegmentPort } from '../../src/driver/segment.js';
import { etherEmit, etherMapIpMulticast, etherMapIpv6Multicast, etherParse, ETHERTYPE_IP, ETHERTYPE_IPV6 } from '../../src/l2/ether.js';
import { inParse, inToString, inIsMulticast } from '../../src/inet/in.js';
import { in6Parse, in6ToString } from '../../src/inet/in6.js';
import { IPPROTO_ICMPV6, IPPROTO_IGMP, ipEmit, ipParse } from '../../src/inet/ip_codec.js';
import { ip6Emit, ip6Parse, ip6WalkExtensions } from '../../src/inet/ip6_codec.js';
import { igmpEmit, igmpParse, igmpQuery, recordTypeName, type IgmpMessage } from '../../src/igmp/codec.js';
import { mldEmit, mldParse, mldQuery, type MldMessage } from '../../src/mld/codec.js';
import { mac } from './vlab.js';

/** One IGMP or MLD message seen on the segment. */
export interface TraceEntry {
  /** Virtual time of transmission, ms. */
  t: number;
  /** The sending port ("h1.em0", "router"). */
  from: string;
  ipSrc: string;
  ipDst: string;
  /** IPv4 TTL, or IPv6 hop limit. */
  ttl: number;
  routerAlert: boolean;
  /** e.g. "IGMPv3 report TO_EX(239.1.1.1 {})", "IGMPv2 report 239.1.1.1", "MLDv2 report ALLOW(ff05::1 {2001:db8::1})". */
  msg: string;
}

/** Extra facts about an entry, kept beside it so that golden rows stay compact. */
export interface TraceDetail {
  /** Bytes of the IP datagram (header, options and Hop-by-Hop header included). */
  ipLen: number;
  /** Records of a v3/MLDv2 report: [type, group, number of sources]. */
  records: { type: string; group: string; sources: string[] }[];
  af: 4 | 6;
  /** For queries: S flag, Max Response Time in ms, QRV and QQI (seconds) as decoded. */
  query?: { sFlag: boolean; maxRespMs: number; qrv: number; qqi: number; len: number };
}

const SOURCES = (list: string[]) => `{${list.join(', ')}}`;

export function describeIgmpShort(m: IgmpMessage): string {
  switch (m.kind) {
    case 'query': {
      const g = m.group.every((b) => b === 0) ? 'general' : inToString(m.group);
      const srcs = m.sources.length ? ` ${SOURCES(m.sources.map((s) => inToString(s)))}` : '';
      return `IGMPv${m.version} query ${g}${srcs}`;
    }
    case 'v1report':
      return `IGMPv1 report ${inToString(m.group)}`;
    case 'v2report':
      return `IGMPv2 report ${inToString(m.group)}`;
    case 'leave':
      return `IGMPv2 leave ${inToString(m.group)}`;
    case 'v3report':
      return `IGMPv3 report ${m.records.map((r) => `${recordTypeName(r.type)}(${inToString(r.group)} ${SOURCES(r.sources.map((s) => inToString(s)))})`).join(' ')}`;
  }
}

export function describeMldShort(m: MldMessage): string {
  switch (m.kind) {
    case 'query': {
      const g = m.group.every((b) => b === 0) ? 'general' : in6ToString(m.group);
      const srcs = m.sources.length ? ` ${SOURCES(m.sources.map((s) => in6ToString(s)))}` : '';
      return `MLDv${m.version} query ${g}${srcs}`;
    }
    case 'v1report':
      return `MLDv1 report ${in6ToString(m.group)}`;
    case 'done':
      return `MLDv1 done ${in6ToString(m.group)}`;
    case 'v2report':
      return `MLDv2 report ${m.records.map((r) => `${recordTypeName(r.type)}(${in6ToString(r.group)} ${SOURCES(r.sources.map((s) => in6ToString(s)))})`).join(' ')}`;
  }
}

function a4(x: string | Uint8Array): Uint8Array {
  if (typeof x !== 'string') return x;
  const a = inParse(x);
  if (!a) throw new Error(`bad IPv4 address ${x}`);
  return a;
}

function a6(x: string | Uint8Array): Uint8Array {
  if (typeof x !== 'string') return x;
  const a = in6Parse(x);
  if (!a) throw new Error(`bad IPv6 address ${x}`);
  return a;
}

export interface IgmpSendOptions {
  src?: string;
  /** IP destination; default 224.0.0.1 for a general query, the group otherwise (224.0.0.2 for a leave). */
  dst?: string;
  ttl?: number;
  routerAlert?: boolean;
  /** The Ethernet destination (default: mapped from a multicast IP destination, broadcast for a unicast one). */
  ethDst?: string;
  /** Mangle the IGMP bytes after the checksum is computed (bad checksum, truncation). */
  mangle?: (igmp: Uint8Array) => Uint8Array;
}

export interface MldSendOptions {
  src?: string;
  dst?: string;
  hlim?: number;
  routerAlert?: boolean;
  /** The Ethernet destination (default: mapped from the IPv6 destination). */
  ethDst?: string;
}

export class MgmdWire {
  readonly port: SegmentPort;
  readonly entries: TraceEntry[] = [];
  readonly details: TraceDetail[] = [];
  private ipId = 1;

  constructor(
    readonly seg: Segment,
    readonly name = 'router',
    readonly macText = '02:00:00:00:00:fe',
    /** The wire's default IPv4 and IPv6 sources. */
    readonly ip4 = '192.0.2.254',
    readonly ip6 = 'fe80::fe',
  ) {
    this.port = seg.port(name);
    seg.observe((from, frame, t) => this.capture(from.name, frame, t));
  }

  private capture(from: string, frame: Uint8Array, t: number): void {
    const e = etherParse(frame);
    if ('error' in e) return;
    if (e.type === ETHERTYPE_IP) {
      const ip = ipParse(e.payload, 0, e.payload.length);
      if ('error' in ip || ip.hdr.p !== IPPROTO_IGMP) return;
      const m = igmpParse(e.payload, ip.payloadOff, ip.payloadLen);
      const msg = 'error' in m ? `IGMP error ${m.error}` : describeIgmpShort(m);
      this.entries.push({ t, from, ipSrc: inToString(ip.hdr.src), ipDst: inToString(ip.hdr.dst), ttl: ip.hdr.ttl, routerAlert: ip.hdr.routerAlert !== undefined, msg });
      this.details.push({
        ipLen: ip.hdr.len,
        af: 4,
        records: 'error' in m || m.kind !== 'v3report' ? [] : m.records.map((r) => ({ type: recordTypeName(r.type), group: inToString(r.group), sources: r.sources.map((s) => inToString(s)) })),
        query: 'error' in m || m.kind !== 'query' ? undefined : { sFlag: m.sFlag, maxRespMs: m.maxRespTenths * 100, qrv: m.qrv, qqi: m.qqiSeconds, len: ip.payloadLen },
      });
    } else if (e.type === ETHERTYPE_IPV6) {
      const p = ip6Parse(e.payload);
      if ('error' in p) return;
      const w = ip6WalkExtensions(e.payload, p.payloadOff, p.payloadLen, p.hdr.nextHeader);
      if ('error' in w || w.upper !== IPPROTO_ICMPV6) return;
      const type = e.payload[w.upperOff];
      if (![130, 131, 132, 143].includes(type)) return;
      const m = mldParse(e.payload.subarray(w.upperOff, w.upperOff + w.upperLen), p.hdr.src, p.hdr.dst);
      const msg = 'error' in m ? `MLD error ${m.error}` : describeMldShort(m);
      this.entries.push({ t, from, ipSrc: in6ToString(p.hdr.src), ipDst: in6ToString(p.hdr.dst), ttl: p.hdr.hopLimit, routerAlert: w.routerAlert !== undefined, msg });
      this.details.push({
        ipLen: 40 + p.payloadLen,
        af: 6,
        records: 'error' in m || m.kind !== 'v2report' ? [] : m.records.map((r) => ({ type: recordTypeName(r.type), group: in6ToString(r.group), sources: r.sources.map((s) => in6ToString(s)) })),
        query: 'error' in m || m.kind !== 'query' ? undefined : { sFlag: m.sFlag, maxRespMs: m.maxRespMs, qrv: m.qrv, qqi: m.qqiSeconds, len: w.upperLen },
      });
    }
  }

  /** Put a frame on the segment from this wire. */
  inject(frame: Uint8Array): void {
    this.port.transmit(frame, frame.length, 0, Uint32Array.of(frame.length), 1);
  }

  /** Send an IGMP message (TTL 1 and Router Alert unless told otherwise). */
  sendIgmp(m: IgmpMessage, o: IgmpSendOptions = {}): void {
    const general = m.kind === 'query' && m.group.every((b) => b === 0);
    const dstText = o.dst ?? (general || m.kind === 'v3report' ? (m.kind === 'v3report' ? '224.0.0.22' : '224.0.0.1') : m.kind === 'leave' ? '224.0.0.2' : inToString(m.group));
    const dst = a4(dstText);
    let igmp = igmpEmit(m);
    if (o.mangle) igmp = o.mangle(igmp);
    const ip = ipEmit({ id: this.ipId++, ttl: o.ttl ?? 1, p: IPPROTO_IGMP, src: a4(o.src ?? this.ip4), dst, routerAlert: o.routerAlert ?? true }, igmp);
    const ethDst = o.ethDst !== undefined ? mac(o.ethDst) : inIsMulticast(dst) ? etherMapIpMulticast(dst) : mac('ff:ff:ff:ff:ff:ff');
    this.inject(etherEmit({ dst: ethDst, src: mac(this.macText), type: ETHERTYPE_IP }, ip));
  }

  /** An IGMP query of any version from the fake router. */
  query4(q: { version: 1 | 2 | 3; group?: string; maxRespTenths?: number; qrv?: number; qqiSeconds?: number; sFlag?: boolean; sources?: string[] }, o: IgmpSendOptions = {}): void {
    const group = a4(q.group ?? '0.0.0.0');
    this.sendIgmp(igmpQuery({ ...q, group, sources: (q.sources ?? []).map(a4) }), o);
  }

  /** Send an MLD message (hop limit 1, Router Alert 0 in a Hop-by-Hop header, link-local source unless told otherwise). */
  sendMld(m: MldMessage, o: MldSendOptions = {}): void {
    const general = m.kind === 'query' && m.group.every((b) => b === 0);
    const dstText = o.dst ?? (m.kind === 'v2report' ? 'ff02::16' : m.kind === 'done' ? 'ff02::2' : general ? 'ff02::1' : in6ToString(m.group));
    const dst = a6(dstText);
    const src = a6(o.src ?? this.ip6);
    const ra = o.routerAlert ?? true;
    const ip = ip6Emit({ hopLimit: o.hlim ?? 1, src, dst, nextHeader: IPPROTO_ICMPV6, ...(ra ? { hopByHop: { routerAlert: 0 } } : {}), payload: mldEmit(m, src, dst) });
    const ethDst = o.ethDst !== undefined ? mac(o.ethDst) : etherMapIpv6Multicast(dst);
    this.inject(etherEmit({ dst: ethDst, src: mac(this.macText), type: ETHERTYPE_IPV6 }, ip));
  }

  /** An MLD query from the fake router. */
  query6(q: { version: 1 | 2; group?: string; maxRespMs?: number; qrv?: number; qqiSeconds?: number; sources?: string[] }, o: MldSendOptions = {}): void {
    this.sendMld(mldQuery({ ...q, group: a6(q.group ?? '::'), sources: (q.sources ?? []).map(a6) }), o);
  }

  /** Entries (and their details) from one sender, optionally only IGMP or only MLD, at or after time `since`. */
  select(f: { from?: string; af?: 4 | 6; since?: number; until?: number } = {}): { e: TraceEntry; d: TraceDetail }[] {
    const out: { e: TraceEntry; d: TraceDetail }[] = [];
    this.entries.forEach((e, i) => {
      const d = this.details[i];
      if (f.from !== undefined && e.from !== f.from) return;
      if (f.af !== undefined && d.af !== f.af) return;
      if (f.since !== undefined && e.t < f.since) return;
      if (f.until !== undefined && e.t > f.until) return;
      out.push({ e, d });
    });
    return out;
  }

  /** The trace rows of one sender (default: every host but the wire itself). */
  sent(from: string, af?: 4 | 6, since?: number): TraceEntry[] {
    return this.select({ from, af, since }).map((x) => x.e);
  }

  /** Messages only, for "what was said" assertions. */
  msgs(from: string, af?: 4 | 6, since?: number): string[] {
    return this.sent(from, af, since).map((e) => e.msg);
  }

  clear(): void {
    this.entries.length = 0;
    this.details.length = 0;
  }
}

/** Strip the time from rows, for golden comparisons of everything but the random instants. */
export function untimed(rows: TraceEntry[]): Omit<TraceEntry, 't'>[] {
  return rows.map(({ t: _t, ...rest }) => rest);
}

/** Whether every row's time lies in (lo, hi]. */
export function inWindow(rows: TraceEntry[], lo: number, hi: number): boolean {
  return rows.every((r) => r.t > lo && r.t <= hi);
}

/** Time gaps between consecutive rows (the first from `start`). */
export function gaps(rows: TraceEntry[], start: number): number[] {
  const out: number[] = [];
  let prev = start;
  for (const r of rows) {
    out.push(r.t - prev);
    prev = r.t;
  }
  return out;
}
