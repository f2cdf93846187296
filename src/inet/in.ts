/**
 * IPv4 addresses as 4-byte arrays (network order), with text conversion by
 * ipaddr.js and the classification the stack needs.
 */
import ipaddr from 'ipaddr.js';
import { smallCopy } from '../kern/bytes.js';

export type InAddr = Uint8Array;

export const INADDR_ANY: InAddr = Uint8Array.of(0, 0, 0, 0);
export const INADDR_BROADCAST: InAddr = Uint8Array.of(255, 255, 255, 255);
export const INADDR_ALLHOSTS_GROUP: InAddr = Uint8Array.of(224, 0, 0, 1);
export const INADDR_ALLRTRS_GROUP: InAddr = Uint8Array.of(224, 0, 0, 2);
export const INADDR_ALLRPTS_GROUP: InAddr = Uint8Array.of(224, 0, 0, 22); // IGMPv3 reports
export const INADDR_LOOPBACK: InAddr = Uint8Array.of(127, 0, 0, 1);

/** Parse dotted-quad text; undefined when it is not an IPv4 address. */
export function inParse(text: string): InAddr | undefined {
  if (typeof text !== 'string' || !ipaddr.IPv4.isValidFourPartDecimal(text)) return undefined;
  return smallCopy(ipaddr.IPv4.parse(text).toByteArray());
}

export function inToString(a: InAddr, off = 0): string {
  return `${a[off]}.${a[off + 1]}.${a[off + 2]}.${a[off + 3]}`;
}

/** The address as an unsigned 32-bit number (for masks and map keys). */
export function inToU32(a: InAddr, off = 0): number {
  return ((a[off] << 24) | (a[off + 1] << 16) | (a[off + 2] << 8) | a[off + 3]) >>> 0;
}

export function inFromU32(x: number): InAddr {
  return Uint8Array.of(x >>> 24, (x >>> 16) & 0xff, (x >>> 8) & 0xff, x & 0xff);
}

export function inEqual(a: InAddr, b: InAddr): boolean {
  return a[0] === b[0] && a[1] === b[1] && a[2] === b[2] && a[3] === b[3];
}

export function inIsMulticast(a: InAddr, off = 0): boolean {
  return (a[off] & 0xf0) === 0xe0;
}

/** 224.0.0.0/24: link-local groups, never forwarded. */
export function inIsLocalGroup(a: InAddr): boolean {
  return a[0] === 224 && a[1] === 0 && a[2] === 0;
}

/** 232.0.0.0/8: source-specific multicast (RFC 4607). */
export function inIsSsm(a: InAddr): boolean {
  return a[0] === 232;
}

export function inIsUnspecified(a: InAddr): boolean {
  return (a[0] | a[1] | a[2] | a[3]) === 0;
}

export function inIsLoopback(a: InAddr): boolean {
  return a[0] === 127;
}

export function inMask(plen: number): number {
  return plen === 0 ? 0 : (0xffffffff << (32 - plen)) >>> 0;
}

/** Parse "a.b.c.d/len". */
export function inParsePrefix(text: string): { addr: InAddr; plen: number } | undefined {
  const m = /^([^/]+)\/(\d{1,2})$/.exec(text);
  if (!m) return undefined;
  const addr = inParse(m[1]);
  const plen = Number(m[2]);
  if (!addr || plen > 32) return undefined;
  return { addr, plen };
}
