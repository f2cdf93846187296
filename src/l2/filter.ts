/**
 * The receive filter of an Ethernet interface, modelled on what NICs and the
 * Linux TAP (drivers/net/tun.c, TUNSETTXFILTER) do:
 *
 *  1. the first `exactSlots` addresses are compared exactly (the interface's
 *     own MAC and broadcast come first, then multicast groups);
 *  2. the remaining multicast addresses set bits in a 64-bin hash indexed by
 *     the top 6 bits of the Ethernet CRC-32 of the address, so unrelated
 *     groups that share a bin pass too (the IP layer filters again);
 *  3. a filter without hash bins, or with more groups than `maxGroups`,
 *     overflows to all-multicast;
 *  4. promiscuous mode passes every frame.
 *
 * The cost of a decision does not depend on the number of groups.
 */

export interface RxFilterConfig {
  /** Exact-match slots (the TAP has 8: FLT_EXACT_COUNT). */
  exactSlots: number;
  /** Hash bins: 64, or 0 for a filter with exact slots only. */
  hashBins: 0 | 64;
  /** Above this many multicast groups the filter gives up and passes all multicast. */
  maxGroups: number;
}

/** Hashed groups whose addresses the filter keeps (see RxFilter.unlisted). */
const HASH_LISTED = 512;

export const TAP_FILTER: RxFilterConfig = { exactSlots: 8, hashBins: 64, maxGroups: Infinity };

/** Why a frame was accepted or refused; useful to tests and to teaching labs. */
export type FilterVerdict = 'promisc' | 'exact' | 'hash' | 'allmulti' | 'reject';

export class RxFilter {
  // Exact slots as two integers each: the first two bytes and the last four,
  // so a comparison is two integer tests.
  private readonly exHi: Int32Array;
  private readonly exLo: Int32Array;
  private nexact = 0;
  private readonly mask = new Uint32Array(2);
  /** Every hash bin is set: the hash passes any group, so skip computing it. */
  private maskFull = false;
  /** Addresses that always take the first exact slots: the interface's MAC and broadcast. */
  private fixed: Uint8Array[] = [];
  /** Groups in exact slots, then groups in the hash, each in the order they came. */
  private readonly exactGroups = new Map<string, Uint8Array>();
  private readonly hashed = new Map<string, Uint8Array>();
  /**
   * Hashed groups beyond HASH_LISTED are only counted in their bins: a 64-bin
   * hash is full long before that, and the device gets all-multicast instead
   * of a list, so keeping their addresses here would cost memory per group
   * for nothing. (add and remove are called once per address: the interface
   * layer reference-counts the memberships.)
   */
  private unlisted = 0;
  /** Groups per hash bin, so that a bin clears when its last group leaves. */
  private readonly binCount = new Uint32Array(64);
  private wantAllmulti = false;
  promisc = false;
  allmulti = false;
  /** allmulti was forced by overflow rather than asked for (IFF_ALLMULTI). */
  overflowed = false;

  constructor(readonly config: RxFilterConfig = TAP_FILTER) {
    this.exHi = new Int32Array(config.exactSlots);
    this.exLo = new Int32Array(config.exactSlots);
  }

  /**
   * Load the filter from scratch. `addrs` lists the unicast MAC and
   * broadcast first, then the multicast groups, in the order the exact slots
   * should take them.
   */
  program(addrs: readonly Uint8Array[], promisc: boolean, allmulti: boolean): void {
    this.fixed = [];
    this.exactGroups.clear();
    this.hashed.clear();
    this.unlisted = 0;
    this.binCount.fill(0);
    for (const a of addrs) {
      if (a[0] & 1 && !isBroadcast(a)) this.add(a, false);
      else if (this.fixed.length < this.config.exactSlots) this.fixed.push(Uint8Array.from(a.subarray(0, 6)));
    }
    this.setFlags(promisc, allmulti);
  }

  /** IFF_PROMISC / IFF_ALLMULTI changed. */
  setFlags(promisc: boolean, allmulti: boolean): void {
    this.promisc = promisc;
    this.wantAllmulti = allmulti;
    this.refresh();
  }

  /** A group joined (SIOCADDMULTI): it takes a free exact slot, or a hash bin. O(1). */
  add(a: Uint8Array, refresh = true): void {
    const k = macKey(a);
    if (this.exactGroups.has(k) || this.hashed.has(k)) return;
    const copy = a; // link-layer addresses are immutable once made; keep the caller's
    if (this.fixed.length + this.exactGroups.size < this.config.exactSlots) this.exactGroups.set(k, copy);
    else {
      if (this.hashed.size < HASH_LISTED) this.hashed.set(k, copy);
      else this.unlisted++;
      this.binCount[etherHashBin(copy, 0)]++;
    }
    if (refresh) this.refresh();
  }

  /** A group left (SIOCDELMULTI): the oldest hashed group moves up into a freed exact slot. O(1). */
  remove(a: Uint8Array): void {
    const k = macKey(a);
    if (this.exactGroups.delete(k)) {
      const next = this.hashed.entries().next();
      if (!next.done) {
        const [nk, na] = next.value;
        this.hashed.delete(nk);
        this.binCount[etherHashBin(na, 0)]--;
        this.exactGroups.set(nk, na);
      }
    } else if (this.hashed.delete(k)) {
      this.binCount[etherHashBin(a, 0)]--;
    } else if (this.unlisted > 0) {
      this.unlisted--;
      this.binCount[etherHashBin(a, 0)]--;
    } else return;
    this.refresh();
  }

  /** Recompute the exact slots, the mask and the overflow state from the lists. */
  private refresh(): void {
    let n = 0;
    for (const a of this.fixed) this.setExact(n++, a);
    for (const a of this.exactGroups.values()) this.setExact(n++, a);
    this.nexact = n;
    this.mask[0] = this.mask[1] = 0;
    if (this.config.hashBins)
      for (let bin = 0; bin < 64; bin++) if (this.binCount[bin]) this.mask[bin >>> 5] |= 1 << (bin & 31);
    this.maskFull = this.mask[0] === 0xffffffff && this.mask[1] === 0xffffffff;
    const groups = this.groupCount;
    this.overflowed = groups > this.config.maxGroups || (groups > this.exactGroups.size && this.config.hashBins === 0);
    this.allmulti = this.wantAllmulti || this.overflowed;
  }

  private setExact(i: number, a: Uint8Array): void {
    this.exHi[i] = hi16(a, 0);
    this.exLo[i] = lo32(a, 0);
  }

  /** Number of groups the filter holds. */
  get groupCount(): number {
    return this.exactGroups.size + this.hashed.size + this.unlisted;
  }

  /**
   * The list to give a device with the same geometry: the exact addresses,
   * then hashed groups up to `limit` (enough to set every bin a hash can
   * have; beyond it the caller asks the device for all-multicast).
   */
  deviceList(limit = 256): { addrs: Uint8Array[]; truncated: boolean } {
    const addrs = [...this.fixed, ...this.exactGroups.values()];
    let i = 0;
    for (const a of this.hashed.values()) {
      if (i++ >= limit) return { addrs, truncated: true };
      addrs.push(a);
    }
    return { addrs, truncated: this.unlisted > 0 };
  }

  /** Whether the frame whose destination MAC starts at buf[off] passes (the hot path). */
  accepts(buf: Uint8Array, off: number): boolean {
    if (this.promisc) return true;
    const b0 = buf[off];
    if (b0 & 1 && (this.allmulti || this.maskFull)) return true;
    const hi = (b0 << 8) | buf[off + 1];
    const lo = (buf[off + 2] << 24) | (buf[off + 3] << 16) | (buf[off + 4] << 8) | buf[off + 5];
    const exHi = this.exHi;
    const exLo = this.exLo;
    for (let i = 0; i < this.nexact; i++) if (exLo[i] === lo && exHi[i] === hi) return true;
    if ((b0 & 1) === 0 || this.config.hashBins === 0) return false;
    const bin = etherHashBin(buf, off);
    return (this.mask[bin >>> 5] & (1 << (bin & 31))) !== 0;
  }

  /** Which rule decides the frame; for teaching labs and tests (slower than accepts). */
  verdict(buf: Uint8Array, off: number): FilterVerdict {
    if (this.promisc) return 'promisc';
    const hi = hi16(buf, off);
    const lo = lo32(buf, off);
    for (let i = 0; i < this.nexact; i++) if (this.exLo[i] === lo && this.exHi[i] === hi) return 'exact';
    if ((buf[off] & 1) === 0) return 'reject';
    if (this.allmulti) return 'allmulti';
    if (this.config.hashBins === 0) return 'reject';
    const bin = etherHashBin(buf, off);
    return this.mask[bin >>> 5] & (1 << (bin & 31)) ? 'hash' : 'reject';
  }

  /** The 64-bit hash mask as two words (for display and tests). */
  hashMask(): [number, number] {
    return [this.mask[0] >>> 0, this.mask[1] >>> 0];
  }

  /** Number of exact slots in use. */
  get exactCount(): number {
    return this.nexact;
  }
}

function macKey(a: Uint8Array): string {
  return String.fromCharCode(a[0], a[1], a[2], a[3], a[4], a[5]);
}

function hi16(a: Uint8Array, off: number): number {
  return (a[off] << 8) | a[off + 1];
}

function lo32(a: Uint8Array, off: number): number {
  return (a[off + 2] << 24) | (a[off + 3] << 16) | (a[off + 4] << 8) | a[off + 5];
}

export function isBroadcast(a: Uint8Array, off = 0): boolean {
  return (a[off] & a[off + 1] & a[off + 2] & a[off + 3] & a[off + 4] & a[off + 5]) === 0xff;
}

// CRC-32 (IEEE 802.3), reflected table.
const CRC_TABLE = (() => {
  const t = new Int32Array(256);
  for (let n = 0; n < 256; n++) {
    let c = n;
    for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
    t[n] = c;
  }
  return t;
})();

/**
 * The hash bin (0..63) of a MAC address as Linux's tun filter computes it:
 * ether_crc() = bitrev32(crc32_le(~0, addr, 6)), top six bits. The top six
 * bits of the bit-reversed CRC are the low six bits of the reflected one,
 * reversed.
 */
export function etherHashBin(a: Uint8Array, off: number): number {
  let c = -1;
  for (let i = 0; i < 6; i++) c = CRC_TABLE[(c ^ a[off + i]) & 0xff] ^ (c >>> 8);
  return REV6[c & 0x3f];
}

const REV6 = Uint8Array.from({ length: 64 }, (_, v) => {
  let r = 0;
  for (let i = 0; i < 6; i++) if (v & (1 << i)) r |= 1 << (5 - i);
  return r;
});
