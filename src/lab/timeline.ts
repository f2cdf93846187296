/**
 * The lab's record of membership messages: one MembershipEvent per IGMP or
 * MLD message an interface sent or received, from the taplab hosts'
 * observe() hooks and, for kernel hosts and Linux bridges, from frames
 * captured on the bridge side (parsed with taplab's own codecs). The
 * timeline shows each message once, at its sender; `packets` checks match
 * events on one interface.
 */
import { describeIgmp, type IgmpEvent } from '../igmp/igmp.js';
import { describeMld, type MldEvent } from '../mld/mld.js';
import { igmpParse, recordTypeName, type IgmpMessage } from '../igmp/codec.js';
import { mldParse, type MldMessage } from '../mld/codec.js';
import { ipParse } from '../inet/ip_codec.js';
import { ip6Parse, ip6WalkExtensions } from '../inet/ip6_codec.js';
import { inParse, inToString } from '../inet/in.js';
import { in6Parse, in6ToString } from '../inet/in6.js';
import type { CheckSpec } from './labfile.js';

export interface MembershipEvent {
  /** Milliseconds since the lab started. */
  timeMs: number;
  /** The host (or bridge segment) whose interface saw the message. */
  host: string;
  ifname: string;
  dir: 'in' | 'out';
  proto: 'igmp' | 'mld';
  kind: 'query' | 'report' | 'leave' | 'done';
  /** IGMP 1-3 / MLD 1-2. */
  version: number;
  src: string;
  dst: string;
  /** Queries and v1/v2 messages: the group ('' for a general query). */
  group: string;
  /** Group-and-source queries: the sources. */
  sources: string[];
  /** v3 / MLDv2 reports. */
  records: { type: string; group: string; sources: string[] }[];
  /** The plain-language description (describeIgmp / describeMld). */
  text: string;
}

function igmpFields(msg: IgmpMessage): Pick<MembershipEvent, 'kind' | 'version' | 'group' | 'sources' | 'records'> {
  switch (msg.kind) {
    case 'query':
      return { kind: 'query', version: msg.version, group: msg.group.every((b) => b === 0) ? '' : inToString(msg.group), sources: msg.sources.map((s) => inToString(s)), records: [] };
    case 'v1report':
      return { kind: 'report', version: 1, group: inToString(msg.group), sources: [], records: [] };
    case 'v2report':
      return { kind: 'report', version: 2, group: inToString(msg.group), sources: [], records: [] };
    case 'leave':
      return { kind: 'leave', version: 2, group: inToString(msg.group), sources: [], records: [] };
    case 'v3report':
      return { kind: 'report', version: 3, group: '', sources: [], records: msg.records.map((r) => ({ type: recordTypeName(r.type), group: inToString(r.group), sources: r.sources.map((s) => inToString(s)) })) };
  }
}

function mldFields(msg: MldMessage): Pick<MembershipEvent, 'kind' | 'version' | 'group' | 'sources' | 'records'> {
  switch (msg.kind) {
    case 'query':
      return { kind: 'query', version: msg.version, group: msg.group.every((b) => b === 0) ? '' : in6ToString(msg.group), sources: msg.sources.map((s) => in6ToString(s)), records: [] };
    case 'v1report':
      return { kind: 'report', version: 1, group: in6ToString(msg.group), sources: [], records: [] };
    case 'done':
      return { kind: 'done', version: 1, group: in6ToString(msg.group), sources: [], records: [] };
    case 'v2report':
      return { kind: 'report', version: 2, group: '', sources: [], records: msg.records.map((r) => ({ type: recordTypeName(r.type), group: in6ToString(r.group), sources: r.sources.map((s) => in6ToString(s)) })) };
  }
}

export function fromIgmpEvent(host: string, ev: IgmpEvent, timeMs: number): MembershipEvent {
  return { timeMs, host, ifname: ev.ifp.if_xname, dir: ev.dir, proto: 'igmp', src: inToString(ev.src), dst: inToString(ev.dst), ...igmpFields(ev.msg), text: describeIgmp(ev.msg) };
}

export function fromMldEvent(host: string, ev: MldEvent, timeMs: number): MembershipEvent {
  return { timeMs, host, ifname: ev.ifp.if_xname, dir: ev.dir, proto: 'mld', src: in6ToString(ev.src), dst: in6ToString(ev.dst), ...mldFields(ev.msg), text: describeMld(ev.msg) };
}

/** Parse an Ethernet frame holding an IGMP or MLD message; undefined for anything else. */
export function parseMembershipFrame(frame: Uint8Array): Omit<MembershipEvent, 'timeMs' | 'host' | 'ifname' | 'dir'> | undefined {
  if (frame.length < 14) return undefined;
  const type = (frame[12] << 8) | frame[13];
  if (type === 0x0800) {
    const ip = ipParse(frame, 14, frame.length - 14);
    if ('error' in ip || ip.hdr.p !== 2) return undefined;
    const m = igmpParse(frame, ip.payloadOff, ip.payloadLen);
    if ('error' in m) return undefined;
    return { proto: 'igmp', src: inToString(ip.hdr.src), dst: inToString(ip.hdr.dst), ...igmpFields(m), text: describeIgmp(m) };
  }
  if (type === 0x86dd) {
    const ip = ip6Parse(frame, 14, frame.length - 14);
    if ('error' in ip) return undefined;
    const chain = ip6WalkExtensions(frame, ip.payloadOff, ip.payloadLen, ip.hdr.nextHeader);
    if ('error' in chain || chain.upper !== 58) return undefined;
    const m = mldParse(frame.subarray(chain.upperOff, chain.upperOff + chain.upperLen), ip.hdr.src, ip.hdr.dst);
    if ('error' in m) return undefined;
    return { proto: 'mld', src: in6ToString(ip.hdr.src), dst: in6ToString(ip.hdr.dst), ...mldFields(m), text: describeMld(m) };
  }
  return undefined;
}

/** Compare addresses by value (2001:db8::1 and 2001:DB8:0::1 are one address). */
export function sameAddress(a: string, b: string): boolean {
  const x = inParse(a) ?? in6Parse(a);
  const y = inParse(b) ?? in6Parse(b);
  if (!x || !y) return a === b;
  return x.length === y.length && x.every((v, i) => v === y[i]);
}

type PacketsCheck = Extract<CheckSpec, { kind: 'packets' }>;

/** Whether an event matches a packets check's filters (not its interface or window). */
export function matchesPacketFilter(e: MembershipEvent, c: PacketsCheck): boolean {
  if (c.dir !== 'any' && e.dir !== c.dir) return false;
  if (c.proto && e.proto !== c.proto) return false;
  if (c.type && e.kind !== c.type) return false;
  if (c.version !== undefined && e.version !== c.version) return false;
  if (c.from && !sameAddress(e.src, c.from)) return false;
  const sourcesMatch = (have: string[]) => !c.sources || (c.sources.length === have.length && c.sources.every((s) => have.some((h) => sameAddress(h, s))));
  if (c.record || (e.records.length && (c.group || c.sources))) {
    return e.records.some((r) => (!c.record || r.type === c.record) && (!c.group || sameAddress(r.group, c.group)) && sourcesMatch(r.sources));
  }
  if (c.group && !(e.group && sameAddress(e.group, c.group))) return false;
  if (c.sources && !sourcesMatch(e.sources)) return false;
  return true;
}

/** One timeline line for a message: `  4.002s  h1 → 224.0.0.22  IGMPv3 report: ALLOW(232.1.1.1 {198.51.100.7})`. */
export function formatEventLine(e: MembershipEvent, who: string): string {
  return `${(e.timeMs / 1000).toFixed(3).padStart(8)}s  ${who} → ${e.dst}  ${e.text}`;
}
