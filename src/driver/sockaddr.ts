/**
 * Socket addresses as the interface layer sees them (struct sockaddr_dl,
 * sockaddr_in, sockaddr_in6), with FreeBSD's address-family numbers.
 */

import { in6ToString } from '../inet/in6.js';

export const AF_UNSPEC = 0;
export const AF_INET = 2;
export const AF_LINK = 18;
export const AF_INET6 = 28;

export interface SockaddrDl {
  family: typeof AF_LINK;
  /** sdl_index: the interface index, 0 when the address is not an interface's own. */
  index: number;
  /** sdl_type: IFT_ETHER, IFT_LOOP, ... */
  type: number;
  /** sdl_data name part: the interface name, '' for group addresses. */
  name: string;
  /** The link-layer address (6 bytes for Ethernet, empty for loopback). */
  lladdr: Uint8Array;
}

export interface SockaddrIn {
  family: typeof AF_INET;
  addr: Uint8Array; // 4 bytes, network order
}

export interface SockaddrIn6 {
  family: typeof AF_INET6;
  addr: Uint8Array; // 16 bytes
  scopeId: number;
}

export type Sockaddr = SockaddrDl | SockaddrIn | SockaddrIn6;

export function sockaddrDl(lladdr: Uint8Array, index = 0, type = 0, name = ''): SockaddrDl {
  return { family: AF_LINK, index, type, name, lladdr: Uint8Array.from(lladdr) };
}

/** Parse "01:00:5e:01:02:03" (also '-' separated) into 6 bytes; undefined if malformed. */
export function parseMac(text: string): Uint8Array | undefined {
  const parts = text.trim().split(/[:-]/);
  if (parts.length !== 6) return undefined;
  const out = new Uint8Array(6);
  for (let i = 0; i < 6; i++) {
    if (!/^[0-9a-fA-F]{1,2}$/.test(parts[i])) return undefined;
    out[i] = parseInt(parts[i], 16);
  }
  return out;
}

/** Lower-case, zero-padded, colon-separated, as FreeBSD prints MACs. */
export function macToString(mac: Uint8Array, off = 0): string {
  let s = '';
  for (let i = 0; i < 6; i++) {
    if (i) s += ':';
    s += HEX2[mac[off + i]];
  }
  return s;
}

const HEX2 = Array.from({ length: 256 }, (_, i) => i.toString(16).padStart(2, '0'));

export function sockaddrIn(text: string): SockaddrIn | undefined {
  const m = /^(\d{1,3})\.(\d{1,3})\.(\d{1,3})\.(\d{1,3})$/.exec(text);
  if (!m) return undefined;
  const b = m.slice(1).map(Number);
  if (b.some((x) => x > 255)) return undefined;
  return { family: AF_INET, addr: Uint8Array.from(b) };
}

/** A key that identifies an address within its family (used for membership lookups). */
export function sockaddrKey(sa: Sockaddr): string {
  // The family's number then the address bytes, one character each, made in one piece.
  const b = sa.family === AF_LINK ? sa.lladdr : sa.addr;
  if (b.length === 4) return String.fromCharCode(sa.family, b[0], b[1], b[2], b[3]);
  if (b.length === 6) return String.fromCharCode(sa.family, b[0], b[1], b[2], b[3], b[4], b[5]);
  return String.fromCharCode(sa.family) + String.fromCharCode.apply(null, b as unknown as number[]);
}

export function sockaddrEqual(a: Sockaddr, b: Sockaddr): boolean {
  return sockaddrKey(a) === sockaddrKey(b);
}

export function sockaddrToString(sa: Sockaddr): string {
  switch (sa.family) {
    case AF_LINK:
      return sa.lladdr.length === 6 ? macToString(sa.lladdr) : sa.name || `link#${sa.index}`;
    case AF_INET:
      return Array.from(sa.addr).join('.');
    case AF_INET6:
      return in6ToString(sa.addr);
  }
}

