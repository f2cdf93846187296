import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { fold, inetChecksum, pseudoHeaderSum4, pseudoHeaderSum6 } from '../../src/inet/cksum.js';

/**
 * Reference: one's complement addition done one bit at a time (a ripple-carry
 * adder whose carry out of bit 15 re-enters at bit 0), then the complement.
 * Slow and obviously faithful to RFC 1071 §1, so it shares nothing with the
 * word-summing implementation under test.
 */
function refChecksum(bytes: ArrayLike<number>): number {
  const acc = new Array<number>(16).fill(0); // acc[0] is the least significant bit
  const addWord = (w: number) => {
    let carry = 0;
    for (let b = 0; b < 16; b++) {
      const s = acc[b] + ((w >> b) & 1) + carry;
      acc[b] = s & 1;
      carry = s >> 1;
    }
    while (carry) {
      carry = 0;
      let c = 1;
      for (let b = 0; b < 16 && c; b++) {
        const s = acc[b] + c;
        acc[b] = s & 1;
        c = s >> 1;
      }
      carry = c;
    }
  };
  for (let i = 0; i < bytes.length; i += 2) addWord((bytes[i] << 8) | (i + 1 < bytes.length ? bytes[i + 1] : 0));
  let v = 0;
  for (let b = 0; b < 16; b++) v |= (acc[b] ^ 1) << b;
  return v;
}

const u16be = (n: number) => [(n >> 8) & 0xff, n & 0xff];
const u32be = (n: number) => [(n >>> 24) & 0xff, (n >>> 16) & 0xff, (n >>> 8) & 0xff, n & 0xff];
const addr = (n: number) => fc.uint8Array({ minLength: n, maxLength: n });

describe('inetChecksum', () => {
  it('matches the RFC 1071 §3 worked example', () => {
    // 00 01 f2 03 f4 f5 f6 f7: one's complement sum 0xddf2, checksum its complement.
    const b = Uint8Array.of(0x00, 0x01, 0xf2, 0x03, 0xf4, 0xf5, 0xf6, 0xf7);
    expect(inetChecksum(b, 0, b.length)).toBe(~0xddf2 & 0xffff);
    expect(refChecksum(b)).toBe(0x220d);
  });

  it('pads an odd trailing byte with zero on the right', () => {
    expect(inetChecksum(Uint8Array.of(0x12), 0, 1)).toBe(~0x1200 & 0xffff);
    expect(inetChecksum(Uint8Array.of(0xab, 0xcd, 0xef), 0, 3)).toBe(refChecksum([0xab, 0xcd, 0xef]));
  });

  it('is 0xffff for nothing and for all-zero data', () => {
    expect(inetChecksum(new Uint8Array(0), 0, 0)).toBe(0xffff);
    expect(inetChecksum(new Uint8Array(10), 0, 10)).toBe(0xffff);
  });

  it('loses no carries on long all-ones data', () => {
    const b = new Uint8Array(200_001).fill(0xff);
    expect(inetChecksum(b, 0, b.length)).toBe(refChecksum(b));
  });

  it('agrees with the bit-by-bit reference at any offset and length', () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 300 }), fc.nat(), fc.nat(), (b, x, y) => {
        const off = b.length ? x % b.length : 0;
        const len = b.length - off ? y % (b.length - off + 1) : 0;
        expect(inetChecksum(b, off, len)).toBe(refChecksum(b.subarray(off, off + len)));
      }),
    );
  });

  it('verifies to 0 once its result is stored in the data', () => {
    fc.assert(
      fc.property(fc.uint8Array({ minLength: 2, maxLength: 200 }), fc.nat(), (b, k) => {
        const at = (k % (b.length >> 1)) * 2; // any aligned 16-bit field
        b[at] = 0;
        b[at + 1] = 0;
        const s = inetChecksum(b, 0, b.length);
        b[at] = s >> 8;
        b[at + 1] = s & 0xff;
        expect(inetChecksum(b, 0, b.length)).toBe(0);
      }),
    );
  });

  it('continues a sum through `initial` (even-length first part)', () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 100 }), fc.uint8Array({ maxLength: 100 }), (a0, b) => {
        const a = a0.length & 1 ? a0.subarray(1) : a0;
        const partial = ~inetChecksum(a, 0, a.length) & 0xffff;
        const whole = Uint8Array.from([...a, ...b]);
        expect(inetChecksum(b, 0, b.length, partial)).toBe(inetChecksum(whole, 0, whole.length));
      }),
    );
  });

  it('fold brings any safe integer into 16 bits, keeping its value mod 0xffff', () => {
    fc.assert(
      fc.property(fc.maxSafeNat(), (n) => {
        const f = fold(n);
        expect(f).toBeGreaterThanOrEqual(0);
        expect(f).toBeLessThanOrEqual(0xffff);
        expect(f % 0xffff).toBe(n % 0xffff);
      }),
    );
  });
});

describe('pseudo-header sums', () => {
  it('IPv6 (RFC 8200 §8.1): equals the checksum of the written-out 40-byte pseudo-header', () => {
    fc.assert(
      fc.property(addr(16), addr(16), fc.nat({ max: 0xffffffff }), fc.nat({ max: 255 }), (src, dst, len, nxt) => {
        const ph = [...src, ...dst, ...u32be(len), 0, 0, 0, nxt];
        expect(~pseudoHeaderSum6(src, dst, len, nxt) & 0xffff).toBe(refChecksum(ph));
      }),
    );
  });

  it('IPv4 (RFC 768): equals the checksum of the written-out 12-byte pseudo-header', () => {
    fc.assert(
      fc.property(addr(4), addr(4), fc.nat({ max: 0xffff }), fc.nat({ max: 255 }), (src, dst, len, proto) => {
        const ph = [...src, ...dst, 0, proto, ...u16be(len)];
        expect(~pseudoHeaderSum4(src, dst, len, proto) & 0xffff).toBe(refChecksum(ph));
      }),
    );
  });

  it('verifies a UDP/IPv4 datagram checksummed by the reference', () => {
    // 192.168.1.10:53000 -> 8.8.8.8:53 with 4 bytes of data; the reference
    // fills the checksum field, the implementation must then verify to zero.
    const src = Uint8Array.of(192, 168, 1, 10);
    const dst = Uint8Array.of(8, 8, 8, 8);
    const udp = Uint8Array.from([...u16be(53000), ...u16be(53), ...u16be(12), 0, 0, 0x12, 0x34, 0x01, 0x00]);
    const ph = [...src, ...dst, 0, 17, ...u16be(udp.length)];
    const c = refChecksum([...ph, ...udp]);
    udp[6] = c >> 8;
    udp[7] = c & 0xff;
    expect(inetChecksum(udp, 0, udp.length, pseudoHeaderSum4(src, dst, udp.length, 17))).toBe(0);
  });
});
