/**
 * An in-memory Ethernet segment with hub semantics: every frame a port sends
 * reaches every other attached port whose link is up, after an optional delay
 * and subject to optional loss drawn from the segment's seeded randomness.
 * Delivery always goes through the scheduler (never inside the sender's
 * transmit call), so it is deterministic in virtual time and re-entrancy-free.
 */
import type { Scheduler } from '../kern/clock.js';
import { kerr } from '../kern/errno.js';
import type { Random } from '../kern/random.js';
import type { DeviceHandlers, DeviceStats, EtherDevice, HwFilter } from './device.js';
import { RxFilter, TAP_FILTER, type RxFilterConfig } from '../l2/filter.js';

export interface SegmentOptions {
  name?: string;
  /** Probability (0..1) that a frame is lost on the way to each receiver. */
  loss?: number;
  /** One-way delay in milliseconds. */
  delayMs?: number;
  /** Largest frame carried (default 9022: jumbo payload + header + VLAN tag). */
  maxFrame?: number;
}

/** A frame seen on the segment, for observers (captures, tests, timelines). */
export type SegmentObserver = (from: SegmentPort, frame: Uint8Array, timeMs: number) => void;

export class Segment {
  readonly name: string;
  readonly loss: number;
  readonly delayMs: number;
  readonly maxFrame: number;
  private readonly ports: SegmentPort[] = [];
  private readonly observers: SegmentObserver[] = [];
  /** Frames offered by senders. */
  sent = 0;
  /** Copies lost to the loss model. */
  lost = 0;

  constructor(
    readonly sched: Scheduler,
    readonly random: Random,
    opts: SegmentOptions = {},
  ) {
    this.name = opts.name ?? 'seg';
    const loss = opts.loss ?? 0;
    if (!(loss >= 0 && loss <= 1)) throw kerr('EINVAL', `segment ${this.name}: loss must be between 0 and 1, got ${loss}`);
    const delay = opts.delayMs ?? 0;
    if (!(delay >= 0) || !Number.isFinite(delay)) throw kerr('EINVAL', `segment ${this.name}: delay must be a non-negative number of milliseconds, got ${delay}`);
    this.loss = loss;
    this.delayMs = delay;
    this.maxFrame = opts.maxFrame ?? 9022;
  }

  /** A new port on this segment. */
  port(label?: string, filter: RxFilterConfig = TAP_FILTER): SegmentPort {
    const p = new SegmentPort(this, label ?? `${this.name}.${this.ports.length}`, filter);
    this.ports.push(p);
    return p;
  }

  /** Watch every frame sent on the segment. Returns an unsubscribe function. */
  observe(fn: SegmentObserver): () => void {
    this.observers.push(fn);
    return () => {
      const i = this.observers.indexOf(fn);
      if (i >= 0) this.observers.splice(i, 1);
    };
  }

  get attached(): readonly SegmentPort[] {
    return this.ports;
  }

  /** @internal */
  detach(p: SegmentPort): void {
    const i = this.ports.indexOf(p);
    if (i >= 0) this.ports.splice(i, 1);
  }

  /** @internal Copy frames out of the sender's slots and schedule their delivery. */
  carry(from: SegmentPort, buf: Uint8Array, slotSize: number, first: number, lengths: Uint32Array, count: number): void {
    const frames: Uint8Array[] = [];
    for (let k = 0; k < count; k++) {
      const at = (first + k) * slotSize;
      frames.push(buf.slice(at, at + lengths[first + k]));
    }
    this.sent += count;
    const now = this.sched.now();
    for (const fn of this.observers) for (const f of frames) fn(from, f, now);
    if (this.loss === 0) {
      // Lossless (the common case): one list of receivers, no per-port plan.
      const to = this.ports.filter((p) => p !== from);
      if (to.length === 0) return;
      this.sched.callout(
        this.delayMs,
        () => {
          for (const p of to) p.deliver(frames);
        },
        `segment ${this.name} delivery`,
      );
      return;
    }
    // Decide losses now, in sending order, so the random stream does not depend on timing.
    const plan: [SegmentPort, Uint8Array[]][] = [];
    for (const to of this.ports) {
      if (to === from) continue;
      const keep = frames.filter(() => (this.random.float() < this.loss ? (this.lost++, false) : true));
      if (keep.length) plan.push([to, keep]);
    }
    if (plan.length === 0) return;
    this.sched.callout(
      this.delayMs,
      () => {
        for (const [to, list] of plan) to.deliver(list);
      },
      `segment ${this.name} delivery`,
    );
  }
}

export class SegmentPort implements EtherDevice {
  readonly kind = 'segment';
  readonly maxFrame: number;
  private handlers: DeviceHandlers | undefined;
  private up = true;
  private closed = false;
  private readonly filter: RxFilter;
  private filterSet = false;
  /** Frames refused by this port's filter (as a TAP counts its tx_dropped). */
  drops = 0;
  /** Frames delivered to the driver. */
  delivered = 0;
  private scratch = new Uint8Array(2048);
  private readonly pass: Uint8Array[] = [];
  private lengths = new Uint32Array(8);

  constructor(
    readonly segment: Segment,
    readonly name: string,
    filterConfig: RxFilterConfig,
  ) {
    this.maxFrame = segment.maxFrame;
    this.filter = new RxFilter(filterConfig);
  }

  start(handlers: DeviceHandlers): void {
    this.handlers = handlers;
  }

  transmit(buf: Uint8Array, slotSize: number, first: number, lengths: Uint32Array, count: number): number {
    if (this.closed) throw kerr('ENXIO', `segment port ${this.name} is closed`);
    if (this.up) this.segment.carry(this, buf, slotSize, first, lengths, count);
    // A cable without carrier swallows frames, as a real NIC does.
    return count;
  }

  setFilter(f: HwFilter): void {
    this.filter.program(f.addrs, f.promisc, f.allmulti);
    this.filterSet = true;
  }

  linkUp(): boolean {
    return this.up && !this.closed;
  }

  /** Plug or unplug the cable. */
  setLink(up: boolean): void {
    if (this.closed || this.up === up) return;
    this.up = up;
    this.handlers?.linkState(up);
  }

  stats(): DeviceStats {
    return { drops: this.drops };
  }

  close(): void {
    if (this.closed) return;
    this.closed = true;
    this.segment.detach(this);
  }

  /** @internal */
  deliver(frames: Uint8Array[]): void {
    if (!this.handlers || !this.up || this.closed) return;
    // The device contract: frames are views valid during input(), so one
    // scratch buffer per port serves every delivery.
    const pass = this.pass;
    pass.length = 0;
    let slot = 0;
    for (const f of frames) {
      if (this.filterSet && !this.filter.accepts(f, 0)) {
        this.drops++;
        continue;
      }
      if (f.length > slot) slot = f.length;
      pass.push(f);
    }
    const n = pass.length;
    if (n === 0) return;
    if (this.scratch.length < slot * n) this.scratch = new Uint8Array(Math.max(slot * n, 2 * this.scratch.length));
    if (this.lengths.length < n) this.lengths = new Uint32Array(Math.max(n, 2 * this.lengths.length));
    for (let i = 0; i < n; i++) {
      this.scratch.set(pass[i], i * slot);
      this.lengths[i] = pass[i].length;
    }
    pass.length = 0;
    this.delivered += n;
    this.handlers.input(this.scratch, slot, this.lengths, n);
  }
}
