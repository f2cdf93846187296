import { describe, expect, it } from 'vitest';
import { vlab } from '../helpers/vlab.js';
import { kerr } from '../../src/kern/errno.js';
import { SysctlTree, type SysctlInfo, type SysctlValue } from '../../src/stats/sysctl.js';
import { hostEnv, runToolToString, type SysctlReader, type SysctlWriter, type ToolEnv } from '../../src/tools/tool.js';
import { sysctlTool } from '../../src/tools/sysctl_cmd.js';
import { TOOLS } from '../../src/tools/registry.js';
import { SnapshotTree, takeSnapshot } from '../../src/stats/snapshot.js';

/** em0 (58:9c:fc:10:ab:cd, 192.0.2.10/24, link-local) after DAD, as in ifmcstat.test.ts. */
function sample() {
  const L = vlab(1);
  const seg = L.segment();
  const h = L.host('h1');
  const em0 = L.attach(h, seg, { name: 'em0', mac: '58:9c:fc:10:ab:cd' });
  h.inet.v4.addAddress(em0, '192.0.2.10/24');
  L.run(3000);
  const tree = new SysctlTree(h);
  const env = hostEnv(h, tree, { out: () => {}, err: () => {} });
  return { L, h, em0, tree, env };
}

type Env = Omit<ToolEnv, 'out' | 'err'>;

function run(env: Env, ...argv: string[]) {
  return runToolToString(sysctlTool, env, argv);
}

const USAGE = 'usage: sysctl [-bdeiNnoqtx] name[=value] ...\n       sysctl [-bdeNnoqtx] -a\n';

describe('sysctl: reading leaves of a live host', () => {
  it('is registered', () => {
    expect(TOOLS.get('sysctl')).toBe(sysctlTool);
  });

  it('prints name: value, and each option changes the shape', async () => {
    const { env } = sample();
    const n = 'net.link.generic.system.ifcount';
    expect(await run(env, n)).toEqual({ stdout: `${n}: 2\n`, stderr: '', code: 0 });
    expect((await run(env, '-n', n)).stdout).toBe('2\n');
    expect((await run(env, '-e', n)).stdout).toBe(`${n}=2\n`);
    expect((await run(env, '-N', n)).stdout).toBe(`${n}\n`);
    expect((await run(env, '-d', n)).stdout).toBe(`${n}: Number of configured interfaces\n`);
    expect((await run(env, '-t', n)).stdout).toBe(`${n}: integer\n`);
    expect((await run(env, '-dt', n)).stdout).toBe(`${n}: integer: Number of configured interfaces\n`);
    expect((await run(env, '-nt', n)).stdout).toBe('integer\n');
    expect((await run(env, '-x', n)).stdout).toBe(`${n}: 0x00000002\n`);
    expect((await run(env, '-x', '-n', 'net.inet.igmp.default_version')).stdout).toBe('0x00000003\n');
  });

  it('prints strings as text (the ifdata drivername column is a string)', async () => {
    const { env } = sample();
    expect((await run(env, 'net.link.generic.ifdata.2.drivername')).stdout).toBe('net.link.generic.ifdata.2.drivername: em0\n');
    expect((await run(env, '-t', 'net.link.generic.ifdata.1.drivername')).stdout).toBe('net.link.generic.ifdata.1.drivername: string\n');
  });

  it('a node prints every leaf beneath it, skipping opaque structs without a formatter', async () => {
    const { env } = sample();
    expect(await run(env, 'net.link.generic.ifdata')).toEqual({
      stdout: 'net.link.generic.ifdata.1.drivername: lo0\nnet.link.generic.ifdata.2.drivername: em0\n',
      stderr: '',
      code: 0,
    });
    expect((await run(env, 'net.link.generic.ifdata.2')).stdout).toBe('net.link.generic.ifdata.2.drivername: em0\n');
    // -N lists every name, opaque ones included.
    expect((await run(env, '-N', 'net.link.generic.ifdata.2')).stdout).toBe(
      'net.link.generic.ifdata.2.general\nnet.link.generic.ifdata.2.linkspecific\nnet.link.generic.ifdata.2.drivername\n',
    );
    expect((await run(env, '-t', 'net.link.generic.ifdata.2')).stdout).toBe(
      'net.link.generic.ifdata.2.general: opaque\nnet.link.generic.ifdata.2.linkspecific: opaque\nnet.link.generic.ifdata.2.drivername: string\n',
    );
  });

  it('an opaque leaf named alone prints nothing (exit 0) without -o/-x, as FreeBSD', async () => {
    const { env } = sample();
    expect(await run(env, 'net.inet.igmp.stats')).toEqual({ stdout: '', stderr: '', code: 0 });
  });

  it('-o dumps 16 bytes with FreeBSD\'s "..." rule; -x dumps every byte', async () => {
    const { env } = sample();
    expect((await run(env, '-o', 'net.inet.igmp.stats')).stdout).toBe(
      'net.inet.igmp.stats: Format:S,igmpstat Length:168 Dump:0x03000000a80000000000000000000000...\n',
    );
    // igmp_ifinfo, 36 bytes (>= 34): cut with "...".
    expect((await run(env, '-o', 'net.inet.igmp.ifinfo.2')).stdout).toBe(
      'net.inet.igmp.ifinfo.2: Format:S,igmp_ifinfo Length:36 Dump:0x03000000000000000000000000000000...\n',
    );
    // mld_ifinfo, 32 bytes (17..33): cut without "...".
    expect((await run(env, '-o', 'net.inet6.mld.ifinfo.2')).stdout).toBe(
      'net.inet6.mld.ifinfo.2: Format:S,mld_ifinfo Length:32 Dump:0x02000000000000000000000002000000\n',
    );
    expect((await run(env, '-x', 'net.inet.igmp.ifinfo.2')).stdout).toBe(
      'net.inet.igmp.ifinfo.2: Format:S,igmp_ifinfo Length:36 Dump:0x0300000000000000000000000000000000000000020000007d0000000a00000001000000\n',
    );
    // 4 bytes (<= 16): all of them, and still "...".
    expect((await run(env, '-o', 'net.inet.ip.mcast.filters.2.3758096385')).stdout).toBe(
      'net.inet.ip.mcast.filters.2.3758096385: Format:S,in_addr_filter Length:4 Dump:0x02000000...\n',
    );
  });

  it('-b writes the raw bytes (a latin1 string, one char per byte) and no newline', async () => {
    const { env, tree } = sample();
    expect((await run(env, '-b', 'net.link.generic.system.ifcount')).stdout).toBe('\x02\x00\x00\x00');
    expect((await run(env, '-b', 'net.link.generic.ifdata.2.drivername')).stdout).toBe('em0\x00');
    const r = await run(env, '-b', 'net.link.generic.ifdata.2.general');
    expect(Uint8Array.from(Buffer.from(r.stdout, 'latin1'))).toEqual(tree.get('net.link.generic.ifdata.2.general').bytes);
    expect(r.stdout.length).toBe(208);
  });

  it('the S,json leaves print as one line of JSON (taplab extension)', async () => {
    const { env, tree } = sample();
    const r = await run(env, '-n', 'net.route.iflist');
    expect(r.stdout.endsWith('\n')).toBe(true);
    expect(r.stdout.split('\n').length).toBe(2);
    expect(JSON.parse(r.stdout)).toEqual(JSON.parse(JSON.stringify(tree.get('net.route.iflist').value)));
    expect((await run(env, '-n', 'net.route.ifmalist')).stdout).toContain('"group":"224.0.0.1"');
  });

  it('-a lists leaves in OID order, without unformatted opaque structs (with them under -o)', async () => {
    const { env } = sample();
    const plain = (await run(env, '-a')).stdout;
    expect(plain).toContain('net.link.generic.system.ifcount: 2\nnet.link.generic.ifdata.1.drivername: lo0\nnet.link.generic.ifdata.2.drivername: em0\n');
    expect(plain).toContain('net.inet.igmp.default_version: 3\n');
    expect(plain).not.toContain('net.inet.igmp.stats');
    expect(plain).not.toContain('Format:');
    expect(plain.indexOf('net.inet.igmp')).toBeLessThan(plain.indexOf('net.link.generic')); // net.inet (2) before net.link (18)
    const o = (await run(env, '-ao')).stdout;
    expect(o).toContain('net.inet.igmp.stats: Format:S,igmpstat Length:168 Dump:0x');
    expect(o).toContain('net.link.generic.ifdata.2.general: Format:S,ifmibdata Length:208 Dump:0x656d3000');
  });
});

describe('sysctl: writes', () => {
  it('NAME=VALUE prints old -> new and changes the protocol knob', async () => {
    const { env, h } = sample();
    expect(h.igmp.knobs.default_version).toBe(3);
    expect(await run(env, 'net.inet.igmp.default_version=2')).toEqual({ stdout: 'net.inet.igmp.default_version: 3 -> 2\n', stderr: '', code: 0 });
    expect(h.igmp.knobs.default_version).toBe(2);
    expect((await run(env, '-n', 'net.inet.igmp.default_version=0x1')).stdout).toBe('2 -> 1\n');
    expect(h.igmp.knobs.default_version).toBe(1);
    expect((await run(env, '-e', 'net.inet.igmp.default_version: "3"')).stdout).toBe('net.inet.igmp.default_version=1 -> 3\n');
    expect(h.igmp.knobs.default_version).toBe(3);
    expect((await run(env, 'net.inet.igmp.default_version=02')).stdout).toBe('net.inet.igmp.default_version: 3 -> 2\n');
  });

  it('a value the kernel refuses: the old value, then the errno sentence; nothing changes', async () => {
    const { env, h } = sample();
    expect(await run(env, 'net.inet.igmp.default_version=7')).toEqual({
      stdout: 'net.inet.igmp.default_version: 3\n',
      stderr: 'sysctl: net.inet.igmp.default_version=7: Invalid argument\n',
      code: 1,
    });
    expect(h.igmp.knobs.default_version).toBe(3);
    // Writes where FreeBSD answers EPERM (the driver name).
    expect(await run(env, 'net.link.generic.ifdata.2.drivername=xx0')).toEqual({
      stdout: 'net.link.generic.ifdata.2.drivername: em0\n',
      stderr: 'sysctl: net.link.generic.ifdata.2.drivername=xx0: Operation not permitted\n',
      code: 1,
    });
  });

  it('values that do not parse, and leaves that cannot be set', async () => {
    const { env, h } = sample();
    const err = async (arg: string) => {
      const r = await run(env, arg);
      expect(r.stdout).toBe('');
      expect(r.code).toBe(1);
      return r.stderr;
    };
    expect(await err('net.inet.igmp.default_version=abc')).toBe("sysctl: invalid integer 'abc'\n");
    expect(await err('net.inet.igmp.default_version=08')).toBe("sysctl: invalid integer '08'\n");
    expect(await err('net.inet.igmp.default_version=2x')).toBe("sysctl: invalid integer '2x'\n");
    expect(await err('net.inet.igmp.default_version=4294967298')).toBe("sysctl: invalid integer '4294967298'\n");
    expect(await err('net.inet.igmp.default_version=')).toBe('sysctl: empty numeric value\n');
    expect(await err('net.link.generic.system.ifcount=3')).toBe("sysctl: oid 'net.link.generic.system.ifcount' is read only\n");
    expect(await err('net.inet.igmp=1')).toBe("sysctl: oid 'net.inet.igmp' isn't a leaf node\n");
    expect(await err('net.inet.igmp.stats=0')).toBe("sysctl: oid 'net.inet.igmp.stats' is type 5, cannot set that\n");
    expect(await err('net.route.iflist=[]')).toBe("sysctl: oid 'net.route.iflist' is read only\n");
    expect(h.igmp.knobs.default_version).toBe(3);
  });

  it('-d with NAME=VALUE only describes, as FreeBSD', async () => {
    const { env, h } = sample();
    expect((await run(env, '-d', 'net.inet.igmp.default_version=1')).stdout).toBe(
      'net.inet.igmp.default_version: Default version of IGMP to run on each interface\n',
    );
    expect(h.igmp.knobs.default_version).toBe(3);
  });
});

describe('sysctl: unknown names and usage', () => {
  it('unknown oids: one line each, -q hides it, -i ignores the name; the exit status counts failures', async () => {
    const { env } = sample();
    expect(await run(env, 'foo.bar')).toEqual({ stdout: '', stderr: "sysctl: unknown oid 'foo.bar'\n", code: 1 });
    expect(await run(env, '-q', 'foo.bar')).toEqual({ stdout: '', stderr: '', code: 1 });
    expect(await run(env, '-i', 'foo.bar')).toEqual({ stdout: '', stderr: '', code: 0 });
    // A table row that does not exist is unknown, as FreeBSD's name lookup says.
    expect((await run(env, 'net.link.generic.ifdata.9.general')).stderr).toBe("sysctl: unknown oid 'net.link.generic.ifdata.9.general'\n");
    // A malformed table name: the lookup's errno follows.
    expect((await run(env, 'net.inet.igmp.ifinfo.1.2')).stderr).toBe("sysctl: unknown oid 'net.inet.igmp.ifinfo.1.2': Invalid argument\n");
    expect(await run(env, 'foo', 'net.link.generic.system.ifcount', 'net.inet.igmp.default_version=9')).toEqual({
      stdout: 'net.link.generic.system.ifcount: 2\nnet.inet.igmp.default_version: 3\n',
      stderr: "sysctl: unknown oid 'foo'\nsysctl: net.inet.igmp.default_version=9: Invalid argument\n",
      code: 2,
    });
  });

  it('usage errors print the usage to stderr and exit 1; --help prints to stdout and exits 0', async () => {
    const { env } = sample();
    expect(await run(env)).toEqual({ stdout: '', stderr: USAGE, code: 1 });
    expect(await run(env, '-N', '-n', '-a')).toEqual({ stdout: '', stderr: USAGE, code: 1 });
    expect(await run(env, '-z', 'kern')).toEqual({ stdout: '', stderr: 'sysctl: illegal option -- z\n' + USAGE, code: 1 });
    const help = await run(env, '--help');
    expect(help.code).toBe(0);
    expect(help.stderr).toBe('');
    expect(help.stdout.startsWith(USAGE)).toBe(true);
    expect(help.stdout).toContain('latin1');
  });
});

describe('sysctl on a snapshot (no writer)', () => {
  it('reads work and every write is refused with one line', async () => {
    const { tree, h } = sample();
    const env: Env = { tree, sleep: async () => {} };
    expect((await run(env, 'net.link.generic.system.ifcount')).stdout).toBe('net.link.generic.system.ifcount: 2\n');
    expect(await run(env, 'net.inet.igmp.default_version=2')).toEqual({
      stdout: '',
      stderr: "sysctl: oid 'net.inet.igmp.default_version' cannot be set: this tree is a snapshot, not a live host\n",
      code: 1,
    });
    expect(h.igmp.knobs.default_version).toBe(3);
    // Read-only is still said as such.
    expect((await run(env, 'net.link.generic.system.ifcount=1')).stderr).toBe("sysctl: oid 'net.link.generic.system.ifcount' is read only\n");
  });

  it('a host snapshot (SnapshotTree) answers as the live tree did; writes are refused', async () => {
    const { tree, env: live, h } = sample();
    const snap: Env = { tree: new SnapshotTree(JSON.parse(JSON.stringify(takeSnapshot(tree)))), sleep: async () => {} };
    for (const argv of [['net.inet.igmp'], ['-o', 'net.inet.igmp.stats'], ['-b', 'net.link.generic.ifdata.2.general'], ['-d', 'net.link.generic.ifdata.2']])
      expect(await run(snap, ...argv)).toEqual(await run(live, ...argv));
    expect(await run(snap, 'net.inet.igmp.default_version=2')).toEqual({
      stdout: '',
      stderr: "sysctl: oid 'net.inet.igmp.default_version' is read only\n",
      code: 1,
    });
    expect(h.igmp.knobs.default_version).toBe(3);
  });

  it('a reader without describe(): formats are inferred from the values', async () => {
    const { tree } = sample();
    const bare: SysctlReader = { get: (n) => tree.get(n), list: (p) => tree.list(p), name2oid: (n) => tree.name2oid(n) };
    const env: Env = { tree: bare, sleep: async () => {} };
    expect((await run(env, 'net.link.generic.ifdata.2')).stdout).toBe('net.link.generic.ifdata.2.drivername: em0\n');
    expect((await run(env, '-t', 'net.inet.igmp.default_version')).stdout).toBe('net.inet.igmp.default_version: integer\n');
    expect((await run(env, 'net.inet.igmp.default_version=2')).stderr).toBe(
      "sysctl: oid 'net.inet.igmp.default_version' cannot be set: this tree is a snapshot, not a live host\n",
    );
    expect((await run(env, 'nope')).stderr).toBe("sysctl: unknown oid 'nope'\n");
  });
});

/**
 * A tree of made-up leaves, one per format, to pin the generic rules:
 * signedness, widths, arrays, 64-bit values, strings and the dump cut.
 */
function fakeTree() {
  const le = (bits: 32 | 64, ...ns: bigint[]): Uint8Array => {
    const out = new Uint8Array((ns.length * bits) / 8);
    const dv = new DataView(out.buffer);
    ns.forEach((n, i) => (bits === 32 ? dv.setUint32(i * 4, Number(BigInt.asUintN(32, n)), true) : dv.setBigUint64(i * 8, BigInt.asUintN(64, n), true)));
    return out;
  };
  const seq = (n: number) => Uint8Array.from({ length: n }, (_, i) => i);
  const leaves: Record<string, { fmt: string; descr: string; v: SysctlValue; writable?: boolean }> = {
    't.int.neg': { fmt: 'I', descr: 'a negative int', v: { value: -1, bytes: le(32, -1n) }, writable: true },
    't.int.uint': { fmt: 'IU', descr: 'an unsigned int', v: { value: 0xffffffff, bytes: le(32, 0xffffffffn) }, writable: true },
    't.int.zero': { fmt: 'I', descr: 'zero', v: { value: 0, bytes: le(32, 0n) } },
    't.int.array': { fmt: 'I', descr: 'three ints', v: { value: [1, 2, 3], bytes: le(32, 1n, 2n, 3n) }, writable: true },
    't.q.signed': { fmt: 'Q', descr: 'int64', v: { value: -5n, bytes: le(64, -5n) }, writable: true },
    't.q.big': { fmt: 'QU', descr: 'uint64', v: { value: 2n ** 64n - 1n, bytes: le(64, 2n ** 64n - 1n) }, writable: true },
    't.str': { fmt: 'A', descr: 'a string', v: { value: 'hello', bytes: new TextEncoder().encode('hello\0') }, writable: true },
    't.op.b16': { fmt: 'S,x16', descr: '16 bytes', v: { value: null, bytes: seq(16) } },
    't.op.b17': { fmt: 'S,x17', descr: '17 bytes', v: { value: null, bytes: seq(17) } },
    't.op.b33': { fmt: 'S,x33', descr: '33 bytes', v: { value: null, bytes: seq(33) } },
    't.op.b34': { fmt: 'S,x34', descr: '34 bytes', v: { value: null, bytes: seq(34) } },
    't.op.empty': { fmt: 'S,none', descr: 'no bytes', v: { value: null, bytes: new Uint8Array(0) } },
  };
  const names = Object.keys(leaves);
  const sets: Array<[string, unknown]> = [];
  const tree: SysctlWriter & { describe(n: string): SysctlInfo } = {
    get(name) {
      const l = leaves[String(name)];
      if (!l) throw kerr('ENOENT', `sysctl ${String(name)}: unknown oid`);
      return l.v;
    },
    list(prefix) {
      if (!prefix) return names;
      const hits = names.filter((n) => n === prefix || n.startsWith(prefix + '.'));
      if (!hits.length) throw kerr('ENOENT', `sysctl ${prefix}: unknown oid`);
      return hits;
    },
    name2oid(name) {
      if (!leaves[name]) throw kerr('ENOENT', `sysctl ${name}: unknown oid`);
      return [names.indexOf(name)];
    },
    describe(name) {
      const l = leaves[String(name)];
      if (!l) throw kerr('ENOENT', `sysctl ${String(name)}: unknown oid`);
      return { name: String(name), oid: [names.indexOf(String(name))], fmt: l.fmt, descr: l.descr, writable: l.writable ?? false };
    },
    set(name, value) {
      sets.push([String(name), value]);
    },
  };
  const env: Env = { tree, writer: tree, sleep: async () => {} };
  return { env, sets };
}

describe('sysctl: formats, generically from fmt', () => {
  it('-a golden listing (opaque skipped)', async () => {
    const { env } = fakeTree();
    expect(await run(env, '-a')).toEqual({
      stdout: [
        't.int.neg: -1',
        't.int.uint: 4294967295',
        't.int.zero: 0',
        't.int.array: 1 2 3',
        't.q.signed: -5',
        't.q.big: 18446744073709551615',
        't.str: hello',
        '',
      ].join('\n'),
      stderr: '',
      code: 0,
    });
  });

  it('-x pads to the type width with 0x, and a zero prints as zeros (printf %#0*jx)', async () => {
    const { env } = fakeTree();
    expect((await run(env, '-x', 't.int')).stdout).toBe(
      't.int.neg: 0xffffffff\nt.int.uint: 0xffffffff\nt.int.zero: 0000000000\nt.int.array: 0x00000001 0x00000002 0x00000003\n',
    );
    expect((await run(env, '-x', 't.q')).stdout).toBe('t.q.signed: 0xfffffffffffffffb\nt.q.big: 0xffffffffffffffff\n');
  });

  it('-o: "..." after 16 bytes exactly when the length is <= 16 or >= 34', async () => {
    const { env } = fakeTree();
    const hex = (n: number) => Array.from({ length: n }, (_, i) => i.toString(16).padStart(2, '0')).join('');
    expect((await run(env, '-o', 't.op')).stdout).toBe(
      [
        `t.op.b16: Format:S,x16 Length:16 Dump:0x${hex(16)}...`,
        `t.op.b17: Format:S,x17 Length:17 Dump:0x${hex(16)}`,
        `t.op.b33: Format:S,x33 Length:33 Dump:0x${hex(16)}`,
        `t.op.b34: Format:S,x34 Length:34 Dump:0x${hex(16)}...`,
        '',
      ].join('\n'),
    );
    expect((await run(env, '-x', 't.op.b34')).stdout).toBe(`t.op.b34: Format:S,x34 Length:34 Dump:0x${hex(34)}\n`);
    // A zero-length opaque value prints nothing, even with -o.
    expect((await run(env, '-o', 't.op.empty')).stdout).toBe('');
  });

  it('writes parse per type: unsigned, 64-bit, arrays, strings; out-of-range values are refused', async () => {
    const { env, sets } = fakeTree();
    expect((await run(env, 't.int.uint=4294967295')).code).toBe(0);
    expect((await run(env, 't.int.uint=-1')).stderr).toBe("sysctl: invalid unsigned integer '-1'\n");
    expect((await run(env, 't.int.neg=-2147483649')).stderr).toBe("sysctl: invalid integer '-2147483649'\n");
    expect((await run(env, 't.q.signed=-9223372036854775808')).code).toBe(0);
    expect((await run(env, 't.q.big=18446744073709551616')).stderr).toBe("sysctl: invalid uint64_t '18446744073709551616'\n");
    expect((await run(env, 't.int.array=7, 8 9')).code).toBe(0);
    expect((await run(env, "t.str='new text'")).stdout).toBe('t.str: hello -> hello\n');
    expect(sets).toEqual([
      ['t.int.uint', 4294967295],
      ['t.q.signed', -9223372036854775808n],
      ['t.int.array', Uint8Array.from([7, 0, 0, 0, 8, 0, 0, 0, 9, 0, 0, 0])],
      ['t.str', 'new text'],
    ]);
    expect((await run(env, 't.int.zero=1')).stderr).toBe("sysctl: oid 't.int.zero' is read only\n");
  });
});
