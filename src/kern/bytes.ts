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
