import { describe, expect, it } from 'vitest';
import { vlab } from '../helpers/vlab.js';
import { kerr } from '../../src/kern/errno.js';
import { SysctlTree } from '../../src/stats/sysctl.js';
import { if_link_state_change } from '../../src/driver/ifnet.js';
import { IFF_PPROMISC, IFF_PROMISC, IFF_UP, LINK_STATE_DOWN, SIOCSIFFLAGS } from '../../src/driver/if_var.js';
import { hostEnv, runToolToString, type ToolEnv } from '../../src/tools/tool.js';
import { ifconfigTool } from '../../src/tools/ifconfig.js';
import { TOOLS } from '../../src/tools/registry.js';
import { SnapshotTree, takeSnapshot } from '../../src/stats/snapshot.js';

/** em0 (58:9c:fc:10:ab:cd, 192.0.2.10/24, link-local) after DAD, as in ifmcstat.test.ts. */
function sample(settle = 3000) {
  const L = vlab(1);
  const seg = L.segment();
  const h = L.host('h1');
  const em0 = L.attach(h, seg, { name: 'em0', mac: '58:9c:fc:10:ab:cd' });
  h.inet.v4.addAddress(em0, '192.0.2.10/24');
  L.run(settle);
  const tree = new SysctlTree(h);
  const env = hostEnv(h, tree, { out: () => {}, err: () => {} });
  return { L, h, em0, tree, env };
}

type Env = Omit<ToolEnv, 'out' | 'err'>;

function run(env: Env, ...argv: string[]) {
  return runToolToString(ifconfigTool, env, argv);
}

/*
 * Where this differs from a FreeBSD box it is because the host does: lo0
 * has no fe80::1 and no capabilities (so no options= or nd6 line), em0's
 * link-local was configured when it attached, before 192.0.2.10, so
 * sortifaddrs() puts its inet6 family first, and taplab does no NUD (no
 * PERFORMNUD). em0 is not made by a cloner, so it has no groups: line.
 */
const LO0 = [
  'lo0: flags=8049<UP,LOOPBACK,RUNNING,MULTICAST> metric 0 mtu 16384',
  '\tinet 127.0.0.1 netmask 0xff000000',
  '\tinet6 ::1 prefixlen 128',
  '\tgroups: lo',
];
const EM0_HEAD = 'em0: flags=8843<UP,BROADCAST,RUNNING,SIMPLEX,MULTICAST> metric 0 mtu 1500';
const EM0_BODY = [
  '\toptions=80008<VLAN_MTU,LINKSTATE>',
  '\tether 58:9c:fc:10:ab:cd',
  '\tinet6 fe80::5a9c:fcff:fe10:abcd%em0 prefixlen 64 scopeid 0x2',
  '\tinet 192.0.2.10 netmask 0xffffff00 broadcast 192.0.2.255',
  '\tmedia: Ethernet autoselect',
  '\tstatus: active',
  '\tnd6 options=20<AUTO_LINKLOCAL>',
];
const EM0 = [EM0_HEAD, ...EM0_BODY];
const lines = (...l: string[]) => l.join('\n') + '\n';

const USAGE =
  'usage: ifconfig [-n] interface [address_family] [parameters]\n' +
  '       ifconfig -a [-d] [-u] [address_family]\n' +
  '       ifconfig -l [-d] [-u] [address_family]\n' +
  '       ifconfig [-d] [-u]\n';

describe('ifconfig: display', () => {
  it('is registered', () => {
    expect(TOOLS.get('ifconfig')).toBe(ifconfigTool);
  });

  it('with no arguments, and with -a, shows every interface', async () => {
    const { env } = sample();
    const all = { stdout: lines(...LO0, ...EM0), stderr: '', code: 0 };
    expect(await run(env)).toEqual(all);
    expect(await run(env, '-a')).toEqual(all);
    expect(await run(env, '-n')).toEqual(all);
  });

  it('one interface, and one address family', async () => {
    const { env } = sample();
    expect(await run(env, 'em0')).toEqual({ stdout: lines(...EM0), stderr: '', code: 0 });
    expect((await run(env, 'lo0')).stdout).toBe(lines(...LO0));
    expect((await run(env, 'em0', 'inet')).stdout).toBe(lines(EM0_HEAD, EM0_BODY[0], EM0_BODY[3]));
    expect((await run(env, 'em0', 'ether')).stdout).toBe(lines(EM0_HEAD, EM0_BODY[0], EM0_BODY[1]));
    // inet6 brings the nd6 line, as af_inet6's other-status does.
    expect((await run(env, '-a', 'inet6')).stdout).toBe(
      lines(LO0[0], LO0[2], EM0_HEAD, EM0_BODY[0], EM0_BODY[2], EM0_BODY[6]),
    );
    expect((await run(env, '-a', 'link')).stdout).toBe(lines(LO0[0], EM0_HEAD, EM0_BODY[0], EM0_BODY[1]));
  });

  it('-l lists names; an address family keeps the interfaces that have one', async () => {
    const { env } = sample();
    expect(await run(env, '-l')).toEqual({ stdout: 'lo0 em0\n', stderr: '', code: 0 });
    expect((await run(env, '-l', 'inet')).stdout).toBe('lo0 em0\n');
    expect((await run(env, '-l', 'ether')).stdout).toBe('em0\n');
    expect((await run(env, '-l', '-d')).stdout).toBe('\n');
    expect((await run(env, '-lu')).stdout).toBe('lo0 em0\n');
  });

  it('addresses are grouped by family in the order each family first appears (sortifaddrs)', async () => {
    const { L, h, em0, env } = sample();
    h.inet.v6.addAddress(em0, '2001:db8::10/64');
    L.run(3000);
    expect((await run(env, 'em0')).stdout).toBe(
      lines(
        EM0_HEAD,
        EM0_BODY[0],
        EM0_BODY[1],
        EM0_BODY[2],
        '\tinet6 2001:db8::10 prefixlen 64',
        EM0_BODY[3],
        ...EM0_BODY.slice(4),
      ),
    );
  });

  it('an IPv6 address still in DAD is tentative', async () => {
    const { env } = sample(0);
    expect((await run(env, 'em0', 'inet6')).stdout).toBe(
      lines(EM0_HEAD, EM0_BODY[0], '\tinet6 fe80::5a9c:fcff:fe10:abcd%em0 prefixlen 64 tentative scopeid 0x2', EM0_BODY[6]),
    );
  });

  it('a link without carrier says so', async () => {
    const { em0, env } = sample();
    if_link_state_change(em0, LINK_STATE_DOWN);
    expect((await run(env, 'em0')).stdout).toContain('\tmedia: Ethernet autoselect\n\tstatus: no carrier\n');
  });
});

describe('ifconfig: parameters on a live host', () => {
  it('down clears IFF_UP (and the driver stops: no RUNNING); up brings it back', async () => {
    const { em0, env } = sample();
    expect(await run(env, 'em0', 'down')).toEqual({ stdout: '', stderr: '', code: 0 });
    expect(em0.if_flags & IFF_UP).toBe(0);
    expect((await run(env, 'em0')).stdout.split('\n')[0]).toBe('em0: flags=8802<BROADCAST,SIMPLEX,MULTICAST> metric 0 mtu 1500');
    expect((await run(env, '-d')).stdout).toBe(lines('em0: flags=8802<BROADCAST,SIMPLEX,MULTICAST> metric 0 mtu 1500', ...EM0_BODY));
    expect((await run(env, '-l', '-u')).stdout).toBe('lo0\n');
    expect((await run(env, 'em0', 'up')).code).toBe(0);
    expect(em0.if_flags & IFF_UP).toBe(IFF_UP);
    expect((await run(env, 'em0')).stdout).toBe(lines(...EM0));
  });

  it('promisc sets the permanent IFF_PPROMISC, which turns IFF_PROMISC on; -promisc undoes both', async () => {
    const { em0, env } = sample();
    expect((await run(env, 'em0', 'promisc')).code).toBe(0);
    expect(em0.if_flags & (IFF_PPROMISC | IFF_PROMISC)).toBe(IFF_PPROMISC | IFF_PROMISC);
    expect((await run(env, 'em0')).stdout.split('\n')[0]).toBe(
      'em0: flags=28943<UP,BROADCAST,RUNNING,PROMISC,SIMPLEX,MULTICAST,PPROMISC> metric 0 mtu 1500',
    );
    expect((await run(env, 'em0', '-promisc')).code).toBe(0);
    expect(em0.if_flags & (IFF_PPROMISC | IFF_PROMISC)).toBe(0);
    expect((await run(env, 'em0')).stdout.split('\n')[0]).toBe(EM0_HEAD);
  });

  it('mtu N, and several parameters in one command, applied in order', async () => {
    const { em0, env } = sample();
    expect((await run(env, 'em0', 'mtu', '1400')).code).toBe(0);
    expect(em0.if_mtu).toBe(1400);
    expect((await run(env, 'em0', 'inet', 'down', 'mtu', '1280', '-arp', 'up')).code).toBe(0);
    expect(em0.if_mtu).toBe(1280);
    expect((await run(env, 'em0')).stdout.split('\n')[0]).toBe('em0: flags=88c3<UP,BROADCAST,RUNNING,NOARP,SIMPLEX,MULTICAST> metric 0 mtu 1280');
  });

  it('a refused ioctl ends the run with FreeBSD\'s sentence; earlier parameters stay applied', async () => {
    const { em0, env } = sample();
    expect(await run(env, 'em0', 'mtu', '1400', 'mtu', '50', 'down')).toEqual({
      stdout: '',
      stderr: 'ifconfig: ioctl SIOCSIFMTU (set mtu): Invalid argument\n',
      code: 1,
    });
    expect(em0.if_mtu).toBe(1400);
    expect(em0.if_flags & IFF_UP).toBe(IFF_UP);
    // atoi: a word that is not a number is MTU 0.
    expect((await run(env, 'em0', 'mtu', 'abc')).stderr).toBe('ifconfig: ioctl SIOCSIFMTU (set mtu): Invalid argument\n');
  });

  it('SIOCSIFFLAGS errors: EPERM and ENXIO have their own words, others strerror', async () => {
    const { h, tree } = sample();
    const failing = (code: 'EPERM' | 'ENXIO' | 'EINVAL'): Env => ({
      ...hostEnv(h, tree, { out: () => {}, err: () => {} }),
      ioctl: (cmd, ifr) => {
        if (cmd === SIOCSIFFLAGS) throw kerr(code, 'refused');
        return h.ioctl(cmd, ifr);
      },
    });
    expect(await run(failing('EPERM'), 'em0', 'up')).toEqual({ stdout: '', stderr: 'ifconfig: up: permission denied\n', code: 1 });
    expect((await run(failing('ENXIO'), 'em0', 'down')).stderr).toBe('ifconfig: down: no such interface\n');
    expect((await run(failing('EINVAL'), 'em0', 'promisc')).stderr).toBe('ifconfig: promisc: Invalid argument\n');
  });

  it('parameters taplab does not have, addresses and nonsense are refused in one line', async () => {
    const { env, em0 } = sample();
    expect(await run(env, 'em0', 'metric', '3')).toEqual({
      stdout: '',
      stderr: "ifconfig: 'metric' is not supported by taplab's ifconfig (it sets up, down, mtu, promisc, arp, debug, link0-2, monitor, staticarp)\n",
      code: 1,
    });
    expect((await run(env, 'em0', '192.0.2.20/24')).stderr).toBe(
      "ifconfig: 192.0.2.20/24: setting addresses is not supported by taplab's ifconfig (give them in the lab file or to taplab host)\n",
    );
    expect(await run(env, 'em0', 'frobnicate')).toEqual({ stdout: '', stderr: 'ifconfig: frobnicate: bad value\n', code: 1 });
    expect(await run(env, 'em0', 'mtu')).toEqual({ stdout: '', stderr: "ifconfig: 'mtu' requires argument\n", code: 1 });
    // 'down' came first and was applied before the bad word stopped the run.
    expect((await run(env, 'em0', 'down', 'frobnicate')).code).toBe(1);
    expect(em0.if_flags & IFF_UP).toBe(0);
  });
});

describe('ifconfig: errors and usage', () => {
  it('an unknown interface', async () => {
    const { env } = sample();
    expect(await run(env, 'em9')).toEqual({ stdout: '', stderr: 'ifconfig: interface em9 does not exist\n', code: 1 });
    expect(await run(env, 'em9', 'up')).toEqual({ stdout: '', stderr: 'ifconfig: interface em9 does not exist\n', code: 1 });
  });

  it('bad options and combinations print the usage and exit 1; --help goes to stdout, exit 0', async () => {
    const { env } = sample();
    expect(await run(env, '-z')).toEqual({ stdout: '', stderr: 'ifconfig: illegal option -- z\n' + USAGE, code: 1 });
    expect(await run(env, '-a', '-l')).toEqual({ stdout: '', stderr: USAGE, code: 1 });
    expect(await run(env, '-u', '-d')).toEqual({ stdout: '', stderr: USAGE, code: 1 });
    expect(await run(env, '-a', 'inet', 'inet6')).toEqual({ stdout: '', stderr: USAGE, code: 1 });
    expect(await run(env, '-a', 'appletalk')).toEqual({ stdout: '', stderr: "ifconfig: Address family 'appletalk' unknown.\n" + USAGE, code: 1 });
    const help = await run(env, '--help');
    expect(help.code).toBe(0);
    expect(help.stderr).toBe('');
    expect(help.stdout.startsWith(USAGE)).toBe(true);
    expect(help.stdout).toContain('promisc');
  });

  it('a snapshot (no ioctl) shows everything and refuses every change', async () => {
    const { tree, em0 } = sample();
    const env: Env = { tree, sleep: async () => {} };
    expect((await run(env)).stdout).toBe(lines(...LO0, ...EM0));
    expect(await run(env, 'em0', 'down')).toEqual({
      stdout: '',
      stderr: 'ifconfig: em0: cannot change a snapshot: there is no live host to send ioctls to\n',
      code: 1,
    });
    expect(em0.if_flags & IFF_UP).toBe(IFF_UP);
    // A host snapshot read back from its file format shows the same.
    const snap: Env = { tree: new SnapshotTree(JSON.parse(JSON.stringify(takeSnapshot(tree)))), sleep: async () => {} };
    expect((await run(snap, '-a')).stdout).toBe(lines(...LO0, ...EM0));
    expect((await run(snap, 'em0', 'mtu', '1400')).code).toBe(1);
  });
});
