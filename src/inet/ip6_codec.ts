/**
 * The IPv6 header (RFC 8200 §3) and its extension headers (§4): a pure codec.
 *
 * ip6Parse checks the fixed header, ip6WalkExtensions follows the Next Header
 * chain to the upper layer, ip6Emit builds a datagram. Nothing here throws on
 * bytes from the wire: every problem comes back as an error object whose name
 * says which counter ip6_input should bump (FreeBSD's ip6stat and
 * in6_ifstat) and, where RFC 8200 asks for one, which ICMPv6 Parameter
 * Problem to send back.
 */
import { packetBytes } from '../kern/bytes.js';
import { kerr } from '../kern/errno.js';
import { ICMP6_PARAMPROB_HEADER, ICMP6_PARAMPROB_NEXTHEADER, ICMP6_PARAMPROB_OPTION } from './icmp6_codec.js';

export const IP6_HDR_LEN = 40;
export const IPV6_VERSION = 6;
/** The largest payload a non-jumbo datagram can describe (RFC 8200 §3). */
export const IPV6_MAXPACKET = 65535;

// Next Header values (IANA "Assigned Internet Protocol Numbers"; RFC 8200 §4.1).
export const IPPROTO_HOPOPTS = 0;
export const IPPROTO_ROUTING = 43;
export const IPPROTO_FRAGMENT = 44;
export const IPPROTO_NONE = 59;
export const IPPROTO_DSTOPTS = 60;

// Options of Hop-by-Hop and Destination Options headers (RFC 8200 §4.2).
export const IP6OPT_PAD1 = 0x00;
export const IP6OPT_PADN = 0x01;
export const IP6OPT_ROUTER_ALERT = 0x05; // RFC 2711 §2
/** Router Alert value for MLD (RFC 2711 §2, RFC 2710 §3, RFC 3810 §5). */
export const IP6OPT_RTALERT_MLD = 0;
/** Option data length of Router Alert: a 16-bit value (RFC 2711 §2). */
export const IP6OPT_RTALERT_LEN = 2;

/**
 * Limit on headers walked per packet. RFC 8200 sets none; a bound keeps a
 * packet made of thousands of empty Destination Options headers from costing
 * more than it is worth (FreeBSD counts such drops as ip6s_toomanyhdr).
 */
export const IP6_MAX_EXTHDRS = 16;

export interface Ip6Header {
  /** 8 bits: DSCP and ECN (RFC 8200 §7, RFC 2474, RFC 3168). */
  trafficClass: number;
  /** 20 bits (RFC 8200 §6, RFC 6437). */
  flowLabel: number;
  /** Bytes after the fixed header, extension headers included. */
  payloadLength: number;
  nextHeader: number;
  hopLimit: number;
  src: Uint8Array;
  dst: Uint8Array;
}

/**
 * Why a packet was refused, each name standing for FreeBSD counters:
 *  - 'tooshort': less than a fixed header (ip6s_tooshort, ifs6_in_hdrerr);
 *  - 'badvers': version is not 6 (ip6s_badvers, ifs6_in_hdrerr);
 *  - 'truncated': Payload Length promises more than arrived
 *    (ip6s_tooshort, ifs6_in_truncated).
 */
export type Ip6ParseError = 'tooshort' | 'badvers' | 'truncated';

export interface Ip6Parsed {
  hdr: Ip6Header;
  /** Offset in the buffer of the first byte after the fixed header. */
  payloadOff: number;
  /** Payload Length; trailing bytes past it are not part of the datagram. */
  payloadLen: number;
}

export interface Ip6ParseFailure {
  error: Ip6ParseError;
  /** A sentence for logs. */
  detail: string;
}

/**
 * Read the fixed header of the datagram at buf[off, off+len).
 *
 * Bytes past Payload Length are allowed and left out (ip6_input trims them
 * with m_adj: Ethernet pads short frames, RFC 8200 §3 only promises that the
 * payload is that long). A Payload Length of zero is returned as it is: it
 * would announce a jumbogram (RFC 2675), which taplab does not support, and
 * the walk treats a Jumbo Payload option as an unrecognized one.
 */
export function ip6Parse(buf: Uint8Array, off = 0, len = buf.length - off): Ip6Parsed | Ip6ParseFailure {
  if (len < IP6_HDR_LEN) return { error: 'tooshort', detail: `${len} bytes is shorter than an IPv6 header (${IP6_HDR_LEN})` };
  const version = buf[off] >> 4;
  if (version !== IPV6_VERSION) return { error: 'badvers', detail: `IP version ${version}, expected 6` };
  const payloadLength = (buf[off + 4] << 8) | buf[off + 5];
  if (payloadLength > len - IP6_HDR_LEN)
    return {
      error: 'truncated',
      detail: `payload length ${payloadLength} but only ${len - IP6_HDR_LEN} bytes follow the header`,
    };
  return {
    hdr: {
      trafficClass: ((buf[off] & 0x0f) << 4) | (buf[off + 1] >> 4),
      flowLabel: ((buf[off + 1] & 0x0f) << 16) | (buf[off + 2] << 8) | buf[off + 3],
      payloadLength,
      nextHeader: buf[off + 6],
      hopLimit: buf[off + 7],
      src: buf.slice(off + 8, off + 24),
      dst: buf.slice(off + 24, off + 40),
    },
    payloadOff: off + IP6_HDR_LEN,
    payloadLen: payloadLength,
  };
}

/**
 * What a node does with an option it does not recognize, from the two
 * high-order bits of the option type (RFC 8200 §4.2):
 *  00 'skip'                  skip it, go on with the header;
 *  01 'discard'               drop the packet silently;
 *  10 'discard-icmp'          drop, send Parameter Problem code 2;
 *  11 'discard-icmp-unicast'  drop, send Parameter Problem code 2 only if the
 *                             destination was not multicast.
 * (FreeBSD: IP6OPT_TYPE_SKIP/DISCARD/FORCEICMP/ICMP.)
 */
export type Ip6OptAction = 'skip' | 'discard' | 'discard-icmp' | 'discard-icmp-unicast';

const OPT_ACTIONS: readonly Ip6OptAction[] = ['skip', 'discard', 'discard-icmp', 'discard-icmp-unicast'];

export function ip6OptAction(optType: number): Ip6OptAction {
  return OPT_ACTIONS[(optType >> 6) & 3];
}

/** A non-padding option met in a Hop-by-Hop or Destination Options header. */
export interface Ip6Option {
  /** IPPROTO_HOPOPTS or IPPROTO_DSTOPTS: which header it came from. */
  header: number;
  type: number;
  data: Uint8Array;
  /** Offset of the option type byte from the start of the IPv6 header. */
  pointer: number;
}

/** A Fragment header (RFC 8200 §4.5). */
export interface Ip6Fragment {
  /** Fragment Offset in bytes (the field counts 8-byte units). */
  offset: number;
  more: boolean;
  id: number;
  /** Next Header of the fragmentable part. */
  nextHeader: number;
  /** Offset of the Fragment header in the buffer. */
  headerOff: number;
}

export interface Ip6Chain {
  /**
   * The upper-layer protocol, IPPROTO_NONE (59) when the chain ends with No
   * Next Header, or IPPROTO_FRAGMENT (44) when it stopped at the Fragment
   * header of a real fragment, which only reassembly can take further.
   */
  upper: number;
  /** Offset in the buffer of the upper-layer header (or of the Fragment header). */
  upperOff: number;
  /** Bytes from upperOff to the end of the datagram. */
  upperLen: number;
  /**
   * Offset, from the start of the IPv6 header, of the Next Header field that
   * named `upper`: the pointer for a Parameter Problem code 1 when the upper
   * protocol turns out to be unknown (RFC 8200 §4; FreeBSD ip6_get_prevhdr).
   */
  nxtPointer: number;
  /** The extension headers walked, in order (empty when the walk was asked for no detail). */
  headers: readonly number[];
  /** Non-padding options in order, unknown 'skip' ones included (empty when the walk was asked for no detail). */
  options: readonly Ip6Option[];
  /** Value of the first Router Alert option of the Hop-by-Hop header (RFC 2711). */
  routerAlert?: number;
  /** Present when a Fragment header was met, atomic fragments included. */
  fragment?: Ip6Fragment;
}

/**
 * Ways the walk fails:
 *  - 'hbh-not-first': a Hop-by-Hop header anywhere but right after the fixed
 *    header (RFC 8200 §4.1, §4.3: Parameter Problem code 1 at the Next
 *    Header field that named it);
 *  - 'exthdr-truncated': a header runs past the datagram (ip6s_tooshort,
 *    ifs6_in_truncated);
 *  - 'too-many-headers': more than IP6_MAX_EXTHDRS (ip6s_toomanyhdr);
 *  - 'option-overrun': an option runs past the end of its header (FreeBSD
 *    ip6s_toosmall, silent drop);
 *  - 'bad-option-length': Router Alert whose length is not 2 (FreeBSD sends
 *    Parameter Problem code 0 at the length byte);
 *  - 'unknown-option': an unrecognized option whose action bits say discard;
 *  - 'bad-routing': a Routing header of a type we do not know with Segments
 *    Left non-zero (RFC 8200 §4.4: Parameter Problem code 0 at the Routing
 *    Type field). Type 0 counts as unknown (RFC 5095 §3).
 * Parameter problems count as ip6s_badoptions and ifs6_in_hdrerr in FreeBSD.
 */
export type Ip6WalkErrorCode =
  | 'hbh-not-first'
  | 'exthdr-truncated'
  | 'too-many-headers'
  | 'option-overrun'
  | 'bad-option-length'
  | 'unknown-option'
  | 'bad-routing';

export interface Ip6WalkFailure {
  error: Ip6WalkErrorCode;
  detail: string;
  /** Offset from the start of the IPv6 header of the offending byte. */
  pointer?: number;
  /**
   * The Parameter Problem code to answer with (RFC 4443 §3.4), present only
   * when one is owed. With action 'discard-icmp-unicast' the caller still has
   * to check that the destination was not multicast.
   */
  icmpCode?: number;
  /** For 'unknown-option'. */
  action?: Ip6OptAction;
  optType?: number;
}

/**
 * Walk the extension headers of a datagram whose payload (everything after
 * the 40-byte fixed header) is buf[off, off+len) and whose fixed header said
 * `firstNext`. Offsets reported as pointers are from the start of the IPv6
 * header, i.e. off - 40.
 *
 * Hop-by-Hop and Destination Options headers have their options processed
 * (RFC 8200 §4.2, §4.3, §4.6), Routing headers with Segments Left 0 are
 * ignored (§4.4), an atomic fragment (offset 0, M clear; RFC 6946 §4) is
 * passed through and any other fragment stops the walk. Anything else is the
 * upper layer, including AH and ESP, which taplab does not implement.
 *
 * With `detail` false the chain's `headers` and `options` stay empty (one
 * shared frozen array): ip6_input needs neither, and every datagram it
 * takes in is walked, so it skips allocating a list and an option object
 * (and a copy of its data) for each datagram. The checks are the same.
 */
export function ip6WalkExtensions(buf: Uint8Array, off: number, len: number, firstNext: number, detail = true): Ip6Chain | Ip6WalkFailure {
  const end = off + len;
  const base = off - IP6_HDR_LEN; // pointers count from the start of the IPv6 header
  const headers: number[] | undefined = detail ? [] : undefined;
  const options: Ip6Option[] | undefined = detail ? [] : undefined;
  // routerAlert and fragment are there from the start (undefined), so setting them keeps the
  // object's shape: adding a property later costs V8 a new property store per datagram.
  const chain: Ip6Chain = {
    upper: firstNext,
    upperOff: off,
    upperLen: len,
    nxtPointer: 6,
    headers: headers ?? NO_HEADERS,
    options: options ?? NO_OPTIONS,
    routerAlert: undefined,
    fragment: undefined,
  };
  let nxt = firstNext;
  let p = off;
  let nxtPointer = 6; // the fixed header's Next Header field
  let walked = 0;
  for (;;) {
    if (nxt !== IPPROTO_HOPOPTS && nxt !== IPPROTO_DSTOPTS && nxt !== IPPROTO_ROUTING && nxt !== IPPROTO_FRAGMENT) break;
    if (nxt === IPPROTO_HOPOPTS && p !== off)
      return {
        error: 'hbh-not-first',
        detail: `a Hop-by-Hop Options header at offset ${p - base}, not right after the IPv6 header`,
        pointer: nxtPointer,
        icmpCode: ICMP6_PARAMPROB_NEXTHEADER,
      };
    if (walked >= IP6_MAX_EXTHDRS)
      return { error: 'too-many-headers', detail: `more than ${IP6_MAX_EXTHDRS} extension headers` };
    // Every extension header is at least 8 bytes (RFC 8200 §4: lengths are in
    // 8-octet units, the first 8 not counted).
    if (end - p < 8) return truncated(nxt, p - base, 8, end - p);
    const hlen = nxt === IPPROTO_FRAGMENT ? 8 : (buf[p + 1] + 1) * 8;
    if (end - p < hlen) return truncated(nxt, p - base, hlen, end - p);
    walked++;
    headers?.push(nxt);

    if (nxt === IPPROTO_HOPOPTS || nxt === IPPROTO_DSTOPTS) {
      const bad = walkOptions(buf, p, hlen, nxt, base, chain, options);
      if (bad) return bad;
    } else if (nxt === IPPROTO_ROUTING) {
      const type = buf[p + 2];
      const segmentsLeft = buf[p + 3];
      if (segmentsLeft !== 0)
        return {
          error: 'bad-routing',
          detail: `Routing header type ${type} with ${segmentsLeft} segments left`,
          pointer: p + 2 - base,
          icmpCode: ICMP6_PARAMPROB_HEADER,
        };
    } else {
      const offlg = (buf[p + 2] << 8) | buf[p + 3];
      const frag: Ip6Fragment = {
        offset: offlg & 0xfff8,
        more: (offlg & 1) !== 0,
        id: ((buf[p + 4] << 24) | (buf[p + 5] << 16) | (buf[p + 6] << 8) | buf[p + 7]) >>> 0,
        nextHeader: buf[p],
        headerOff: p,
      };
      chain.fragment = frag;
      if (frag.offset !== 0 || frag.more) {
        // A real fragment: what follows is a piece of a datagram, not headers.
        chain.upper = IPPROTO_FRAGMENT;
        chain.upperOff = p;
        chain.upperLen = end - p;
        chain.nxtPointer = nxtPointer;
        return chain;
      }
    }
    nxtPointer = p - base; // the Next Header field is every extension header's first byte
    nxt = buf[p];
    p += hlen;
  }
  chain.upper = nxt;
  chain.upperOff = p;
  chain.upperLen = end - p;
  chain.nxtPointer = nxtPointer;
  return chain;
}

function truncated(nxt: number, pointer: number, need: number, have: number): Ip6WalkFailure {
  return {
    error: 'exthdr-truncated',
    detail: `extension header ${nxt} at offset ${pointer} needs ${need} bytes, ${have} left`,
    pointer,
  };
}

const NO_HEADERS: readonly number[] = Object.freeze([]);
const NO_OPTIONS: readonly Ip6Option[] = Object.freeze([]);

/**
 * Process the options of a Hop-by-Hop or Destination Options header at p
 * (hlen bytes); `base` is the offset of the IPv6 header, and the options go
 * to `options` when given.
 */
function walkOptions(
  buf: Uint8Array,
  p: number,
  hlen: number,
  header: number,
  base: number,
  chain: Ip6Chain,
  options: Ip6Option[] | undefined,
): Ip6WalkFailure | undefined {
  const hend = p + hlen;
  let i = p + 2;
  while (i < hend) {
    const type = buf[i];
    if (type === IP6OPT_PAD1) {
      i++;
      continue;
    }
    // Every other option is type, length, data (RFC 8200 §4.2).
    if (i + 2 > hend || i + 2 + buf[i + 1] > hend)
      return {
        error: 'option-overrun',
        detail: `option ${type} at offset ${i - base} runs past the end of its header`,
        pointer: i - base,
      };
    const dlen = buf[i + 1];
    if (type === IP6OPT_PADN) {
      i += 2 + dlen;
      continue;
    }
    const known = type === IP6OPT_ROUTER_ALERT && header === IPPROTO_HOPOPTS;
    if (known) {
      if (dlen !== IP6OPT_RTALERT_LEN)
        return {
          error: 'bad-option-length',
          detail: `Router Alert option with length ${dlen}, expected ${IP6OPT_RTALERT_LEN}`,
          pointer: i + 1 - base,
          icmpCode: ICMP6_PARAMPROB_HEADER,
        };
      // RFC 2711 §2 allows one per packet; should there be more, the first counts.
      chain.routerAlert ??= (buf[i + 2] << 8) | buf[i + 3];
    } else {
      const action = ip6OptAction(type);
      if (action !== 'skip')
        return {
          error: 'unknown-option',
          detail: `unrecognized option type 0x${type.toString(16).padStart(2, '0')} at offset ${i - base}: ${action}`,
          pointer: i - base,
          icmpCode: action === 'discard' ? undefined : ICMP6_PARAMPROB_OPTION,
          action,
          optType: type,
        };
    }
    options?.push({ header, type, data: buf.slice(i + 2, i + 2 + dlen), pointer: i - base });
    i += 2 + dlen;
  }
  return undefined;
}

/** What ip6Emit builds: the header fields, an optional Hop-by-Hop header, the payload. */
export interface Ip6Datagram {
  trafficClass?: number;
  flowLabel?: number;
  hopLimit: number;
  src: Uint8Array;
  dst: Uint8Array;
  /** The upper-layer protocol of `payload` (after any Hop-by-Hop header). */
  nextHeader: number;
  /**
   * Add an 8-byte Hop-by-Hop Options header, with a Router Alert option if
   * `routerAlert` is given (MLD uses IP6OPT_RTALERT_MLD, RFC 3810 §5).
   */
  hopByHop?: { routerAlert?: number };
  payload: Uint8Array;
}

/** Write a fixed header at out[at]; payloadLength is taken from `h` as it is. */
export function ip6WriteHeader(out: Uint8Array, at: number, h: Ip6Header): void {
  out[at] = (IPV6_VERSION << 4) | ((h.trafficClass >> 4) & 0x0f);
  out[at + 1] = ((h.trafficClass & 0x0f) << 4) | ((h.flowLabel >> 16) & 0x0f);
  out[at + 2] = (h.flowLabel >> 8) & 0xff;
  out[at + 3] = h.flowLabel & 0xff;
  out[at + 4] = h.payloadLength >> 8;
  out[at + 5] = h.payloadLength & 0xff;
  out[at + 6] = h.nextHeader;
  out[at + 7] = h.hopLimit;
  // Byte loops: TypedArray.set on a fresh subarray costs more than 32 byte stores.
  const src = h.src;
  const dst = h.dst;
  for (let i = 0; i < 16; i++) out[at + 8 + i] = src[i];
  for (let i = 0; i < 16; i++) out[at + 24 + i] = dst[i];
}

/**
 * Build a datagram. The optional Hop-by-Hop header is the one MLD needs
 * (RFC 3810 §5, RFC 2711 §2), 8 bytes:
 *   next header, hdr ext len 0, Router Alert (05 02 vv vv), PadN (01 00)
 * and without a Router Alert value the option space is one PadN of 4 bytes.
 * Fields out of range are a programming error and throw EINVAL/EMSGSIZE.
 */
export function ip6Emit(d: Ip6Datagram): Uint8Array {
  const trafficClass = d.trafficClass ?? 0;
  const flowLabel = d.flowLabel ?? 0;
  checkField('traffic class', trafficClass, 0xff);
  checkField('flow label', flowLabel, 0xfffff);
  checkField('hop limit', d.hopLimit, 0xff);
  checkField('next header', d.nextHeader, 0xff);
  if (d.src.length !== 16 || d.dst.length !== 16) throw kerr('EINVAL', 'IPv6 source and destination addresses have 16 bytes');
  const ra = d.hopByHop?.routerAlert;
  if (ra !== undefined) checkField('router alert value', ra, 0xffff);
  const ext = d.hopByHop ? 8 : 0;
  const payloadLength = ext + d.payload.length;
  if (payloadLength > IPV6_MAXPACKET)
    throw kerr('EMSGSIZE', `an IPv6 payload of ${payloadLength} bytes needs a jumbogram, which taplab does not send`);
  const out = packetBytes(IP6_HDR_LEN + payloadLength);
  ip6WriteHeader(out, 0, {
    trafficClass,
    flowLabel,
    payloadLength,
    nextHeader: d.hopByHop ? IPPROTO_HOPOPTS : d.nextHeader,
    hopLimit: d.hopLimit,
    src: d.src,
    dst: d.dst,
  });
  if (d.hopByHop) {
    const h = IP6_HDR_LEN;
    out[h] = d.nextHeader;
    out[h + 1] = 0; // (0 + 1) * 8 bytes
    if (ra !== undefined) {
      out[h + 2] = IP6OPT_ROUTER_ALERT;
      out[h + 3] = IP6OPT_RTALERT_LEN;
      out[h + 4] = ra >> 8;
      out[h + 5] = ra & 0xff;
      out[h + 6] = IP6OPT_PADN;
      out[h + 7] = 0;
    } else {
      out[h + 2] = IP6OPT_PADN;
      out[h + 3] = 4; // four zero bytes follow (the array is zeroed)
    }
  }
  out.set(d.payload, IP6_HDR_LEN + ext);
  return out;
}

function checkField(name: string, v: number, max: number): void {
  if (!Number.isInteger(v) || v < 0 || v > max) throw kerr('EINVAL', `IPv6 ${name} ${v} is not an integer from 0 to ${max}`);
}
