import { describe, expect, it } from 'vitest';
import { VirtualScheduler } from '../../src/kern/clock.js';
import { Host } from '../../src/host.js';
import { SnapshotTree, takeSnapshot } from '../../src/stats/snapshot.js';
import { hostEnv, runToolToString } from '../../src/tools/tool.js';
import { dmesgTool } from '../../src/tools/dmesg.js';
import { runOnHost, sysctlTreeOf } from '../../src/tools/registry.js';
import { MSGBUF_LINES } from '../../src/kern/msgbuf.js';

function host() {
  const h = new Host('h1', new VirtualScheduler());
  h.msgbuf.log('igmp: em0: first');
  h.msgbuf.log('mld: em0: second');
  return h;
}

describe('dmesg and kern.msgbuf', () => {
  it('prints the kernel messages oldest first; -c clears them after printing', async () => {
    const h = host();
    expect(await runOnHost(h, ['dmesg'])).toEqual({ stdout: 'igmp: em0: first\nmld: em0: second\n', stderr: '', code: 0 });
    expect((await runOnHost(h, ['dmesg', '-c'])).stdout).toBe('igmp: em0: first\nmld: em0: second\n');
    expect(await runOnHost(h, ['dmesg'])).toEqual({ stdout: '', stderr: '', code: 0 });
  });

  it('kern.msgbuf is a string leaf; kern.msgbuf_clear clears on a non-zero write; msgbuf itself is read-only', () => {
    const h = host();
    const tree = sysctlTreeOf(h);
    expect(tree.describe('kern.msgbuf')).toMatchObject({ fmt: 'A', writable: false });
    expect(new TextDecoder().decode(tree.get('kern.msgbuf').bytes)).toBe('igmp: em0: first\nmld: em0: second\n');
    tree.set('kern.msgbuf_clear', 0);
    expect(h.msgbuf.read()).toHaveLength(2);
    expect(() => tree.set('kern.msgbuf', 'x')).toThrow(/EPERM.*read-only/);
    tree.set('kern.msgbuf_clear', 1);
    expect(tree.get('kern.msgbuf').value).toBe('');
  });

  it(`keeps the last ${MSGBUF_LINES} lines`, () => {
    const h = new Host('h1', new VirtualScheduler());
    for (let i = 0; i < MSGBUF_LINES + 10; i++) h.msgbuf.log(`line ${i}`);
    const lines = h.msgbuf.read();
    expect(lines).toHaveLength(MSGBUF_LINES);
    expect(lines[0].text).toBe('line 10');
  });

  it('reads a snapshot, where -c is refused with a reason; bad options give the usage', async () => {
    const h = host();
    const snap = new SnapshotTree(takeSnapshot(sysctlTreeOf(h)));
    const env = { tree: snap, sleep: async () => {} };
    expect(await runToolToString(dmesgTool, env, [])).toEqual({ stdout: 'igmp: em0: first\nmld: em0: second\n', stderr: '', code: 0 });
    const c = await runToolToString(dmesgTool, env, ['-c']);
    expect(c.code).toBe(71);
    expect(c.stderr).toBe('dmesg: -c needs a live host (a snapshot cannot be cleared)\n');
    const bad = await runToolToString(dmesgTool, hostEnv(h, sysctlTreeOf(h), { out: () => {}, err: () => {} }), ['-x']);
    expect(bad).toEqual({ stdout: '', stderr: 'dmesg: illegal option -- x\nusage: dmesg [-c]\n', code: 64 });
    const extra = await runOnHost(h, ['dmesg', 'now']);
    expect(extra.code).toBe(64);
    expect(extra.stderr).toMatch(/^dmesg: unexpected argument "now"\nusage: dmesg \[-c\]\n$/);
  });
});
