import { describe, expect, it } from 'vitest';
import { mkdtempSync, rmSync, writeFileSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { vlab } from '../helpers/vlab.js';
import { errnoOf } from '../helpers/errno.js';
import { SysctlTree } from '../../src/stats/sysctl.js';
import { readSnapshot, takeSnapshot, writeSnapshot, SnapshotTree } from '../../src/stats/snapshot.js';
import { IP_ADD_MEMBERSHIP, IPPROTO_IP } from '../../src/inet/socket.js';

const code = errnoOf;

function host() {
  const L = vlab(4);
  const seg = L.segment();
  const h = L.host('h1');
  const em0 = L.attach(h, seg, { name: 'em0', mac: '02:00:00:00:0a:01' });
  h.inet.v4.addAddress(em0, '192.0.2.10/24');
  L.run(3000);
  h.inet.socket().setsockopt(IPPROTO_IP, IP_ADD_MEMBERSHIP, { imr_multiaddr: '239.1.1.1' });
  L.run(5000);
  return { L, h, em0, tree: new SysctlTree(h) };
}

describe('host snapshots', () => {
  it('a snapshot answers every leaf as the live tree did: values, bytes, OIDs, formats', () => {
    const { tree } = host();
    const dir = mkdtempSync(join(tmpdir(), 'taplab-snap-'));
    try {
      const file = join(dir, 's.json');
      writeSnapshot(tree, file);
      const snap = readSnapshot(file);
      expect(snap.hostName).toBe('h1');
      expect(snap.list()).toEqual(tree.list());
      for (const name of tree.list()) {
        const live = tree.get(name);
        const got = snap.get(name);
        expect(Array.from(got.bytes), name).toEqual(Array.from(live.bytes));
        expect(JSON.parse(JSON.stringify(got.value)), name).toEqual(JSON.parse(JSON.stringify(live.value)));
        expect(snap.name2oid(name)).toEqual(tree.name2oid(name));
        expect(snap.get(tree.name2oid(name)).bytes).toEqual(got.bytes);
        expect(snap.describe(name)).toMatchObject({ fmt: tree.describe(name).fmt, descr: tree.describe(name).descr, writable: false });
      }
      expect(snap.list('net.inet.igmp')).toEqual(tree.list('net.inet.igmp'));
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('is read-only, and unknown names and prefixes are ENOENT', () => {
    const { tree } = host();
    const snap = new SnapshotTree(takeSnapshot(tree));
    expect(code(() => snap.set('net.inet.igmp.default_version'))).toBe('EPERM');
    expect(code(() => snap.get('net.inet.nope'))).toBe('ENOENT');
    expect(code(() => snap.get([4, 2, 99]))).toBe('ENOENT');
    expect(code(() => snap.list('kern.x'))).toBe('ENOENT');
  });

  it('a leaf that failed at snapshot time answers the same error', () => {
    const { tree } = host();
    const s = takeSnapshot(tree);
    s.leaves[0] = { ...s.leaves[0], value: undefined, bytes: undefined, error: { errno: 'ENXIO', message: 'gone' } };
    const snap = new SnapshotTree(s);
    expect(code(() => snap.get(s.leaves[0].name))).toBe('ENXIO');
  });

  it('refuses files that are not snapshots, with the path and the reason', () => {
    const dir = mkdtempSync(join(tmpdir(), 'taplab-snap-'));
    try {
      const f = join(dir, 'x');
      expect(() => readSnapshot(f)).toThrow(/x: no such snapshot file/);
      writeFileSync(f, 'not json');
      expect(() => readSnapshot(f)).toThrow(/not a taplab snapshot \(not JSON/);
      writeFileSync(f, JSON.stringify({ format: 'taplab-snapshot', version: 9, host: 'h', leaves: [] }));
      expect(() => readSnapshot(f)).toThrow(/version 9 is not supported/);
      writeFileSync(f, JSON.stringify({ format: 'taplab-snapshot', version: 1, host: 'h', leaves: [{ name: 'a' }] }));
      expect(() => readSnapshot(f)).toThrow(/leaf 0 lacks/);
      const { tree } = host();
      expect(code(() => writeSnapshot(tree, join(dir, 'no', 'such', 'dir')))).toBe('ENOENT');
      writeSnapshot(tree, join(dir, 'ok'));
      expect(JSON.parse(readFileSync(join(dir, 'ok'), 'utf8')).taken).toMatch(/^2026-01-01T00:00:08/);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
