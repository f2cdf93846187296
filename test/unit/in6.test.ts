import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import ipaddr from 'ipaddr.js';
import {
  IN6ADDR_ANY,
  IN6ADDR_LINKLOCAL_ALLNODES,
  IN6ADDR_LINKLOCAL_ALLROUTERS,
  IN6ADDR_LINKLOCAL_ALLV2ROUTERS,
  IN6ADDR_LOOPBACK,
  IPV6_ADDR_SCOPE_ADMINLOCAL,
  IPV6_ADDR_SCOPE_GLOBAL,
  IPV6_ADDR_SCOPE_INTFACELOCAL,
  IPV6_ADDR_SCOPE_LINKLOCAL,
  IPV6_ADDR_SCOPE_ORGLOCAL,
  IPV6_ADDR_SCOPE_REALMLOCAL,
  IPV6_ADDR_SCOPE_SITELOCAL,
  in6Equal,
  in6IsLinkLocal,
  in6IsLoopback,
  in6IsMulticast,
  in6IsUnspecified,
  in6IsV4Mapped,
  in6LinkLocalFromMac,
  in6Mask,
  in6MulticastScope,
  in6Parse,
  in6ParseScoped,
  in6PrefixMatch,
  in6SolicitedNode,
  in6ToString,
} from '../../src/inet/in6.js';
import { KernError } from '../../src/kern/errno.js';

const A = (text: string): Uint8Array => {
  const a = in6Parse(text);
  if (!a) throw new Error(`test address ${text} does not parse`);
  return a;
};
const bytes16 = fc.uint8Array({ minLength: 16, maxLength: 16 });

describe('in6Parse / in6ParseScoped', () => {
  it('reads the text forms of RFC 4291 §2.2', () => {
    expect(Array.from(A('2001:db8:0:0:8:800:200c:417a'))).toEqual([
      0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 0, 0, 8, 8, 0, 0x20, 0x0c, 0x41, 0x7a,
    ]);
    expect(in6Equal(A('2001:DB8::8:800:200C:417A'), A('2001:db8:0:0:8:800:200c:417a'))).toBe(true);
    expect(in6Equal(A('::'), IN6ADDR_ANY)).toBe(true);
    expect(in6Equal(A('0:0:0:0:0:0:0:1'), IN6ADDR_LOOPBACK)).toBe(true);
    expect(in6Equal(A('ff02::1'), IN6ADDR_LINKLOCAL_ALLNODES)).toBe(true);
    expect(in6Equal(A('ff02::2'), IN6ADDR_LINKLOCAL_ALLROUTERS)).toBe(true);
    expect(in6Equal(A('ff02::16'), IN6ADDR_LINKLOCAL_ALLV2ROUTERS)).toBe(true);
  });

  it('reads embedded IPv4 as RFC 4291 §2.5.5 defines it (not as ipaddr.js would)', () => {
    // IPv4-mapped
    expect(Array.from(A('::ffff:192.0.2.1').subarray(10))).toEqual([0xff, 0xff, 192, 0, 2, 1]);
    // IPv4-compatible (deprecated): zeros in front, no ffff
    expect(Array.from(A('::192.0.2.1'))).toEqual([0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 192, 0, 2, 1]);
    expect(Array.from(A('1:2:3:4:5:6:1.2.3.4').subarray(12))).toEqual([1, 2, 3, 4]);
  });

  it('refuses what inet_pton refuses', () => {
    for (const bad of [
      '',
      ':',
      ':::',
      '1::2::3',
      '1:2:3:4:5:6:7:8:9',
      '1:2:3:4:5:6:7',
      '12345::',
      'g::',
      ' ::1',
      '::1 ',
      '1.2.3.4',
      '::256.1.1.1',
      '::01.2.3.4',
      '::0x1.2.3.4',
      '::1.2.3',
      '1.2.3.4::',
      '::1.2.3.4:5',
      'fe80::1%',
      'fe80::1%a b',
      'fe80::1%a%b',
    ]) {
      expect(in6ParseScoped(bad), bad).toBeUndefined();
    }
  });

  it('splits off a zone (RFC 4007 §11.2), which in6Parse ignores', () => {
    expect(in6ParseScoped('fe80::1%em0')).toEqual({ addr: A('fe80::1'), zone: 'em0' });
    expect(in6ParseScoped('fe80::1%vlan0.100')?.zone).toBe('vlan0.100');
    expect(in6ParseScoped('fe80::1%br-lan')?.zone).toBe('br-lan');
    expect(in6ParseScoped('fe80::1')).toEqual({ addr: A('fe80::1') });
    expect(in6Equal(in6Parse('ff02::1%3')!, IN6ADDR_LINKLOCAL_ALLNODES)).toBe(true);
  });

  it('never throws, whatever the string', () => {
    fc.assert(
      fc.property(fc.oneof(fc.string(), fc.stringMatching(/^[0-9a-fA-F:.%]{0,45}$/)), (s) => {
        const r = in6ParseScoped(s);
        if (r) expect(r.addr.length).toBe(16);
      }),
    );
  });
});

describe('in6ToString (RFC 5952)', () => {
  it('follows the RFC 5952 rules and examples', () => {
    const cases: [string, string][] = [
      ['2001:0db8::0001', '2001:db8::1'], // §4.1 leading zeros
      ['2001:db8:0:0:0:0:2:1', '2001:db8::2:1'], // §4.2.1 shorten as much as possible
      ['2001:db8:0:1:1:1:1:1', '2001:db8:0:1:1:1:1:1'], // §4.2.2 not for one group
      ['2001:0:0:1:0:0:0:1', '2001:0:0:1::1'], // §4.2.3 the longest run
      ['2001:db8:0:0:1:0:0:1', '2001:db8::1:0:0:1'], // §4.2.3 the first of equal runs
      ['2001:DB8::AB', '2001:db8::ab'], // §4.3 lower case
      ['::ffff:c000:201', '::ffff:192.0.2.1'], // §5 mixed notation for mapped
      ['::', '::'],
      ['::1', '::1'],
      ['1::', '1::'],
      ['ff02::1:ff0e:8c6c', 'ff02::1:ff0e:8c6c'],
      ['1:0:0:0:0:0:0:0', '1::'],
      ['0:0:0:0:0:0:0:1', '::1'],
    ];
    for (const [input, out] of cases) expect(in6ToString(A(input)), input).toBe(out);
    expect(in6ToString(A('fe80::1'), 'em0')).toBe('fe80::1%em0');
  });

  it('round-trips through in6Parse for every address', () => {
    fc.assert(
      fc.property(bytes16, (a) => {
        expect(Array.from(A(in6ToString(a)))).toEqual(Array.from(a));
      }),
    );
  });

  it('agrees with ipaddr.js toRFC5952String except for the mapped mixed notation', () => {
    // Bias towards zero groups so that '::' placement is exercised.
    const word = fc.oneof(fc.constant(0), fc.constant(0), fc.nat({ max: 0xffff }));
    fc.assert(
      fc.property(fc.array(word, { minLength: 8, maxLength: 8 }), (words) => {
        const a = new Uint8Array(16);
        words.forEach((w, i) => {
          a[2 * i] = w >> 8;
          a[2 * i + 1] = w & 0xff;
        });
        if (in6IsV4Mapped(a)) return;
        expect(in6ToString(a)).toBe(new ipaddr.IPv6(words).toRFC5952String());
      }),
    );
  });
});

describe('address classes', () => {
  it('multicast, link-local, unspecified, loopback, mapped', () => {
    expect(in6IsMulticast(A('ff02::1'))).toBe(true);
    expect(in6IsMulticast(A('fe80::1'))).toBe(false);
    expect(in6IsLinkLocal(A('fe80::1'))).toBe(true);
    expect(in6IsLinkLocal(A('febf:ffff::1'))).toBe(true); // still inside fe80::/10
    expect(in6IsLinkLocal(A('fec0::1'))).toBe(false);
    expect(in6IsLinkLocal(A('ff02::1'))).toBe(false);
    expect(in6IsUnspecified(IN6ADDR_ANY)).toBe(true);
    expect(in6IsUnspecified(IN6ADDR_LOOPBACK)).toBe(false);
    expect(in6IsLoopback(IN6ADDR_LOOPBACK)).toBe(true);
    expect(in6IsLoopback(A('::2'))).toBe(false);
    expect(in6IsLoopback(A('1::1'))).toBe(false);
    expect(in6IsV4Mapped(A('::ffff:10.0.0.1'))).toBe(true);
    expect(in6IsV4Mapped(A('::10.0.0.1'))).toBe(false);
  });

  it('multicast scope is the low nibble of byte 1 (RFC 4291 §2.7, RFC 7346)', () => {
    expect([
      IPV6_ADDR_SCOPE_INTFACELOCAL,
      IPV6_ADDR_SCOPE_LINKLOCAL,
      IPV6_ADDR_SCOPE_REALMLOCAL,
      IPV6_ADDR_SCOPE_ADMINLOCAL,
      IPV6_ADDR_SCOPE_SITELOCAL,
      IPV6_ADDR_SCOPE_ORGLOCAL,
      IPV6_ADDR_SCOPE_GLOBAL,
    ]).toEqual([1, 2, 3, 4, 5, 8, 0xe]);
    expect(in6MulticastScope(A('ff01::1'))).toBe(IPV6_ADDR_SCOPE_INTFACELOCAL);
    expect(in6MulticastScope(A('ff02::16'))).toBe(IPV6_ADDR_SCOPE_LINKLOCAL);
    expect(in6MulticastScope(A('ff05::1:3'))).toBe(IPV6_ADDR_SCOPE_SITELOCAL);
    expect(in6MulticastScope(A('ff0e::101'))).toBe(IPV6_ADDR_SCOPE_GLOBAL);
    // Flags (high nibble) do not leak into the scope: ff32:: is transient link-local.
    expect(in6MulticastScope(A('ff32::8000:1'))).toBe(IPV6_ADDR_SCOPE_LINKLOCAL);
  });
});

describe('derived addresses', () => {
  it('solicited-node: the RFC 4291 §2.7.1 example', () => {
    expect(in6ToString(in6SolicitedNode(A('4037::01:800:200E:8C6C')))).toBe('ff02::1:ff0e:8c6c');
    expect(in6ToString(in6SolicitedNode(A('fe80::2aa:ff:fe28:9c5a')))).toBe('ff02::1:ff28:9c5a');
  });

  it('solicited-node keeps exactly the low 24 bits', () => {
    fc.assert(
      fc.property(bytes16, (a) => {
        const s = in6SolicitedNode(a);
        expect(in6PrefixMatch(s, A('ff02::1:ff00:0'), 104)).toBe(true);
        expect(Array.from(s.subarray(13))).toEqual(Array.from(a.subarray(13)));
      }),
    );
  });

  it('modified EUI-64 link-local: the RFC 2464 §4 example and the U/L flip', () => {
    // 34-56-78-9A-BC-DE -> interface identifier 36-56-78-FF-FE-9A-BC-DE
    expect(in6ToString(in6LinkLocalFromMac(Uint8Array.of(0x34, 0x56, 0x78, 0x9a, 0xbc, 0xde)))).toBe(
      'fe80::3656:78ff:fe9a:bcde',
    );
    // A locally administered MAC gets the bit cleared (RFC 4291 App. A).
    expect(in6ToString(in6LinkLocalFromMac(Uint8Array.of(0x02, 0, 0, 0, 0, 1)))).toBe('fe80::ff:fe00:1');
    expect(in6ToString(in6LinkLocalFromMac(Uint8Array.of(0x52, 0x54, 0, 0x12, 0x34, 0x56)))).toBe(
      'fe80::5054:ff:fe12:3456',
    );
    expect(() => in6LinkLocalFromMac(new Uint8Array(5))).toThrow(KernError);
  });

  it('EUI-64 link-local addresses are link-local and give the MAC back', () => {
    fc.assert(
      fc.property(fc.uint8Array({ minLength: 6, maxLength: 6 }), (mac) => {
        const a = in6LinkLocalFromMac(mac);
        expect(in6IsLinkLocal(a)).toBe(true);
        expect([a[8] ^ 2, a[9], a[10], a[13], a[14], a[15]]).toEqual(Array.from(mac));
        expect([a[11], a[12]]).toEqual([0xff, 0xfe]);
      }),
    );
  });
});

describe('prefixes', () => {
  it('in6Mask', () => {
    expect(in6IsUnspecified(in6Mask(0))).toBe(true);
    expect(in6ToString(in6Mask(64))).toBe('ffff:ffff:ffff:ffff::');
    expect(in6ToString(in6Mask(65))).toBe('ffff:ffff:ffff:ffff:8000::');
    expect(in6ToString(in6Mask(10))).toBe('ffc0::');
    expect(in6ToString(in6Mask(128))).toBe('ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff');
    for (const bad of [-1, 129, 1.5, NaN]) expect(() => in6Mask(bad)).toThrow(KernError);
  });

  it('in6PrefixMatch', () => {
    expect(in6PrefixMatch(A('2001:db8::1'), A('2001:db8::2'), 64)).toBe(true);
    expect(in6PrefixMatch(A('::1'), A('::2'), 126)).toBe(true);
    expect(in6PrefixMatch(A('::1'), A('::2'), 127)).toBe(false);
    expect(in6PrefixMatch(A('fe80::1'), A('febf::1'), 10)).toBe(true);
    expect(in6PrefixMatch(A('fe80::1'), A('fec0::1'), 10)).toBe(false);
    expect(in6PrefixMatch(A('::'), A('ffff::'), 0)).toBe(true);
    expect(() => in6PrefixMatch(IN6ADDR_ANY, IN6ADDR_ANY, 200)).toThrow(KernError);
  });

  it('in6PrefixMatch is equality under in6Mask', () => {
    fc.assert(
      fc.property(bytes16, bytes16, fc.nat({ max: 128 }), fc.nat({ max: 128 }), (a, b0, plen, keep) => {
        // Make b share a random-length prefix with a so that both answers occur.
        const b = Uint8Array.from(b0);
        const m = in6Mask(keep);
        for (let i = 0; i < 16; i++) b[i] = (a[i] & m[i]) | (b[i] & ~m[i]);
        const mask = in6Mask(plen);
        const expected = mask.every((x, i) => (a[i] & x) === (b[i] & x));
        expect(in6PrefixMatch(a, b, plen)).toBe(expected);
      }),
    );
  });
});
