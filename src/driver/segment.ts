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
    // Decide losses now, in sending order, so the random stream does not depend on timing.
    const plan: [SegmentPort, Uint8Array[]][] = [];
    for (const to of this.ports) {
      if (to === from) continue;
      const keep = this.loss > 0 ? frames.filter(() => (this.random.float() < this.loss ? (this.lost++, false) : true)) : frames;
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
    let slot = 0;
    for (const f of frames) slot = Math.max(slot, f.length);
    const pass = this.filterSet ? frames.filter((f) => this.filter.accepts(f, 0) || (this.drops++, false)) : frames;
    if (pass.length === 0) return;
    const buf = new Uint8Array(slot * pass.length);
    const lengths = new Uint32Array(pass.length);
    pass.forEach((f, i) => {
      buf.set(f, i * slot);
      lengths[i] = f.length;
    });
    this.delivered += pass.length;
    this.handlers.input(buf, slot, lengths, pass.length);
  }
}
