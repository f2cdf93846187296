/**
 * bpf(4) taps on an interface: the part of FreeBSD's net/bpf.c that drivers
 * see (bpf_attach, BPF_MTAP, bpf_peers_present), without the filter machine.
 *
 * A tap is a function that sees every frame the interface receives from its
 * device (before the receive filter and before any drop, so a capture shows
 * what arrived) and every frame the device accepted for transmission. The
 * driver's cost when nobody listens is one field test,
 * `ifp.if_bpf !== undefined`; the field goes back to undefined when the last
 * tap detaches.
 *
 * What a tap sees is the frame in the interface's link type: Ethernet frames
 * on Ethernet interfaces; on the loopback, DLT_NULL as FreeBSD's if_loop
 * taps it (a 4-byte address family in host byte order, then the datagram).
 * The view is valid only during the call: the tap copies what it keeps.
 */
import type { Scheduler } from '../kern/clock.js';
import type { Ifnet } from './ifnet.js';

/** A capture tap: `frame` is valid only during the call; `wallMs` is the host's wall clock in ms. */
export type BpfTap = (frame: Uint8Array, dir: 'in' | 'out', wallMs: number) => void;

/** struct bpf_if: the taps attached to one interface. */
export class BpfIf {
  /** Replaced, never mutated, so a tap may detach itself (or others) during delivery. */
  taps: readonly BpfTap[] = [];
  /** Calls in which a tap threw; the frame still went on its way (bd_dcount in spirit). */
  errors = 0;
  /** What the last failing tap threw, for whoever looks. */
  lastError: unknown = undefined;

  constructor(readonly sched: Scheduler) {}
}

/**
 * Attach a tap to `ifp`. Returns the detach function (idempotent). The
 * interface must belong to a host: timestamps come from that host's clock.
 */
export function bpf_attach(ifp: Ifnet, fn: BpfTap): () => void {
  const bif = ifp.if_bpf ?? new BpfIf(ifp.vnet.sched);
  bif.taps = [...bif.taps, fn];
  ifp.if_bpf = bif;
  let attached = true;
  return () => {
    if (!attached) return;
    attached = false;
    const i = bif.taps.indexOf(fn);
    if (i < 0) return;
    bif.taps = bif.taps.filter((_, k) => k !== i);
    if (bif.taps.length === 0 && ifp.if_bpf === bif) ifp.if_bpf = undefined;
  };
}

/** bpf_peers_present(9): whether anyone listens on `ifp`. */
export function bpf_peers_present(ifp: Ifnet): boolean {
  return ifp.if_bpf !== undefined;
}

/**
 * BPF_MTAP: give buf[off, off+len) to every tap of `ifp`. Drivers call it
 * only after testing `ifp.if_bpf !== undefined`. A tap that throws is counted
 * and skipped: capture must never break the packet path.
 */
export function bpf_mtap(ifp: Ifnet, buf: Uint8Array, off: number, len: number, dir: 'in' | 'out'): void {
  const bif = ifp.if_bpf;
  if (bif === undefined) return;
  bpf_deliver(bif, buf.subarray(off, off + len), dir);
}

/**
 * BPF_MTAP for a run of frames in consecutive if_snd slots (the transmit
 * path): frame k is buf[(first+k)*slotSize ...] and lengths[first+k] long.
 * One clock reading serves the whole run, as the device took it at once.
 */
export function bpf_mtap_slots(
  ifp: Ifnet,
  buf: Uint8Array,
  slotSize: number,
  first: number,
  lengths: Uint32Array,
  count: number,
  dir: 'in' | 'out',
): void {
  const bif = ifp.if_bpf;
  if (bif === undefined) return;
  const wall = bif.sched.wallNow();
  for (let k = 0; k < count; k++) {
    const at = (first + k) * slotSize;
    deliverAt(bif, buf.subarray(at, at + lengths[first + k]), dir, wall);
  }
}

/**
 * BPF_MTAP2: a link header made up by the driver (`hdr`, e.g. DLT_NULL's
 * address family) followed by buf[off, off+len), as one frame.
 */
export function bpf_mtap2(ifp: Ifnet, hdr: Uint8Array, buf: Uint8Array, off: number, len: number, dir: 'in' | 'out'): void {
  const bif = ifp.if_bpf;
  if (bif === undefined) return;
  const frame = new Uint8Array(hdr.length + len);
  frame.set(hdr, 0);
  frame.set(buf.subarray(off, off + len), hdr.length);
  bpf_deliver(bif, frame, dir);
}

function bpf_deliver(bif: BpfIf, frame: Uint8Array, dir: 'in' | 'out'): void {
  deliverAt(bif, frame, dir, bif.sched.wallNow());
}

function deliverAt(bif: BpfIf, frame: Uint8Array, dir: 'in' | 'out', wall: number): void {
  const taps = bif.taps;
  for (let i = 0; i < taps.length; i++) {
    try {
      taps[i](frame, dir, wall);
    } catch (e) {
      bif.errors++;
      bif.lastError = e;
    }
  }
}
