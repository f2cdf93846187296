import { describe, expect, it } from 'vitest';
import { RealScheduler, VirtualScheduler } from '../../src/kern/clock.js';
import { Random } from '../../src/kern/random.js';

describe('VirtualScheduler', () => {
  it('fires callouts in deadline order, ties in arming order, at their own time', () => {
    const s = new VirtualScheduler();
    const log: string[] = [];
    s.callout(10, () => log.push(`b@${s.now()}`));
    s.callout(5, () => log.push(`a@${s.now()}`));
    s.callout(10, () => log.push(`c@${s.now()}`));
    s.advance(9);
    expect(log).toEqual(['a@5']);
    s.advance(1);
    expect(log).toEqual(['a@5', 'b@10', 'c@10']);
    expect(s.now()).toBe(10);
  });

  it('keeps (deadline, arming) order through thousands of random arms and cancels, with cancelled callouts swept', () => {
    const s = new VirtualScheduler();
    const rnd = new Random(7);
    const fired: number[] = [];
    const live = new Map<number, { at: number; c: ReturnType<typeof s.callout> }>();
    for (let i = 0; i < 5000; i++) {
      const at = rnd.below(500);
      live.set(i, { at, c: s.callout(at, () => fired.push(i)) });
      // Cancel about two in three: the dead soon outnumber the living, so the heap is swept many times.
      if (rnd.below(3) > 0) {
        const victim = rnd.below(i + 1);
        if (live.get(victim)?.c.stop()) live.delete(victim);
      }
    }
    expect(s.pendingCount).toBe(live.size);
    expect(s.nextDeadline()).toBe(Math.min(...[...live.values()].map((e) => e.at)));
    s.advance(500);
    const want = [...live].sort(([ia, a], [ib, b]) => a.at - b.at || ia - ib).map(([i]) => i);
    expect(fired).toEqual(want);
    expect(s.pendingCount).toBe(0);
    expect(s.nextDeadline()).toBe(Infinity);
  });

  it('cancels, re-arms from inside a callout and reports remaining time', () => {
    const s = new VirtualScheduler();
    const log: number[] = [];
    const c = s.callout(100, () => log.push(1));
    expect(c.remaining()).toBe(100);
    s.advance(40);
    expect(c.remaining()).toBe(60);
    expect(c.stop()).toBe(true);
    expect(c.stop()).toBe(false);
    const tick = () => {
      log.push(s.now());
      if (log.length < 3) s.callout(10, tick);
    };
    s.callout(10, tick);
    s.runUntilIdle();
    expect(log).toEqual([50, 60, 70]);
    expect(s.pendingCount).toBe(0);
  });

  it('runUntilIdle is bounded in virtual time', () => {
    const s = new VirtualScheduler();
    const forever = () => s.callout(1000, forever);
    forever();
    s.runUntilIdle(10_000);
    expect(s.now()).toBe(10_000);
  });
});

describe('RealScheduler', () => {
  it('fires a callout on the wall clock', async () => {
    const s = new RealScheduler();
    const t0 = s.now();
    const fired = await new Promise<number>((resolve) => s.callout(20, () => resolve(s.now())));
    expect(fired - t0).toBeGreaterThanOrEqual(19);
    s.shutdown();
  });
});

describe('Random', () => {
  it('is reproducible per seed and differs between seeds', () => {
    const a = new Random(42);
    const b = new Random(42);
    const c = new Random(43);
    const sa = Array.from({ length: 5 }, () => a.u32());
    expect(Array.from({ length: 5 }, () => b.u32())).toEqual(sa);
    expect(Array.from({ length: 5 }, () => c.u32())).not.toEqual(sa);
    const r = new Random(1);
    for (let i = 0; i < 1000; i++) {
      const x = r.below(7);
      expect(x >= 0 && x < 7 && Number.isInteger(x)).toBe(true);
    }
  });
});
