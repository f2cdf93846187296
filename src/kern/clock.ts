/**
 * Time for a lab: one scheduler per lab, behind one interface, with a real
 * clock (wall time, one host timer for the next deadline) and a virtual clock
 * (time moves only when the lab advances it). Nothing else in taplab calls
 * setTimeout or Date.now(); protocol timers are callouts, as in callout(9).
 */

export type CalloutFn = () => void;

/** A pending timer. `stop()` cancels it; `pending` tells whether it will still fire. */
export class Callout {
  /** @internal queued in the scheduler's heap and not cancelled. */
  queued = false;
  constructor(
    private readonly sched: Scheduler,
    /** @internal */ public deadline: number,
    /** @internal */ public seq: number,
    /** @internal */ public fn: CalloutFn,
    readonly label: string,
  ) {}

  get pending(): boolean {
    return this.queued;
  }

  /** Milliseconds until it fires (0 if overdue, -1 if not pending). */
  remaining(): number {
    return this.queued ? Math.max(0, this.deadline - this.sched.now()) : -1;
  }

  stop(): boolean {
    return this.sched.cancel(this);
  }
}

/** Whole seconds until a callout fires, rounded up; 0 when it is not pending (the ifinfo timers). */
export function remainingSeconds(c: Callout | undefined): number {
  const r = c?.remaining() ?? -1;
  return r < 0 ? 0 : Math.ceil(r / 1000);
}

export abstract class Scheduler {
  /*
   * A 4-ary heap of callouts ordered by (deadline, seq). The keys are kept
   * beside it in two dense arrays, so sifting compares numbers in a few cache
   * lines and never reads or writes the callouts themselves: a lab of 1,000
   * hosts has thousands pending, spread over the JS heap, and touching one
   * per level was a cache miss per level. For the same reason a cancelled
   * callout is not taken out at once: it is only marked, skipped when it
   * reaches the top, and swept out when the dead outnumber the living.
   */
  private heap: Callout[] = [];
  private deadlines = new Float64Array(256);
  private seqs = new Float64Array(256);
  /** Cancelled callouts still in the heap. */
  private dead = 0;
  private seq = 0;
  /** Set while callouts run, so a re-arm of the hardware timer waits until the end. */
  private running = false;

  /** Monotonic milliseconds since the scheduler started. */
  abstract now(): number;

  /** Wall-clock milliseconds since the epoch (for timestamps people read: pcap, ifi_lastchange). */
  abstract wallNow(): number;

  /** The kind of clock, for messages and reports. */
  abstract readonly kind: 'real' | 'virtual';

  /** Run `fn` after `delayMs` milliseconds of this scheduler's time. */
  callout(delayMs: number, fn: CalloutFn, label = 'callout'): Callout {
    if (!Number.isFinite(delayMs) || delayMs < 0) delayMs = 0;
    const c = new Callout(this, this.now() + delayMs, this.seq++, fn, label);
    c.queued = true;
    this.push(c);
    if (!this.running) this.rearm();
    return c;
  }

  /** Cancel a callout; returns whether it was pending. */
  cancel(c: Callout): boolean {
    if (!c.queued) return false;
    c.queued = false;
    this.dead++;
    if (this.dead > 64 && 2 * this.dead > this.heap.length) this.sweep();
    if (!this.running) this.rearm();
    return true;
  }

  /** The next deadline, or Infinity when nothing is pending. */
  nextDeadline(): number {
    this.dropDeadTop();
    return this.heap.length ? this.deadlines[0] : Infinity;
  }

  get pendingCount(): number {
    return this.heap.length - this.dead;
  }

  /** Fire every callout whose deadline is <= `until`, in deadline order (ties in arming order). */
  protected runDue(until: number, beforeEach?: (deadline: number) => void): number {
    let fired = 0;
    const wasRunning = this.running;
    this.running = true;
    try {
      for (;;) {
        this.dropDeadTop();
        if (this.heap.length === 0 || this.deadlines[0] > until) break;
        const c = this.pop();
        c.queued = false;
        beforeEach?.(c.deadline);
        fired++;
        c.fn();
      }
    } finally {
      this.running = wasRunning;
    }
    if (!wasRunning) this.rearm();
    return fired;
  }

  /** Arrange for runDue to be called at the next deadline (real clock); nothing for virtual time. */
  protected abstract rearm(): void;

  // --- 4-ary heap keyed by (deadline, seq) ---

  /** Pop cancelled callouts off the top. */
  private dropDeadTop(): void {
    while (this.heap.length && !this.heap[0].queued) {
      this.pop();
      this.dead--;
    }
  }

  /** Take the whole heap's cancelled callouts out and re-heapify (O(n)). */
  private sweep(): void {
    const h = this.heap;
    let n = 0;
    for (let i = 0; i < h.length; i++) {
      const c = h[i];
      if (!c.queued) continue;
      h[n] = c;
      this.deadlines[n] = this.deadlines[i];
      this.seqs[n] = this.seqs[i];
      n++;
    }
    h.length = n;
    this.dead = 0;
    for (let i = (n - 2) >> 2; i >= 0; i--) this.down(i);
  }

  private push(c: Callout): void {
    const i = this.heap.length;
    if (i === this.deadlines.length) {
      const d = new Float64Array(2 * i);
      d.set(this.deadlines);
      this.deadlines = d;
      const s = new Float64Array(2 * i);
      s.set(this.seqs);
      this.seqs = s;
    }
    this.heap.push(c);
    this.deadlines[i] = c.deadline;
    this.seqs[i] = c.seq;
    this.up(i);
  }

  /** Remove and return the top. */
  private pop(): Callout {
    const h = this.heap;
    const top = h[0];
    const last = h.pop()!;
    const n = h.length;
    if (n > 0) {
      h[0] = last;
      this.deadlines[0] = this.deadlines[n];
      this.seqs[0] = this.seqs[n];
      this.down(0);
    }
    return top;
  }

  private up(i: number): void {
    const h = this.heap;
    const d = this.deadlines;
    const s = this.seqs;
    const c = h[i];
    const cd = d[i];
    const cs = s[i];
    while (i > 0) {
      const p = (i - 1) >> 2;
      if (d[p] < cd || (d[p] === cd && s[p] < cs)) break;
      h[i] = h[p];
      d[i] = d[p];
      s[i] = s[p];
      i = p;
    }
    h[i] = c;
    d[i] = cd;
    s[i] = cs;
  }

  private down(i: number): void {
    const h = this.heap;
    const d = this.deadlines;
    const s = this.seqs;
    const n = h.length;
    const c = h[i];
    const cd = d[i];
    const cs = s[i];
    for (;;) {
      const first = 4 * i + 1;
      if (first >= n) break;
      // The least of up to four children.
      let m = first;
      let md = d[first];
      let ms = s[first];
      const end = Math.min(first + 4, n);
      for (let k = first + 1; k < end; k++) {
        const kd = d[k];
        if (kd < md || (kd === md && s[k] < ms)) {
          m = k;
          md = kd;
          ms = s[k];
        }
      }
      if (cd < md || (cd === md && cs < ms)) break;
      h[i] = h[m];
      d[i] = md;
      s[i] = ms;
      i = m;
    }
    h[i] = c;
    d[i] = cd;
    s[i] = cs;
  }
}

/**
 * Virtual time: starts at 0 and moves only through advance()/runFor().
 * Deterministic: the same inputs and seed give the same sequence of events.
 */
export class VirtualScheduler extends Scheduler {
  readonly kind = 'virtual' as const;
  private t = 0;

  constructor(private readonly epochMs = Date.UTC(2026, 0, 1)) {
    super();
  }

  now(): number {
    return this.t;
  }

  wallNow(): number {
    return this.epochMs + this.t;
  }

  /** Move time forward by `ms`, firing callouts at their own deadlines. Returns how many fired. */
  advance(ms: number): number {
    const until = this.t + Math.max(0, ms);
    const fired = this.runDue(until, (d) => {
      if (d > this.t) this.t = d;
    });
    this.t = until;
    return fired;
  }

  /** Fire callouts until none is pending or `limitMs` of virtual time has passed. */
  runUntilIdle(limitMs = 3_600_000): number {
    const end = this.t + limitMs;
    let fired = 0;
    while (this.nextDeadline() <= end) fired += this.advance(this.nextDeadline() - this.t);
    return fired;
  }

  protected rearm(): void {
    /* virtual time has no hardware timer */
  }
}

/**
 * Real time: monotonic clock from performance.now(), one Node timer for the
 * earliest deadline. The timer is unref'd so a lab with only protocol timers
 * left does not hold the process open by itself unless `keepAlive` is set.
 */
export class RealScheduler extends Scheduler {
  readonly kind = 'real' as const;
  private readonly t0 = performance.now();
  private timer: NodeJS.Timeout | undefined;
  private armedFor = Infinity;

  constructor(private readonly keepAlive = false) {
    super();
  }

  now(): number {
    return performance.now() - this.t0;
  }

  wallNow(): number {
    return performance.timeOrigin + performance.now();
  }

  protected rearm(): void {
    const next = this.nextDeadline();
    if (next === this.armedFor) return;
    if (this.timer) clearTimeout(this.timer);
    this.timer = undefined;
    this.armedFor = next;
    if (next === Infinity) return;
    const delay = Math.max(0, next - this.now());
    this.timer = setTimeout(() => {
      this.timer = undefined;
      this.armedFor = Infinity;
      this.runDue(this.now());
    }, Math.ceil(delay));
    if (!this.keepAlive) this.timer.unref();
  }

  /** Stop the hardware timer (pending callouts stay queued but will not fire). */
  shutdown(): void {
    if (this.timer) clearTimeout(this.timer);
    this.timer = undefined;
    this.armedFor = Infinity;
  }
}
