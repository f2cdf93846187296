/**
 * Small byte arrays for addresses (4, 6 and 16 bytes) carved from shared
 * slabs. A Uint8Array of its own costs about 220 bytes of heap in V8 (the
 * view, its ArrayBuffer and the store); a view on a slab about 100. A host
 * with 100,000 group memberships keeps a few addresses per membership, so
 * this halves their cost. The slabs hold no state anyone reads: they are
 * memory, like malloc's arenas, shared by every host in the process.
 */
const SLAB_SIZE = 16384;
let slab = new Uint8Array(SLAB_SIZE);
let used = 0;

/** A zeroed array of `n` bytes (n <= 64) that lives in a shared slab. */
export function smallBytes(n: number): Uint8Array {
  if (n > 64) return new Uint8Array(n);
  if (used + n > SLAB_SIZE) {
    slab = new Uint8Array(SLAB_SIZE);
    used = 0;
  }
  const v = slab.subarray(used, used + n);
  used += n;
  return v;
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
const PACKET_SLAB_SIZE = 65536;
let packetSlab = new Uint8Array(PACKET_SLAB_SIZE);
let packetUsed = 0;

/** A zeroed array of `n` bytes for a packet: a view on a shared slab up to 2 KiB, an array of its own above. */
export function packetBytes(n: number): Uint8Array {
  if (n > 2048) return new Uint8Array(n);
  if (packetUsed + n > PACKET_SLAB_SIZE) {
    packetSlab = new Uint8Array(PACKET_SLAB_SIZE);
    packetUsed = 0;
  }
  const v = packetSlab.subarray(packetUsed, packetUsed + n);
  // Keep views 8-byte aligned, so a packet copied by words (copyBytes) starts on a word.
  packetUsed += (n + 7) & ~7;
  return v;
}
