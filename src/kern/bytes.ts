/**
 * Small byte arrays for addresses (4, 6 and 16 bytes) carved from shared
 * slabs. A Uint8Array of its own costs about 220 bytes of heap in V8 (the
 * view, its ArrayBuffer and the store); a view on a slab about 100. A host
 * with 100,000 group memberships keeps a few addresses per membership, so
 * this halves their cost. The slabs hold no state anyone reads: they are
 * memory, like malloc's arenas, shared by every host in the process.
 */
/**
 * Carves zeroed views out of shared slabs; a request above `max` bytes gets
 * an array of its own. Slab space is never reused: a view's bytes are its
 * holder's for good, and a view kept keeps its slab alive.
 */
class SlabAllocator {
  private slab: Uint8Array;
  private used = 0;

  constructor(
    private readonly size: number,
    private readonly max: number,
    /** Views start on multiples of this, plus `skew`. */
    private readonly align: number,
    private readonly skew = 0,
  ) {
    this.slab = new Uint8Array(size);
  }

  take(n: number): Uint8Array {
    if (n > this.max) return new Uint8Array(n);
    if (this.used + this.skew + n > this.size) {
      this.slab = new Uint8Array(this.size);
      this.used = 0;
    }
    const at = this.used + this.skew;
    const v = this.slab.subarray(at, at + n);
    this.used += (this.skew + n + this.align - 1) & ~(this.align - 1);
    return v;
  }
}

const small = new SlabAllocator(16384, 64, 1);

/** A zeroed array of `n` bytes (n <= 64) that lives in a shared slab. */
export function smallBytes(n: number): Uint8Array {
  return small.take(n);
}

/** A slab copy of `src`. */
export function smallCopy(src: ArrayLike<number>): Uint8Array {
  const v = smallBytes(src.length);
  for (let i = 0; i < src.length; i++) v[i] = src[i];
  return v;
}

/*
 * Packets being built or carried. In V8 a Uint8Array of more than 64 bytes
 * gets a backing store outside the JS heap: about 1.3 us to allocate and to
 * free, against 0.2 us for a view on an existing buffer, and a lab moves
 * millions of small packets (a datagram built, a frame copied onto a
 * segment). So they are carved from shared slabs too. Slab space is never
 * reused: a packet's bytes are its holder's for good, and a packet kept
 * keeps its slab alive.
 */
/*
 * A packet starts 2 bytes past a multiple of 8: a datagram built here goes
 * to an if_snd slot (word-aligned) after the 14-byte Ethernet header, so
 * its first byte and its place in the slot then agree mod 4 and
 * ether_output_frame's copyBytes moves it by words rather than by
 * TypedArray.set on a fresh subarray.
 */
const packets = new SlabAllocator(65536, 2048, 8, 2);

/** A zeroed array of `n` bytes for a packet: a view on a shared slab up to 2 KiB, an array of its own above. */
export function packetBytes(n: number): Uint8Array {
  return packets.take(n);
}
