/**
 * An in-memory Ethernet segment with hub semantics: every frame a port sends
 * reaches every other attached port whose link is up, after an optional delay
 * and subject to optional loss drawn from the segment's seeded randomness.
 * Delivery always goes through the scheduler (never inside the sender's
 * transmit call), so it is deterministic in virtual time and re-entrancy-free.
 */
import { packetBytes } from '../kern/bytes.js';
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
  /**
   * Bumped whenever a port is added or removed or a port's filter, link or
   * receiver changes: the receiver lists and delivery plans cached on the
   * ports (see Peers) are from an older version and are recomputed.
   */
  version = 0;

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
    this.version++;
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
    p.peers?.foldDrops();
    this.version++;
  }

  /** @internal Bring every port's drop count up to date (see Peers.foldDrops). */
  foldDrops(): void {
    for (const p of this.ports) p.peers?.foldDrops();
  }

  /** @internal The ports that hear `from` now, with their delivery plans (cached until the version changes). */
  peersOf(from: SegmentPort): Peers {
    let peers = from.peers;
    if (peers === undefined || peers.version !== this.version) {
      peers?.foldDrops();
      peers = new Peers(this.ports.filter((p) => p !== from), this.version);
      from.peers = peers;
    }
    return peers;
  }

  /** @internal Copy frames out of the sender's slots and schedule their delivery. */
  carry(from: SegmentPort, buf: Uint8Array, slotSize: number, first: number, lengths: Uint32Array, count: number): void {
    const frames: Uint8Array[] = [];
    for (let k = 0; k < count; k++) {
      const at = (first + k) * slotSize;
      const len = lengths[first + k];
      const f = packetBytes(len);
      f.set(buf.subarray(at, at + len));
      frames.push(f);
    }
    this.sent += count;
    const now = this.sched.now();
    for (const fn of this.observers) for (const f of frames) fn(from, f, now);
    if (this.loss === 0) {
      // Lossless (the common case): the sender's cached list of receivers, no per-port plan.
      const peers = this.peersOf(from);
      if (peers.to.length === 0) return;
      this.sched.callout(this.delayMs, () => this.deliverAll(peers, frames), `segment ${this.name} delivery`);
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

  /**
   * Hand `frames` to every port in `peers.to`, in port order, as each port's
   * deliver() would. A single frame (the common case) goes by the plan for
   * its destination address: which ports' filters take it. On a busy segment
   * most frames are reports that only the querier takes, and deciding 24
   * filters anew for each would touch 24 ports' filter state in memory far
   * apart; the plan is one small array, and the ports that refuse the frame
   * are not even touched: the plan counts its frames, and the refusals are
   * added to the ports' drop counts when those are read or the plan goes.
   * Should a delivery change any port's filter (a host joins in answer), the
   * rest are decided one by one again.
   */
  private deliverAll(peers: Peers, frames: Uint8Array[]): void {
    const to = peers.to;
    let i = 0;
    if (frames.length === 1 && peers.version === this.version) {
      const f = frames[0];
      const plan = peers.plan(f);
      const verdicts = plan.verdicts;
      if (this.scratch.length < f.length) this.scratch = new Uint8Array(Math.max(f.length, 2 * this.scratch.length));
      for (; i < to.length && peers.version === this.version; i++) if (verdicts[i] === PLAN_DELIVER) to[i].deliverOne(f, this.scratch);
      if (i === to.length) plan.frames++;
      else for (let j = 0; j < i; j++) if (verdicts[j] === PLAN_DROP) to[j].dropped++;
    }
    for (; i < to.length; i++) to[i].deliver(frames);
  }

  /** The buffer deliverOne hands frames in (deliveries never nest: each is a callout of its own). */
  private scratch = new Uint8Array(2048);
}

/** A port's verdict on a frame in a delivery plan. */
const PLAN_SKIP = 0; // no receiver: not started, link down or closed (nothing is counted)
const PLAN_DROP = 1; // the port's filter refuses the frame
const PLAN_DELIVER = 2;

/** The verdicts (PLAN_*) of the ports in Peers.to on frames to one destination. */
interface Plan {
  readonly verdicts: Uint8Array;
  /** Frames delivered by this plan whose refusals are not yet in the ports' drop counts. */
  frames: number;
}

/**
 * The ports that hear one sender, and per destination MAC address the
 * verdict of each, for one version of the segment.
 */
class Peers {
  private readonly plans = new Map<number, Plan>();

  constructor(
    readonly to: readonly SegmentPort[],
    readonly version: number,
  ) {}

  /** The verdicts on a frame to `f`'s destination, in `to` order. */
  plan(f: Uint8Array): Plan {
    // The 48-bit destination address as one number key.
    const key = ((f[0] << 8) | f[1]) * 0x1_0000_0000 + (((f[2] << 24) | (f[3] << 16) | (f[4] << 8) | f[5]) >>> 0);
    let plan = this.plans.get(key);
    if (plan === undefined) {
      const verdicts = new Uint8Array(this.to.length);
      for (let i = 0; i < this.to.length; i++) verdicts[i] = this.to[i].verdict(f);
      plan = { verdicts, frames: 0 };
      this.plans.set(key, plan);
    }
    return plan;
  }

  /** Add the refusals the plans counted to the ports' drop counts. */
  foldDrops(): void {
    for (const plan of this.plans.values()) {
      if (plan.frames === 0) continue;
      for (let i = 0; i < this.to.length; i++) if (plan.verdicts[i] === PLAN_DROP) this.to[i].dropped += plan.frames;
      plan.frames = 0;
    }
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
  /** @internal Frames refused, less those a delivery plan still holds (see drops). */
  dropped = 0;
  /** Frames delivered to the driver. */
  delivered = 0;
  private scratch = new Uint8Array(2048);
  private readonly pass: Uint8Array[] = [];
  private lengths = new Uint32Array(8);
  /** @internal The segment's cache of who hears this port (Segment.peersOf). */
  peers: Peers | undefined;

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
    this.segment.version++;
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
    this.segment.version++;
  }

  linkUp(): boolean {
    return this.up && !this.closed;
  }

  /** Plug or unplug the cable. */
  setLink(up: boolean): void {
    if (this.closed || this.up === up) return;
    this.up = up;
    this.segment.version++;
    this.handlers?.linkState(up);
  }

  /** Frames refused by this port's filter (as a TAP counts its tx_dropped). */
  get drops(): number {
    this.segment.foldDrops();
    return this.dropped;
  }

  stats(): DeviceStats {
    return { drops: this.drops };
  }

  close(): void {
    if (this.closed) return;
    this.closed = true;
    this.segment.detach(this);
  }

  /** @internal What deliver() would do with a frame now (PLAN_*), for Segment's delivery plans. */
  verdict(f: Uint8Array): number {
    if (!this.handlers || !this.up || this.closed) return PLAN_SKIP;
    return this.filterSet && !this.filter.accepts(f, 0) ? PLAN_DROP : PLAN_DELIVER;
  }

  /** @internal deliver([f]) for a frame the filter has passed, handed in `scratch` (the segment's, large enough). */
  deliverOne(f: Uint8Array, scratch: Uint8Array): void {
    const n = f.length;
    scratch.set(f, 0);
    this.lengths[0] = n;
    this.delivered++;
    this.handlers!.input(scratch, n, this.lengths, 1);
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
        this.dropped++;
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
