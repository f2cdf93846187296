import { describe, expect, it } from 'vitest';
import { vlab } from '../helpers/vlab.js';
import { IPPROTO_IP, IP_ADD_MEMBERSHIP, IP_ADD_SOURCE_MEMBERSHIP } from '../../src/inet/socket.js';
import { SysctlTree } from '../../src/stats/sysctl.js';
import { humanize, netstatTool } from '../../src/tools/netstat.js';
import { hostEnv, runToolToString, type ToolEnv } from '../../src/tools/tool.js';
import { IFF_UP } from '../../src/driver/if_var.js';
import type { Host } from '../../src/host.js';
import type { Ifnet } from '../../src/driver/ifnet.js';

/**
 * The state of freebsd-formats.md §1.7/§2.2 on a taplab host: em0 with MAC
 * 58:9c:fc:10:ab:cd, 192.0.2.10/24 and its EUI-64 link-local, an SSM join
 * of 232.1.1.1 from 198.51.100.7 and an ASM join of 239.1.2.3. taplab's lo0
 * is interface 1 (em0 is 2) and has no fe80::1%lo0.
 */
function sample() {
  const L = vlab(1);
  const seg = L.segment();
  const h = L.host('h1');
  const em0 = L.attach(h, seg, { name: 'em0', mac: '58:9c:fc:10:ab:cd' });
  h.inet.v4.addAddress(em0, '192.0.2.10/24');
  L.run(3000);
  const so = h.inet.socket();
  so.setsockopt(IPPROTO_IP, IP_ADD_SOURCE_MEMBERSHIP, { imr_multiaddr: '232.1.1.1', imr_sourceaddr: '198.51.100.7' });
  so.setsockopt(IPPROTO_IP, IP_ADD_MEMBERSHIP, { imr_multiaddr: '239.1.2.3' });
  L.run(10_000);
  const tree = new SysctlTree(h);
  const run = (argv: string[], opts: { signal?: AbortSignal; readOnly?: boolean } = {}) => {
    const env: Omit<ToolEnv, 'out' | 'err'> = hostEnv(h, tree, { out: () => {}, err: () => {}, signal: opts.signal });
    return runToolToString(netstatTool, opts.readOnly ? { ...env, writer: undefined } : env, argv);
  };
  return { L, h, em0, so, tree, run };
}

/** Put the counters of §2.2's composed sample on the interfaces and addresses. */
function sampleCounters(h: Host, em0: Ifnet): void {
  const zero = (ifp: Ifnet) => {
    const d = ifp.if_data;
    d.ifi_ipackets = d.ifi_opackets = d.ifi_ierrors = d.ifi_oerrors = d.ifi_iqdrops = d.ifi_oqdrops = d.ifi_collisions = 0;
    d.ifi_ibytes = d.ifi_obytes = d.ifi_imcasts = d.ifi_omcasts = 0;
    for (const a of ifp.if_addrhead) a.ifa_ipackets = a.ifa_opackets = a.ifa_ibytes = a.ifa_obytes = 0;
  };
  zero(h.lo0);
  zero(em0);
  em0.if_data.ifi_ipackets = 1379;
  em0.if_data.ifi_opackets = 980;
  em0.if_data.ifi_ibytes = 163948;
  em0.if_data.ifi_obytes = 99821;
  em0.if_data.ifi_imcasts = 12;
  em0.if_data.ifi_omcasts = 27;
  const v4 = em0.if_addrhead.find((a) => a.ifa_addr.family === 2)!;
  Object.assign(v4, { ifa_ipackets: 1304, ifa_opackets: 966, ifa_ibytes: 150112, ifa_obytes: 98210 });
  const ll = em0.if_addrhead.find((a) => a.ifa_addr.family === 28)!;
  Object.assign(ll, { ifa_ipackets: 22, ifa_opackets: 31 });
  h.lo0.if_data.ifi_ipackets = 44;
  h.lo0.if_data.ifi_opackets = 44;
  const lo4 = h.lo0.if_addrhead.find((a) => a.ifa_addr.family === 2)!;
  Object.assign(lo4, { ifa_ipackets: 44, ifa_opackets: 44 });
}

const HDR = 'Name    Mtu Network        Address                          Ipkts Ierrs Idrop    Opkts Oerrs  Coll';
// §2.2's rows, verbatim, with taplab's interface numbers (lo0 is 1, em0 is 2).
const LO0_LINK = 'lo0   16384 <Link#1>       lo0                                 44     0     0       44     0     0';
const LO0_V4 = 'lo0       - 127.0.0.0/8    127.0.0.1                           44     -     -       44     -     -';
const LO0_V6 = 'lo0       - ::1/128        ::1                                  0     -     -        0     -     -';
const EM0_LINK = 'em0    1500 <Link#2>       58:9c:fc:10:ab:cd                 1379     0     0      980     0     0';
const EM0_LL = 'em0       - fe80::%em0/64  fe80::5a9c:fcff:fe10:abcd%em0       22     -     -       31     -     -';
const EM0_V4 = 'em0       - 192.0.2.0/24   192.0.2.10                        1304     -     -      966     -     -';

describe('netstat -i (§2.2)', () => {
  it('-in prints the composed sample rows byte for byte (taplab order: lo0 first, addresses in attach order)', async () => {
    const { h, em0, run } = sample();
    sampleCounters(h, em0);
    const r = await run(['-in']);
    expect(r).toEqual({ stdout: [HDR, LO0_LINK, LO0_V4, LO0_V6, EM0_LINK, EM0_LL, EM0_V4, ''].join('\n'), stderr: '', code: 0 });
    // -i alone is the same (taplab never resolves names).
    expect((await run(['-i'])).stdout).toBe(r.stdout);
  });

  it('-inbd: the byte and drop columns, with the trailing blank after Drop', async () => {
    const { h, em0, run } = sample();
    sampleCounters(h, em0);
    const lines = (await run(['-inbd', '-I', 'em0'])).stdout.split('\n');
    expect(lines[0]).toBe('Name    Mtu Network        Address                          Ipkts Ierrs Idrop     Ibytes    Opkts Oerrs     Obytes  Coll  Drop');
    expect(lines[1]).toBe('em0    1500 <Link#2>       58:9c:fc:10:ab:cd                 1379     0     0     163948      980     0      99821     0     0 ');
    expect(lines[3]).toBe('em0       - 192.0.2.0/24   192.0.2.10                        1304     -     -     150112      966     -      98210     -     - ');
  });

  it('-I and -f filter rows; -f inet drops the link rows', async () => {
    const { h, em0, run } = sample();
    sampleCounters(h, em0);
    expect((await run(['-in', '-I', 'em0'])).stdout).toBe([HDR, EM0_LINK, EM0_LL, EM0_V4, ''].join('\n'));
    // The widths are measured over the rows shown: Network 12, Address 10 here.
    expect((await run(['-in', '-f', 'inet'])).stdout).toBe(
      [
        'Name    Mtu Network       Address       Ipkts Ierrs Idrop    Opkts Oerrs  Coll',
        'lo0       - 127.0.0.0/8   127.0.0.1        44     -     -       44     -     -',
        'em0       - 192.0.2.0/24  192.0.2.10     1304     -     -      966     -     -',
        '',
      ].join('\n'),
    );
    // Network and Address are at least 8 wide.
    expect((await run(['-in', '-6', '-I', 'lo0'])).stdout).toBe(
      ['Name    Mtu Network   Address     Ipkts Ierrs Idrop    Opkts Oerrs  Coll', 'lo0       - ::1/128   ::1             0     -     -        0     -     -', ''].join('\n'),
    );
    // An interface nobody has: the header alone, as FreeBSD's intpr prints.
    expect(await run(['-in', '-I', 'em9'])).toEqual({ stdout: HDR + '\n', stderr: '', code: 0 });
  });

  it('widths grow with wide counters (2 + one per division while > 10), per column group', async () => {
    const { h, em0, run } = sample();
    sampleCounters(h, em0);
    em0.if_data.ifi_ipackets = 123456789012; // 12 digits: quirky length 13
    em0.if_data.ifi_iqdrops = 1000000; // 1e6: 2 + 5 = 7 (a power of ten stays one short)
    const lines = (await run(['-in', '-I', 'em0'])).stdout.split('\n');
    expect(lines[0]).toBe('Name    Mtu Network        Address                               Ipkts   Ierrs   Idrop         Opkts   Oerrs    Coll');
    expect(lines[1]).toBe('em0    1500 <Link#2>       58:9c:fc:10:ab:cd              123456789012       0 1000000           980       0       0');
    expect(lines[3]).toBe('em0       - 192.0.2.0/24   192.0.2.10                             1304       -       -           966       -       -');
  });

  it('an interface that is down carries a * and widens the name column when needed', async () => {
    const { h, em0, run } = sample();
    sampleCounters(h, em0);
    em0.if_flags &= ~IFF_UP;
    const out = (await run(['-in', '-I', 'em0'])).stdout.split('\n');
    expect(out[1]).toBe('em0*   1500 <Link#2>       58:9c:fc:10:ab:cd                 1379     0     0      980     0     0');
    const L = vlab(2);
    const host = L.host('h2');
    const long = L.attach(host, L.segment(), { name: 'vlan12', mac: '02:00:00:00:00:01' });
    long.if_flags &= ~IFF_UP;
    const t = new SysctlTree(host);
    const r = await runToolToString(netstatTool, hostEnv(host, t, { out: () => {}, err: () => {} }), ['-in', '-I', 'vlan12']);
    const [hdr, row] = r.stdout.split('\n');
    expect(hdr.startsWith('Name      Mtu Network')).toBe(true); // "vlan12*" is 7 wide
    expect(row.startsWith('vlan12*  1500 <Link#2>')).toBe(true);
  });

  it('-h humanizes into at most four characters (÷1000 for packets, ÷1024 for bytes)', async () => {
    expect([humanize(0, true), humanize(999, true), humanize(1379, true), humanize(12345, true), humanize(999_950, true), humanize(163948, false)]).toEqual([
      '0',
      '999',
      '1.4k',
      '12k',
      '1.0M',
      '160K',
    ]);
    const { h, em0, run } = sample();
    sampleCounters(h, em0);
    const row = (await run(['-inh', '-I', 'em0'])).stdout.split('\n')[1];
    expect(row).toBe('em0    1500 <Link#2>       58:9c:fc:10:ab:cd                 1.4k     0     0      980     0     0');
  });
});

describe('netstat -ia (§2.3)', () => {
  it('lists each interface-family membership under its rows: 26 blanks, %-17.17s, imcasts/omcasts on link lines', async () => {
    const { h, em0, run } = sample();
    sampleCounters(h, em0);
    const out = (await run(['-ina', '-I', 'em0'])).stdout.split('\n');
    const B = ' '.repeat(26);
    expect(out).toEqual([
      HDR,
      EM0_LINK,
      // newest first, as getifmaddrs gives them
      `${B}01:00:5e:01:02:03       12             27`,
      `${B}01:00:5e:01:01:01       12             27`,
      `${B}01:00:5e:00:00:01       12             27`,
      `${B}33:33:ff:10:ab:cd       12             27`,
      `${B}33:33:00:00:00:01       12             27`,
      EM0_LL,
      `${B}ff02::1:ff10:abcd`, // ff02::1:ff10:abcd%em0 cut to 17
      `${B}ff02::1%em0      `,
      `${B}ff01::1%em0      `,
      EM0_V4,
      `${B}239.1.2.3        `,
      `${B}232.1.1.1        `,
      `${B}224.0.0.1        `,
      '',
    ]);
  });

  it('-W prints whole addresses after 28 blanks; -b widens the gap between imcasts and omcasts to 17', async () => {
    const { h, em0, run } = sample();
    sampleCounters(h, em0);
    const out = (await run(['-inaW', '-I', 'em0'])).stdout.split('\n');
    expect(out).toContain(`${' '.repeat(28)}ff02::1:ff10:abcd%em0`);
    expect(out).toContain(`${' '.repeat(28)}33:33:00:00:00:01       12             27`);
    const b = (await run(['-inab', '-I', 'em0'])).stdout.split('\n');
    expect(b).toContain(`${' '.repeat(26)}33:33:00:00:00:01       12${' '.repeat(17)}       27`);
  });
});

describe('netstat -w (§2.4)', () => {
  const tick = async () => {
    for (let i = 0; i < 20; i++) await Promise.resolve();
  };

  it('prints the first interval as a delta, then each interval, and stops after -q lines', async () => {
    const { L, em0, h, run } = sample();
    sampleCounters(h, em0);
    const p = run(['-w', '1', '-q', '2', '-I', 'em0', '-d']);
    await tick();
    em0.if_data.ifi_ipackets += 12;
    em0.if_data.ifi_ibytes += 1320;
    em0.if_data.ifi_opackets += 8;
    em0.if_data.ifi_obytes += 1024;
    L.run(1000);
    await tick();
    em0.if_data.ifi_ipackets += 3;
    em0.if_data.ifi_ibytes += 180;
    em0.if_data.ifi_oqdrops += 2;
    L.run(1000);
    await tick();
    const r = await p;
    expect(r.code).toBe(0);
    expect(r.stdout).toBe(
      [
        '            input            em0           output',
        '   packets  errs idrops      bytes    packets  errs      bytes colls drops',
        '        12     0     0       1320          8     0       1024     0     0 ',
        '         3     0     0        180          0     0          0     0     2 ',
        '',
      ].join('\n'),
    );
  });

  it('(Total) sums every interface, and the banner comes back after 21 lines', async () => {
    const { L, run } = sample();
    const p = run(['-w', '2', '-q', '22']);
    for (let i = 0; i < 22; i++) {
      await tick();
      L.run(2000);
    }
    await tick();
    const lines = (await p).stdout.split('\n');
    const b1 = '            input        (Total)           output';
    const b2 = '   packets  errs idrops      bytes    packets  errs      bytes colls';
    expect(lines[0]).toBe(b1);
    expect(lines[1]).toBe(b2);
    expect(lines[23]).toBe(b1);
    expect(lines[24]).toBe(b2);
    expect(lines.length).toBe(2 + 21 + 2 + 1 + 1);
    expect(lines.filter((l) => l === b1).length).toBe(2);
  });

  it('an abort ends the display with status 0; an unknown -I exits 65', async () => {
    const { L, run } = sample();
    const ac = new AbortController();
    const p = run(['-w', '1'], { signal: ac.signal });
    await tick();
    L.run(1000);
    await tick();
    ac.abort(new Error('stop'));
    const r = await p;
    expect(r.code).toBe(0);
    expect(r.stdout.split('\n').length).toBe(2 + 1 + 1);
    const { run: run2 } = sample();
    expect(await run2(['-w', '1', '-I', 'em9'])).toEqual({ stdout: '', stderr: 'netstat: interface em9 not found\n', code: 65 });
  });
});
