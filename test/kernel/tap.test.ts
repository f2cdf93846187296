/**
 * TapDevice against the real Linux kernel, at device level (no ifnet): each
 * test makes its TAPs inside its own private network namespace.
 */
import { describe, expect, it } from 'vitest';
import { TapDevice, validateIfName } from '../../src/driver/tap.js';
import { loadTapAddon, tapAddonAvailable } from '../../src/driver/native.js';
import { release, tmpdir } from 'node:os';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { DeviceHandlers } from '../../src/driver/device.js';
import { isKernError, KernError } from '../../src/kern/errno.js';
import { canUseNetns, withNetns, type Netns } from '../helpers/netns.js';

const can = canUseNetns();
const built = tapAddonAvailable();
const skipReason = !can.ok ? can.reason : !built ? 'the native TAP addon is not built (npm run build:native)' : '';
if (skipReason) console.warn(`\n*** kernel TAP tests SKIPPED: ${skipReason} ***\n`);

const ETYPE = 0x88b5; // IEEE local experimental: no kernel protocol answers it
const OWN = mac('02:00:5e:10:00:01');
const BCAST = mac('ff:ff:ff:ff:ff:ff');
const KSRC = '02:00:5e:10:00:99';

function mac(s: string): Uint8Array {
  return Uint8Array.from(s.split(':').map((h) => parseInt(h, 16)));
}
function hex(b: Uint8Array): string {
  return Buffer.from(b).toString('hex');
}
/** A 60-byte test frame carrying `tag` (a small number) after the EtherType. */
function frame(dst: string | Uint8Array, src: string, tag: number): Uint8Array {
  const f = new Uint8Array(60);
  f.set(typeof dst === 'string' ? mac(dst) : dst, 0);
  f.set(mac(src), 6);
  f[12] = ETYPE >> 8;
  f[13] = ETYPE & 0xff;
  new DataView(f.buffer).setUint32(14, tag);
  f.fill(0xa5, 18);
  return f;
}
function tagOf(f: Uint8Array): number {
  return new DataView(f.buffer, f.byteOffset).getUint32(14);
}

/** Linux ether_crc(): big-endian CRC-32 over the 6 address bytes; the TAP filter's bin is crc >>> 26. */
function etherCrcBin(a: Uint8Array): number {
  let crc = 0xffffffff | 0;
  for (const byte of a) {
    let octet = byte;
    for (let bit = 0; bit < 8; bit++, octet >>= 1) {
      const msb = crc < 0 ? 1 : 0;
      crc = (crc << 1) ^ ((msb ^ (octet & 1)) ? 0x04c11db7 : 0);
    }
  }
  return crc >>> 26;
}

async function waitFor(what: string, pred: () => boolean, timeoutMs = 5000): Promise<void> {
  const end = Date.now() + timeoutMs;
  while (!pred()) {
    if (Date.now() > end) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 10));
  }
}
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
type ReadMode = false | 'batch' | 'multishot';
/** The receive path asked for is the one in use (io_uring only where this kernel and build have it). */
function expectPath(tap: TapDevice, uringRead: ReadMode): void {
  const uring = loadTapAddon().hasLiburing;
  if (uringRead === 'multishot') expect(tap.readPath).toBe(uring && kernelAtLeast(6, 7) ? 'io_uring-multishot' : 'read');
  else if (uringRead === 'batch') expect(tap.readPath).toBe(uring ? 'io_uring-batch' : 'read');
  else expect(tap.readPath).toBe('read');
}
const READ_MODES: ReadMode[] = ['batch', 'multishot', false];
function kernelAtLeast(major: number, minor: number): boolean {
  const [a, b] = release().split('.').map((x) => parseInt(x, 10));
  return a > major || (a === major && b >= minor);
}

/** Handlers that keep copies of test frames (our EtherType only) and record events. */
function recorder() {
  const frames: Uint8Array[] = [];
  const batches: number[] = [];
  const links: Array<{ up: boolean; error?: KernError }> = [];
  let writable = 0;
  const handlers: DeviceHandlers = {
    input(buf, slotSize, lengths, count) {
      batches.push(count);
      for (let i = 0; i < count; i++) {
        const f = buf.subarray(i * slotSize, i * slotSize + lengths[i]);
        if (f.length >= 18 && ((f[12] << 8) | f[13]) === ETYPE) frames.push(f.slice());
      }
    },
    writable: () => void writable++,
    linkState: (up, error) => void links.push({ up, error }),
  };
  return { handlers, frames, batches, links, writable: () => writable, tags: () => frames.map(tagOf) };
}

/** Pack frames into slots the way the driver does. */
function pack(frames: Uint8Array[], slotSize = 2048) {
  const buf = new Uint8Array(frames.length * slotSize);
  const lengths = new Uint32Array(frames.length);
  frames.forEach((f, i) => {
    buf.set(f, i * slotSize);
    lengths[i] = f.length;
  });
  return { buf, lengths, slotSize };
}

/** Open a TAP in `ns`, run fn, always close it. */
async function withTap<T>(ns: Netns, opts: Parameters<typeof TapDevice.open>[0], fn: (t: TapDevice) => Promise<T>) {
  const tap = TapDevice.open({ netns: ns.path, up: true, ...opts });
  try {
    return await fn(tap);
  } finally {
    tap.close();
  }
}

function expectKernError(fn: () => unknown, code: string, text?: RegExp): KernError {
  let err: unknown;
  try {
    fn();
  } catch (e) {
    err = e;
  }
  expect(err, `expected a KernError ${code}`).toBeInstanceOf(KernError);
  const ke = err as KernError;
  expect(ke.code).toBe(code);
  if (text) expect(ke.message).toMatch(text);
  return ke;
}

describe('interface name validation (no kernel needed)', () => {
  const cases: Array<[string, RegExp]> = [
    ['', /empty/],
    ['abcdefghijklmnop', /16 bytes long/],
    ['a/b', /contains "\/"/],
    ['a:b', /contains ":"/],
    ['a b', /whitespace/],
    ['tab\tx', /whitespace/],
    ['.', /reserved/],
    ['..', /reserved/],
  ];
  for (const [name, why] of cases) {
    it(`rejects ${JSON.stringify(name)} with EINVAL and a sentence`, () => {
      const e = expectKernError(() => validateIfName(name), 'EINVAL', why);
      expect(e.message).toMatch(/1 to 15 bytes/);
      expectKernError(() => TapDevice.open({ name }), 'EINVAL', why);
    });
  }
  it('accepts a 15-byte name', () => {
    expect(() => validateIfName('abcdefghijklmno')).not.toThrow();
  });
  it('rejects bad options before touching the kernel', () => {
    expectKernError(() => TapDevice.open({ name: 'x0', slotSize: 100 }), 'EINVAL', /slotSize is 100/);
    expectKernError(() => TapDevice.open({ name: 'x0', batch: 0 }), 'EINVAL', /batch is 0/);
    expectKernError(() => TapDevice.open({ attach: true }), 'EINVAL', /attach needs the name/);
    expectKernError(() => TapDevice.open({ name: 'x0', netns: '/run/netns/taplab-no-such-ns' }), 'ENOENT', /does not exist/);
  });
});

describe.skipIf(!!skipReason)('TapDevice on a real TAP (private netns)', () => {
  it('creates a TAP and reports the kernel name and ifindex; closing deletes it', () =>
    withNetns(async (ns) => {
      const tap = TapDevice.open({ name: 'tl0', netns: ns.path, up: true });
      try {
        expect(tap.kind).toBe('tap');
        expect(tap.name).toBe('tl0');
        expect(tap.maxFrame).toBe(2048);
        const j = JSON.parse((await ns.exec('ip', ['-j', 'link', 'show', 'dev', 'tl0'])).stdout);
        expect(tap.ifindex).toBe(j[0].ifindex);
        expect(j[0].flags).toContain('UP');
        expect(tap.linkUp()).toBe(true);
        console.info(`tl0: ifindex ${tap.ifindex}, write path: ${tap.writePath}`);
      } finally {
        tap.close();
      }
      expect(await ns.hasLink('tl0')).toBe(false);
      // No name: the kernel picks one. A namespace name works as well as a path.
      await withTap(ns, { netns: ns.name }, async (t) => {
        expect(t.name).toMatch(/^tap\d+$/);
        expect(await ns.hasLink(t.name)).toBe(true);
      });
    }));

  for (const ioUring of [true, false]) {
    it(`frames written in one batch reach the kernel (ioUring: ${ioUring})`, () =>
      withNetns(async (ns) =>
        withTap(ns, { name: 'tl0', ioUring }, async (tap) => {
          if (!ioUring) expect(tap.ioUring).toBe(false);
          const n = 20;
          const frames = Array.from({ length: n }, (_, i) => frame(BCAST, '02:00:5e:10:00:01', 1000 + i));
          const before = await ns.linkStats('tl0');
          const cap = ns.capture('tl0', { count: n, etherType: ETYPE });
          await cap.ready;
          const { buf, lengths, slotSize } = pack(frames);
          expect(tap.transmit(buf, slotSize, 0, lengths, n)).toBe(n);
          const got = await cap.frames;
          expect(got).toEqual(frames.map(hex));
          const after = await ns.linkStats('tl0');
          expect(after.rxPackets - before.rxPackets).toBeGreaterThanOrEqual(n);
          // A sub-range of the slots (first = 5, count = 3).
          const cap2 = ns.capture('tl0', { count: 3, etherType: ETYPE });
          await cap2.ready;
          expect(tap.transmit(buf, slotSize, 5, lengths, 3)).toBe(3);
          expect(await cap2.frames).toEqual(frames.slice(5, 8).map(hex));
        }),
      ));

    it(`a batch larger than the io_uring ring is written whole (ioUring: ${ioUring})`, () =>
      withNetns(async (ns) =>
        withTap(ns, { name: 'tl0', ioUring, batch: 64 }, async (tap) => {
          const n = 1000;
          const frames = Array.from({ length: n }, (_, i) => frame(BCAST, KSRC, i));
          const { buf, lengths, slotSize } = pack(frames);
          const before = await ns.linkStats('tl0');
          expect(tap.transmit(buf, slotSize, 0, lengths, n)).toBe(n);
          const after = await ns.linkStats('tl0');
          expect(after.rxPackets - before.rxPackets).toBe(n);
          expect(after.rxBytes - before.rxBytes).toBe(n * 60);
        }),
      ));

    it(`a frame the kernel refuses (runt) is skipped, the rest of the batch goes out in order (ioUring: ${ioUring})`, () =>
      withNetns(async (ns) =>
        withTap(ns, { name: 'tl0', ioUring }, async (tap) => {
          const good1 = frame(BCAST, KSRC, 1);
          const runt = new Uint8Array(10);
          const good2 = frame(BCAST, KSRC, 2);
          const cap = ns.capture('tl0', { count: 2, etherType: ETYPE });
          await cap.ready;
          const { buf, lengths, slotSize } = pack([good1, runt, good2, good1]);
          expect(tap.transmit(buf, slotSize, 0, lengths, 3)).toBe(3);
          expect(await cap.frames).toEqual([hex(good1), hex(good2)]);
          expect(tap.stats().txErrors).toBe(1);
        }),
      ));
  }

  it('frames sent by the kernel arrive in input batches', () =>
    withNetns(async (ns) =>
      withTap(ns, { name: 'tl0' }, async (tap) => {
        const rec = recorder();
        tap.start(rec.handlers);
        const sent = Array.from({ length: 50 }, (_, i) => frame(BCAST, KSRC, i));
        await ns.sendRawFrames('tl0', sent.map(hex));
        await waitFor('50 frames', () => rec.frames.length >= 50);
        expect(rec.tags()).toEqual(sent.map((_, i) => i));
        expect(rec.frames.map(hex)).toEqual(sent.map(hex));
        expect(rec.batches.every((c) => c >= 1 && c <= tap.batch)).toBe(true);
        expect(rec.links).toEqual([]);
      }),
    ));

  it('frames queued before start() are delivered, in batches no larger than `batch`', () =>
    withNetns(async (ns) =>
      withTap(ns, { name: 'tl0', batch: 4 }, async (tap) => {
        const sent = Array.from({ length: 30 }, (_, i) => frame(BCAST, KSRC, i));
        await ns.sendRawFrames('tl0', sent.map(hex));
        const rec = recorder();
        tap.start(rec.handlers);
        await waitFor('30 frames', () => rec.frames.length >= 30);
        expect(rec.tags()).toEqual(sent.map((_, i) => i));
        expect(Math.max(...rec.batches)).toBe(4);
      }),
    ));

  describe('receive paths: batched io_uring reads, the multishot read and read()', () => {
    it('reports the receive path: batched reads by default, read() with uringRead: false, multishot with uringRead: true', () =>
      withNetns(async (ns) => {
        await withTap(ns, { name: 'tl0', uringRead: true }, async (tap) => {
          console.info(`tl0: read path: ${tap.readPath} (${tap.readNote})`);
          expect(['io_uring-multishot', 'read']).toContain(tap.readPath);
          // This project's test kernel (6.7+, liburing) must take the io_uring path.
          if (loadTapAddon().hasLiburing && kernelAtLeast(6, 7)) expect(tap.readPath).toBe('io_uring-multishot');
          if (tap.readPath === 'io_uring-multishot') expect(tap.readNote).toMatch(/multishot read, 256-buffer ring/);
        });
        await withTap(ns, { name: 'tl2' }, async (tap) => {
          expectPath(tap, 'batch');
          if (loadTapAddon().hasLiburing) expect(tap.readNote).toMatch(/io_uring batched reads/);
        });
        {
          // The paths are read from the addon each time (a fallback may change them) and stay readable after close.
          const tap = TapDevice.open({ name: 'tl4', netns: ns.path, up: true });
          const path = tap.readPath;
          tap.close();
          expect(tap.readPath).toBe(path);
          expect(tap.readNote.length).toBeGreaterThan(0);
        }
        await withTap(ns, { name: 'tl3', ioUring: false }, async (tap) => {
          // Batched reads ride on the write ring: without it, read(), and the note says why.
          expect(tap.readPath).toBe('read');
          expect(tap.readNote).toMatch(/no io_uring for writes .*: using read\(\)/);
        });
        await withTap(ns, { name: 'tl1', uringRead: false }, async (tap) => {
          expect(tap.readPath).toBe('read');
          expect(tap.readNote).toMatch(/uringRead: false/);
          const rec = recorder();
          tap.start(rec.handlers);
          const sent = Array.from({ length: 20 }, (_, i) => frame(BCAST, KSRC, i));
          await ns.sendRawFrames('tl1', sent.map(hex));
          await waitFor('20 frames', () => rec.frames.length >= 20);
          expect(rec.tags()).toEqual(sent.map((_, i) => i));
        });
      }));

    for (const uringRead of READ_MODES) {
      it(`many times the ring size, in bursts: every frame, in order, batches <= batch (uringRead: ${uringRead})`, () =>
        withNetns(async (ns) =>
          withTap(ns, { name: 'tl0', batch: 8, uringRead }, async (tap) => {
            expectPath(tap, uringRead);
            const rec = recorder();
            tap.start(rec.handlers);
            let next = 0;
            // Bursts of different sizes so that batches start at every ring position.
            for (const burst of [1, 7, 100, 13, 250, 3, 129]) {
              const sent = Array.from({ length: burst }, (_, i) => frame(BCAST, KSRC, next + i));
              await ns.sendRawFrames('tl0', sent.map(hex));
              next += burst;
              await waitFor(`${next} frames`, () => rec.frames.length >= next);
            }
            expect(rec.tags()).toEqual(Array.from({ length: next }, (_, i) => i));
            expect(rec.batches.every((c) => c >= 1 && c <= 8)).toBe(true);
            expect(rec.links).toEqual([]);
          }),
        ));

      it(`frames of every size up to the slot arrive intact (uringRead: ${uringRead})`, () =>
        withNetns(async (ns) =>
          withTap(ns, { name: 'tl0', batch: 4, uringRead }, async (tap) => {
            expectPath(tap, uringRead);
            const rec = recorder();
            tap.start(rec.handlers);
            const sizes = [60, 61, 127, 128, 1000, 1514, 64, 1514, 60];
            const sent = sizes.map((n, i) => {
              const f = new Uint8Array(n);
              f.set(frame(BCAST, KSRC, i).subarray(0, 18));
              for (let k = 18; k < n; k++) f[k] = (k * 7 + i) & 0xff;
              return f;
            });
            await ns.sendRawFrames('tl0', sent.map(hex));
            await waitFor('all frames', () => rec.frames.length >= sent.length);
            expect(rec.frames.map(hex)).toEqual(sent.map(hex));
          }),
        ));

      it(`frames queued before start() are delivered in order, batches <= batch (uringRead: ${uringRead})`, () =>
        withNetns(async (ns) =>
          withTap(ns, { name: 'tl0', batch: 4, uringRead }, async (tap) => {
            expectPath(tap, uringRead);
            const sent = Array.from({ length: 30 }, (_, i) => frame(BCAST, KSRC, i));
            await ns.sendRawFrames('tl0', sent.map(hex));
            const rec = recorder();
            tap.start(rec.handlers);
            await waitFor('30 frames', () => rec.frames.length >= 30);
            expect(rec.tags()).toEqual(sent.map((_, i) => i));
            expect(Math.max(...rec.batches)).toBe(4);
          }),
        ));
    }

    it('more than 65,536 frames (the buffer ring index wraps): all in order (io_uring path)', () =>
      withNetns(async (ns) =>
        withTap(ns, { name: 'tl0', batch: 16, uringRead: 'multishot' }, async (tap) => {
          expectPath(tap, 'multishot');
          await ns.exec('ip', ['link', 'set', 'tl0', 'txqueuelen', '100000']);
          const rec = { n: 0, bad: 0, batches: 0 };
          tap.start({
            input(buf, slot, lengths, count) {
              rec.batches++;
              for (let i = 0; i < count; i++) {
                const o = i * slot;
                if (((buf[o + 12] << 8) | buf[o + 13]) !== ETYPE) continue;
                const tag = new DataView(buf.buffer, buf.byteOffset + o).getUint32(14);
                if (tag !== rec.n % 50 || lengths[i] !== 60) rec.bad++;
                rec.n++;
              }
            },
            writable: () => {},
            linkState: () => {},
          });
          const fifty = Array.from({ length: 50 }, (_, i) => hex(frame(BCAST, KSRC, i)));
          const total = 50 * 1400;
          await ns.sendRawFrames('tl0', fifty, 1400);
          await waitFor(`${total} frames`, () => rec.n >= total, 20_000);
          expect(rec.n).toBe(total);
          expect(rec.bad).toBe(0);
          // tap.stats().drops may count the kernel's own frames (router solicitations, reports)
          // lost in the burst; every one of ours arrived, which is what this test is about.
        }),
      ),
    30_000);

    it('close() with the multishot read armed removes the TAP at once and is idempotent', () =>
      withNetns(async (ns) => {
        const tap = TapDevice.open({ name: 'tl0', netns: ns.path, up: true, uringRead: true });
        expectPath(tap, 'multishot');
        const rec = recorder();
        tap.start(rec.handlers);
        await ns.sendRawFrames('tl0', [hex(frame(BCAST, KSRC, 1))]);
        await waitFor('1 frame', () => rec.frames.length >= 1);
        tap.close();
        expect(await ns.hasLink('tl0')).toBe(false);
        tap.close();
        // The name is free again right away.
        await withTap(ns, { name: 'tl0' }, async (t) => expect(t.name).toBe('tl0'));
      }));
  });

  describe('receive filter (TUNSETTXFILTER)', () => {
    const GROUP = '01:00:5e:01:02:03';

    /** Send frames to the given destinations followed by a broadcast marker; return the tags that arrived. */
    async function probe(ns: Netns, rec: ReturnType<typeof recorder>, dsts: string[]): Promise<Set<string>> {
      const base = rec.frames.length;
      const marker = 0xfffff000 + base;
      const frames = dsts.map((d, i) => frame(d, KSRC, i));
      frames.push(frame(BCAST, KSRC, marker));
      await ns.sendRawFrames('tl0', frames.map(hex));
      await waitFor('the broadcast marker', () => rec.frames.slice(base).some((f) => tagOf(f) === marker));
      return new Set(rec.frames.slice(base).filter((f) => tagOf(f) !== marker).map((f) => dsts[tagOf(f)]));
    }

    it('exact addresses: an unlisted group is dropped (tx_dropped counts it), a listed one passes', () =>
      withNetns(async (ns) =>
        withTap(ns, { name: 'tl0' }, async (tap) => {
          const rec = recorder();
          tap.start(rec.handlers);
          tap.setFilter({ promisc: false, allmulti: false, addrs: [OWN, BCAST] });
          const k0 = await ns.linkStats('tl0');
          const d0 = tap.stats().drops;
          let got = await probe(ns, rec, [GROUP, '02:00:5e:10:00:01']);
          expect(got.has(GROUP)).toBe(false);
          expect(got.has('02:00:5e:10:00:01')).toBe(true);
          const k1 = await ns.linkStats('tl0');
          expect(k1.txDropped - k0.txDropped).toBeGreaterThanOrEqual(1);
          expect(tap.stats().drops - d0).toBeGreaterThanOrEqual(1);
          expect(tap.stats().drops).toBe(k1.txDropped);

          tap.setFilter({ promisc: false, allmulti: false, addrs: [OWN, BCAST, mac(GROUP)] });
          got = await probe(ns, rec, [GROUP, '01:00:5e:01:02:04']);
          expect(got.has(GROUP)).toBe(true);
          expect(got.has('01:00:5e:01:02:04')).toBe(false);
        }),
      ));

    it('more than 8 addresses: the rest go to the 64-bin hash', () =>
      withNetns(async (ns) =>
        withTap(ns, { name: 'tl0' }, async (tap) => {
          const rec = recorder();
          tap.start(rec.handlers);
          const groups = Array.from({ length: 10 }, (_, i) => `01:00:5e:01:03:${(i + 1).toString(16).padStart(2, '0')}`);
          // own + broadcast + 6 groups are exact; groups[6..9] are hashed.
          const hashed = groups.slice(6);
          const bins = new Set(hashed.map((g) => etherCrcBin(mac(g))));
          let outsider = '';
          for (let i = 0x10; i < 0xff && !outsider; i++) {
            const g = `01:00:5e:01:04:${i.toString(16)}`;
            if (!bins.has(etherCrcBin(mac(g)))) outsider = g;
          }
          tap.setFilter({ promisc: false, allmulti: false, addrs: [OWN, BCAST, ...groups.map(mac)] });
          const got = await probe(ns, rec, [groups[0], hashed[0], hashed[3], outsider]);
          expect(got.has(groups[0])).toBe(true);
          expect(got.has(hashed[0])).toBe(true);
          expect(got.has(hashed[3])).toBe(true);
          expect(got.has(outsider)).toBe(false);
        }),
      ));

    it('allmulti passes every multicast frame but not foreign unicast; promisc passes everything', () =>
      withNetns(async (ns) =>
        withTap(ns, { name: 'tl0' }, async (tap) => {
          const rec = recorder();
          tap.start(rec.handlers);
          const other = '02:00:5e:10:00:77';
          tap.setFilter({ promisc: false, allmulti: true, addrs: [OWN, BCAST] });
          let got = await probe(ns, rec, [GROUP, '01:00:5e:7f:00:01', '33:33:00:00:00:99', other]);
          expect([...got].sort()).toEqual([GROUP, '01:00:5e:7f:00:01', '33:33:00:00:00:99'].sort());
          tap.setFilter({ promisc: true, allmulti: false, addrs: [OWN, BCAST] });
          got = await probe(ns, rec, [GROUP, other]);
          expect(got.has(GROUP) && got.has(other)).toBe(true);
        }),
      ));
  });

  it('the kernel side set down and up (a cable pulled and put back) is reported as linkState(false) then (true), without an error', () =>
    withNetns(async (ns) => {
      await withTap(ns, { name: 'tl0', up: true }, async (tap) => {
        const rec = recorder();
        tap.start(rec.handlers);
        // Changes that leave IFF_UP alone say nothing.
        await ns.exec('ip', ['link', 'set', 'tl0', 'mtu', '1400']);
        await ns.exec('ip', ['link', 'set', 'tl0', 'down']);
        await waitFor('linkState(false)', () => rec.links.length > 0);
        expect(rec.links).toEqual([{ up: false, error: undefined }]);
        expect(tap.linkUp()).toBe(false);
        await ns.exec('ip', ['link', 'set', 'tl0', 'up']);
        await waitFor('linkState(true)', () => rec.links.length > 1);
        await sleep(50);
        expect(rec.links).toEqual([{ up: false, error: undefined }, { up: true, error: undefined }]);
        expect(tap.linkUp()).toBe(true);
        // And the device works again: a frame reaches the kernel.
        const before = (await tap.stats()).rxPackets;
        const { buf, lengths, slotSize } = pack([frame(BCAST, KSRC, 3)]);
        expect(tap.transmit(buf, slotSize, 0, lengths, 1)).toBe(1);
        await waitFor('the frame counted by the kernel', () => tap.stats().rxPackets > before);
      });
    }));

  it('a TAP opened with its kernel side down starts link-down, and comes up when the kernel side does', () =>
    withNetns(async (ns) => {
      await withTap(ns, { name: 'tl0', up: false }, async (tap) => {
        expect(tap.linkUp()).toBe(false);
        const rec = recorder();
        tap.start(rec.handlers);
        await ns.exec('ip', ['link', 'set', 'tl0', 'up']);
        await waitFor('linkState(true)', () => rec.links.length > 0);
        expect(rec.links).toEqual([{ up: true, error: undefined }]);
        expect(tap.linkUp()).toBe(true);
      });
    }));

  it('a burst of other link messages that overruns the watcher loses no state: down is still reported', () =>
    withNetns(async (ns) => {
      await withTap(ns, { name: 'tl0', up: true }, async (tap) => {
        const rec = recorder();
        tap.start(rec.handlers);
        // Thousands of messages about another interface while we are not reading (one ip process).
        const dir = mkdtempSync(join(tmpdir(), 'taplab-burst-'));
        try {
          const file = join(dir, 'batch');
          writeFileSync(file, Array.from({ length: 4000 }, (_, i) => `link set lo mtu ${1280 + (i % 2)}\n`).join(''));
          await ns.exec('ip', ['-batch', file]);
        } finally {
          rmSync(dir, { recursive: true, force: true });
        }
        await ns.exec('ip', ['link', 'set', 'tl0', 'down']);
        await waitFor('linkState(false)', () => rec.links.length > 0, 10_000);
        expect(rec.links[rec.links.length - 1]).toEqual({ up: false, error: undefined });
        expect(tap.linkUp()).toBe(false);
      });
    }));

  for (const uringRead of READ_MODES)
  it(`deleting the TAP under an open device reports linkState(false, ENXIO) and does not crash (uringRead: ${uringRead})`, () =>
    withNetns(async (ns) => {
      const tap = TapDevice.open({ name: 'tl0', netns: ns.path, up: true, uringRead });
      try {
        expectPath(tap, uringRead);
        const rec = recorder();
        tap.start(rec.handlers);
        await ns.exec('ip', ['link', 'del', 'tl0']);
        await waitFor('linkState(false, error)', () => rec.links.some((l) => l.error));
        await sleep(50);
        // The kernel closes the device before it deletes it, so the link watcher may say
        // "down" (no error) first; the deletion comes once, last, with its error.
        expect(rec.links.slice(0, -1).every((l) => !l.up && !l.error)).toBe(true);
        expect(rec.links.length).toBeLessThanOrEqual(2);
        const { up, error } = rec.links[rec.links.length - 1];
        expect(up).toBe(false);
        expect(error).toBeInstanceOf(KernError);
        expect(error!.code).toBe('ENXIO');
        expect(error!.message).toMatch(/tl0: the TAP device was deleted/);
        expect(error!.message).toMatch(/EBADFD/);
        expect(tap.linkUp()).toBe(false);
        const { buf, lengths, slotSize } = pack([frame(BCAST, KSRC, 1)]);
        expectKernError(() => tap.transmit(buf, slotSize, 0, lengths, 1), 'ENXIO', /deleted/);
        expectKernError(() => tap.setFilter({ promisc: true, allmulti: false, addrs: [] }), 'ENXIO');
        expect(() => tap.stats()).not.toThrow();
      } finally {
        tap.close();
        tap.close();
      }
    }));

  it('attach: opens an existing persistent TAP, leaves it in place on close; a missing one is ENXIO and is not created', () =>
    withNetns(async (ns) => {
      const e = expectKernError(() => TapDevice.open({ name: 'nosuch0', netns: ns.path, attach: true }), 'ENXIO');
      expect(e.message).toMatch(/no interface named "nosuch0" exists/);
      expect(await ns.hasLink('nosuch0')).toBe(false);

      await ns.exec('ip', ['tuntap', 'add', 'dev', 'tlp0', 'mode', 'tap']);
      await withTap(ns, { name: 'tlp0', attach: true }, async (tap) => {
        expect(tap.name).toBe('tlp0');
        const cap = ns.capture('tlp0', { count: 1, etherType: ETYPE });
        await cap.ready;
        const f = frame(BCAST, KSRC, 7);
        const { buf, lengths, slotSize } = pack([f]);
        expect(tap.transmit(buf, slotSize, 0, lengths, 1)).toBe(1);
        expect(await cap.frames).toEqual([hex(f)]);
      });
      expect(await ns.hasLink('tlp0')).toBe(true);
    }));

  it('EBUSY for a name held by an open TAP (create or attach), EBUSY/EINVAL for other devices, nothing half created', () =>
    withNetns(async (ns) => {
      const links = async () =>
        (JSON.parse((await ns.exec('ip', ['-j', 'link', 'show'])).stdout) as Array<{ ifname: string }>)
          .map((l) => l.ifname)
          .sort();
      await withTap(ns, { name: 'tl0' }, async () => {
        const before = await links();
        let e = expectKernError(() => TapDevice.open({ name: 'tl0', netns: ns.path }), 'EBUSY');
        expect(e.message).toMatch(/tl0: an interface of that name already exists/);
        e = expectKernError(() => TapDevice.open({ name: 'tl0', netns: ns.path, attach: true }), 'EBUSY');
        expect(e.message).toMatch(/already open elsewhere/);
        expect(await links()).toEqual(before);
      });
      await ns.exec('ip', ['link', 'add', 'tld0', 'type', 'bridge']);
      const before = await links();
      expectKernError(() => TapDevice.open({ name: 'tld0', netns: ns.path }), 'EBUSY');
      expectKernError(() => TapDevice.open({ name: 'tld0', netns: ns.path, attach: true }), 'EINVAL', /not a TAP/);
      expect(await links()).toEqual(before);
    }));

  it('close() is idempotent and later calls fail cleanly', () =>
    withNetns(async (ns) => {
      const tap = TapDevice.open({ name: 'tl0', netns: ns.path });
      tap.close();
      tap.close();
      expect(tap.linkUp()).toBe(false);
      expect(await ns.hasLink('tl0')).toBe(false);
      const { buf, lengths, slotSize } = pack([frame(BCAST, KSRC, 1)]);
      expectKernError(() => tap.transmit(buf, slotSize, 0, lengths, 1), 'EBADF');
      expect(isKernError(expectKernError(() => tap.start(recorder().handlers), 'EBADF'))).toBe(true);
    }));

  it('the namespace switch is per call: this process stays in its own namespace', () =>
    withNetns(async (ns) => {
      const mine = (await import('node:fs')).readlinkSync('/proc/thread-self/ns/net');
      await withTap(ns, { name: 'tl0' }, async () => {
        expect((await import('node:fs')).readlinkSync('/proc/thread-self/ns/net')).toBe(mine);
      });
      expectKernError(() => TapDevice.open({ name: 'nosuch0', netns: ns.path, attach: true }), 'ENXIO');
      expect((await import('node:fs')).readlinkSync('/proc/thread-self/ns/net')).toBe(mine);
    }));
});
