import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { RxFilter, etherHashBin, TAP_FILTER } from '../../src/l2/filter.js';
import { etherMapIpMulticast } from '../../src/l2/ether.js';
import { mac } from '../helpers/vlab.js';

// An independent, bit-by-bit oracle of Linux's ether_crc(): bitrev32(crc32_le(~0, addr, 6)) >> 26.
function oracleBin(a: Uint8Array): number {
  let crc = 0xffffffff;
  for (const byte of a) {
    for (let bit = 0; bit < 8; bit++) {
      const b = (byte >> bit) & 1;
      const top = crc & 1;
      crc >>>= 1;
      if (top ^ b) crc ^= 0xedb88320;
    }
  }
  let rev = 0;
  for (let i = 0; i < 32; i++) if (crc & (2 ** i)) rev += 2 ** (31 - i);
  return Math.floor(rev / 2 ** 26);
}

const OWN = mac('02:00:00:00:00:01');
const BCAST = mac('ff:ff:ff:ff:ff:ff');

function groupMac(i: number): Uint8Array {
  return etherMapIpMulticast(Uint8Array.of(239, 1, (i >> 8) & 0xff, i & 0xff));
}

describe('receive filter model', () => {
  it('hash bins agree with the bitwise oracle for any address', () => {
    fc.assert(
      fc.property(fc.uint8Array({ minLength: 6, maxLength: 6 }), (a) => etherHashBin(a, 0) === oracleBin(a)),
      { numRuns: 2000 },
    );
  });

  it('passes its exact entries and refuses other unicast', () => {
    const f = new RxFilter();
    f.program([OWN, BCAST], false, false);
    expect(f.verdict(OWN, 0)).toBe('exact');
    expect(f.verdict(BCAST, 0)).toBe('exact');
    expect(f.verdict(mac('02:00:00:00:00:02'), 0)).toBe('reject');
    expect(f.verdict(groupMac(1), 0)).toBe('reject');
  });

  it('puts the first 8 addresses in exact slots and hashes the rest', () => {
    const f = new RxFilter(TAP_FILTER);
    const groups = Array.from({ length: 10 }, (_, i) => groupMac(i + 1));
    f.program([OWN, BCAST, ...groups], false, false);
    expect(f.exactCount).toBe(8);
    for (let i = 0; i < 6; i++) expect(f.verdict(groups[i], 0)).toBe('exact');
    for (let i = 6; i < 10; i++) expect(f.verdict(groups[i], 0)).toBe('hash');
  });

  it('lets an unjoined group through when it shares a hash bin with a joined one (collision)', () => {
    const f = new RxFilter();
    const filler = Array.from({ length: 6 }, (_, i) => groupMac(1000 + i));
    const joined = groupMac(1);
    const bin = etherHashBin(joined, 0);
    let twin: Uint8Array | undefined;
    let stranger: Uint8Array | undefined;
    for (let i = 2; i < 5000 && (!twin || !stranger); i++) {
      const g = groupMac(i);
      if (filler.some((x) => x.every((b, k) => b === g[k]))) continue;
      if (etherHashBin(g, 0) === bin) twin ??= g;
      else stranger ??= g;
    }
    f.program([OWN, BCAST, ...filler, joined], false, false);
    expect(f.verdict(joined, 0)).toBe('hash');
    expect(f.verdict(twin!, 0)).toBe('hash'); // imperfect: the IP layer must check again
    expect(f.verdict(stranger!, 0)).toBe('reject');
  });

  it('overflows to all-multicast when there are no hash bins or too many groups', () => {
    const exactOnly = new RxFilter({ exactSlots: 4, hashBins: 0, maxGroups: Infinity });
    exactOnly.program([OWN, BCAST, groupMac(1), groupMac(2)], false, false);
    expect(exactOnly.allmulti).toBe(false);
    expect(exactOnly.verdict(groupMac(3), 0)).toBe('reject');
    exactOnly.program([OWN, BCAST, groupMac(1), groupMac(2), groupMac(3)], false, false);
    expect(exactOnly.overflowed).toBe(true);
    expect(exactOnly.verdict(groupMac(99), 0)).toBe('allmulti');
    expect(exactOnly.verdict(mac('02:00:00:00:00:09'), 0)).toBe('reject');

    const limited = new RxFilter({ exactSlots: 8, hashBins: 64, maxGroups: 16 });
    limited.program([OWN, BCAST, ...Array.from({ length: 17 }, (_, i) => groupMac(i))], false, false);
    expect(limited.allmulti).toBe(true);
  });

  it('all-multicast passes any group but not foreign unicast; promiscuous passes everything', () => {
    const f = new RxFilter();
    f.program([OWN, BCAST], false, true);
    expect(f.verdict(groupMac(77), 0)).toBe('allmulti');
    expect(f.verdict(mac('33:33:00:00:00:01'), 0)).toBe('allmulti');
    expect(f.verdict(mac('02:00:00:00:00:02'), 0)).toBe('reject');
    f.program([OWN, BCAST], true, false);
    expect(f.verdict(mac('02:00:00:00:00:02'), 0)).toBe('promisc');
  });

  it('reads the destination at an offset inside a larger buffer', () => {
    const f = new RxFilter();
    f.program([OWN, BCAST], false, false);
    const buf = new Uint8Array(100);
    buf.set(OWN, 40);
    expect(f.accepts(buf, 40)).toBe(true);
    expect(f.accepts(buf, 41)).toBe(false);
  });
});
