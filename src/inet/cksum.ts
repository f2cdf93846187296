/**
 * The Internet checksum (RFC 1071) and the pseudo-header sums that IPv4
 * (RFC 768, RFC 793 §3.1) and IPv6 (RFC 8200 §8.1) upper layers fold into it.
 *
 * Convention, as in BSD's in_cksum(): sums are carried as plain numbers and
 * folded to 16 bits; `inetChecksum` returns the one's complement of the folded
 * sum, i.e. the value to store in a checksum field. Run over data that already
 * holds a correct checksum it returns 0, which is how receivers verify.
 */

/**
 * One's complement checksum of `len` bytes at `off`, plus `initial` (a folded
 * or unfolded partial sum, typically a pseudo-header sum).
 *
 * Words are added into an ordinary JS number and folded once at the end: a
 * double holds integers exactly up to 2^53, so no carry is lost for any
 * buffer shorter than 2^37 bytes, far beyond an IPv6 jumbogram.
 */
export function inetChecksum(buf: Uint8Array, off: number, len: number, initial = 0): number {
  let sum = initial;
  const end = off + (len & ~1);
  for (let i = off; i < end; i += 2) sum += (buf[i] << 8) | buf[i + 1];
  // RFC 1071 §4.1: an odd trailing byte is padded with a zero byte on the right.
  if (len & 1) sum += buf[off + len - 1] << 8;
  return ~fold(sum) & 0xffff;
}

/** Fold a wide sum to 16 bits with end-around carry (RFC 1071 §2(B)). */
export function fold(sum: number): number {
  // `%` and division rather than `&` and `>>>`: the sum may exceed 32 bits.
  // Each round shrinks it by 16 bits; typical sums need one or two rounds.
  while (sum > 0xffff) sum = (sum % 0x10000) + Math.floor(sum / 0x10000);
  return sum;
}

/**
 * Sum of the IPv6 pseudo-header (RFC 8200 §8.1): source, destination, the
 * 32-bit upper-layer packet length and the Next Header value (the upper-layer
 * protocol, not whatever extension header followed the fixed header).
 * Returns a folded, uncomplemented 16-bit sum for `inetChecksum`'s `initial`.
 */
export function pseudoHeaderSum6(src: Uint8Array, dst: Uint8Array, len: number, nxt: number): number {
  let sum = 0;
  for (let i = 0; i < 16; i += 2) sum += ((src[i] << 8) | src[i + 1]) + ((dst[i] << 8) | dst[i + 1]);
  sum += Math.floor(len / 0x10000) + (len & 0xffff) + (nxt & 0xff);
  return fold(sum);
}

/**
 * Sum of the IPv4 pseudo-header (RFC 768; RFC 793 §3.1): source, destination,
 * a zero byte, the protocol and the 16-bit UDP/TCP length.
 */
export function pseudoHeaderSum4(src: Uint8Array, dst: Uint8Array, len: number, proto: number): number {
  const sum =
    ((src[0] << 8) | src[1]) +
    ((src[2] << 8) | src[3]) +
    ((dst[0] << 8) | dst[1]) +
    ((dst[2] << 8) | dst[3]) +
    (proto & 0xff) +
    (len & 0xffff);
  return fold(sum);
}
