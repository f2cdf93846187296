/**
 * A device for benchmarks that measure taplab without a kernel: it takes
 * every frame it is given (counting them, and keeping copies when asked),
 * has its link up or down on command, and lets the benchmark feed input
 * batches through the handlers the driver installed.
 */
import type { DeviceHandlers, EtherDevice } from '../src/driver/device.js';

export class StubDevice implements EtherDevice {
  readonly kind = 'stub';
  readonly maxFrame = 2048;
  handlers!: DeviceHandlers;
  /** Frames accepted so far. */
  sent = 0;
  /** Keep a copy of every frame transmitted (in `frames`). */
  capture = false;
  readonly frames: Uint8Array[] = [];
  up = true;

  constructor(readonly name = 'stub0') {}

  start(h: DeviceHandlers): void {
    this.handlers = h;
  }

  transmit(buf: Uint8Array, slot: number, first: number, lens: Uint32Array, count: number): number {
    this.sent += count;
    if (this.capture) for (let k = 0; k < count; k++) this.frames.push(buf.slice((first + k) * slot, (first + k) * slot + lens[first + k]));
    return count;
  }

  setFilter(): void {}

  linkUp(): boolean {
    return this.up;
  }

  stats() {
    return { drops: 0 };
  }

  close(): void {}
}
