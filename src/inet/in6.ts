/**
 * IPv6 addresses (netinet6/in6.h): 16-byte Uint8Arrays in network order, the
 * well-known addresses, scope and prefix helpers, the text forms.
 *
 * Addresses are plain bytes so that they can be compared, hashed and copied
 * into packets without conversion; text appears only at the edges (lab
 * files, commands, tool output).
 */
import ipaddr from 'ipaddr.js';
import { smallCopy } from '../kern/bytes.js';
import { kerr } from '../kern/errno.js';

export const IN6_ADDR_LEN = 16;

/** :: (RFC 4291 §2.5.2) */
export const IN6ADDR_ANY: Uint8Array = new Uint8Array(16);
/** ::1 (RFC 4291 §2.5.3) */
export const IN6ADDR_LOOPBACK: Uint8Array = Uint8Array.of(0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1);
/** ff02::1, all nodes on the link (RFC 4291 §2.7.1) */
export const IN6ADDR_LINKLOCAL_ALLNODES: Uint8Array = Uint8Array.of(0xff, 2, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1);
/** ff02::2, all routers on the link (RFC 4291 §2.7.1) */
export const IN6ADDR_LINKLOCAL_ALLROUTERS: Uint8Array = Uint8Array.of(0xff, 2, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 2);
/** ff02::16, where MLDv2 reports go (RFC 3810 §5.2.14) */
export const IN6ADDR_LINKLOCAL_ALLV2ROUTERS: Uint8Array = Uint8Array.of(0xff, 2, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0x16);

// Multicast scopes: the low nibble of the second byte (RFC 4291 §2.7; 3 is
// realm-local, RFC 7346 §3). Names as in FreeBSD's netinet6/in6.h.
export const IPV6_ADDR_SCOPE_INTFACELOCAL = 0x01;
export const IPV6_ADDR_SCOPE_LINKLOCAL = 0x02;
export const IPV6_ADDR_SCOPE_REALMLOCAL = 0x03;
export const IPV6_ADDR_SCOPE_ADMINLOCAL = 0x04;
export const IPV6_ADDR_SCOPE_SITELOCAL = 0x05;
export const IPV6_ADDR_SCOPE_ORGLOCAL = 0x08;
export const IPV6_ADDR_SCOPE_GLOBAL = 0x0e;

/** An address and the zone (RFC 4007 §11) written after '%', if any. */
export interface In6Scoped {
  addr: Uint8Array;
  zone?: string;
}

/**
 * Parse the text form of an IPv6 address (RFC 4291 §2.2), with an optional
 * `%zone` suffix (RFC 4007 §11.2). Undefined when the text is not an address.
 *
 * ipaddr.js does the parsing, with two corrections made here first:
 *  - it reads "::a.b.c.d" as the IPv4-mapped ::ffff:a.b.c.d; RFC 4291
 *    §2.5.5.1 defines it as the (deprecated) IPv4-compatible form, all zeros
 *    in front, and inet_pton(3) agrees;
 *  - it accepts octal- and hex-looking IPv4 parts ("010", "0x1"); inet_pton
 *    takes only plain decimal without leading zeros.
 * So a dotted-quad tail is checked and rewritten as two hex groups here.
 * Zones are split off before ipaddr.js sees them because its zone syntax is
 * narrower than real interface names ("vlan0.100", "br-lan").
 */
export function in6ParseScoped(text: string): In6Scoped | undefined {
  if (typeof text !== 'string') return undefined;
  let zone: string | undefined;
  const pct = text.indexOf('%');
  if (pct >= 0) {
    zone = text.slice(pct + 1);
    text = text.slice(0, pct);
    if (zone === '' || /[%\s]/.test(zone)) return undefined;
  }
  const dot = text.indexOf('.');
  if (dot >= 0) {
    const colon = text.lastIndexOf(':');
    if (colon < 0 || colon > dot) return undefined;
    const v4 = parseDottedQuad(text.slice(colon + 1));
    if (!v4) return undefined;
    const hi = ((v4[0] << 8) | v4[1]).toString(16);
    const lo = ((v4[2] << 8) | v4[3]).toString(16);
    // "::1.2.3.4" -> "::102:304": the '::' still stands for the zeros in front.
    text = `${text.slice(0, colon + 1)}${hi}:${lo}`;
  }
  if (!ipaddr.IPv6.isValid(text)) return undefined;
  let parsed: ipaddr.IPv6;
  try {
    parsed = ipaddr.IPv6.parse(text);
  } catch {
    return undefined;
  }
  const bytes = parsed.toByteArray();
  if (bytes.length !== 16) return undefined;
  const addr = smallCopy(bytes);
  if (addr.length !== 16) return undefined;
  return zone === undefined ? { addr } : { addr, zone };
}

/** Parse an IPv6 address, ignoring any `%zone` suffix; undefined if malformed. */
export function in6Parse(text: string): Uint8Array | undefined {
  return in6ParseScoped(text)?.addr;
}

/** Strict a.b.c.d as inet_pton(3) reads it: four decimal octets, no leading zeros. */
function parseDottedQuad(text: string): number[] | undefined {
  const parts = text.split('.');
  if (parts.length !== 4) return undefined;
  const out: number[] = [];
  for (const p of parts) {
    if (!/^(0|[1-9][0-9]{0,2})$/.test(p)) return undefined;
    const n = Number(p);
    if (n > 255) return undefined;
    out.push(n);
  }
  return out;
}

/**
 * The RFC 5952 text form: lower-case hex, no leading zeros in a group (§4.1),
 * the longest run of two or more zero groups, the first of equal runs, as
 * '::' (§4.2), and IPv4-mapped addresses in mixed notation, ::ffff:a.b.c.d
 * (§5), which is also how FreeBSD's inet_ntop prints them. With a zone,
 * "addr%zone" (RFC 4007 §11.2).
 */
export function in6ToString(a: Uint8Array, zone?: string): string {
  const words: number[] = [];
  for (let i = 0; i < 16; i += 2) words.push((a[i] << 8) | a[i + 1]);
  let text: string;
  if (in6IsV4Mapped(a)) {
    text = `::ffff:${a[12]}.${a[13]}.${a[14]}.${a[15]}`;
  } else {
    let best = -1;
    let bestLen = 1; // a single zero group is never compressed (§4.2.2)
    for (let i = 0; i < 8; ) {
      if (words[i] !== 0) {
        i++;
        continue;
      }
      let j = i;
      while (j < 8 && words[j] === 0) j++;
      if (j - i > bestLen) {
        best = i;
        bestLen = j - i;
      }
      i = j;
    }
    const hex = (w: number[]) => w.map((x) => x.toString(16)).join(':');
    text = best < 0 ? hex(words) : `${hex(words.slice(0, best))}::${hex(words.slice(best + bestLen))}`;
  }
  return zone ? `${text}%${zone}` : text;
}

export function in6Equal(a: Uint8Array, b: Uint8Array): boolean {
  for (let i = 0; i < 16; i++) if (a[i] !== b[i]) return false;
  return true;
}

/** ff00::/8 (RFC 4291 §2.7) */
export function in6IsMulticast(a: Uint8Array): boolean {
  return a[0] === 0xff;
}

/** Unicast link-local, fe80::/10 (RFC 4291 §2.5.6). */
export function in6IsLinkLocal(a: Uint8Array): boolean {
  return a[0] === 0xfe && (a[1] & 0xc0) === 0x80;
}

/** :: (RFC 4291 §2.5.2) */
export function in6IsUnspecified(a: Uint8Array): boolean {
  for (let i = 0; i < 16; i++) if (a[i] !== 0) return false;
  return true;
}

/** ::1 (RFC 4291 §2.5.3) */
export function in6IsLoopback(a: Uint8Array): boolean {
  for (let i = 0; i < 15; i++) if (a[i] !== 0) return false;
  return a[15] === 1;
}

/** ::ffff:0:0/96 (RFC 4291 §2.5.5.2) */
export function in6IsV4Mapped(a: Uint8Array): boolean {
  for (let i = 0; i < 10; i++) if (a[i] !== 0) return false;
  return a[10] === 0xff && a[11] === 0xff;
}

/**
 * The scope field of a multicast address (RFC 4291 §2.7): the low nibble of
 * byte 1. Meaningless for unicast addresses; callers check in6IsMulticast.
 */
export function in6MulticastScope(a: Uint8Array): number {
  return a[1] & 0x0f;
}

/**
 * The solicited-node multicast address of `a` (RFC 4291 §2.7.1):
 * ff02::1:ff00:0/104 followed by the low 24 bits of `a`.
 */
export function in6SolicitedNode(a: Uint8Array): Uint8Array {
  return Uint8Array.of(0xff, 0x02, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0x01, 0xff, a[13], a[14], a[15]);
}

/**
 * The link-local address fe80::/64 + the modified EUI-64 interface
 * identifier of a 48-bit MAC (RFC 4291 §2.5.1 and App. A; RFC 2464 §4-5):
 * ff:fe goes into the middle and the universal/local bit (0x02 of the first
 * byte) is inverted, so that locally administered MACs give identifiers with
 * the bit clear and hand-written ones like ::1 stay "local".
 */
export function in6LinkLocalFromMac(mac: Uint8Array): Uint8Array {
  if (mac.length !== 6) throw kerr('EINVAL', `a MAC address has 6 bytes, got ${mac.length}`);
  return Uint8Array.of(0xfe, 0x80, 0, 0, 0, 0, 0, 0, mac[0] ^ 0x02, mac[1], mac[2], 0xff, 0xfe, mac[3], mac[4], mac[5]);
}

function checkPlen(plen: number): void {
  if (!Number.isInteger(plen) || plen < 0 || plen > 128)
    throw kerr('EINVAL', `an IPv6 prefix length is an integer from 0 to 128, got ${plen}`);
}

/** The netmask for a prefix length (in6_prefixlen2mask). */
export function in6Mask(plen: number): Uint8Array {
  checkPlen(plen);
  const m = new Uint8Array(16);
  const full = plen >> 3;
  m.fill(0xff, 0, full);
  if (plen & 7) m[full] = (0xff00 >> (plen & 7)) & 0xff;
  return m;
}

/** Whether the first `plen` bits of `a` and `b` are equal (a prefix length of 0 matches everything). */
export function in6PrefixMatch(a: Uint8Array, b: Uint8Array, plen: number): boolean {
  checkPlen(plen);
  const full = plen >> 3;
  for (let i = 0; i < full; i++) if (a[i] !== b[i]) return false;
  const rest = plen & 7;
  if (rest === 0) return true;
  const m = (0xff00 >> rest) & 0xff;
  return (a[full] & m) === (b[full] & m);
}
