/**
 * struct ifqueue: a bounded FIFO of frames. The frames live in one buffer of
 * fixed-size slots used as a ring, so enqueueing is a copy into place and a
 * driver hands the device a run of consecutive slots in one call, with no
 * allocation per frame.
 */
import { IFQ_MAXLEN } from './if_var.js';

export class IfQueue {
  /** Frames queued now. */
  ifq_len = 0;
  /** Queue limit; enqueue beyond it fails and the caller counts the drop. */
  ifq_maxlen: number;
  /** Frames refused because the queue was full. */
  ifq_drops = 0;

  /** Slot storage: slot i is buf[i*slotSize, (i+1)*slotSize). */
  buf: Uint8Array;
  /** The same memory as 32-bit words, for copyBytes' word copies (buf starts at byte 0 of its ArrayBuffer). */
  buf32: Int32Array;
  /** Length of the frame in each slot. */
  readonly lengths: Uint32Array;
  slotSize: number;
  private head = 0;

  constructor(maxlen = IFQ_MAXLEN, slotSize = 2048) {
    if (!Number.isInteger(maxlen) || maxlen < 1) throw new RangeError(`ifq_maxlen must be a positive integer, not ${maxlen}`);
    this.ifq_maxlen = maxlen;
    this.slotSize = slotSize;
    this.buf = new Uint8Array(maxlen * slotSize);
    this.buf32 = new Int32Array(this.buf.buffer, 0, this.buf.length >> 2);
    this.lengths = new Uint32Array(maxlen);
  }

  /** IF_QFULL */
  full(): boolean {
    return this.ifq_len >= this.ifq_maxlen;
  }

  /**
   * Reserve the tail slot for a frame of `len` bytes and return its byte
   * offset in `buf`; the caller writes the frame there. Returns -1 when the
   * queue is full or the frame does not fit a slot (the caller counts the drop).
   */
  reserve(len: number): number {
    if (this.ifq_len >= this.ifq_maxlen || len > this.slotSize) return -1;
    let slot = this.head + this.ifq_len;
    if (slot >= this.ifq_maxlen) slot -= this.ifq_maxlen;
    this.lengths[slot] = len;
    this.ifq_len++;
    return slot * this.slotSize;
  }

  /** IF_ENQUEUE of a copy of src[off, off+len); false when full. */
  enqueue(src: Uint8Array, off: number, len: number): boolean {
    const at = this.reserve(len);
    if (at < 0) return false;
    this.buf.set(src.subarray(off, off + len), at);
    return true;
  }

  /** The first queued slot index. */
  get first(): number {
    return this.head;
  }

  /** How many queued frames sit in consecutive slots from `first` (before the ring wraps). */
  run(): number {
    return Math.min(this.ifq_len, this.ifq_maxlen - this.head);
  }

  /** IF_DEQUEUE of `n` frames from the head (they were handed to the device). */
  dequeue(n: number): void {
    if (n <= 0) return;
    if (n > this.ifq_len) n = this.ifq_len;
    this.head += n;
    if (this.head >= this.ifq_maxlen) this.head -= this.ifq_maxlen;
    this.ifq_len -= n;
    if (this.ifq_len === 0) this.head = 0;
  }

  /** Frame k (0 = head) as a view, for inspection and tests. */
  peek(k = 0): Uint8Array | undefined {
    if (k >= this.ifq_len) return undefined;
    let slot = this.head + k;
    if (slot >= this.ifq_maxlen) slot -= this.ifq_maxlen;
    const at = slot * this.slotSize;
    return this.buf.subarray(at, at + this.lengths[slot]);
  }

  /** IF_DRAIN: discard everything queued; returns how many frames went. */
  drain(): number {
    const n = this.ifq_len;
    this.ifq_len = 0;
    this.head = 0;
    return n;
  }

  /** IFQ_SET_MAXLEN / a larger slot for jumbo MTUs. Queued frames are kept if they fit. */
  resize(maxlen: number, slotSize = this.slotSize): void {
    if (!Number.isInteger(maxlen) || maxlen < 1) throw new RangeError(`ifq_maxlen must be a positive integer, not ${maxlen}`);
    if (maxlen === this.ifq_maxlen && slotSize === this.slotSize) return;
    const old: Uint8Array[] = [];
    for (let k = 0; k < this.ifq_len; k++) old.push(Uint8Array.from(this.peek(k)!));
    this.ifq_maxlen = maxlen;
    this.slotSize = slotSize;
    this.buf = new Uint8Array(maxlen * slotSize);
    this.buf32 = new Int32Array(this.buf.buffer, 0, this.buf.length >> 2);
    (this as { lengths: Uint32Array }).lengths = new Uint32Array(maxlen);
    this.ifq_len = 0;
    this.head = 0;
    for (const f of old) if (!this.enqueue(f, 0, f.length)) this.ifq_drops++;
  }
}
