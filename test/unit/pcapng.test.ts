/**
 * Packet capture: the pcapng writer checked by an independent reader written
 * here from the format description (draft-ietf-opsawg-pcapng), and the bpf
 * taps on interfaces of hosts on an in-memory segment in virtual time.
 */
import { afterAll, describe, expect, it } from 'vitest';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { frame, mac, vlab } from '../helpers/vlab.js';
import { KernError } from '../../src/kern/errno.js';
import { PcapngWriter, captureHost, captureInterface } from '../../src/lab/pcapng.js';
import { bpf_attach, type BpfTap } from '../../src/driver/bpf.js';
import { if_addmulti } from '../../src/driver/ifnet.js';
import { sockaddrDl } from '../../src/driver/sockaddr.js';
import { ETHERTYPE_EXP1, ether_output } from '../../src/l2/ether.js';
import { RealScheduler } from '../../src/kern/clock.js';
import { Random } from '../../src/kern/random.js';
import { Segment } from '../../src/driver/segment.js';
import { Host } from '../../src/host.js';

const dir = mkdtempSync(join(tmpdir(), 'taplab-pcapng-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));
let nfile = 0;
const file = (name = 'cap') => join(dir, `${name}-${++nfile}.pcapng`);

// ---------------------------------------------------------------- an independent minimal reader

/** A failed format check (plain, because expect() per byte would make 50,000 packets slow). */
function check(ok: boolean, what: string): void {
  if (!ok) throw new Error(`malformed pcapng: ${what}`);
}

interface Opt {
  code: number;
  value: Uint8Array;
}
interface Shb {
  type: 'shb';
  major: number;
  minor: number;
  sectionLength: bigint;
  options: Opt[];
}
interface Idb {
  type: 'idb';
  linktype: number;
  snaplen: number;
  options: Opt[];
}
interface Epb {
  type: 'epb';
  ifaceId: number;
  tsHigh: number;
  tsLow: number;
  capLen: number;
  origLen: number;
  data: Uint8Array;
  options: Opt[];
}
type Block = Shb | Idb | Epb;

/** Options from `at` to `end`: each code, length, value, zero padding to 32 bits; opt_endofopt closes. */
function readOptions(b: Uint8Array, dv: DataView, at: number, end: number): Opt[] {
  const out: Opt[] = [];
  while (at < end) {
    const code = dv.getUint16(at, true);
    const len = dv.getUint16(at + 2, true);
    if (code === 0) {
      check(len === 0, 'opt_endofopt has length 0');
      check(at + 4 === end, 'nothing follows opt_endofopt');
      return out;
    }
    const padded = (len + 3) & ~3;
    check(at + 4 + padded <= end, `option ${code} fits in its block`);
    out.push({ code, value: b.slice(at + 4, at + 4 + len) });
    for (let i = at + 4 + len; i < at + 4 + padded; i++) check(b[i] === 0, `option ${code} padding is zero`);
    at += 4 + padded;
  }
  return out;
}

function readPcapng(path: string): Block[] {
  const b = new Uint8Array(readFileSync(path));
  const dv = new DataView(b.buffer, b.byteOffset, b.byteLength);
  const blocks: Block[] = [];
  let at = 0;
  while (at < b.length) {
    check(b.length - at >= 12, 'room for a block header and trailer');
    const type = dv.getUint32(at, true);
    const total = dv.getUint32(at + 4, true);
    check(total % 4 === 0 && total >= 12, `block at ${at}: total length ${total} is a multiple of 4`);
    check(at + total <= b.length, `block at ${at} fits in the file`);
    check(dv.getUint32(at + total - 4, true) === total, `block at ${at}: trailing length repeats the leading one`);
    const body = at + 8;
    const end = at + total - 4;
    if (type === 0x0a0d0d0a) {
      check(dv.getUint32(body, true) === 0x1a2b3c4d, 'byte-order magic, little-endian');
      blocks.push({
        type: 'shb',
        major: dv.getUint16(body + 4, true),
        minor: dv.getUint16(body + 6, true),
        sectionLength: dv.getBigInt64(body + 8, true),
        options: readOptions(b, dv, body + 16, end),
      });
    } else if (type === 1) {
      check(dv.getUint16(body + 2, true) === 0, 'IDB reserved field is zero');
      blocks.push({
        type: 'idb',
        linktype: dv.getUint16(body, true),
        snaplen: dv.getUint32(body + 4, true),
        options: readOptions(b, dv, body + 8, end),
      });
    } else if (type === 6) {
      const capLen = dv.getUint32(body + 12, true);
      const padded = (capLen + 3) & ~3;
      check(body + 20 + padded <= end, 'packet data fits in its block');
      for (let i = body + 20 + capLen; i < body + 20 + padded; i++) check(b[i] === 0, 'packet data padding is zero');
      blocks.push({
        type: 'epb',
        ifaceId: dv.getUint32(body, true),
        tsHigh: dv.getUint32(body + 4, true),
        tsLow: dv.getUint32(body + 8, true),
        capLen,
        origLen: dv.getUint32(body + 16, true),
        data: b.slice(body + 20, body + 20 + capLen),
        options: readOptions(b, dv, body + 20 + padded, end),
      });
    } else {
      throw new Error(`unexpected block type 0x${type.toString(16)} at ${at}`);
    }
    at += total;
  }
  return blocks;
}

const text = (v: Uint8Array) => new TextDecoder().decode(v);
const opt = (o: Opt[], code: number) => o.find((x) => x.code === code)?.value;
const u32 = (v: Uint8Array | undefined) => (v ? new DataView(v.buffer, v.byteOffset).getUint32(0, true) : undefined);
const epbs = (bl: Block[]) => bl.filter((x): x is Epb => x.type === 'epb');
const idbs = (bl: Block[]) => bl.filter((x): x is Idb => x.type === 'idb');
/** epb_flags direction bits: 1 inbound, 2 outbound, undefined when the option is absent. */
const direction = (e: Epb) => {
  const f = u32(opt(e.options, 2));
  return f === undefined ? undefined : f & 3;
};
const ts = (e: Epb) => (BigInt(e.tsHigh) << 32n) | BigInt(e.tsLow);

function kernCode(fn: () => unknown): string {
  try {
    fn();
  } catch (e) {
    if (e instanceof KernError) return `${e.code}: ${e.message}`;
    throw e;
  }
  return 'no error';
}

/**
 * A path open(2) refuses with EACCES: a file in a read-only directory for a
 * normal user; root passes permission bits, but not a read-only sysfs file.
 */
function unwritablePath(): string | undefined {
  if (process.getuid?.() !== 0) {
    const d = join(dir, 'readonly');
    mkdirSync(d, { mode: 0o500 });
    return join(d, 'x.pcapng');
  }
  return existsSync('/sys/kernel/notes') ? '/sys/kernel/notes' : undefined;
}

// ---------------------------------------------------------------- the writer

describe('PcapngWriter', () => {
  it('writes SHB, IDBs with name/description/tsresol, and EPBs with times, lengths, padding and direction', () => {
    const path = file();
    const w = PcapngWriter.open(path);
    const a = w.addInterface('em0', { description: 'h1 em0' });
    const b = w.addInterface('lo0', { linktype: 0, snaplen: 65535 });
    expect([a, b]).toEqual([0, 1]);
    const lens = [0, 1, 2, 3, 4, 5, 60, 61, 1514];
    const wall = 1767225600123.456; // 2026-01-01T00:00:00.123456Z
    lens.forEach((n, i) => {
      const f = new Uint8Array(n).map((_, k) => (k * 7 + i) & 0xff);
      w.write(i % 2, f, wall + i, i % 3 === 0 ? 'in' : i % 3 === 1 ? 'out' : undefined);
    });
    w.close();
    w.close(); // idempotent

    const bl = readPcapng(path);
    const shb = bl[0] as Shb;
    expect(shb.type).toBe('shb');
    expect([shb.major, shb.minor, shb.sectionLength]).toEqual([1, 0, -1n]);
    expect(text(opt(shb.options, 4)!)).toBe('taplab');

    const [i0, i1] = idbs(bl);
    expect([i0.linktype, i0.snaplen]).toEqual([1, 262144]);
    expect(text(opt(i0.options, 2)!)).toBe('em0');
    expect(text(opt(i0.options, 3)!)).toBe('h1 em0');
    expect(Array.from(opt(i0.options, 9)!)).toEqual([6]);
    expect([i1.linktype, i1.snaplen]).toEqual([0, 65535]);
    expect(text(opt(i1.options, 2)!)).toBe('lo0');
    expect(opt(i1.options, 3)).toBeUndefined();

    const ps = epbs(bl);
    expect(ps.length).toBe(lens.length);
    ps.forEach((p, i) => {
      expect(p.ifaceId).toBe(i % 2);
      expect([p.capLen, p.origLen]).toEqual([lens[i], lens[i]]);
      expect(Array.from(p.data)).toEqual(Array.from(new Uint8Array(lens[i]).map((_, k) => (k * 7 + i) & 0xff)));
      expect(ts(p)).toBe(1767225600123456n + BigInt(i) * 1000n);
      expect(direction(p)).toBe(i % 3 === 0 ? 1 : i % 3 === 1 ? 2 : undefined);
    });
    expect(ps[0].tsHigh).toBe(Math.floor(1767225600123456 / 2 ** 32));
    expect(ps[0].tsLow).toBe(1767225600123456 % 2 ** 32);
  });

  it('nanosecond resolution splits sec*10^9+ns into high and low words exactly', () => {
    const path = file();
    const w = PcapngWriter.open(path, { tsresol: 9 });
    w.addInterface('em0');
    const times = [0, 0.000001, 999.999999, 1767225600123.5, 1767225600999.999, 4102444800000.25];
    for (const t of times) w.write(0, new Uint8Array(14), t, 'out');
    w.close();
    const bl = readPcapng(path);
    expect(Array.from(opt(idbs(bl)[0].options, 9)!)).toEqual([9]);
    epbs(bl).forEach((p, i) => {
      const t = times[i];
      const sec = Math.floor(t / 1000);
      const ns = Math.round((t - sec * 1000) * 1e6);
      expect(ts(p)).toBe(BigInt(sec) * 1_000_000_000n + BigInt(ns));
    });
  });

  it('cuts packets to the snaplen and keeps the original length', () => {
    const path = file();
    const w = PcapngWriter.open(path);
    w.addInterface('em0', { snaplen: 64 });
    w.write(0, new Uint8Array(1514).fill(0xaa), 1000);
    w.write(0, new Uint8Array(63).fill(0xbb), 1000);
    w.close();
    const [big, small] = epbs(readPcapng(path));
    expect([big.capLen, big.origLen, big.data.length]).toEqual([64, 1514, 64]);
    expect([small.capLen, small.origLen]).toEqual([63, 63]);
  });

  it('buffers: nothing reaches the file until a flush, a size threshold or close', () => {
    const path = file();
    const w = PcapngWriter.open(path);
    w.addInterface('em0');
    const f = new Uint8Array(1514);
    for (let i = 0; i < 10; i++) w.write(0, f, i);
    expect(statSync(path).size).toBe(0);
    w.flush();
    const flushed = statSync(path).size;
    expect(flushed).toBeGreaterThan(10 * 1514);
    // Past the threshold the writer flushes on its own, in large writes.
    for (let i = 0; i < 1000; i++) w.write(0, f, i);
    const mid = statSync(path).size;
    expect(mid).toBeGreaterThan(flushed);
    expect(mid).toBeLessThan(flushed + 1000 * (1514 + 48));
    w.close();
    expect(statSync(path).size).toBe(w.bytesWritten);
    expect(epbs(readPcapng(path)).length).toBe(1010);
  });

  it('keeps frames larger than its buffer whole', () => {
    const path = file();
    const w = PcapngWriter.open(path);
    w.addInterface('big', { snaplen: 0 });
    const f = new Uint8Array(1 << 20).map((_, i) => i & 0xff);
    w.write(0, new Uint8Array(60), 1);
    w.write(0, f, 2, 'in');
    w.write(0, new Uint8Array(60), 3);
    w.close();
    const ps = epbs(readPcapng(path));
    expect(ps.map((p) => p.capLen)).toEqual([60, 1 << 20, 60]);
    expect(ps[1].data[12345]).toBe(12345 & 0xff);
  });

  it('many small packets at a high rate parse back exactly', () => {
    const path = file();
    const w = PcapngWriter.open(path);
    w.addInterface('em0');
    w.addInterface('em1');
    const n = 50_000;
    const f = new Uint8Array(64);
    for (let i = 0; i < n; i++) {
      f[0] = i & 0xff;
      w.write(i & 1, f, 1e12 + i * 0.01, i & 1 ? 'out' : 'in');
    }
    w.close();
    const ps = epbs(readPcapng(path));
    expect(ps.length).toBe(n);
    expect(ps[n - 1].data[0]).toBe((n - 1) & 0xff);
    expect(direction(ps[n - 1])).toBe(2);
  });

  it('reports bad use and unopenable files as KernError sentences naming the path', () => {
    expect(kernCode(() => PcapngWriter.open(join(dir, 'no/such/dir/x.pcapng')))).toMatch(
      /^ENOENT: .*no\/such\/dir\/x\.pcapng.*does not exist/,
    );
    const ro = unwritablePath();
    if (ro) expect(kernCode(() => PcapngWriter.open(ro))).toMatch(/^EACCES: .*permission denied/);
    else console.warn('EACCES case skipped: no path here is unwritable for this user');
    expect(kernCode(() => PcapngWriter.open(dir))).toMatch(/^EINVAL: .*is a directory/);
    expect(kernCode(() => PcapngWriter.open(file(), { tsresol: 3 as 6 }))).toMatch(/^EINVAL: .*tsresol/);
    const w = PcapngWriter.open(file());
    w.addInterface('em0');
    expect(kernCode(() => w.write(1, new Uint8Array(1), 0))).toMatch(/^EINVAL: .*no interface 1/);
    w.close();
    expect(kernCode(() => w.write(0, new Uint8Array(1), 0))).toMatch(/^EBADF: .*is closed/);
    expect(kernCode(() => w.addInterface('em1'))).toMatch(/^EBADF: /);
  });
});

// ---------------------------------------------------------------- taps

/**
 * Two bare hosts on a segment. h2's port has a one-slot filter that goes
 * all-multicast as soon as a group is joined, so groups h2 did not join
 * reach its driver and are dropped by the Ethernet layer's own filter:
 * the frames a capture must still show.
 */
function twoHosts() {
  const L = vlab(7);
  const seg = L.segment();
  const h1 = L.host('h1', { inet: false });
  const h2 = L.host('h2', { inet: false });
  const em1 = h1.addEther(seg.port('h1.em0'), { name: 'em0', mac: '02:00:00:00:01:01' });
  const em2 = h2.addEther(seg.port('h2.em0', { exactSlots: 2, hashBins: 0, maxGroups: 0 }), { name: 'em0', mac: '02:00:00:00:02:02' });
  if_addmulti(em2, sockaddrDl(mac('01:00:5e:01:01:01')));
  let delivered = 0;
  h2.registerEthertype(ETHERTYPE_EXP1, () => void delivered++);
  const send = (dst: string, n = 20) =>
    expect(ether_output(em1, new Uint8Array(n), 0, n, sockaddrDl(mac(dst)), ETHERTYPE_EXP1)).toBe(0);
  return { L, seg, h1, h2, em1, em2, send, delivered: () => delivered };
}

function recorder() {
  const seen: { dir: 'in' | 'out'; dst: string; len: number; wall: number }[] = [];
  const tap: BpfTap = (f, dir, wall) => {
    seen.push({ dir, dst: Array.from(f.subarray(0, 6), (x) => x.toString(16).padStart(2, '0')).join(':'), len: f.length, wall });
  };
  return { seen, tap };
}

describe('bpf taps', () => {
  it('no tap: the field is undefined and nothing is called', () => {
    const { L, em1, em2, send } = twoHosts();
    expect(em1.if_bpf).toBeUndefined();
    expect(em2.if_bpf).toBeUndefined();
    send('02:00:00:00:02:02');
    L.run(1);
    expect(em2.if_data.ifi_ipackets).toBe(1);
  });

  it('sees inbound frames before the multicast filter drops them, and outbound frames as sent', () => {
    const { L, em1, em2, send, delivered } = twoHosts();
    const r1 = recorder();
    const r2 = recorder();
    bpf_attach(em1, r1.tap);
    bpf_attach(em2, r2.tap);
    L.run(1000);
    const wall = L.sched.wallNow();
    send('02:00:00:00:02:02'); // unicast to h2
    send('01:00:5e:01:01:01'); // joined group
    send('01:00:5e:7f:00:09'); // not joined: h2's Ethernet filter drops it
    L.run(1);
    expect(em2.if_rxfiltered).toBe(1);
    expect(delivered()).toBe(2);
    expect(r2.seen.map((s) => [s.dir, s.dst, s.len])).toEqual([
      ['in', '02:00:00:00:02:02', 34],
      ['in', '01:00:5e:01:01:01', 34],
      ['in', '01:00:5e:7f:00:09', 34],
    ]);
    expect(r1.seen.map((s) => [s.dir, s.dst])).toEqual([
      ['out', '02:00:00:00:02:02'],
      ['out', '01:00:5e:01:01:01'],
      ['out', '01:00:5e:7f:00:09'],
    ]);
    for (const s of [...r1.seen, ...r2.seen]) expect(s.wall).toBe(wall); // the host's clock, virtual here
  });

  it('sees runts and over-long frames that ether_input drops as errors', () => {
    const { em2 } = twoHosts();
    const r = recorder();
    bpf_attach(em2, r.tap);
    em2.if_input(em2, new Uint8Array(10), 0, 10);
    const long = frame('02:00:00:00:02:02', '02:00:00:00:01:01', ETHERTYPE_EXP1, 1600);
    em2.if_input(em2, long, 0, long.length);
    expect(em2.if_data.ifi_ierrors).toBe(2);
    expect(r.seen.map((s) => s.len)).toEqual([10, 1614]);
  });

  it('frames dropped because if_snd is full never show as sent', () => {
    const L = vlab(3);
    const seg = L.segment();
    const h = L.host('h1', { inet: false });
    const ifp = h.addEther(seg.port('p'), { name: 'em0', sndMaxlen: 2 });
    const r = recorder();
    bpf_attach(ifp, r.tap);
    const payload = new Uint8Array(30);
    const errs: number[] = [];
    // Inside a receive batch the start is deferred, so the queue fills.
    h.netisr.batch(() => {
      for (let i = 0; i < 5; i++) errs.push(ether_output(ifp, payload, 0, 30, sockaddrDl(mac('02:00:00:00:00:09')), ETHERTYPE_EXP1));
    });
    expect(errs.filter((e) => e !== 0).length).toBe(3);
    expect(ifp.if_data.ifi_oqdrops).toBe(3);
    expect(r.seen.length).toBe(2);
    expect(r.seen.every((s) => s.dir === 'out')).toBe(true);
  });

  it('detach stops the capture; the last detach clears if_bpf; detach is idempotent', () => {
    const { L, em2, send } = twoHosts();
    const a = recorder();
    const b = recorder();
    const da = bpf_attach(em2, a.tap);
    const db = bpf_attach(em2, b.tap);
    send('02:00:00:00:02:02');
    L.run(1);
    da();
    da();
    send('02:00:00:00:02:02');
    L.run(1);
    expect([a.seen.length, b.seen.length]).toEqual([1, 2]);
    expect(em2.if_bpf).toBeDefined();
    db();
    expect(em2.if_bpf).toBeUndefined();
    send('02:00:00:00:02:02');
    L.run(1);
    expect([a.seen.length, b.seen.length]).toEqual([1, 2]);
    expect(em2.if_data.ifi_ipackets).toBe(3);
  });

  it('a tap that throws is counted and the frame still goes through', () => {
    const { L, em2, send, delivered } = twoHosts();
    const r = recorder();
    bpf_attach(em2, () => {
      throw new Error('boom');
    });
    bpf_attach(em2, r.tap);
    send('02:00:00:00:02:02');
    L.run(1);
    expect(delivered()).toBe(1);
    expect(r.seen.length).toBe(1);
    expect(em2.if_bpf!.errors).toBe(1);
  });

  it('a tap may detach itself during delivery', () => {
    const { L, em2, send } = twoHosts();
    let calls = 0;
    const r = recorder();
    const d = bpf_attach(em2, () => {
      calls++;
      d();
    });
    bpf_attach(em2, r.tap);
    send('02:00:00:00:02:02');
    send('02:00:00:00:02:02');
    L.run(1);
    expect(calls).toBe(1);
    expect(r.seen.length).toBe(2);
  });
});

// ---------------------------------------------------------------- captureHost / captureInterface

describe('captureHost and captureInterface', () => {
  it('one file, one IDB per Ethernet interface, directions from the host point of view', () => {
    const { L, h2, em1, em2, send } = twoHosts();
    const path = file('host');
    const cap = captureHost(h2, path);
    const path1 = file('if');
    const cap1 = captureInterface(em1, path1);
    L.run(1000);
    send('02:00:00:00:02:02', 100);
    send('01:00:5e:7f:00:09');
    L.run(1);
    // h2 answers once: an outbound frame.
    ether_output(em2, new Uint8Array(46), 0, 46, sockaddrDl(mac('02:00:00:00:01:01')), ETHERTYPE_EXP1);
    L.run(1);
    expect(cap.packets()).toBe(3);
    cap.close();
    cap.close();
    cap1.close();

    const bl = readPcapng(path);
    expect(bl[0].type).toBe('shb');
    const ifs = idbs(bl);
    expect(ifs.map((i) => [i.linktype, text(opt(i.options, 2)!), text(opt(i.options, 3)!)])).toEqual([[1, 'em0', 'h2 em0']]);
    const ps = epbs(bl);
    expect(ps.map((p) => [p.ifaceId, direction(p), p.origLen])).toEqual([
      [0, 1, 114],
      [0, 1, 34],
      [0, 2, 60],
    ]);
    const us = BigInt(Math.floor(L.sched.wallNow() * 1000));
    for (const p of ps) expect(ts(p) <= us && ts(p) > us - 10_000n).toBe(true);
    // The other file holds h1's side.
    const ps1 = epbs(readPcapng(path1));
    expect(ps1.map((p) => direction(p))).toEqual([2, 2, 1]);
    expect(idbs(readPcapng(path1)).length).toBe(1);
    // After close, nothing is attached any more.
    expect(em2.if_bpf).toBeUndefined();
    expect(em1.if_bpf).toBeUndefined();
  });

  it('lo0 only when asked, as LINKTYPE_NULL; interfaces attached later join the file', () => {
    const L = vlab(5);
    const seg = L.segment();
    const h = L.host('h1');
    const em0 = L.attach(h, seg, { name: 'em0', mac: '02:00:00:00:0a:01' });
    h.inet.v4.addAddress(em0, '192.0.2.10/24');
    const all = file('all');
    const capAll = captureHost(h, all);
    const both = file('lo');
    const capLo = captureHost(h, both, { interfaces: ['lo0', 'em0'] });
    L.run(3000);
    const so = h.inet.socket();
    so.bind();
    so.send('hello', '127.0.0.1', 9);
    L.run(10);
    L.attach(h, seg, { name: 'em1' });
    L.run(5000);
    capAll.close();
    capLo.close();

    const bAll = readPcapng(all);
    expect(idbs(bAll).map((i) => [i.linktype, text(opt(i.options, 2)!)])).toEqual([
      [1, 'em0'],
      [1, 'em1'],
    ]);
    const seenIfaces = new Set(epbs(bAll).map((p) => p.ifaceId));
    expect(seenIfaces).toEqual(new Set([0, 1])); // both sent their MLD/IGMP reports
    // Every frame h1 sent carries its own source MAC and the outbound flag.
    for (const p of epbs(bAll).filter((p) => p.ifaceId === 0)) {
      const fromMe = Array.from(p.data.subarray(6, 12)).join() === Array.from(mac('02:00:00:00:0a:01')).join();
      expect(direction(p)).toBe(fromMe ? 2 : 1);
    }

    const bLo = readPcapng(both);
    expect(idbs(bLo).map((i) => [i.linktype, text(opt(i.options, 2)!)])).toEqual([
      [0, 'lo0'],
      [1, 'em0'],
    ]);
    const lo = epbs(bLo).filter((p) => p.ifaceId === 0);
    const udp = lo.find((p) => p.data[0] === 2 && p.data[4] === 0x45 && p.data[4 + 9] === 17);
    expect(udp, 'the UDP datagram to 127.0.0.1 on lo0, DLT_NULL AF_INET').toBeDefined();
    expect(Array.from(udp!.data.subarray(0, 4))).toEqual([2, 0, 0, 0]);
    expect(text(udp!.data.subarray(udp!.data.length - 5))).toBe('hello');
    expect(direction(udp!)).toBe(1);
  });

  it('on a real clock, captured packets reach the file within a second without close()', async () => {
    const sched = new RealScheduler();
    const seg = new Segment(sched, new Random(1));
    const h = new Host('h1', sched, { inet: false });
    const ifp = h.addEther(seg.port('p'), { name: 'em0' });
    const path = file('real');
    const cap = captureHost(h, path);
    try {
      ether_output(ifp, new Uint8Array(46), 0, 46, sockaddrDl(mac('02:00:00:00:00:09')), ETHERTYPE_EXP1);
      expect(cap.packets()).toBe(1);
      expect(statSync(path).size).toBe(0);
      const until = sched.now() + 5000;
      while (statSync(path).size === 0 && sched.now() < until) await new Promise((r) => setImmediate(r));
      expect(epbs(readPcapng(path)).length).toBe(1);
      expect(sched.pendingCount).toBe(0); // the flush callout is not re-armed without new packets
    } finally {
      cap.close();
      h.destroy();
      sched.shutdown();
    }
  });

  it('refuses unknown interfaces and unwritable files with sentences', () => {
    const { h2 } = twoHosts();
    expect(kernCode(() => captureHost(h2, file(), { interfaces: ['em7'] }))).toMatch(/^ENXIO: .*em7.*host h2/);
    expect(kernCode(() => captureHost(h2, join(dir, 'missing/x.pcapng')))).toMatch(/^ENOENT: .*missing\/x\.pcapng/);
    expect(h2.ifunit('em0')!.if_bpf).toBeUndefined();
  });
});
