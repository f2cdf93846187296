/**
 * The contract between the Ethernet driver and what carries its frames: a
 * Linux TAP (TapDevice, native) or an in-memory segment (SegmentPort).
 *
 * Frames move in batches laid out in fixed-size slots of one buffer:
 * frame k of a batch starts at byte (first + k) * slotSize and is
 * lengths[first + k] bytes long. A receiver sees the bytes only for the
 * duration of the call and copies what it keeps.
 */
import type { KernError } from '../kern/errno.js';

export interface DeviceHandlers {
  /** A batch of received frames: frame i is buf[i*slotSize .. i*slotSize+lengths[i]), i < count. */
  input(buf: Uint8Array, slotSize: number, lengths: Uint32Array, count: number): void;
  /** The device can take frames again after transmit() accepted fewer than offered. */
  writable(): void;
  /** The carrier changed (cable, peer gone, device deleted); `error` says why when it is a failure. */
  linkState(up: boolean, error?: KernError): void;
}

/** What the driver asks the "hardware" receive filter to pass. */
export interface HwFilter {
  /** Pass everything (IFF_PROMISC). */
  promisc: boolean;
  /** Pass every multicast frame (IFF_ALLMULTI). */
  allmulti: boolean;
  /**
   * Addresses to pass, in order: the interface's own unicast MAC, then the
   * broadcast address, then link-layer multicast groups (6 bytes each).
   */
  addrs: Uint8Array[];
}

export interface DeviceStats {
  /** Frames the device itself dropped (e.g. the kernel's TAP tx_dropped, including its filter). */
  drops: number;
}

export interface EtherDevice {
  /** 'tap' or 'segment', shown by tools as the driver name. */
  readonly kind: string;
  /** The device's own name (the kernel's TAP name, or the segment port's label). */
  readonly name: string;
  /** Largest frame the device carries, header included. */
  readonly maxFrame: number;

  /** Start delivering events. Called once by the driver at if_init. */
  start(handlers: DeviceHandlers): void;

  /**
   * Send `count` frames from slots first..first+count-1 of `buf`.
   * Returns how many were accepted, in order; fewer than `count` means
   * back-pressure and a later handlers.writable() call.
   * Throws a KernError when the device is gone.
   */
  transmit(buf: Uint8Array, slotSize: number, first: number, lengths: Uint32Array, count: number): number;

  /** Program the device's receive filter (the TAP's TUNSETTXFILTER). */
  setFilter(filter: HwFilter): void;

  /** Whether the carrier is up now. */
  linkUp(): boolean;

  stats(): DeviceStats;

  /** Release the device. Idempotent. */
  close(): void;
}
