import { describe, expect, it } from 'vitest';
import { vlab } from '../helpers/vlab.js';
import { errnoOf } from '../helpers/errno.js';
import { IPPROTO_IP, IP_ADD_MEMBERSHIP, IP_ADD_SOURCE_MEMBERSHIP } from '../../src/inet/socket.js';
import { SysctlTree, type IflistEntry, type IfmalistEntry } from '../../src/stats/sysctl.js';
import { ifmcstat, ifmcstatTool } from '../../src/tools/ifmcstat.js';
import { readSnapshot, writeSnapshot } from '../../src/stats/snapshot.js';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

const code = errnoOf;

/**
 * The state of freebsd-formats.md §1.7/§1.8 on a taplab host: em0 with MAC
 * 58:9c:fc:10:ab:cd, 192.0.2.10/24 and its EUI-64 link-local, then an SSM
 * join of 232.1.1.1 from 198.51.100.7 and an ASM join of 239.1.2.3.
 */
function sample() {
  const L = vlab(1);
  const seg = L.segment();
  const h = L.host('h1');
  const em0 = L.attach(h, seg, { name: 'em0', mac: '58:9c:fc:10:ab:cd' });
  h.inet.v4.addAddress(em0, '192.0.2.10/24');
  L.run(3000); // DAD finishes: the link-local becomes usable
  const so = h.inet.socket();
  so.setsockopt(IPPROTO_IP, IP_ADD_SOURCE_MEMBERSHIP, { imr_multiaddr: '232.1.1.1', imr_sourceaddr: '198.51.100.7' });
  so.setsockopt(IPPROTO_IP, IP_ADD_MEMBERSHIP, { imr_multiaddr: '239.1.2.3' });
  L.run(10_000); // the state-change reports are sent; timers are idle again
  const tree = new SysctlTree(h);
  return { L, h, em0, so, tree };
}

/*
 * Where taplab truly differs from the FreeBSD sample:
 *  - lo0 is interface 1 and em0 interface 2 (taplab creates the loopback
 *    with the host), so lo0 appears as its own banner first and em0's
 *    scope ids are 0x2, not 0x1. taplab's lo0 has no link-local address
 *    (only ::1), so its ff02::1/ff01::1 memberships are skipped silently,
 *    as ifmcstat skips inet6 groups without a link-local primary; lo0 has no
 *    lladdr mapping, so no mcast-macaddr line.
 *  - taplab attaches IPv6 (in6_ifattach: ff01::1, then ff02::1, then the
 *    link-local and its solicited-node group) when em0 attaches, before the
 *    IPv4 address and 224.0.0.1, so newest-first the inet groups come first
 *    in one block and the inet6 groups after; ff01::1 is joined before
 *    ff02::1 (the reverse of FreeBSD), and taplab joins no node-information
 *    groups (ff02::2:...).
 *  - uri: FreeBSD prints `uri 3`; taplab uses the RFC 3376/3810 default
 *    Unsolicited Report Interval, 1 second, and prints `uri 1`.
 */
const LO0 = ['lo0:', '\tinet 127.0.0.1', '\tigmpv3 rv 2 qi 125 qri 10 uri 1', '\t\tgroup 224.0.0.1 mode exclude'];

const EXPECT_DEFAULT = [
  ...LO0,
  'em0:',
  '\tinet 192.0.2.10',
  '\tigmpv3 rv 2 qi 125 qri 10 uri 1',
  '\t\tgroup 239.1.2.3 mode exclude',
  '\t\t\tmcast-macaddr 01:00:5e:01:02:03',
  '\t\tgroup 232.1.1.1 mode include',
  '\t\t\tmcast-macaddr 01:00:5e:01:01:01',
  '\t\tgroup 224.0.0.1 mode exclude',
  '\t\t\tmcast-macaddr 01:00:5e:00:00:01',
  '\tinet6 fe80::5a9c:fcff:fe10:abcd%em0 scopeid 0x2',
  '\tmldv2 flags=2<USEALLOW> rv 2 qi 125 qri 10 uri 1',
  '\t\tgroup ff02::1:ff10:abcd%em0 scopeid 0x2 mode exclude',
  '\t\t\tmcast-macaddr 33:33:ff:10:ab:cd',
  '\t\tgroup ff02::1%em0 scopeid 0x2 mode exclude',
  '\t\t\tmcast-macaddr 33:33:00:00:00:01',
  '\t\tgroup ff01::1%em0 scopeid 0x2 mode exclude',
  '\t\t\tmcast-macaddr 33:33:00:00:00:01',
  '',
].join('\n');

const IGMP = '\tigmpv3 rv 2 qi 125 qri 10 uri 1';
const MLD = '\tmldv2 flags=2<USEALLOW> rv 2 qi 125 qri 10 uri 1';
const INET = '\tinet 192.0.2.10';
const INET6 = '\tinet6 fe80::5a9c:fcff:fe10:abcd%em0 scopeid 0x2';
const LINK = '\tlink 58:9c:fc:10:ab:cd';

// -v: each link-layer membership after its protocol entry, under a `link` header
// (the primary address changes, so the protocol header is printed again after it).
const EM0_V = [
  'em0:',
  INET,
  IGMP,
  '\t\tgroup 239.1.2.3 mode exclude',
  '\t\t\tmcast-macaddr 01:00:5e:01:02:03',
  LINK,
  '\t\tgroup 01:00:5e:01:02:03',
  INET,
  IGMP,
  '\t\tgroup 232.1.1.1 mode include srcs 198.51.100.7',
  '\t\t\tmcast-macaddr 01:00:5e:01:01:01',
  LINK,
  '\t\tgroup 01:00:5e:01:01:01',
  INET,
  IGMP,
  '\t\tgroup 224.0.0.1 mode exclude',
  '\t\t\tmcast-macaddr 01:00:5e:00:00:01',
  LINK,
  '\t\tgroup 01:00:5e:00:00:01',
  INET6,
  MLD,
  '\t\tgroup ff02::1:ff10:abcd%em0 scopeid 0x2 mode exclude',
  '\t\t\tmcast-macaddr 33:33:ff:10:ab:cd',
  LINK,
  '\t\tgroup 33:33:ff:10:ab:cd',
  INET6,
  MLD,
  '\t\tgroup ff02::1%em0 scopeid 0x2 mode exclude',
  '\t\t\tmcast-macaddr 33:33:00:00:00:01',
  '\t\tgroup ff01::1%em0 scopeid 0x2 mode exclude',
  '\t\t\tmcast-macaddr 33:33:00:00:00:01',
  LINK,
  '\t\tgroup 33:33:00:00:00:01',
];

describe('ifmcstat: the composed samples (§1.7, §1.8)', () => {
  it('default output', () => {
    const { tree } = sample();
    expect(ifmcstat(tree, [])).toEqual({ stdout: EXPECT_DEFAULT, stderr: '', code: 0 });
  });

  it('-v adds link memberships and source lists', () => {
    const { tree } = sample();
    expect(ifmcstat(tree, ['-v'])).toEqual({ stdout: [...LO0, ...EM0_V, ''].join('\n'), stderr: '', code: 0 });
  });

  it('-vv adds the timers to every protocol line', () => {
    const { tree } = sample();
    const vv = [...LO0, ...EM0_V, '']
      .join('\n')
      .replaceAll(IGMP + '\n', `${IGMP} v1timer 0 v2timer 0 v3timer 0\n`)
      .replaceAll(MLD + '\n', `${MLD} v1timer 0 v2timer 0\n`);
    expect(ifmcstat(tree, ['-vv'])).toEqual({ stdout: vv, stderr: '', code: 0 });
    expect(ifmcstat(tree, ['-v', '-v']).stdout).toBe(vv);
  });
});

describe('ifmcstat: running timers', () => {
  it('-vv shows the IGMPv2 querier-present timer counting down, and the v2 line has no rv/qi/qri/uri', () => {
    const { L, h, em0, tree } = sample();
    // An IGMPv2 general query: the interface drops to v2 for RV*QI+QRI = 2*125+10 = 260 s (RFC 9776 §7.2.1).
    h.igmp.ifinfo(em0).query({ generation: 2, group: new Uint8Array(4), sources: [], maxRespMs: 10_000, qrv: 0, qqiSeconds: 0, sFlag: false });
    L.run(1_000);
    const out = ifmcstat(tree, ['-vv', '-i', 'em0', '-f', 'inet']).stdout.split('\n');
    expect(out[0]).toBe('em0:');
    expect(out[1]).toBe('\tinet 192.0.2.10');
    expect(out[2]).toBe('\tigmpv2 v1timer 0 v2timer 259 v3timer 0');
    L.run(100_000);
    expect(ifmcstat(tree, ['-vv', '-i', 'em0', '-f', 'inet']).stdout.split('\n')[2]).toBe('\tigmpv2 v1timer 0 v2timer 159 v3timer 0');
    L.run(160_000);
    expect(ifmcstat(tree, ['-vv', '-i', 'em0', '-f', 'inet']).stdout.split('\n')[2]).toBe(
      '\tigmpv3 rv 2 qi 125 qri 10 uri 1 v1timer 0 v2timer 0 v3timer 0',
    );
  });
});

describe('ifmcstat: filters and options', () => {
  it('-i em0 shows only em0', () => {
    const { tree } = sample();
    expect(ifmcstat(tree, ['-i', 'em0'])).toEqual({ stdout: EXPECT_DEFAULT.slice(EXPECT_DEFAULT.indexOf('em0:')), stderr: '', code: 0 });
    expect(ifmcstat(tree, ['-iem0']).stdout).toBe(EXPECT_DEFAULT.slice(EXPECT_DEFAULT.indexOf('em0:')));
  });

  it('-f inet shows only the IPv4 blocks', () => {
    const { tree } = sample();
    expect(ifmcstat(tree, ['-f', 'inet']).stdout).toBe(
      [
        ...LO0,
        'em0:',
        INET,
        IGMP,
        '\t\tgroup 239.1.2.3 mode exclude',
        '\t\t\tmcast-macaddr 01:00:5e:01:02:03',
        '\t\tgroup 232.1.1.1 mode include',
        '\t\t\tmcast-macaddr 01:00:5e:01:01:01',
        '\t\tgroup 224.0.0.1 mode exclude',
        '\t\t\tmcast-macaddr 01:00:5e:00:00:01',
        '',
      ].join('\n'),
    );
  });

  it('-f inet6 -i em0 shows the inet6 block; lo0 (no link-local) shows a bare banner', () => {
    const { tree } = sample();
    expect(ifmcstat(tree, ['-f', 'inet6', '-i', 'em0']).stdout).toBe(EXPECT_DEFAULT.slice(EXPECT_DEFAULT.indexOf('em0:')).replace(/\tinet 192[^]*?(?=\tinet6)/, ''));
    expect(ifmcstat(tree, ['-f', 'inet6', '-i', 'lo0']).stdout).toBe('lo0:\n');
  });

  it('-f link prints banners only (only interfaces with link memberships)', () => {
    const { tree } = sample();
    expect(ifmcstat(tree, ['-f', 'link'])).toEqual({ stdout: 'em0:\n', stderr: '', code: 0 });
  });

  it('-f link with -v is a usage error', () => {
    const { tree } = sample();
    const usage = 'usage: ifmcstat [-i interface] [-f address family] [-v] [-K] [-M core] [-N system]\n';
    expect(ifmcstat(tree, ['-f', 'link', '-v'])).toEqual({ stdout: '', stderr: usage, code: 64 });
    expect(ifmcstat(tree, ['-v', '-f', 'link'])).toEqual({ stdout: '', stderr: usage, code: 64 });
  });

  it('an unknown interface exits EX_NOHOST', () => {
    const { tree } = sample();
    expect(ifmcstat(tree, ['-i', 'em9'])).toEqual({ stdout: '', stderr: 'em9: unknown interface\n', code: 68 });
    // Resolved as it is parsed, as ifmcstat(8) does: before a later bad family is seen.
    expect(ifmcstat(tree, ['-i', 'em9', '-f', 'inet7'])).toEqual({ stdout: '', stderr: 'em9: unknown interface\n', code: 68 });
  });

  it('-h is no option (illegal option -- h, usage, 64); --help prints the help', () => {
    const { tree } = sample();
    const r = ifmcstat(tree, ['-h']);
    expect(r.code).toBe(64);
    expect(r.stderr.startsWith('ifmcstat: illegal option -- h\n')).toBe(true);
    expect(ifmcstat(tree, ['--help']).code).toBe(0);
  });

  it('a bad family exits EX_USAGE', () => {
    const { tree } = sample();
    expect(ifmcstat(tree, ['-f', 'inet7'])).toEqual({ stdout: '', stderr: 'inet7: unknown address family\n', code: 64 });
  });

  it('bad options and missing arguments print getopt messages and the usage', () => {
    const { tree } = sample();
    const usage = 'usage: ifmcstat [-i interface] [-f address family] [-v] [-K] [-M core] [-N system]\n';
    expect(ifmcstat(tree, ['-x'])).toEqual({ stdout: '', stderr: `ifmcstat: illegal option -- x\n${usage}`, code: 64 });
    expect(ifmcstat(tree, ['-i'])).toEqual({ stdout: '', stderr: `ifmcstat: option requires an argument -- i\n${usage}`, code: 64 });
  });

  it('-K: the direct walk of §1.9 with refcounts, corrected state names and (-vv) t1 counters', () => {
    const { tree } = sample();
    const r = ifmcstat(tree, ['-K', '-vv', '-i', 'em0']);
    expect(r.code).toBe(0);
    expect(r.stdout).toBe(
      [
        'em0:',
        '\tinet 192.0.2.10',
        '\tigmpv3 rv 2 qi 125 qri 10 uri 1 v1timer 0 v2timer 0 v3timer 0',
        '\t\tgroup 239.1.2.3 refcnt 1 state reporting mode exclude asm 1 ex 1 in 0 rec 0',
        '\t\t\tmcast-macaddr 01:00:5e:01:02:03 refcnt 1',
        '\t\tgroup 232.1.1.1 refcnt 1 state reporting mode include asm 0 ex 0 in 1 rec 1',
        '\t\t\tmcast-macaddr 01:00:5e:01:01:01 refcnt 1',
        '\t\tgroup 224.0.0.1 refcnt 1 state silent mode exclude asm 1 ex 1 in 0 rec 0',
        '\t\t\tmcast-macaddr 01:00:5e:00:00:01 refcnt 1',
        '\tinet6 fe80::5a9c:fcff:fe10:abcd%em0 scopeid 0x2',
        '\tmldv2 flags=2<USEALLOW> rv 2 qi 125 qri 10 uri 1 v1timer 0 v2timer 0',
        '\t\tgroup ff02::1:ff10:abcd%em0 scopeid 0x2 refcnt 1',
        '\t\t\tmcast-macaddr 33:33:ff:10:ab:cd refcnt 1',
        '\t\tgroup ff02::1%em0 scopeid 0x2 refcnt 1',
        '\t\t\tmcast-macaddr 33:33:00:00:00:01 refcnt 2',
        '\t\tgroup ff01::1%em0 scopeid 0x2 refcnt 1',
        '\t\t\tmcast-macaddr 33:33:00:00:00:01 refcnt 2',
        '\tlink 58:9c:fc:10:ab:cd',
        '\t\tgroup 01:00:5e:01:02:03 refcnt 1',
        '\t\tgroup 01:00:5e:01:01:01 refcnt 1',
        '\t\tgroup 01:00:5e:00:00:01 refcnt 1',
        '\t\tgroup 33:33:ff:10:ab:cd refcnt 1',
        '\t\tgroup 33:33:00:00:00:01 refcnt 2',
        '',
      ].join('\n'),
    );
    // -K lists every interface, even without -i; a second socket on a group raises its refcnt.
    const all = ifmcstat(tree, ['-K']).stdout;
    expect(all).toMatch(/^lo0:\n\tinet 127\.0\.0\.1\n/);
    expect(all).not.toMatch(/\tlink /);
  });

  it('-K counts a second listener and shows a leaving group', () => {
    const { L, h, tree, so } = sample();
    const so2 = h.inet.socket();
    so2.setsockopt(IPPROTO_IP, IP_ADD_MEMBERSHIP, { imr_multiaddr: '239.1.2.3' });
    expect(ifmcstat(tree, ['-K', '-i', 'em0', '-f', 'inet']).stdout).toMatch(/group 239\.1\.2\.3 refcnt 2 state reporting mode exclude\n/);
    so2.close();
    so.close();
    // The v3 leave is being retransmitted: the group is still listed, leaving, undefined at t1.
    expect(ifmcstat(tree, ['-K', '-i', 'em0', '-f', 'inet']).stdout).toMatch(/group 239\.1\.2\.3 refcnt 0 state leaving mode undefined\n/);
    L.run(10_000);
    expect(ifmcstat(tree, ['-K', '-i', 'em0', '-f', 'inet']).stdout).not.toMatch(/239\.1\.2\.3/);
  });

  it('-M reads a snapshot: the output of that instant, whatever the host does later', () => {
    const { L, tree, so } = sample();
    const dir = mkdtempSync(join(tmpdir(), 'taplab-snap-'));
    try {
      const file = join(dir, 'h1.snap');
      writeSnapshot(tree, file);
      const before = { v: ifmcstat(tree, ['-v']), k: ifmcstat(tree, ['-K', '-vv']) };
      so.close();
      L.run(10_000);
      expect(ifmcstat(tree, ['-v']).stdout).not.toBe(before.v.stdout);
      const fromSnap = ifmcstat(tree, ['-v', '-M', file], { openCore: readSnapshot });
      expect(fromSnap).toEqual(before.v);
      expect(ifmcstat(tree, ['-M', file, '-K', '-vv'], { openCore: readSnapshot })).toEqual(before.k);
      expect(ifmcstat(tree, ['-M', file, '-i', 'em0', '-f', 'inet6'], { openCore: readSnapshot }).stdout).toMatch(/^em0:\n\tinet6 fe80::/);
      // Errors: a missing file, a file that is not a snapshot, -N.
      const missing = ifmcstat(tree, ['-M', join(dir, 'nope')], { openCore: readSnapshot });
      expect(missing).toMatchObject({ stdout: '', code: 71 });
      expect(missing.stderr).toMatch(/^ifmcstat: kvm_openfiles: .*nope: no such snapshot file\n$/);
      writeFileSync(join(dir, 'bad'), '{"x":1}');
      expect(ifmcstat(tree, ['-M', join(dir, 'bad')], { openCore: readSnapshot }).stderr).toMatch(/not a taplab snapshot/);
      expect(ifmcstat(tree, ['-M', file])).toMatchObject({ code: 64 });
      const n = ifmcstat(tree, ['-N', '/boot/kernel/kernel']);
      expect(n).toMatchObject({ stdout: '', code: 64 });
      expect(n.stderr).toMatch(/taplab has no kernel name list/);
      expect(ifmcstatTool.name).toBe('ifmcstat');
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('--help prints the usage and the options to stdout and exits 0', () => {
    const { tree } = sample();
    const r = ifmcstat(tree, ['--help']);
    expect(r.code).toBe(0);
    expect(r.stderr).toBe('');
    expect(r.stdout).toMatch(/^usage: ifmcstat /);
    for (const o of ['-i', '-f', '-v', '-K', '-M', '-N']) expect(r.stdout).toContain(`  ${o} `);
  });

  it('reads nothing but the tree (get on sysctl names only)', () => {
    const { tree } = sample();
    const names: string[] = [];
    const spy = {
      get: (n: string | number[]) => {
        names.push(String(n));
        return tree.get(n);
      },
    } as unknown as SysctlTree;
    expect(ifmcstat(spy, [])).toEqual(ifmcstat(tree, []));
    expect(names.length).toBeGreaterThan(0);
    for (const n of names) expect(n).toMatch(/^(debug\.taplab\.kvm|net\.(route\.(iflist|ifmalist)|inet\.igmp\.ifinfo\.\d+|inet6\.mld\.ifinfo\.\d+|inet\.ip\.mcast\.filters\.\d+\.\d+|inet6\.ip6\.mcast\.filters(\.\d+){5}))$/);
  });
});

describe('sysctl: the filter and membership-list leaves', () => {
  const u32 = (a: number, b: number, c: number, d: number) => (((a << 24) | (b << 16) | (c << 8) | d) >>> 0);

  it('net.inet.ip.mcast.filters: mode and sources, typed and as bytes', () => {
    const { tree, em0 } = sample();
    const r = tree.get(`net.inet.ip.mcast.filters.${em0.if_index}.${u32(232, 1, 1, 1)}`);
    expect(r.value).toEqual({ fmode: 1, sources: ['198.51.100.7'] });
    expect(Array.from(r.bytes)).toEqual([1, 0, 0, 0, 198, 51, 100, 7]);
    const x = tree.get(`net.inet.ip.mcast.filters.${em0.if_index}.${u32(239, 1, 2, 3)}`);
    expect(x.value).toEqual({ fmode: 2, sources: [] });
    expect(Array.from(x.bytes)).toEqual([2, 0, 0, 0]);
    const oid = tree.name2oid(`net.inet.ip.mcast.filters.${em0.if_index}.${u32(232, 1, 1, 1)}`);
    expect(oid.slice(0, 3)).toEqual([4, 2, 0]);
    expect(tree.get(oid).bytes).toEqual(r.bytes);
    expect(tree.list('net.inet.ip.mcast.filters')).toContain(`net.inet.ip.mcast.filters.${em0.if_index}.${u32(232, 1, 1, 1)}`);
  });

  it('net.inet.ip.mcast.filters errors (§4.6)', () => {
    const { tree, em0 } = sample();
    const i = em0.if_index;
    expect(code(() => tree.set(`net.inet.ip.mcast.filters.${i}.${u32(232, 1, 1, 1)}`, new Uint8Array(4)))).toBe('EPERM');
    expect(code(() => tree.get(`net.inet.ip.mcast.filters.${i}`))).toBe('EINVAL');
    expect(code(() => tree.get(`net.inet.ip.mcast.filters.${i}.1.2`))).toBe('EINVAL');
    expect(code(() => tree.get([...tree.name2oid(`net.inet.ip.mcast.filters.${i}.${u32(232, 1, 1, 1)}`).slice(0, -2)]))).toBe('EINVAL');
    expect(code(() => tree.get(`net.inet.ip.mcast.filters.${i}.${u32(192, 0, 2, 1)}`))).toBe('EINVAL');
    expect(code(() => tree.get(`net.inet.ip.mcast.filters.99.${u32(232, 1, 1, 1)}`))).toBe('ENOENT');
    const none = tree.get(`net.inet.ip.mcast.filters.${i}.${u32(239, 9, 9, 9)}`);
    expect(none.value).toEqual({ fmode: 0, sources: [] });
    expect(none.bytes.length).toBe(0);
  });

  it('net.inet6.ip6.mcast.filters: four words, errors', () => {
    const { tree, em0 } = sample();
    const i = em0.if_index;
    const r = tree.get(`net.inet6.ip6.mcast.filters.${i}.${0xff020000}.0.0.1`);
    expect(r.value).toEqual({ fmode: 2, sources: [] });
    expect(Array.from(r.bytes)).toEqual([2, 0, 0, 0]);
    expect(tree.name2oid(`net.inet6.ip6.mcast.filters.${i}.${0xff020000}.0.0.1`).slice(0, 3)).toEqual([4, 28, 41]);
    expect(code(() => tree.set(`net.inet6.ip6.mcast.filters.${i}.${0xff020000}.0.0.1`, new Uint8Array(4)))).toBe('EPERM');
    expect(code(() => tree.get(`net.inet6.ip6.mcast.filters.${i}.${0xff020000}.0.0`))).toBe('EINVAL');
    expect(code(() => tree.get(`net.inet6.ip6.mcast.filters.${i}.${0xfe800000}.0.0.1`))).toBe('EINVAL');
    expect(code(() => tree.get(`net.inet6.ip6.mcast.filters.99.${0xff020000}.0.0.1`))).toBe('ENOENT');
    expect(tree.get(`net.inet6.ip6.mcast.filters.${i}.${0xff0e0000}.0.0.1`).bytes.length).toBe(0);
  });

  it('net.route.iflist and net.route.ifmalist: getifaddrs/getifmaddrs order', () => {
    const { tree } = sample();
    const ifl = tree.get('net.route.iflist');
    const list = ifl.value as IflistEntry[];
    expect(list.filter((a) => a.ifname === 'em0')).toMatchObject([
      { ifindex: 2, ifname: 'em0', family: 'link', addr: '58:9c:fc:10:ab:cd', scopeid: 0, prefixlen: null, mtu: 1500, flags: 0x8843 },
      { ifindex: 2, ifname: 'em0', family: 'inet6', addr: 'fe80::5a9c:fcff:fe10:abcd', scopeid: 2, prefixlen: 64, netmask: null },
      { ifindex: 2, ifname: 'em0', family: 'inet', addr: '192.0.2.10', scopeid: 0, prefixlen: 24, netmask: '255.255.255.0', broadaddr: '192.0.2.255' },
    ]);
    expect((list[1 + list.findIndex((a) => a.ifname === 'em0')].data as { ipackets: number }).ipackets).toBe(0);
    expect(list.find((a) => a.ifname === 'em0')!.data).toMatchObject({ ifi_mtu: 1500, ifi_datalen: 152 });
    expect(list[0]).toMatchObject({ ifindex: 1, ifname: 'lo0', family: 'link' });
    expect(JSON.parse(new TextDecoder().decode(ifl.bytes))).toEqual(list);
    const ma = tree.get('net.route.ifmalist').value as IfmalistEntry[];
    expect(ma.filter((m) => m.ifname === 'em0').map((m) => [m.family, m.group, m.lladdr])).toEqual([
      ['inet', '239.1.2.3', '01:00:5e:01:02:03'],
      ['link', '01:00:5e:01:02:03', null],
      ['inet', '232.1.1.1', '01:00:5e:01:01:01'],
      ['link', '01:00:5e:01:01:01', null],
      ['inet', '224.0.0.1', '01:00:5e:00:00:01'],
      ['link', '01:00:5e:00:00:01', null],
      ['inet6', 'ff02::1:ff10:abcd', '33:33:ff:10:ab:cd'],
      ['link', '33:33:ff:10:ab:cd', null],
      ['inet6', 'ff02::1', '33:33:00:00:00:01'],
      ['inet6', 'ff01::1', '33:33:00:00:00:01'],
      ['link', '33:33:00:00:00:01', null],
    ]);
    expect(code(() => tree.set('net.route.ifmalist', new Uint8Array(0)))).toBe('EPERM');
  });
});
