/**
 * Time for a lab: one scheduler per lab, behind one interface, with a real
 * clock (wall time, one host timer for the next deadline) and a virtual clock
 * (time moves only when the lab advances it). Nothing else in taplab calls
 * setTimeout or Date.now(); protocol timers are callouts, as in callout(9).
 */

export type CalloutFn = () => void;

/** A pending timer. `stop()` cancels it; `pending` tells whether it will still fire. */
export class Callout {
  /** @internal position in the heap, -1 when not queued. */
  heapIndex = -1;
  constructor(
    private readonly sched: Scheduler,
    /** @internal */ public deadline: number,
    /** @internal */ public seq: number,
    /** @internal */ public fn: CalloutFn,
    readonly label: string,
  ) {}

  get pending(): boolean {
    return this.heapIndex >= 0;
  }

  /** Milliseconds until it fires (0 if overdue, -1 if not pending). */
  remaining(): number {
    return this.pending ? Math.max(0, this.deadline - this.sched.now()) : -1;
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
   * A binary heap of callouts ordered by (deadline, seq). The keys are kept
   * beside it in two dense arrays, so sifting compares numbers in a few cache
   * lines instead of reading the fields of callouts spread over the heap (a
   * lab of 1,000 hosts has thousands pending).
   */
  private heap: Callout[] = [];
  private deadlines = new Float64Array(256);
  private seqs = new Float64Array(256);
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
    this.push(c);
    if (!this.running) this.rearm();
    return c;
  }

  /** Cancel a callout; returns whether it was pending. */
  cancel(c: Callout): boolean {
    if (c.heapIndex < 0) return false;
    this.removeAt(c.heapIndex);
    if (!this.running) this.rearm();
    return true;
  }

  /** The next deadline, or Infinity when nothing is pending. */
  nextDeadline(): number {
    return this.heap.length ? this.heap[0].deadline : Infinity;
  }

  get pendingCount(): number {
    return this.heap.length;
  }

  /** Fire every callout whose deadline is <= `until`, in deadline order (ties in arming order). */
  protected runDue(until: number, beforeEach?: (deadline: number) => void): number {
    let fired = 0;
    const wasRunning = this.running;
    this.running = true;
    try {
      while (this.heap.length && this.heap[0].deadline <= until) {
        const c = this.heap[0];
        this.removeAt(0);
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

  // --- binary heap keyed by (deadline, seq) ---

  /** Whether heap slot i sorts before slot j. */
  private less(i: number, j: number): boolean {
    const d = this.deadlines;
    return d[i] < d[j] || (d[i] === d[j] && this.seqs[i] < this.seqs[j]);
  }

  /** Put callout c in slot i. */
  private place(i: number, c: Callout): void {
    this.heap[i] = c;
    this.deadlines[i] = c.deadline;
    this.seqs[i] = c.seq;
    c.heapIndex = i;
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
    this.place(i, c);
    this.up(i);
  }

  private removeAt(i: number): void {
    const h = this.heap;
    const c = h[i];
    const last = h.pop()!;
    c.heapIndex = -1;
    if (i < h.length) {
      this.place(i, last);
      this.down(i);
      this.up(last.heapIndex);
    }
  }

  private up(i: number): void {
    while (i > 0) {
      const p = (i - 1) >> 1;
      if (!this.less(i, p)) break;
      this.swap(i, p);
      i = p;
    }
  }

  private down(i: number): void {
    const n = this.heap.length;
    for (;;) {
      const l = 2 * i + 1;
      const r = l + 1;
      let m = i;
      if (l < n && this.less(l, m)) m = l;
      if (r < n && this.less(r, m)) m = r;
      if (m === i) return;
      this.swap(i, m);
      i = m;
    }
  }

  private swap(i: number, j: number): void {
    const h = this.heap;
    const d = this.deadlines;
    const s = this.seqs;
    const t = h[i];
    h[i] = h[j];
    h[j] = t;
    const td = d[i];
    d[i] = d[j];
    d[j] = td;
    const ts = s[i];
    s[i] = s[j];
    s[j] = ts;
    h[i].heapIndex = i;
    h[j].heapIndex = j;
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
