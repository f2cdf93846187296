/**
 * copyBytes: the word-wide fast path must copy exactly the same bytes as a
 * plain loop, for every alignment, length (every word count mod 8) and
 * source kind, and never touch bytes outside the destination range.
 */
import { describe, expect, it } from 'vitest';
import { copyBytes } from '../../src/l2/ether.js';

function reference(dst: Uint8Array, at: number, src: Uint8Array, off: number, len: number): void {
  for (let i = 0; i < len; i++) dst[at + i] = src[off + i];
}

describe('copyBytes', () => {
  const backing = new Uint8Array(4096).map((_, i) => (i * 131 + 7) & 0xff);
  // Sources at every byteOffset mod 4, including a Buffer (pool-allocated, odd offsets).
  const sources = [0, 1, 2, 3].map((o) => new Uint8Array(backing.buffer, o, 2048));
  sources.push(Buffer.from(backing.subarray(5, 2053)));

  it('matches a byte loop for every alignment and length, with and without a word view', () => {
    const bad: string[] = [];
    const same = (a: Uint8Array, b: Uint8Array) => a.length === b.length && a.every((x, i) => x === b[i]);
    for (const src of sources)
      for (const len of [0, 1, 3, 15, 16, 17, 20, 21, 25, 31, 32, 33, 37, 41, 46, 50, 53, 63, 64, 255, 512, 513, 1500])
        for (const at of [0, 1, 2, 3, 14, 17])
          for (const off of [0, 1, 2, 3, 14, 21]) {
            const dst = new Uint8Array(2048).fill(0xee);
            const want = new Uint8Array(2048).fill(0xee);
            reference(want, at, src, off, len);
            copyBytes(dst, at, src, off, len, new Int32Array(dst.buffer));
            const dst2 = new Uint8Array(2048).fill(0xee);
            copyBytes(dst2, at, src, off, len);
            if (!same(dst, want) || !same(dst2, want)) bad.push(`src@${src.byteOffset} len ${len} at ${at} off ${off}`);
          }
    expect(bad).toEqual([]);
  });

  it('follows a change of source array (its cached word view is per source)', () => {
    const dst = new Uint8Array(256);
    const d32 = new Int32Array(dst.buffer);
    const a = new Uint8Array(256).fill(1);
    const b = new Uint8Array(256).fill(2);
    const c = new Uint8Array(256).fill(3);
    for (const [src, v] of [[a, 1], [b, 2], [a, 1], [c, 3], [b, 2]] as const) {
      copyBytes(dst, 14, src, 14, 100, d32);
      expect(dst.subarray(14, 114).every((x) => x === v)).toBe(true);
    }
  });
});
