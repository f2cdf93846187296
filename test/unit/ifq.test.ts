import { describe, expect, it } from 'vitest';
import { IfQueue } from '../../src/driver/ifq.js';
import { IFQ_MAXLEN } from '../../src/driver/if_var.js';

describe('IfQueue (struct ifqueue)', () => {
  it('defaults to the global ifqmaxlen of 50, as FreeBSD', () => {
    expect(IFQ_MAXLEN).toBe(50);
    expect(new IfQueue().ifq_maxlen).toBe(50);
  });

  it('refuses frames beyond ifq_maxlen and keeps FIFO order across the ring wrap', () => {
    const q = new IfQueue(4, 64);
    for (let i = 0; i < 4; i++) expect(q.enqueue(Uint8Array.of(i, i), 0, 2)).toBe(true);
    expect(q.full()).toBe(true);
    expect(q.enqueue(Uint8Array.of(9), 0, 1)).toBe(false);
    expect(q.ifq_len).toBe(4);
    q.dequeue(3);
    expect(q.peek(0)).toEqual(Uint8Array.of(3, 3));
    // Wrap: slots 0..2 are free again.
    for (let i = 4; i < 7; i++) expect(q.enqueue(Uint8Array.of(i), 0, 1)).toBe(true);
    expect(q.first).toBe(3);
    expect(q.run()).toBe(1); // slot 3 only, then the ring wraps to slot 0
    q.dequeue(q.run());
    expect(q.first).toBe(0);
    expect(q.run()).toBe(3);
    expect([0, 1, 2].map((k) => q.peek(k)![0])).toEqual([4, 5, 6]);
  });

  it('refuses a frame larger than a slot', () => {
    const q = new IfQueue(2, 64);
    expect(q.reserve(65)).toBe(-1);
    expect(q.reserve(64)).toBe(0);
  });

  it('drain empties the queue and reports how many frames went', () => {
    const q = new IfQueue(8, 64);
    for (let i = 0; i < 5; i++) q.enqueue(Uint8Array.of(i), 0, 1);
    expect(q.drain()).toBe(5);
    expect(q.ifq_len).toBe(0);
  });

  it('resize keeps queued frames', () => {
    const q = new IfQueue(3, 64);
    q.enqueue(Uint8Array.of(1), 0, 1);
    q.enqueue(Uint8Array.of(2), 0, 1);
    q.resize(10, 4096);
    expect(q.ifq_maxlen).toBe(10);
    expect(q.slotSize).toBe(4096);
    expect([q.peek(0)![0], q.peek(1)![0]]).toEqual([1, 2]);
  });

  it('rejects a non-positive limit', () => {
    expect(() => new IfQueue(0)).toThrow(/positive integer/);
  });
});
