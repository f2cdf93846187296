/**
 * ICMPv6 (RFC 4443) and the Neighbor Discovery messages a host needs
 * (RFC 4861): a pure codec.
 *
 * Two layers, as in icmp6_input: icmp6Parse checks length and checksum and
 * splits a message into type, code and body (the bytes after the checksum);
 * the per-type parsers read a body and check what is intrinsic to the
 * message (code, length, option syntax). Checks that need the IP header
 * (hop limit 255, source/destination rules of RFC 4861 §6.1, §7.1) belong to
 * the protocol code. Errors are named after the icmp6stat counters they feed.
 */
import { packetBytes } from '../kern/bytes.js';
import { inetChecksum, pseudoHeaderSum6 } from './cksum.js';

/** Next Header value of ICMPv6 (RFC 4443 §1). */
export const IPPROTO_ICMPV6 = 58;

/** Type, code and checksum: the part every message has (RFC 4443 §2.1). */
export const ICMP6_HDR_LEN = 4;
/**
 * The shortest message icmp6_input accepts: struct icmp6_hdr, which includes
 * the first 32 bits of the body every type has (RFC 4443 §2.1).
 */
export const ICMP6_MINLEN = 8;

export const ICMP6_DST_UNREACH = 1;
export const ICMP6_PACKET_TOO_BIG = 2;
export const ICMP6_TIME_EXCEEDED = 3;
export const ICMP6_PARAM_PROB = 4;
export const ICMP6_ECHO_REQUEST = 128;
export const ICMP6_ECHO_REPLY = 129;
export const MLD_LISTENER_QUERY = 130;
export const MLD_LISTENER_REPORT = 131;
export const MLD_LISTENER_DONE = 132;
export const ND_ROUTER_SOLICIT = 133;
export const ND_ROUTER_ADVERT = 134;
export const ND_NEIGHBOR_SOLICIT = 135;
export const ND_NEIGHBOR_ADVERT = 136;
export const ND_REDIRECT = 137;
export const MLDV2_LISTENER_REPORT = 143;

// Parameter Problem codes (RFC 4443 §3.4).
export const ICMP6_PARAMPROB_HEADER = 0;
export const ICMP6_PARAMPROB_NEXTHEADER = 1;
export const ICMP6_PARAMPROB_OPTION = 2;

/**
 * An ICMPv6 error carries as much of the invoking packet as fits in the IPv6
 * minimum MTU (RFC 4443 §2.4(c)): 1280 - 40 (IPv6) - 8 (ICMPv6 header and the
 * 32-bit parameter) = 1232 bytes (FreeBSD's ICMPV6_PLD_MAXLEN).
 */
export const ICMP6_ERROR_INVOKING_MAX = 1232;

// ND options (RFC 4861 §4.6).
export const ND_OPT_SOURCE_LINKADDR = 1;
export const ND_OPT_TARGET_LINKADDR = 2;

// Neighbor Advertisement flags (RFC 4861 §4.4), in the first byte of the body.
const ND_NA_FLAG_ROUTER = 0x80;
const ND_NA_FLAG_SOLICITED = 0x40;
const ND_NA_FLAG_OVERRIDE = 0x20;

/** A checked message: body is a view of the bytes after the checksum (not a copy). */
export interface Icmp6Message {
  type: number;
  code: number;
  body: Uint8Array;
}

/** 'tooshort' feeds icp6s_tooshort, 'badsum' icp6s_checksum. */
export interface Icmp6ParseFailure {
  error: 'tooshort' | 'badsum';
  detail: string;
}

/** The checksum of an ICMPv6 message (RFC 4443 §2.3, pseudo-header of RFC 8200 §8.1). */
export function icmp6Checksum(msg: Uint8Array, src: Uint8Array, dst: Uint8Array): number {
  return inetChecksum(msg, 0, msg.length, pseudoHeaderSum6(src, dst, msg.length, IPPROTO_ICMPV6));
}

/**
 * Check an ICMPv6 message (exactly the upper-layer bytes of the datagram)
 * sent from `src` to `dst`. The checksum covers the checksum field itself, so
 * a correct message sums to zero.
 */
export function icmp6Parse(bytes: Uint8Array, src: Uint8Array, dst: Uint8Array): Icmp6Message | Icmp6ParseFailure {
  if (bytes.length < ICMP6_MINLEN)
    return { error: 'tooshort', detail: `ICMPv6 message of ${bytes.length} bytes, the minimum is ${ICMP6_MINLEN}` };
  const sum = icmp6Checksum(bytes, src, dst);
  if (sum !== 0) return { error: 'badsum', detail: `ICMPv6 checksum 0x${hex16(bytes, 2)} does not verify` };
  return { type: bytes[0], code: bytes[1], body: bytes.subarray(ICMP6_HDR_LEN) };
}

/** Build a message with its checksum for the given source and destination. */
export function icmp6Emit(type: number, code: number, body: Uint8Array, src: Uint8Array, dst: Uint8Array): Uint8Array {
  const out = packetBytes(ICMP6_HDR_LEN + body.length);
  out[0] = type;
  out[1] = code;
  out.set(body, ICMP6_HDR_LEN);
  const sum = icmp6Checksum(out, src, dst);
  out[2] = sum >> 8;
  out[3] = sum & 0xff;
  return out;
}

function hex16(b: Uint8Array, at: number): string {
  return ((b[at] << 8) | b[at + 1]).toString(16).padStart(4, '0');
}

/**
 * Why a type-specific parser refused a body, named after icmp6stat:
 *  - 'badcode': icp6s_badcode ("message(s) with bad code fields");
 *  - 'badlen':  icp6s_badlen  (shorter than the fixed part of its type);
 *  - 'badopt':  icp6s_nd_badopt (an ND option of length 0 or running past
 *               the end, RFC 4861 §4.6);
 *  - 'badlladdr': a link-layer address option of the wrong size for the link,
 *               'badtarget': a multicast target (RFC 4861 §7.1.1, §7.1.2);
 *               both icp6s_badns / icp6s_badna / icp6s_badrs by message.
 */
export type Icmp6BodyError = 'badcode' | 'badlen' | 'badopt' | 'badlladdr' | 'badtarget';

export interface Icmp6BodyFailure {
  error: Icmp6BodyError;
  detail: string;
}

function fail(error: Icmp6BodyError, detail: string): Icmp6BodyFailure {
  return { error, detail };
}

// ---------------------------------------------------------------- echo

/** Echo Request / Reply (RFC 4443 §4.1, §4.2). */
export interface Icmp6Echo {
  id: number;
  seq: number;
  data: Uint8Array;
}

export function icmp6EchoParse(m: Icmp6Message): Icmp6Echo | Icmp6BodyFailure {
  if (m.code !== 0) return fail('badcode', `echo with code ${m.code}`);
  if (m.body.length < 4) return fail('badlen', `echo body of ${m.body.length} bytes`);
  const b = m.body;
  return { id: (b[0] << 8) | b[1], seq: (b[2] << 8) | b[3], data: b.slice(4) };
}

export function icmp6EchoEmit(e: Icmp6Echo): Uint8Array {
  const out = new Uint8Array(4 + e.data.length);
  out[0] = (e.id >> 8) & 0xff;
  out[1] = e.id & 0xff;
  out[2] = (e.seq >> 8) & 0xff;
  out[3] = e.seq & 0xff;
  out.set(e.data, 4);
  return out;
}

// ---------------------------------------------------------------- errors

/** The common layout of error messages (RFC 4443 §3): a 32-bit parameter, then the invoking packet. */
export interface Icmp6Error {
  /** MTU for Packet Too Big, Pointer for Parameter Problem, unused (0) otherwise. */
  param: number;
  invoking: Uint8Array;
}

export function icmp6ErrorParse(m: Icmp6Message): Icmp6Error | Icmp6BodyFailure {
  if (m.body.length < 4) return fail('badlen', `error message body of ${m.body.length} bytes`);
  const b = m.body;
  return { param: ((b[0] << 24) | (b[1] << 16) | (b[2] << 8) | b[3]) >>> 0, invoking: b.slice(4) };
}

/** Body of an error message, the invoking packet cut to ICMP6_ERROR_INVOKING_MAX. */
export function icmp6ErrorEmit(e: Icmp6Error): Uint8Array {
  const inv = e.invoking.subarray(0, ICMP6_ERROR_INVOKING_MAX);
  const out = new Uint8Array(4 + inv.length);
  const p = e.param >>> 0;
  out[0] = p >>> 24;
  out[1] = (p >>> 16) & 0xff;
  out[2] = (p >>> 8) & 0xff;
  out[3] = p & 0xff;
  out.set(inv, 4);
  return out;
}

/**
 * Body of a Parameter Problem (RFC 4443 §3.4): `pointer` is the offset in the
 * invoking packet, counted from its IPv6 header, of the offending byte.
 * Send with type ICMP6_PARAM_PROB and an ICMP6_PARAMPROB_* code.
 */
export function icmp6ParamProblemEmit(pointer: number, invoking: Uint8Array): Uint8Array {
  return icmp6ErrorEmit({ param: pointer, invoking });
}

// ---------------------------------------------------------------- ND options

/** Options of ND messages (RFC 4861 §4.6). */
export interface Nd6Options {
  /** Source Link-Layer Address (type 1, §4.6.1). */
  sourceLinkAddr?: Uint8Array;
  /** Target Link-Layer Address (type 2, §4.6.1). */
  targetLinkAddr?: Uint8Array;
  /** Options not interpreted here, in order, data as on the wire (a multiple of 8 bytes, less 2). */
  other: { type: number; data: Uint8Array }[];
}

/**
 * Parse the options area of an ND message. Every option must have a non-zero
 * length and fit (RFC 4861 §4.6: "Nodes MUST silently discard an ND packet
 * that contains an option with length zero"); unrecognized ones are kept in
 * `other` for the caller to ignore (§4.6, §6.1, §7.1). A link-layer address
 * option must be exactly the size the link's address needs, padded to 8
 * bytes (for Ethernet, length 1 holding 6 bytes: RFC 2464 §6); a repeated one
 * is ignored, as FreeBSD's nd6_options does.
 */
export function nd6OptionsParse(b: Uint8Array, off: number, lladdrLen = 6): Nd6Options | Icmp6BodyFailure {
  const opts: Nd6Options = { other: [] };
  const llOptLen = (lladdrLen + 2 + 7) >> 3;
  let i = off;
  while (i < b.length) {
    if (b.length - i < 2) return fail('badopt', `ND option header cut short at byte ${i}`);
    const type = b[i];
    const units = b[i + 1];
    if (units === 0) return fail('badopt', `ND option ${type} with length 0`);
    const olen = units * 8;
    if (i + olen > b.length) return fail('badopt', `ND option ${type} of ${olen} bytes runs past the end`);
    if (type === ND_OPT_SOURCE_LINKADDR || type === ND_OPT_TARGET_LINKADDR) {
      if (units !== llOptLen)
        return fail('badlladdr', `link-layer address option of ${olen} bytes, expected ${llOptLen * 8}`);
      const key = type === ND_OPT_SOURCE_LINKADDR ? 'sourceLinkAddr' : 'targetLinkAddr';
      opts[key] ??= b.slice(i + 2, i + 2 + lladdrLen);
    } else {
      opts.other.push({ type, data: b.slice(i + 2, i + olen) });
    }
    i += olen;
  }
  return opts;
}

/** Encode ND options: link-layer addresses first, then `other`, each padded to 8 bytes. */
export function nd6OptionsEmit(o: Partial<Nd6Options>): Uint8Array {
  const parts: { type: number; data: Uint8Array }[] = [];
  if (o.sourceLinkAddr) parts.push({ type: ND_OPT_SOURCE_LINKADDR, data: o.sourceLinkAddr });
  if (o.targetLinkAddr) parts.push({ type: ND_OPT_TARGET_LINKADDR, data: o.targetLinkAddr });
  if (o.other) parts.push(...o.other);
  const size = parts.reduce((n, p) => n + ((p.data.length + 2 + 7) & ~7), 0);
  const out = new Uint8Array(size);
  let i = 0;
  for (const p of parts) {
    const olen = (p.data.length + 2 + 7) & ~7;
    out[i] = p.type;
    out[i + 1] = olen >> 3;
    out.set(p.data, i + 2);
    i += olen;
  }
  return out;
}

// ---------------------------------------------------------------- NS, NA, RS

/** Neighbor Solicitation (RFC 4861 §4.3). */
export interface Nd6NeighborSolicit {
  target: Uint8Array;
  options: Nd6Options;
}

/** Neighbor Advertisement (RFC 4861 §4.4). */
export interface Nd6NeighborAdvert {
  router: boolean;
  solicited: boolean;
  override: boolean;
  target: Uint8Array;
  options: Nd6Options;
}

/** Router Solicitation (RFC 4861 §4.1). */
export interface Nd6RouterSolicit {
  options: Nd6Options;
}

/** ND messages have code 0 (RFC 4861 §6.1.1, §7.1.1, §7.1.2). */
function ndFixed(m: Icmp6Message, name: string, fixed: number): Icmp6BodyFailure | undefined {
  if (m.code !== 0) return fail('badcode', `${name} with code ${m.code}`);
  if (m.body.length < fixed) return fail('badlen', `${name} of ${ICMP6_HDR_LEN + m.body.length} bytes, the minimum is ${ICMP6_HDR_LEN + fixed}`);
  return undefined;
}

/** Parse a Neighbor Solicitation: 4 reserved bytes, the target, options. */
export function nd6NsParse(m: Icmp6Message, lladdrLen = 6): Nd6NeighborSolicit | Icmp6BodyFailure {
  const bad = ndFixed(m, 'neighbor solicitation', 20);
  if (bad) return bad;
  const target = m.body.slice(4, 20);
  if (target[0] === 0xff) return fail('badtarget', 'neighbor solicitation for a multicast target');
  const options = nd6OptionsParse(m.body, 20, lladdrLen);
  if ('error' in options) return options;
  return { target, options };
}

export function nd6NsEmit(ns: { target: Uint8Array; options?: Partial<Nd6Options> }): Uint8Array {
  const opts = nd6OptionsEmit(ns.options ?? {});
  const out = new Uint8Array(20 + opts.length);
  out.set(ns.target.subarray(0, 16), 4);
  out.set(opts, 20);
  return out;
}

/** Parse a Neighbor Advertisement: R, S, O flags and reserved bits, the target, options. */
export function nd6NaParse(m: Icmp6Message, lladdrLen = 6): Nd6NeighborAdvert | Icmp6BodyFailure {
  const bad = ndFixed(m, 'neighbor advertisement', 20);
  if (bad) return bad;
  const f = m.body[0];
  const target = m.body.slice(4, 20);
  if (target[0] === 0xff) return fail('badtarget', 'neighbor advertisement for a multicast target');
  const options = nd6OptionsParse(m.body, 20, lladdrLen);
  if ('error' in options) return options;
  return {
    router: (f & ND_NA_FLAG_ROUTER) !== 0,
    solicited: (f & ND_NA_FLAG_SOLICITED) !== 0,
    override: (f & ND_NA_FLAG_OVERRIDE) !== 0,
    target,
    options,
  };
}

export function nd6NaEmit(na: {
  router?: boolean;
  solicited?: boolean;
  override?: boolean;
  target: Uint8Array;
  options?: Partial<Nd6Options>;
}): Uint8Array {
  const opts = nd6OptionsEmit(na.options ?? {});
  const out = new Uint8Array(20 + opts.length);
  out[0] = (na.router ? ND_NA_FLAG_ROUTER : 0) | (na.solicited ? ND_NA_FLAG_SOLICITED : 0) | (na.override ? ND_NA_FLAG_OVERRIDE : 0);
  out.set(na.target.subarray(0, 16), 4);
  out.set(opts, 20);
  return out;
}

/** Parse a Router Solicitation: 4 reserved bytes, options. */
export function nd6RsParse(m: Icmp6Message, lladdrLen = 6): Nd6RouterSolicit | Icmp6BodyFailure {
  const bad = ndFixed(m, 'router solicitation', 4);
  if (bad) return bad;
  const options = nd6OptionsParse(m.body, 4, lladdrLen);
  if ('error' in options) return options;
  return { options };
}

export function nd6RsEmit(rs: { options?: Partial<Nd6Options> } = {}): Uint8Array {
  const opts = nd6OptionsEmit(rs.options ?? {});
  const out = new Uint8Array(4 + opts.length);
  out.set(opts, 4);
  return out;
}

// ---------------------------------------------------------------- names

/**
 * Names netstat -s -p icmp6 prints in its histograms: FreeBSD's
 * usr.bin/netstat/inet6.c icmp6names[], which spells types 1 and 3 "unreach"
 * and "time exceed", not the RFC titles, and prints 90 and 190 as "#80" and
 * "#180".
 */
const ICMP6_NAMES: Record<number, string> = {
  1: 'unreach',
  2: 'packet too big',
  3: 'time exceed',
  4: 'parameter problem',
  128: 'echo',
  129: 'echo reply',
  130: 'multicast listener query',
  131: 'MLDv1 listener report',
  132: 'MLDv1 listener done',
  133: 'router solicitation',
  134: 'router advertisement',
  135: 'neighbor solicitation',
  136: 'neighbor advertisement',
  137: 'redirect',
  138: 'router renumbering',
  139: 'node information request',
  140: 'node information reply',
  141: 'inverse neighbor solicitation',
  142: 'inverse neighbor advertisement',
  143: 'MLDv2 listener report',
  // Two slips in FreeBSD's table, reproduced so that output matches it.
  90: '#80',
  190: '#180',
};

/** The histogram name of an ICMPv6 type; types without a name print as "#<n>". */
export function icmp6TypeName(t: number): string {
  return ICMP6_NAMES[t] ?? `#${t}`;
}
