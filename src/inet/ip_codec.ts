/**
 * The IPv4 header (RFC 791) with its options, pure: ipParse validates in
 * the order ip_input does and names the ipstat counter of the first fault;
 * ipEmit builds a header (with Router Alert, RFC 2113, when asked) and its
 * checksum.
 */
import { packetBytes } from '../kern/bytes.js';
import { inetChecksum } from './cksum.js';

export const IPVERSION = 4;
export const IP_HDRLEN = 20;
export const IPOPT_EOL = 0;
export const IPOPT_NOP = 1;
export const IPOPT_RA = 148; // Router Alert: copied flag + class 0 + number 20
export const IP_DF = 0x4000;
export const IP_MF = 0x2000;
export const IP_OFFMASK = 0x1fff;
export const IP_MAXPACKET = 65535;

export const IPPROTO_ICMP = 1;
export const IPPROTO_IGMP = 2;
export const IPPROTO_UDP = 17;
export const IPPROTO_IPV6 = 41;
export const IPPROTO_ICMPV6 = 58;

export interface IpOption {
  type: number;
  data: Uint8Array;
}

export interface IpHeader {
  hl: number; // header length in bytes
  tos: number;
  len: number; // total length
  id: number;
  off: number; // flags and fragment offset
  ttl: number;
  p: number;
  sum: number;
  /** Copies of the addresses (the caller may keep them). */
  src: Uint8Array;
  dst: Uint8Array;
  /**
   * The options other than Router Alert (which is `routerAlert`), No
   * Operation and End of Option List, in order. Nothing in taplab reads
   * them, and IGMP's header carries Router Alert only, so in the common
   * case this is one shared, frozen empty array and parsing allocates no
   * option objects.
   */
  options: readonly IpOption[];
  /** The Router Alert option's value; undefined when the header has none. */
  routerAlert?: number;
}

const NO_OPTIONS: readonly IpOption[] = Object.freeze([]);

/** The ipstat field a malformed header is counted in. */
export type IpParseError = 'ips_toosmall' | 'ips_badvers' | 'ips_badhlen' | 'ips_badsum' | 'ips_badlen' | 'ips_tooshort' | 'ips_badoptions';

export type IpParsed = { hdr: IpHeader; payloadOff: number; payloadLen: number } | { error: IpParseError; detail: string };

export function ipParse(buf: Uint8Array, off: number, len: number): IpParsed {
  if (len < IP_HDRLEN) return { error: 'ips_toosmall', detail: `${len} bytes is less than an IPv4 header` };
  const v = buf[off] >> 4;
  if (v !== IPVERSION) return { error: 'ips_badvers', detail: `version ${v}` };
  const hl = (buf[off] & 0x0f) << 2;
  if (hl < IP_HDRLEN) return { error: 'ips_badhlen', detail: `header length ${hl} is less than 20` };
  if (hl > len) return { error: 'ips_badhlen', detail: `header length ${hl} is more than the ${len} bytes received` };
  if (inetChecksum(buf, off, hl) !== 0) return { error: 'ips_badsum', detail: 'header checksum' };
  const total = (buf[off + 2] << 8) | buf[off + 3];
  if (total < hl) return { error: 'ips_badlen', detail: `total length ${total} is less than the header length ${hl}` };
  if (len < total) return { error: 'ips_tooshort', detail: `total length ${total} but only ${len} bytes received` };
  let options: IpOption[] | undefined;
  let routerAlert: number | undefined;
  for (let p = off + IP_HDRLEN; p < off + hl; ) {
    const type = buf[p];
    if (type === IPOPT_EOL) break;
    if (type === IPOPT_NOP) {
      p++;
      continue;
    }
    if (p + 1 >= off + hl) return { error: 'ips_badoptions', detail: `option ${type} has no length byte` };
    const olen = buf[p + 1];
    if (olen < 2 || p + olen > off + hl) return { error: 'ips_badoptions', detail: `option ${type} has a bad length ${olen}` };
    if (type === IPOPT_RA) {
      if (olen !== 4) return { error: 'ips_badoptions', detail: `Router Alert option of length ${olen}` };
      // RFC 2113 allows one; should there be more, the last counts.
      routerAlert = (buf[p + 2] << 8) | buf[p + 3];
    } else {
      (options ??= []).push({ type, data: buf.slice(p + 2, p + olen) });
    }
    p += olen;
  }
  const hdr: IpHeader = {
    hl,
    tos: buf[off + 1],
    len: total,
    id: (buf[off + 4] << 8) | buf[off + 5],
    off: (buf[off + 6] << 8) | buf[off + 7],
    ttl: buf[off + 8],
    p: buf[off + 9],
    sum: (buf[off + 10] << 8) | buf[off + 11],
    src: buf.slice(off + 12, off + 16),
    dst: buf.slice(off + 16, off + 20),
    options: options ?? NO_OPTIONS,
    // Always set (undefined when absent): one object shape, and no property added afterwards.
    routerAlert,
  };
  return { hdr, payloadOff: off + hl, payloadLen: total - hl };
}

export interface IpEmitOptions {
  tos?: number;
  id: number;
  ttl: number;
  p: number;
  src: Uint8Array;
  dst: Uint8Array;
  df?: boolean;
  /** Add the Router Alert option (value 0: "examine packet"). */
  routerAlert?: boolean;
}

/** Header + payload as one datagram, checksum filled in. */
export function ipEmit(o: IpEmitOptions, payload: Uint8Array): Uint8Array {
  const hl = IP_HDRLEN + (o.routerAlert ? 4 : 0);
  const out = packetBytes(hl + payload.length);
  out[0] = (IPVERSION << 4) | (hl >> 2);
  out[1] = o.tos ?? 0;
  out[2] = out.length >> 8;
  out[3] = out.length & 0xff;
  out[4] = (o.id >> 8) & 0xff;
  out[5] = o.id & 0xff;
  const off = o.df ? IP_DF : 0;
  out[6] = off >> 8;
  out[7] = off & 0xff;
  out[8] = o.ttl;
  out[9] = o.p;
  for (let i = 0; i < 4; i++) out[12 + i] = o.src[i];
  for (let i = 0; i < 4; i++) out[16 + i] = o.dst[i];
  if (o.routerAlert) {
    out[20] = IPOPT_RA;
    out[21] = 4; // length; the value (0: examine packet) stays zero
  }
  const sum = inetChecksum(out, 0, hl);
  out[10] = sum >> 8;
  out[11] = sum & 0xff;
  out.set(payload, hl);
  return out;
}
