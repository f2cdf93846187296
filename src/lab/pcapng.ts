/**
 * A pcapng writer (draft-ietf-opsawg-pcapng), by hand: one Section Header
 * Block, one Interface Description Block per interface, and an Enhanced
 * Packet Block per frame with its timestamp and direction. Little-endian
 * throughout (the byte-order magic says so to readers).
 *
 * Block layout (all blocks):  type u32 | total length u32 | body | total length u32,
 * the body padded to 32 bits. Options: code u16 | length u16 | value padded
 * to 32 bits, ended by opt_endofopt (0, 0).
 *
 * Writes go into one growing buffer that is flushed with a single
 * fs.writeSync when it passes FLUSH_AT bytes, on flush() and on close(), so
 * a busy capture costs one system call per few hundred kilobytes.
 *
 * captureHost / captureInterface connect bpf taps (src/driver/bpf.ts) to a
 * writer: `taplab host --pcap FILE` (every Ethernet interface of a host in
 * one file) and `taplab run --pcap DIR` (one file per interface).
 */
import { closeSync, openSync, writeSync } from 'node:fs';
import { dirname } from 'node:path';
import { isKernError, kerr, KernError, type ErrnoName } from '../kern/errno.js';
import { bpf_attach } from '../driver/bpf.js';
import type { Ifnet } from '../driver/ifnet.js';
import { IFT_ETHER, IFT_LOOP } from '../driver/if_var.js';
import type { Host } from '../host.js';
import type { Callout, Scheduler } from '../kern/clock.js';

export const BT_SHB = 0x0a0d0d0a;
export const BT_IDB = 0x00000001;
export const BT_EPB = 0x00000006;
export const BYTE_ORDER_MAGIC = 0x1a2b3c4d;

export const OPT_ENDOFOPT = 0;
export const OPT_COMMENT = 1;
export const SHB_USERAPPL = 4;
export const IF_NAME = 2;
export const IF_DESCRIPTION = 3;
export const IF_TSRESOL = 9;
export const EPB_FLAGS = 2;

/** epb_flags bits 0-1: the direction of the packet. */
export const EPB_DIR_INBOUND = 1;
export const EPB_DIR_OUTBOUND = 2;

/** LINKTYPE_NULL: a 4-byte address family in the writer's byte order, then the datagram (BSD loopback). */
export const LINKTYPE_NULL = 0;
export const LINKTYPE_ETHERNET = 1;

/** libpcap's MAXIMUM_SNAPLEN: large enough for any frame taplab carries. */
export const DEFAULT_SNAPLEN = 262_144;

/** Flush once this many bytes are buffered. */
const FLUSH_AT = 256 * 1024;
const INITIAL_CAPACITY = FLUSH_AT + 64 * 1024;

const TWO32 = 0x1_0000_0000;
const encoder = new TextEncoder();

export interface PcapngOpenOptions {
  /** Timestamp resolution as a power of ten: 6 = microseconds (default), 9 = nanoseconds. */
  tsresol?: 6 | 9;
}

export interface PcapngInterfaceOptions {
  /** LINKTYPE_* (default LINKTYPE_ETHERNET). */
  linktype?: number;
  /** Most bytes kept of each packet (default 262144). */
  snaplen?: number;
  /** if_description. */
  description?: string;
}

function pad4(n: number): number {
  return (n + 3) & ~3;
}

/** Map a failed open(2) to a KernError sentence naming the file. */
function openError(e: unknown, path: string): KernError {
  const code = (e as NodeJS.ErrnoException)?.code ?? 'EIO';
  const why = (e as Error)?.message ?? String(e);
  switch (code) {
    case 'ENOENT':
      return kerr('ENOENT', `cannot create capture file ${path}: directory ${dirname(path)} does not exist`);
    case 'EACCES':
    case 'EPERM':
    case 'EROFS':
      return kerr('EACCES', `cannot create capture file ${path}: permission denied (${code})`);
    case 'EISDIR':
      return kerr('EINVAL', `cannot create capture file ${path}: it is a directory; give a file name`);
    case 'ENOTDIR':
      return kerr('ENOENT', `cannot create capture file ${path}: a component of the path is not a directory`);
    case 'ENOSPC':
      return kerr('ENOSPC', `cannot create capture file ${path}: no space left on the device`);
    default:
      return kerr('EIO', `cannot create capture file ${path}: ${why}`);
  }
}

export class PcapngWriter {
  private fd: number;
  private buf = new Uint8Array(INITIAL_CAPACITY);
  private dv = new DataView(this.buf.buffer);
  private pos = 0;
  private closed = false;
  private readonly snaplens: number[] = [];
  /** Enhanced Packet Blocks written (buffered ones included). */
  packets = 0;
  /** Bytes handed to the file so far (flushed). */
  bytesWritten = 0;

  private constructor(
    readonly path: string,
    fd: number,
    readonly tsresol: 6 | 9,
  ) {
    this.fd = fd;
  }

  /** Create (or truncate) `path` and write the Section Header Block. */
  static open(path: string, opts: PcapngOpenOptions = {}): PcapngWriter {
    const tsresol = opts.tsresol ?? 6;
    if (tsresol !== 6 && tsresol !== 9)
      throw kerr('EINVAL', `capture file ${path}: tsresol must be 6 (microseconds) or 9 (nanoseconds), got ${String(tsresol)}`);
    if (typeof path !== 'string' || path.length === 0) throw kerr('EINVAL', 'capture file name is empty');
    let fd: number;
    try {
      fd = openSync(path, 'w', 0o644);
    } catch (e) {
      throw openError(e, path);
    }
    const w = new PcapngWriter(path, fd, tsresol);
    w.writeShb();
    return w;
  }

  /** Number of interfaces described so far. */
  get interfaceCount(): number {
    return this.snaplens.length;
  }

  /** Add an Interface Description Block; returns the interface id for write(). */
  addInterface(name: string, opts: PcapngInterfaceOptions = {}): number {
    this.checkOpen('add an interface');
    const linktype = opts.linktype ?? LINKTYPE_ETHERNET;
    const snaplen = opts.snaplen ?? DEFAULT_SNAPLEN;
    if (!Number.isInteger(linktype) || linktype < 0 || linktype > 0xffff)
      throw kerr('EINVAL', `capture file ${this.path}: interface ${name}: linktype ${linktype} is not a 16-bit number`);
    if (!Number.isInteger(snaplen) || snaplen < 0 || snaplen > 0xffffffff)
      throw kerr('EINVAL', `capture file ${this.path}: interface ${name}: snaplen ${snaplen} is not a 32-bit count of bytes`);
    const nameBytes = encoder.encode(name);
    const descBytes = opts.description !== undefined ? encoder.encode(opts.description) : undefined;
    for (const [what, b] of [['name', nameBytes], ['description', descBytes]] as const)
      if (b && b.length > 0xffff)
        throw kerr('EINVAL', `capture file ${this.path}: interface ${what} is ${b.length} bytes long; at most 65535 fit in an option`);
    const optLen =
      4 + pad4(nameBytes.length) + (descBytes ? 4 + pad4(descBytes.length) : 0) + 4 + 4 /* tsresol */ + 4; /* endofopt */
    const total = 12 + 8 + optLen;
    let p = this.reserve(total);
    const dv = this.dv;
    dv.setUint32(p, BT_IDB, true);
    dv.setUint32(p + 4, total, true);
    dv.setUint16(p + 8, linktype, true);
    dv.setUint16(p + 10, 0, true);
    dv.setUint32(p + 12, snaplen, true);
    p += 16;
    p = this.putOption(p, IF_NAME, nameBytes);
    if (descBytes) p = this.putOption(p, IF_DESCRIPTION, descBytes);
    dv.setUint16(p, IF_TSRESOL, true);
    dv.setUint16(p + 2, 1, true);
    dv.setUint32(p + 4, this.tsresol, true); // one byte of value, three of padding (zero)
    p += 8;
    dv.setUint32(p, 0, true); // opt_endofopt
    p += 4;
    dv.setUint32(p, total, true);
    this.pos = p + 4;
    this.snaplens.push(snaplen);
    return this.snaplens.length - 1;
  }

  /**
   * One Enhanced Packet Block: the frame (cut to the interface's snaplen),
   * its wall-clock time in milliseconds, and, if given, its direction in
   * epb_flags. The frame is copied; the caller may reuse it at once.
   */
  write(ifaceId: number, frame: Uint8Array, wallMs: number, dir?: 'in' | 'out'): void {
    if (this.closed) this.checkOpen('write a packet');
    const snaplen = this.snaplens[ifaceId];
    if (snaplen === undefined)
      throw kerr('EINVAL', `capture file ${this.path}: no interface ${ifaceId} (${this.snaplens.length} described)`);
    const origLen = frame.length;
    const capLen = snaplen !== 0 && origLen > snaplen ? snaplen : origLen;
    const dataLen = pad4(capLen);
    const total = 28 + dataLen + (dir !== undefined ? 12 : 0) + 4;
    let p = this.reserve(total);
    const dv = this.dv;
    let hi: number;
    let lo: number;
    if (!(wallMs >= 0)) wallMs = 0; // before 1970 (or NaN): pcapng timestamps are unsigned
    if (this.tsresol === 6) {
      const us = Math.floor(wallMs * 1000);
      hi = Math.floor(us / TWO32);
      lo = us - hi * TWO32;
    } else {
      // ns since the epoch exceed 2^53: compute sec*10^9 + ns in 32-bit limbs.
      // 10^9 = 512 * 1953125, and sec * 1953125 stays below 2^53.
      const sec = Math.floor(wallMs / 1000);
      const ns = Math.round((wallMs - sec * 1000) * 1e6);
      const a = sec * 1953125;
      const aHi = Math.floor(a / 0x800000); // a = aHi * 2^23 + aLo
      const aLo = a - aHi * 0x800000;
      const low = aLo * 512 + ns; // < 2^32 + 10^9
      const carry = Math.floor(low / TWO32);
      lo = low - carry * TWO32;
      hi = aHi + carry;
    }
    dv.setUint32(p, BT_EPB, true);
    dv.setUint32(p + 4, total, true);
    dv.setUint32(p + 8, ifaceId, true);
    dv.setUint32(p + 12, hi, true);
    dv.setUint32(p + 16, lo, true);
    dv.setUint32(p + 20, capLen, true);
    dv.setUint32(p + 24, origLen, true);
    p += 28;
    const buf = this.buf;
    if (capLen <= 16) for (let i = 0; i < capLen; i++) buf[p + i] = frame[i];
    else buf.set(capLen === origLen ? frame : frame.subarray(0, capLen), p);
    for (let i = capLen; i < dataLen; i++) buf[p + i] = 0;
    p += dataLen;
    if (dir !== undefined) {
      dv.setUint16(p, EPB_FLAGS, true);
      dv.setUint16(p + 2, 4, true);
      dv.setUint32(p + 4, dir === 'in' ? EPB_DIR_INBOUND : EPB_DIR_OUTBOUND, true);
      dv.setUint32(p + 8, 0, true); // opt_endofopt
      p += 12;
    }
    dv.setUint32(p, total, true);
    this.pos = p + 4;
    this.packets++;
    if (this.pos >= FLUSH_AT) this.flush();
  }

  /** Hand the buffered blocks to the file (one write(2), repeated only for a short write). */
  flush(): void {
    if (this.closed || this.pos === 0) return;
    let done = 0;
    try {
      while (done < this.pos) done += writeSync(this.fd, this.buf, done, this.pos - done);
    } catch (e) {
      // Keep what was not written, so a later flush may retry.
      this.buf.copyWithin(0, done, this.pos);
      this.pos -= done;
      this.bytesWritten += done;
      const code = (e as NodeJS.ErrnoException)?.code;
      const name: ErrnoName = code === 'ENOSPC' ? 'ENOSPC' : code === 'EBADF' ? 'EBADF' : 'EIO';
      throw kerr(name, `capture file ${this.path}: writing failed (${code ?? (e as Error).message}); ${this.pos} bytes are still buffered`);
    }
    this.bytesWritten += done;
    this.pos = 0;
  }

  /** Flush and close the file. Idempotent; write() afterwards is an error. */
  close(): void {
    if (this.closed) return;
    try {
      this.flush();
    } finally {
      this.closed = true;
      try {
        closeSync(this.fd);
      } catch {
        /* the flush above already reported any write error */
      }
    }
  }

  get isClosed(): boolean {
    return this.closed;
  }

  private checkOpen(what: string): void {
    if (this.closed) throw kerr('EBADF', `capture file ${this.path} is closed; cannot ${what}`);
  }

  /** Make room for `n` bytes at this.pos (flushing or growing the buffer); returns the offset. */
  private reserve(n: number): number {
    if (this.pos + n > this.buf.length) {
      this.flush();
      if (n > this.buf.length) {
        let cap = this.buf.length;
        while (cap < n) cap *= 2;
        this.buf = new Uint8Array(cap);
        this.dv = new DataView(this.buf.buffer);
      }
    }
    return this.pos;
  }

  private putOption(p: number, code: number, value: Uint8Array): number {
    this.dv.setUint16(p, code, true);
    this.dv.setUint16(p + 2, value.length, true);
    this.buf.set(value, p + 4);
    const end = p + 4 + pad4(value.length);
    for (let i = p + 4 + value.length; i < end; i++) this.buf[i] = 0;
    return end;
  }

  private writeShb(): void {
    const appl = encoder.encode('taplab');
    const optLen = 4 + pad4(appl.length) + 4;
    const total = 12 + 16 + optLen;
    let p = this.reserve(total);
    const dv = this.dv;
    dv.setUint32(p, BT_SHB, true);
    dv.setUint32(p + 4, total, true);
    dv.setUint32(p + 8, BYTE_ORDER_MAGIC, true);
    dv.setUint16(p + 12, 1, true); // major
    dv.setUint16(p + 14, 0, true); // minor
    dv.setInt32(p + 16, -1, true); // section length: not specified (-1 as 64 bits)
    dv.setInt32(p + 20, -1, true);
    p += 24;
    p = this.putOption(p, SHB_USERAPPL, appl);
    dv.setUint32(p, 0, true);
    p += 4;
    dv.setUint32(p, total, true);
    this.pos = p + 4;
  }
}

/** A running capture: stop it with close(); packets() counts what was written. */
export interface Capture {
  /** Detach the taps, flush and close the file. Throws the first write error the capture met, if any. */
  close(): void;
  packets(): number;
}

/** The pcapng link type of an interface, or undefined when taplab cannot capture it. */
export function linktypeOf(ifp: Ifnet): number | undefined {
  if (ifp.if_type === IFT_ETHER) return LINKTYPE_ETHERNET;
  if (ifp.if_type === IFT_LOOP) return LINKTYPE_NULL;
  return undefined;
}

/** On a real clock, buffered packets reach the file at most this long after they were captured. */
const CAPTURE_FLUSH_MS = 1000;

/**
 * Shared plumbing of captureHost/captureInterface: a writer, the taps, and
 * the first error. A write error (disk full) stops the capture at once and
 * close() reports it; the host keeps running. On a real clock a callout
 * flushes within CAPTURE_FLUSH_MS, so a long-running host's file can be read
 * while it runs and loses at most a second if the process is killed; in
 * virtual time the file is written at the thresholds and at close only (no
 * callouts added to a deterministic run).
 */
class CaptureSession implements Capture {
  private readonly detaches: (() => void)[] = [];
  private error: KernError | undefined;
  private unsubscribe: (() => void) | undefined;
  private done = false;
  private readonly timed: boolean;
  private flushTimer: Callout | undefined;
  private readonly flushNow = (): void => {
    this.flushTimer = undefined;
    try {
      this.writer.flush();
    } catch (e) {
      this.fail(e);
    }
  };

  constructor(
    readonly writer: PcapngWriter,
    private readonly sched: Scheduler,
  ) {
    this.timed = sched.kind === 'real';
  }

  add(ifp: Ifnet, hostName: string): void {
    const linktype = linktypeOf(ifp);
    if (linktype === undefined)
      throw kerr('EOPNOTSUPP', `host ${hostName}: interface ${ifp.if_xname} has a link type taplab cannot capture`);
    const id = this.writer.addInterface(ifp.if_xname, {
      linktype,
      snaplen: DEFAULT_SNAPLEN,
      description: `${hostName} ${ifp.if_xname}`,
    });
    const w = this.writer;
    this.detaches.push(
      bpf_attach(ifp, (frame, dir, wallMs) => {
        try {
          w.write(id, frame, wallMs, dir);
        } catch (e) {
          this.fail(e);
          return;
        }
        if (this.timed && this.flushTimer === undefined)
          this.flushTimer = this.sched.callout(CAPTURE_FLUSH_MS, this.flushNow, `pcapng flush ${w.path}`);
      }),
    );
  }

  /** An interface attached during the capture: a failure stops the capture instead of the attach. */
  addLater(ifp: Ifnet, hostName: string): void {
    try {
      this.add(ifp, hostName);
    } catch (e) {
      this.fail(e);
    }
  }

  /** Give up on a capture that could not start: close the file, report nothing. */
  abort(): void {
    this.done = true;
    this.stopTaps();
    try {
      this.writer.close();
    } catch {
      /* the caller is already reporting why the capture could not start */
    }
  }

  watch(unsubscribe: () => void): void {
    this.unsubscribe = unsubscribe;
  }

  private fail(e: unknown): void {
    if (this.error) return;
    this.error = isKernError(e) ? e : kerr('EIO', `capture file ${this.writer.path}: ${(e as Error)?.message ?? String(e)}`);
    this.stopTaps();
  }

  private stopTaps(): void {
    this.flushTimer?.stop();
    this.flushTimer = undefined;
    this.unsubscribe?.();
    this.unsubscribe = undefined;
    for (const d of this.detaches.splice(0)) d();
  }

  packets(): number {
    return this.writer.packets;
  }

  close(): void {
    if (this.done) return;
    this.done = true;
    this.stopTaps();
    try {
      this.writer.close();
    } catch (e) {
      this.error ??= isKernError(e) ? e : kerr('EIO', String(e));
    }
    if (this.error) throw this.error;
  }
}

/**
 * Capture every Ethernet interface of `host` into one pcapng file (one IDB
 * per interface; lo0 only when named). With no `interfaces` list, Ethernet
 * interfaces attached later are added as they appear.
 */
export function captureHost(host: Host, path: string, opts: { interfaces?: string[] } = {}): Capture {
  let ifps: Ifnet[];
  if (opts.interfaces) {
    ifps = opts.interfaces.map((name) => {
      const ifp = host.ifunit(name);
      if (!ifp) throw kerr('ENXIO', `cannot capture on ${name}: host ${host.name} has no interface of that name`);
      if (linktypeOf(ifp) === undefined)
        throw kerr('EOPNOTSUPP', `cannot capture on ${name} of host ${host.name}: taplab cannot capture its link type`);
      return ifp;
    });
  } else {
    ifps = host.interfaces().filter((ifp) => ifp.if_type === IFT_ETHER);
  }
  const session = new CaptureSession(PcapngWriter.open(path), host.sched);
  try {
    for (const ifp of ifps) session.add(ifp, host.name);
  } catch (e) {
    session.abort();
    throw e;
  }
  if (!opts.interfaces)
    session.watch(
      host.ifnets.subscribe((ifp, ev) => {
        if (ev === 'attach' && ifp.if_type === IFT_ETHER) session.addLater(ifp, host.name);
      }),
    );
  return session;
}

/** Capture one interface into its own pcapng file (`taplab run --pcap DIR`). */
export function captureInterface(ifp: Ifnet, path: string): Capture {
  const { name: hostName, sched } = ifp.vnet;
  if (linktypeOf(ifp) === undefined)
    throw kerr('EOPNOTSUPP', `cannot capture on ${ifp.if_xname} of host ${hostName}: taplab cannot capture its link type`);
  const session = new CaptureSession(PcapngWriter.open(path), sched);
  try {
    session.add(ifp, hostName);
  } catch (e) {
    session.abort();
    throw e;
  }
  return session;
}
