/**
 * The host commands (join, leave, block, unblock, send, groups) on an
 * in-memory lab in virtual time: they change what ifmcstat shows and the
 * stack-wide filters in net.inet.ip.mcast.filters / net.inet6.ip6.mcast.filters,
 * IGMP/MLD report the changes, and mistakes give one line and an exit code.
 */
import { describe, expect, it } from 'vitest';
import { vlab } from '../helpers/vlab.js';
import { SysctlTree } from '../../src/stats/sysctl.js';
import { hostEnv, runToolToString, type ToolResult } from '../../src/tools/tool.js';
import { TOOLS } from '../../src/tools/registry.js';
import { heldMemberships, leaveAllGroups } from '../../src/tools/hostcmd.js';
import { recordTypeName } from '../../src/igmp/codec.js';
import { inToString } from '../../src/inet/in.js';
import { IPPROTO_IP, IP_ADD_MEMBERSHIP, type Datagram } from '../../src/inet/socket.js';
import type { Host } from '../../src/host.js';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { readSnapshot } from '../../src/stats/snapshot.js';
import { ifmcstat } from '../../src/tools/ifmcstat.js';

function lab(opts: { second?: boolean } = {}) {
  const L = vlab(7);
  const seg = L.segment();
  const h1 = L.host('h1');
  const em0 = L.attach(h1, seg, { name: 'em0', mac: '02:00:5e:10:00:01' });
  h1.inet.v4.addAddress(em0, '192.0.2.10/24');
  let em1;
  if (opts.second) {
    const seg2 = L.segment();
    em1 = L.attach(h1, seg2, { name: 'em1', mac: '02:00:5e:10:00:02' });
  }
  const h2 = L.host('h2');
  const h2em0 = L.attach(h2, seg, { name: 'em0', mac: '02:00:5e:10:00:09' });
  h2.inet.v4.addAddress(h2em0, '192.0.2.20/24');
  L.run(3000); // DAD: link-locals become usable
  const tree = new SysctlTree(h1);
  const run = async (line: string, host: Host = h1, t: SysctlTree = tree): Promise<ToolResult> => {
    const [cmd, ...argv] = line.split(/\s+/);
    const tool = TOOLS.get(cmd);
    if (!tool) throw new Error(`no tool ${cmd}`);
    const env = hostEnv(host, t, { out: () => {}, err: () => {} });
    let done = false;
    const p = runToolToString(tool, env, argv).finally(() => (done = true));
    // Virtual time moves only while the command waits on the clock (send --interval).
    for (let i = 0; !done && i < 1000; i++) {
      L.run(i ? 50 : 0);
      await new Promise((r) => setImmediate(r));
    }
    const r = await p;
    L.run(2000); // state-change reports go out
    return r;
  };
  const filter4 = (group: string, ifp = em0) =>
    tree.get(`net.inet.ip.mcast.filters.${ifp.if_index}.${group.split('.').reduce((a, b) => a * 256 + Number(b), 0)}`).value as { fmode: number; sources: string[] };
  return { L, h1, h2, em0, em1, h2em0, tree, run, filter4 };
}

const MODE = { include: 1, exclude: 2 };

describe('host commands: join, leave, block, unblock', () => {
  it('a join or leave with a source list is one change of interface state: one report, ALLOW/BLOCK {S1,S2} or TO_EX {S1,S2}', async () => {
    const { h1, run } = lab();
    const sent: string[] = [];
    h1.igmp.observe((e) => {
      if (e.dir === 'out' && e.msg.kind === 'v3report') for (const r of e.msg.records) sent.push(`${recordTypeName(r.type)} ${inToString(r.group)} {${r.sources.map((s) => inToString(s)).join(',')}}`);
    });
    await run('join 232.1.1.1 --include 198.51.100.7,198.51.100.8');
    await run('join 239.2.2.2 --exclude 198.51.100.9,198.51.100.10');
    await run('join 232.1.1.1 --include 198.51.100.5');
    await run('leave 232.1.1.1 --source 198.51.100.7,198.51.100.8');
    // Each report is repeated RV-1 times; the first of each is the whole change.
    expect([...new Set(sent)]).toEqual([
      'ALLOW 232.1.1.1 {198.51.100.7,198.51.100.8}',
      'TO_EX 239.2.2.2 {198.51.100.9,198.51.100.10}',
      'ALLOW 232.1.1.1 {198.51.100.5}',
      'BLOCK 232.1.1.1 {198.51.100.7,198.51.100.8}',
    ]);
  });

  it('an any-source join is EXCLUDE {} in ifmcstat and the filters sysctl, and IGMPv3 reports TO_EX', async () => {
    const { h1, run, filter4 } = lab();
    const sent: string[] = [];
    h1.igmp.observe((e) => {
      if (e.dir === 'out' && e.msg.kind === 'v3report') for (const r of e.msg.records) sent.push(`${recordTypeName(r.type)} ${inToString(r.group)} {${r.sources.map((s) => inToString(s)).join(',')}}`);
    });
    const r = await run('join 239.1.1.1');
    expect(r).toEqual({ stdout: 'joined 239.1.1.1 on em0: exclude {}\n', stderr: '', code: 0 });
    expect(filter4('239.1.1.1')).toEqual({ fmode: MODE.exclude, sources: [] });
    const mc = await run('ifmcstat -i em0 -f inet');
    expect(mc.stdout).toContain('\t\tgroup 239.1.1.1 mode exclude\n');
    expect(sent.some((s) => /^CHANGE_TO_EXCLUDE_MODE|^TO_EX/.test(s) && s.includes('239.1.1.1'))).toBe(true);
  });

  it('--include joins source by source: INCLUDE {S1,S2} with its sources in ifmcstat -v', async () => {
    const { run, filter4 } = lab();
    const r = await run('join 232.1.1.1 --include 198.51.100.7,198.51.100.8');
    expect(r.code).toBe(0);
    expect(r.stdout).toBe('joined 232.1.1.1 on em0: include {198.51.100.7, 198.51.100.8}\n');
    expect(filter4('232.1.1.1')).toEqual({ fmode: MODE.include, sources: ['198.51.100.7', '198.51.100.8'] });
    const mc = await run('ifmcstat -v -i em0 -f inet');
    expect(mc.stdout).toMatch(/group 232\.1\.1\.1 mode include\n\t\t\tsrcs: 198\.51\.100\.7, 198\.51\.100\.8\n|srcs/);
    expect(mc.stdout).toContain('198.51.100.7');
    expect(mc.stdout).toContain('198.51.100.8');
    // More sources later extend the same membership.
    expect((await run('join 232.1.1.1 --include 198.51.100.9')).stdout).toBe('joined 232.1.1.1 on em0: include {198.51.100.7, 198.51.100.8, 198.51.100.9}\n');
  });

  it('--exclude is join + block; block/unblock change the sources; leave --source trims an INCLUDE membership', async () => {
    const { run, filter4 } = lab();
    expect((await run('join 239.2.2.2 --exclude 198.51.100.9')).stdout).toBe('joined 239.2.2.2 on em0: exclude {198.51.100.9}\n');
    expect(filter4('239.2.2.2')).toEqual({ fmode: MODE.exclude, sources: ['198.51.100.9'] });
    expect((await run('block 239.2.2.2 198.51.100.10')).stdout).toBe('239.2.2.2 on em0: exclude {198.51.100.9, 198.51.100.10}\n');
    expect(filter4('239.2.2.2').sources).toEqual(['198.51.100.9', '198.51.100.10']);
    expect((await run('unblock 239.2.2.2 198.51.100.9')).code).toBe(0);
    expect(filter4('239.2.2.2')).toEqual({ fmode: MODE.exclude, sources: ['198.51.100.10'] });

    await run('join 232.1.1.1 --include 198.51.100.7,198.51.100.8');
    expect((await run('leave 232.1.1.1 --source 198.51.100.7')).stdout).toBe('232.1.1.1 on em0: include {198.51.100.8}\n');
    expect(filter4('232.1.1.1')).toEqual({ fmode: MODE.include, sources: ['198.51.100.8'] });
    expect((await run('leave 232.1.1.1 --source 198.51.100.8')).stdout).toBe('left 232.1.1.1 on em0 (no sources remain)\n');
    expect(filter4('232.1.1.1')).toEqual({ fmode: 0, sources: [] });
    expect((await run('leave 239.2.2.2')).stdout).toBe('left 239.2.2.2 on em0\n');
    expect(filter4('239.2.2.2')).toEqual({ fmode: 0, sources: [] });
    expect((await run('ifmcstat -i em0 -f inet')).stdout).not.toContain('239.2.2.2');
  });

  it('IPv6 groups: an MLDv2 join with sources shows in net.inet6.ip6.mcast.filters and ifmcstat', async () => {
    const { run, tree, em0 } = lab();
    expect((await run('join ff3e::8000:1 --include 2001:db8:1::1,2001:db8:1::2')).code).toBe(0);
    expect((await run('join ff12::1:1')).stdout).toBe('joined ff12::1:1 on em0: exclude {}\n');
    const v = tree.get(`net.inet6.ip6.mcast.filters.${em0.if_index}.${0xff3e0000}.0.0.${0x80000001}`).value as { fmode: number; sources: string[] };
    expect(v).toEqual({ fmode: MODE.include, sources: ['2001:db8:1::1', '2001:db8:1::2'] });
    const mc = await run('ifmcstat -v -i em0 -f inet6');
    expect(mc.stdout).toContain('group ff3e::8000:1');
    expect(mc.stdout).toContain('2001:db8:1::2');
    expect(mc.stdout).toContain('group ff12::1:1');
    expect((await run('groups')).stdout).toBe('em0\tinet6\tff3e::8000:1\tinclude {2001:db8:1::1, 2001:db8:1::2}\nem0\tinet6\tff12::1:1   \texclude {}\n');
  });

  it('errors are one line with the errno and a non-zero exit; a failed join changes nothing', async () => {
    const { run, filter4 } = lab();
    await run('join 239.1.1.1');
    const dup = await run('join 239.1.1.1');
    expect(dup.code).toBe(71);
    expect(dup.stderr).toMatch(/^join: EADDRINUSE: .*239\.1\.1\.1 on em0: the host is already a member\n$/);
    const notJoined = await run('leave 239.9.9.9');
    expect(notJoined.code).toBe(71);
    expect(notJoined.stderr).toMatch(/^leave: EADDRNOTAVAIL: 239\.9\.9\.9 on em0: the host has not joined this group there/);
    expect((await run('block 239.9.9.9 198.51.100.1')).stderr).toMatch(/EADDRNOTAVAIL/);
    // Blocking in an INCLUDE membership is EINVAL (RFC 3678).
    await run('join 232.1.1.1 --include 198.51.100.7');
    expect((await run('block 232.1.1.1 198.51.100.8')).stderr).toMatch(/^block: EINVAL: /);
    // Unknown interface: an errno error like the others (ENXIO), exit 71 as the help says.
    const noIf = await run('join 239.1.1.2 -i em9');
    expect(noIf.code).toBe(71);
    expect(noIf.stderr).toBe('join: ENXIO: host h1 has no interface named "em9" (it has lo0, em0)\n');
    const bad = await run('join 300.1.1.1');
    expect(bad.code).toBe(64);
    expect(bad.stderr.split('\n')[0]).toBe('join: "300.1.1.1" is not an IPv4 or IPv6 address (EINVAL)');
    expect((await run('join 192.0.2.1')).stderr.split('\n')[0]).toBe('join: 192.0.2.1 is not a multicast group (EINVAL)');
    expect((await run('join 239.1.1.3 --include ff12::1')).code).toBe(64);
    expect((await run('join 239.1.1.3 --include 198.51.100.1 --exclude 198.51.100.2')).code).toBe(64);
    expect((await run('join 239.1.1.3 --bogus')).stderr).toMatch(/^join: unknown option --bogus\n/);
    // A duplicate source fails before anything changes.
    expect((await run('join 232.2.2.2 --include 198.51.100.1,198.51.100.1')).code).toBe(64);
    expect(filter4('232.2.2.2')).toEqual({ fmode: 0, sources: [] });
    // Adding an already-included source fails as a whole: the new one is taken back.
    const partial = await run('join 232.1.1.1 --include 198.51.100.9,198.51.100.7');
    expect(partial.code).toBe(71);
    expect(filter4('232.1.1.1')).toEqual({ fmode: MODE.include, sources: ['198.51.100.7'] });
    expect((await run('join --help')).stdout).toMatch(/^usage: join GROUP/);
  });

  it('-i is required when the host has several Ethernet interfaces', async () => {
    const { run } = lab({ second: true });
    const r = await run('join 239.1.1.1');
    expect(r.code).toBe(64);
    expect(r.stderr.split('\n')[0]).toBe('join: host h1 has 2 interfaces (em0, em1); name one with -i');
    expect((await run('join 239.1.1.1 -i em1')).stdout).toBe('joined 239.1.1.1 on em1: exclude {}\n');
    expect((await run('groups')).stdout).toBe('em1\tinet \t239.1.1.1\texclude {}\n');
  });

  it('the host commands need a live host', async () => {
    const { tree, L } = lab();
    const env = { ...hostEnv(L.host('h3'), tree, { out: () => {}, err: () => {} }), host: undefined };
    const r = await runToolToString(TOOLS.get('join')!, env, ['239.1.1.1']);
    expect(r.code).toBe(71);
    expect(r.stderr).toMatch(/^join: EOPNOTSUPP: join changes a running host/);
  });

  it('leaveAllGroups closes the sockets: every group is left and IGMP says so', async () => {
    const { h1, run, filter4, L } = lab();
    await run('join 239.1.1.1');
    await run('join 232.1.1.1 --include 198.51.100.7');
    expect(heldMemberships(h1).map((m) => m.group)).toEqual(['239.1.1.1', '232.1.1.1']);
    const sent: string[] = [];
    h1.igmp.observe((e) => {
      if (e.dir === 'out' && e.msg.kind === 'v3report') for (const r of e.msg.records) sent.push(`${recordTypeName(r.type)} ${inToString(r.group)}`);
    });
    const left = leaveAllGroups(h1);
    L.run(5000);
    expect(left.length).toBe(2);
    expect(heldMemberships(h1)).toEqual([]);
    expect(filter4('239.1.1.1').fmode).toBe(0);
    expect(filter4('232.1.1.1').fmode).toBe(0);
    expect(sent.some((s) => s.includes('239.1.1.1'))).toBe(true);
    expect(sent.some((s) => s.includes('232.1.1.1'))).toBe(true);
  });
});

describe('host commands: send', () => {
  it('sends UDP datagrams to a group that another host receives', async () => {
    const { h2, run } = lab();
    const so = h2.inet.socket().bind(undefined, 6000);
    so.setsockopt(IPPROTO_IP, IP_ADD_MEMBERSHIP, { imr_multiaddr: '239.5.5.5', imr_interface: '192.0.2.20' });
    const got: Datagram[] = [];
    so.onMessage((d) => got.push(d));
    const r = await run('send 239.5.5.5:6000 --count 3 --data hello --ttl 4');
    expect(r).toEqual({ stdout: 'sent 3 datagrams of 5 bytes to 239.5.5.5 port 6000 on em0 (ttl 4)\n', stderr: '', code: 0 });
    expect(got.map((d) => [new TextDecoder().decode(d.data), d.src, d.dst, d.dstPort])).toEqual(
      Array.from({ length: 3 }, () => ['hello', '192.0.2.10', '239.5.5.5', 6000]),
    );
    expect((await run('send 239.5.5.5 --port 6000 --interval 100 --count 2')).code).toBe(0);
    expect(got.length).toBe(5);
  });

  it('sends to an IPv6 group ([GROUP]:PORT) and refuses bad ports', async () => {
    const { h2, h2em0, run } = lab();
    const so = h2.inet.socket('inet6').bind(undefined, 6001);
    so.setsockopt(41, 12, { ipv6mr_multiaddr: 'ff12::5', ipv6mr_interface: h2em0.if_index });
    const got: Datagram[] = [];
    so.onMessage((d) => got.push(d));
    const r = await run('send [ff12::5]:6001');
    expect(r.code).toBe(0);
    expect(r.stdout).toBe('sent 1 datagram of 6 bytes to ff12::5 port 6001 on em0 (hop limit 1)\n');
    expect(got.length).toBe(1);
    expect((await run('send 239.1.1.1:0')).code).toBe(64);
    expect((await run('send 239.1.1.1:5000 --port 5001')).code).toBe(64);
    expect((await run('send 239.1.1.1 --count x')).code).toBe(64);
  });
});

describe('host commands: snapshot', () => {
  it('writes the sysctl tree to a file that ifmcstat reads as it reads the live host', async () => {
    const { run, tree } = lab();
    await run('join 232.1.1.1 --include 198.51.100.7');
    const dir = mkdtempSync(join(tmpdir(), 'taplab-snap-'));
    try {
      const file = join(dir, 'h1.snap');
      expect(await run(`snapshot ${file}`)).toEqual({ stdout: `wrote a snapshot of host h1 to ${file}\n`, stderr: '', code: 0 });
      const snap = readSnapshot(file);
      expect(ifmcstat(snap, ['-v']).stdout).toBe(ifmcstat(tree, ['-v']).stdout);
      const bad = await run(`snapshot ${join(dir, 'no', 'such', 'dir')}`);
      expect(bad.code).toBe(71);
      expect(bad.stderr).toMatch(/^snapshot: ENOENT: cannot write .*no\/such\/dir: /);
      expect((await run('snapshot')).code).toBe(64);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe('named sockets (--socket): two programs on one host', () => {
  it('an INCLUDE and an EXCLUDE socket on one group merge into the interface state (RFC 9776 §3.2)', async () => {
    const { L, run } = lab();
    expect((await run('join 239.1.1.1 --include 198.51.100.7,198.51.100.8 --socket a')).code).toBe(0);
    expect((await run('join 239.1.1.1 --exclude 198.51.100.9,198.51.100.7 -s b')).code).toBe(0);
    L.run(3000);
    const v = (await run('ifmcstat -v -i em0 -f inet')).stdout;
    // EXCLUDE wins; a source is excluded only when every EXCLUDE socket excludes it and no INCLUDE socket includes it.
    expect(v).toContain('group 239.1.1.1 mode exclude srcs 198.51.100.9\n');
    const g = (await run('groups')).stdout;
    expect(g).toMatch(/239\.1\.1\.1\tinclude \{198\.51\.100\.7, 198\.51\.100\.8\}\tsocket a\n/);
    expect(g).toMatch(/239\.1\.1\.1\texclude \{198\.51\.100\.9, 198\.51\.100\.7\}\tsocket b\n/);
    // The same group on the default socket is a third listener; leaving socket b leaves INCLUDE {7, 8}.
    expect((await run('leave 239.1.1.1 --socket b')).code).toBe(0);
    L.run(3000);
    expect((await run('ifmcstat -v -i em0 -f inet')).stdout).toContain('group 239.1.1.1 mode include srcs 198.51.100.7,198.51.100.8\n');
    const bad = await run('leave 239.1.1.1 --socket zz');
    expect(bad.code).toBe(71);
    expect(bad.stderr).toMatch(/not joined this group there on socket zz/);
    expect((await run('join 239.2.2.2 --socket no/slash')).code).toBe(64);
  });
});
