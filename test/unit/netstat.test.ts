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
    expect(await run(['-in', '-I', 'em9'])).toEqual({ stdout: 'Name    Mtu Network   Address     Ipkts Ierrs Idrop    Opkts Oerrs  Coll\n', stderr: '', code: 0 });
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
    // humanize_number also scales up when the remainder is at least half the divisor.
    expect([humanize(999_500, true), humanize(999_949, true), humanize(1_023_500, false)]).toEqual(['1.0M', '1.0M', '1.0M']);
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
    expect(await run2(['-w', '1', '-I', 'em9'])).toEqual({ stdout: '', stderr: 'netstat: interface em9 not found: Device not configured\n', code: 65 });
  });
});

const U = (lines: string[]) => lines.map((l) => l.replaceAll('→', '\t')).join('\n') + '\n';

describe('netstat -s, -ss, -p, -z (§2.5, §2.7, inet.c)', () => {
  it('-s -p igmp prints §2.7 composed sample byte for byte', async () => {
    const { h, run } = sample();
    const st = h.igmp.stat;
    for (const k of Object.keys(st) as (keyof typeof st)[]) if (k !== 'igps_version' && k !== 'igps_len') (st as unknown as Record<string, number>)[k] = 0;
    Object.assign(st, { igps_rcv_total: 12, igps_rcv_v3_queries: 4, igps_rcv_gen_queries: 4, igps_rcv_reports: 8, igps_snd_reports: 9 });
    const r = await run(['-s', '-p', 'igmp']);
    expect(r).toEqual({
      stdout: U([
        'igmp:',
        '→12 messages received',
        '→0 messages received with too few bytes',
        '→0 messages received with wrong TTL',
        '→0 messages received with bad checksum',
        '→0 V1/V2 membership queries received',
        '→4 V3 membership queries received',
        '→0 membership queries received with invalid field(s)',
        '→4 general queries received',
        '→0 group queries received',
        '→0 group-source queries received',
        '→0 group-source queries dropped',
        '→8 membership reports received',
        '→0 membership reports received with invalid field(s)',
        '→0 membership reports received for groups to which we belong',
        '→0 V3 reports received without Router Alert',
        '→9 membership reports sent',
      ]),
      stderr: '',
      code: 0,
    });
    // -ss keeps only the non-zero lines; a count of one is singular.
    st.igps_rcv_total = 1;
    expect((await run(['-ss', '-p', 'igmp'])).stdout).toBe(
      U(['igmp:', '→1 message received', '→4 V3 membership queries received', '→4 general queries received', '→8 membership reports received', '→9 membership reports sent']),
    );
  });

  it('-s -p udp: inet.c texts, with "delivered" computed', async () => {
    const { h, run } = sample();
    Object.assign(h.inet.udpstat, { udps_ipackets: 10, udps_noport: 3, udps_opackets: 1, udps_filtermcast: 2 });
    expect((await run(['-s', '-p', 'udp'])).stdout).toBe(
      U([
        'udp:',
        '→10 datagrams received',
        '→0 with incomplete header',
        '→0 with bad data length field',
        '→0 with bad checksum',
        '→0 with no checksum',
        '→3 dropped due to no socket',
        '→0 broadcast/multicast datagrams undelivered',
        '→0 dropped due to full socket buffers',
        '→0 not for hashed pcb',
        '→7 delivered',
        '→1 datagram output',
        '→2 times multicast source filter matched',
      ]),
    );
  });

  it('-s prints udp, ip, icmp, igmp, ip6, icmp6 in protox order; TCP and the others taplab lacks are skipped', async () => {
    const { run } = sample();
    const r = await run(['-s']);
    const titles = r.stdout.split('\n').filter((l) => /^[a-z0-9]+:$/.test(l));
    expect(titles).toEqual(['udp:', 'ip:', 'icmp:', 'igmp:', 'ip6:', 'icmp6:']);
    expect(r.stderr).toBe('');
    expect((await run(['-s', '-4'])).stdout.split('\n').filter((l) => /^[a-z0-9]+:$/.test(l))).toEqual(['udp:', 'ip:', 'icmp:', 'igmp:']);
    expect((await run(['-s', '-6'])).stdout.split('\n').filter((l) => /^[a-z0-9]+:$/.test(l))).toEqual(['udp:', 'ip6:', 'icmp6:']);
    expect(await run(['-s', '-p', 'tcp'])).toEqual({ stdout: '', stderr: '', code: 0 });
    expect(await run(['-s', '-p', 'divert'])).toEqual({ stdout: 'divert: no stats routine\n', stderr: '', code: 0 });
    // icmp6: the MLD reports the sample sent show in the output histogram
    const icmp6 = (await run(['-s', '-p', 'icmp6'])).stdout;
    expect(icmp6).toMatch(/\tOutput histogram:\n(\t\t.+\n)*\t\tMLDv2 listener report: \d+\n/);
    expect(icmp6).toContain('\tHistogram of error messages to be generated:\n\t\t0 no route\n');
  });

  it('-z writes zeroes to each statistics leaf and prints the zeroed structure; a read-only tree refuses', async () => {
    const { h, so, run } = sample();
    expect(h.inet.ipstat.ips_localout).toBeGreaterThan(0);
    const r = await run(['-s', '-z', '-p', 'ip']);
    expect(r.stdout).toContain('\t0 packets sent from this host\n');
    expect(h.inet.ipstat.ips_localout).toBe(0);
    h.inet.socket().bind('192.0.2.10', 9);
    so.send('x', '192.0.2.10', 9);
    expect((await run(['-s', '-p', 'ip'])).stdout).toContain('\t1 packet sent from this host\n');
    const igmp = await run(['-sz', '-p', 'igmp']);
    // As on FreeBSD, the zeroed buffer has no version header.
    expect(igmp.stderr).toBe('netstat: igmp_stats: version mismatch (0 != 3)\nnetstat: igmp_stats: size mismatch (0 != 168)\n');
    expect(h.igmp.stat.igps_snd_reports).toBe(0);
    const ro = await run(['-sz', '-p', 'udp'], { readOnly: true });
    expect(ro).toEqual({ stdout: '', stderr: 'netstat: sysctl net.inet.udp.stats: Operation not permitted\n', code: 0 });
  });

  it('per-interface statistics: -s -I em0 -p ip6 and -i -s (every interface, ip6 then icmp6)', async () => {
    const { run } = sample();
    const ip6 = (await run(['-s', '-I', 'em0', '-p', 'ip6'])).stdout.split('\n');
    expect(ip6[0]).toBe('ip6 on em0:');
    expect(ip6.slice(1, 21).map((l) => l.replace(/\d+/, 'N'))).toEqual([
      '\tN total input datagrams',
      '\tN datagrams with invalid header received',
      '\tN datagrams exceeded MTU received',
      '\tN datagrams with no route received',
      '\tN datagrams with invalid dst received',
      '\tN datagrams with unknown proto received',
      '\tN truncated datagrams received',
      '\tN input datagrams discarded',
      '\tN datagrams delivered to an upper layer protocol',
      '\tN datagrams forwarded to this interface',
      '\tN datagrams sent from an upper layer protocol',
      '\tN total discarded output datagrams',
      '\tN output datagrams fragmented',
      '\tN output datagrams failed on fragment',
      '\tN output datagrams succeeded on fragment',
      '\tN incoming datagrams fragmented',
      '\tN datagrams reassembled',
      '\tN datagrams failed on reassembly',
      '\tN multicast datagrams received',
      '\tN multicast datagrams sent',
    ]);
    const all = (await run(['-i', '-s'])).stdout.split('\n').filter((l) => l.endsWith(':'));
    expect(all).toEqual(['ip6 on lo0:', 'ip6 on em0:', 'icmp6 on lo0:', 'icmp6 on em0:']);
    const mld = (await run(['-ss', '-I', 'em0', '-p', 'icmp6'])).stdout;
    expect(mld).toMatch(/^icmp6 on em0:\n\t\d+ total output messages\n/);
    expect(mld).toMatch(/\t\d+ output MLD reports\n/);
    expect(await run(['-s', '-I', 'em0', '-p', 'ip'])).toEqual({ stdout: 'ip: no per-interface stats routine\n', stderr: '', code: 0 });
  });
});

describe('netstat sockets (protopr)', () => {
  it('lists UDP sockets with FreeBSD\'s columns; -a adds wildcard-bound ones; -A, -W and -L', async () => {
    const { h, run } = sample();
    const s6 = h.inet.socket('inet6');
    s6.bind('::', 1234);
    const s4 = h.inet.socket();
    s4.bind('192.0.2.10', 7777);
    s4.send('hello', '192.0.2.10', 7777);
    const w = h.inet.socket();
    w.bind('0.0.0.0', 5353);
    const hdr = 'Proto Recv-Q Send-Q Local Address          Foreign Address        (state)    ';
    expect(await run(['-n'])).toEqual({
      stdout: ['Active Internet connections', hdr, 'udp4       5      0 192.0.2.10.7777        *.*                    ', ''].join('\n'),
      stderr: '',
      code: 0,
    });
    expect((await run(['-an'])).stdout).toBe(
      [
        'Active Internet connections (including servers)',
        hdr,
        'udp4       0      0 *.5353                 *.*                    ',
        'udp4       5      0 192.0.2.10.7777        *.*                    ',
        'udp6       0      0 *.1234                 *.*                    ',
        '',
      ].join('\n'),
    );
    expect((await run(['-an', '-6'])).stdout.split('\n').slice(2)).toEqual(['udp6       0      0 *.1234                 *.*                    ', '']);
    // -W with IPv6 widens the address columns to 45.
    expect((await run(['-anW', '-6'])).stdout.split('\n')[1]).toBe(`Proto Recv-Q Send-Q ${'Local Address'.padEnd(45)} ${'Foreign Address'.padEnd(45)} (state)    `);
    const A = (await run(['-anA'])).stdout.split('\n');
    expect(A[1]).toBe('Tcpcb            Proto Recv-Q Send-Q Local Address      Foreign Address    (state)    ');
    expect(A[2]).toMatch(/^ {15}[0-9a-f] udp4       0      0 \*\.5353             \*\.\*                $/);
    // -L: listen queues are TCP's; the title and header only.
    expect((await run(['-aL'])).stdout).toBe('Current listen queue sizes (qlen/incqlen/maxqlen)\nProto Listen                           Local Address         \n');
    // JSON: FreeBSD's keys
    const j = JSON.parse((await run(['-an', '--libxo', 'json'])).stdout);
    expect(j.statistics.socket[1]).toEqual({
      protocol: 'udp4',
      'receive-bytes-waiting': 5,
      'send-bytes-waiting': 0,
      local: { address: '192.0.2.10', port: '7777' },
      remote: { address: '*', port: '*' },
    });
  });
});

describe('netstat -r, -rs, -g, -m', () => {
  it('-r: route.c columns; IPv6 widths 33/29 with -n, cut at 18 without', async () => {
    const { h, run } = sample();
    h.inet.v4.addDefaultRoute('192.0.2.1');
    const r = await run(['-r']);
    expect(r.stdout).toBe(
      [
        'Routing tables',
        '',
        'Internet:',
        'Destination        Gateway            Flags     Netif Expire',
        'default            192.0.2.1          UGS         em0',
        '127.0.0.0/8        link#1             U           lo0',
        '127.0.0.1          link#1             UH          lo0',
        '192.0.2.0/24       link#2             U           em0',
        '192.0.2.10         link#2             UHS         lo0',
        '',
        'Internet6:',
        'Destination        Gateway            Flags     Netif Expire',
        '::1                link#1             UH          lo0',
        'fe80::%em0/64      link#2             U           em0',
        'fe80::5a9c:fcff:fe link#2             UHS         lo0',
        '',
      ].join('\n'),
    );
    const n6 = (await run(['-rn', '-f', 'inet6'])).stdout.split('\n');
    expect(n6.slice(0, 4)).toEqual(['Routing tables', '', 'Internet6:', `${'Destination'.padEnd(33)} ${'Gateway'.padEnd(29)} Flags     Netif Expire`]);
    expect(n6[6]).toBe(`${'fe80::5a9c:fcff:fe10:abcd%em0'.padEnd(33)} ${'link#2'.padEnd(29)} UHS         lo0`);
    const W = (await run(['-rW', '-4'])).stdout.split('\n');
    expect(W[3]).toBe('Destination        Gateway            Flags       Use    Mtu      Netif Expire');
    expect(W[4]).toBe('default            192.0.2.1          UGS           0   1500        em0');
    const j = JSON.parse((await run(['-r', '--json'])).stdout);
    const fam = j.statistics['route-information']['route-table']['rt-family'];
    expect(fam.map((f: { 'address-family': string }) => f['address-family'])).toEqual(['Internet', 'Internet6']);
    expect(fam[0]['rt-entry'][0]).toEqual({ destination: 'default', gateway: '192.0.2.1', flags: 'UGS', flags_pretty: ['up', 'gateway', 'static'], 'interface-name': 'em0' });
    expect(await run(['-r', '-F', '1'])).toEqual({ stdout: '', stderr: 'netstat: 1: invalid fib\n', code: 64 });
  });

  it('-rs: routing statistics (unreachable destinations are the routeless sends)', async () => {
    const { h, run } = sample();
    // Bound, so the source is known and ip_output is the one that finds no route.
    const so = h.inet.socket().bind('192.0.2.10', 4444);
    expect(() => so.send('x', '203.0.113.1', 9)).toThrow(/ENETUNREACH/);
    expect(await run(['-rs'])).toEqual({
      stdout: U([
        'routing:',
        '→0 bad routing redirects',
        '→0 dynamically created routes',
        '→0 new gateways due to redirects',
        '→1 destination found unreachable',
        '→0 uses of a wildcard route',
        '→0 routes not in table but not freed',
      ]),
      stderr: '',
      code: 0,
    });
    expect((await run(['-rss'])).stdout).toBe(U(['routing:', '→1 destination found unreachable']));
  });

  it('-g: the multicast routing tables (empty) then the Link-layer, IPv4 and IPv6 memberships', async () => {
    const { run } = sample();
    const G = (g: string, ll: string, ifn: string) => `${g.padEnd(20)}\t${ll.padEnd(16)}\t${ifn}`;
    const hdr = G('Group', 'Link-layer Address', 'Netif');
    expect(await run(['-g'])).toEqual({
      stdout: [
        '',
        'IPv4 Virtual Interface Table is empty',
        '',
        'IPv4 Multicast Forwarding Table is empty',
        '',
        'IPv6 Multicast Interface Table is empty',
        '',
        'IPv6 Multicast Forwarding Table is empty',
        '',
        'Link-layer Multicast Group Memberships',
        hdr,
        G('01:00:5e:01:02:03', '<none>', 'em0'),
        G('01:00:5e:01:01:01', '<none>', 'em0'),
        G('01:00:5e:00:00:01', '<none>', 'em0'),
        G('33:33:ff:10:ab:cd', '<none>', 'em0'),
        G('33:33:00:00:00:01', '<none>', 'em0'),
        '',
        'IPv4 Multicast Group Memberships',
        hdr,
        G('224.0.0.1', '<none>', 'lo0'),
        G('239.1.2.3', '01:00:5e:01:02:03', 'em0'),
        G('232.1.1.1', '01:00:5e:01:01:01', 'em0'),
        G('224.0.0.1', '01:00:5e:00:00:01', 'em0'),
        '',
        'IPv6 Multicast Group Memberships',
        hdr,
        G('ff02::1', '<none>', 'lo0'),
        G('ff01::1', '<none>', 'lo0'),
        G('ff02::1:ff10:abcd', '33:33:ff:10:ab:cd', 'em0'),
        G('ff02::1', '33:33:00:00:00:01', 'em0'),
        G('ff01::1', '33:33:00:00:00:01', 'em0'),
        '',
      ].join('\n'),
      stderr: '',
      code: 0,
    });
    const v4 = (await run(['-g', '-4'])).stdout;
    expect(v4.startsWith('\nIPv4 Virtual Interface Table is empty\n\nIPv4 Multicast Forwarding Table is empty\n\nIPv4 Multicast Group Memberships\n')).toBe(true);
    expect(v4).not.toContain('IPv6');
  });

  it('-m: send queues and socket buffers in netstat -m style', async () => {
    const { h, em0, run } = sample();
    const lo = h.lo0.if_snd.ifq_maxlen;
    const em = em0.if_snd.ifq_maxlen;
    em0.if_snd.ifq_drops = 3;
    const r = await run(['-m']);
    expect(r.stdout.split('\n').slice(0, 3)).toEqual([
      `0/${lo + em}/${lo + em} send queue slots in use (current/free/total)`,
      `0K/${Math.floor((h.lo0.if_snd.buf.byteLength + em0.if_snd.buf.byteLength) / 1024)}K/${Math.floor((h.lo0.if_snd.buf.byteLength + em0.if_snd.buf.byteLength) / 1024)}K bytes allocated to send queues (current/free/total)`,
      '3 requests for send queue slots denied (queue full)',
    ]);
    expect(r.stdout).toContain(`\tem0: 0/${em} slots of ${em0.if_snd.slotSize} bytes, 3 denied\n`);
    expect(r.stdout).toContain('0 datagrams in socket receive buffers (0 sockets)\n');
  });
});

describe('netstat --libxo json (§2.9)', () => {
  it('-i: FreeBSD keys; mtu and the error keys only on link rows; -d repeats dropped-packets; -a nests multicast-address', async () => {
    const { h, em0, run } = sample();
    sampleCounters(h, em0);
    const r = await run(['--libxo', 'json', '-i', '-I', 'em0']);
    const rows = JSON.parse(r.stdout).statistics.interface;
    expect(rows[0]).toEqual({
      name: 'em0',
      flags: '0x8843',
      mtu: 1500,
      network: '<Link#2>',
      address: '58:9c:fc:10:ab:cd',
      'received-packets': 1379,
      'received-errors': 0,
      'dropped-packets': 0,
      'sent-packets': 980,
      'send-errors': 0,
      collisions: 0,
    });
    expect(rows[2]).toEqual({ name: 'em0', flags: '0x8843', network: '192.0.2.0/24', address: '192.0.2.10', 'received-packets': 1304, 'sent-packets': 966 });
    const d = (await run(['--json', '-id', '-I', 'em0'])).stdout;
    expect(d.match(/"dropped-packets"/g)!.length).toBe(2); // iqdrops and oqdrops share the key, as libxo writes them
    const a = JSON.parse((await run(['--libxo=json', '-ia', '-I', 'em0'])).stdout).statistics.interface;
    expect(a[0]['multicast-address'][0]).toEqual({ address: '01:00:5e:01:02:03', 'received-packets': 12, 'sent-packets': 27 });
    expect(a[2]['multicast-address'].map((m: { address: string }) => m.address)).toEqual(['239.1.2.3', '232.1.1.1', '224.0.0.1']);
  });

  it('-s and per-interface statistics carry FreeBSD keys', async () => {
    const { run } = sample();
    const j = JSON.parse((await run(['-s', '--json'])).stdout).statistics;
    expect(Object.keys(j)).toEqual(['udp', 'ip', 'icmp', 'igmp', 'ip6', 'icmp6']);
    expect(j.igmp['sent-membership-reports']).toBeGreaterThan(0);
    expect(j.igmp).toHaveProperty('received-membership-requests');
    expect(j.udp).toHaveProperty('delivered-packets');
    expect(j.icmp6['output-histogram'].map((x: { name: string }) => x.name)).toContain('MLDv2 listener report');
    const i = JSON.parse((await run(['-s', '-I', 'em0', '--json'])).stdout).statistics;
    expect(i['ip6-interface-statistics'][0].name).toBe('em0');
    expect(i['ip6-interface-statistics'][0]).toHaveProperty('discard-fragments');
    expect(i['icmp6-interface-statistics'][0]).toHaveProperty('sent-mld-reports');
  });

  it('-w: interface-statistics instances', async () => {
    const { L, run } = sample();
    const p = run(['--json', '-w', '1', '-q', '1']);
    for (let i = 0; i < 20; i++) await Promise.resolve();
    L.run(1000);
    for (let i = 0; i < 20; i++) await Promise.resolve();
    const j = JSON.parse((await p).stdout);
    expect(Object.keys(j.statistics['interface-statistics'][0])).toEqual([
      'received-packets',
      'received-errors',
      'dropped-packets',
      'received-bytes',
      'sent-packets',
      'send-errors',
      'sent-bytes',
      'collisions',
    ]);
  });
});

describe('netstat: bad input', () => {
  const usage = (s: string) => s.startsWith('usage: netstat [-46AaLnRSTWx] [-f protocol_family | -p protocol]\n') && s.endsWith('       netstat -Q\n');
  it('each error prints one clear line (plus the usage for getopt errors) and the exit status FreeBSD uses', async () => {
    const { run } = sample();
    const bad = await run(['-Y']);
    expect(bad.code).toBe(1);
    expect(bad.stderr.startsWith('netstat: illegal option -- Y\n')).toBe(true);
    expect(usage(bad.stderr.slice('netstat: illegal option -- Y\n'.length))).toBe(true);
    const miss = await run(['-I']);
    expect(miss.code).toBe(1);
    expect(miss.stderr.startsWith('netstat: option requires an argument -- I\nusage: netstat')).toBe(true);
    expect(await run(['-f', 'inet7'])).toEqual({ stdout: '', stderr: 'netstat: inet7: unknown address family\n', code: 1 });
    // Families FreeBSD knows and taplab has nothing of: valid, and empty.
    for (const f of ['pfkey', 'netgraph', 'ng']) expect(await run(['-f', f])).toEqual({ stdout: '', stderr: '', code: 0 });
    expect(await run(['-p', 'foo'])).toEqual({ stdout: '', stderr: 'netstat: foo: unknown or uninstrumented protocol\n', code: 1 });
    expect((await run(['-s', '-p', 'UDP'])).stdout.startsWith('udp:\n')).toBe(true); // an /etc/protocols alias
    expect(await run(['-w', '1', '-I', 'em9'])).toEqual({ stdout: '', stderr: 'netstat: interface em9 not found: Device not configured\n', code: 65 });
    expect((await run(['-M', 'core'])).stderr).toMatch(/^netstat: -M: reading a kernel core needs kvm\(3\)[^\n]*\n$/);
    expect((await run(['-i', '/boot/kernel/kernel'])).code).toBe(1);
    expect((await run(['0'])).code).toBe(1);
    expect((await run(['--libxo', 'xml', '-i'])).stderr).toMatch(/^netstat: --libxo xml: taplab's netstat writes only text or json/);
    const help = await run(['--help']);
    expect(help.code).toBe(0);
    expect(usage(help.stdout)).toBe(true);
    expect(help.stderr).toBe('');
  });
});

describe('per-address counters (ip_input / ip_output, ip6_input / ip6_output)', () => {
  it('a datagram to ourselves counts in and out on its address, with the IP length', async () => {
    const { h, em0, so } = sample();
    const v4 = em0.if_addrhead.find((a) => a.ifa_addr.family === 2)!;
    const before = { ...v4 };
    h.inet.socket().bind('192.0.2.10', 9); // a listener, so no port unreachable comes back
    so.send('hello', '192.0.2.10', 9);
    expect(v4.ifa_opackets).toBe(before.ifa_opackets! + 1);
    expect(v4.ifa_obytes).toBe(before.ifa_obytes! + 20 + 8 + 5);
    expect(v4.ifa_ipackets).toBe(before.ifa_ipackets! + 1);
    expect(v4.ifa_ibytes).toBe(before.ifa_ibytes! + 20 + 8 + 5);
    const s6 = h.inet.socket('inet6');
    const lo6 = h.lo0.if_addrhead.find((a) => a.ifa_addr.family === 28)!;
    const b6 = { ...lo6 };
    h.inet.socket('inet6').bind('::1', 9);
    s6.send('hi', '::1', 9);
    expect(lo6.ifa_opackets).toBe(b6.ifa_opackets! + 1);
    expect(lo6.ifa_ipackets).toBe(b6.ifa_ipackets! + 1);
    expect(lo6.ifa_ibytes).toBe(b6.ifa_ibytes! + 40 + 8 + 2);
  });

  it('datagrams to the wire count on the source address only; multicast received counts on no address', () => {
    const L = vlab(3);
    const seg = L.segment();
    const a = L.host('a');
    const b = L.host('b');
    const ea = L.attach(a, seg, { name: 'em0', mac: '02:00:00:00:00:0a' });
    const eb = L.attach(b, seg, { name: 'em0', mac: '02:00:00:00:00:0b' });
    a.inet.v4.addAddress(ea, '192.0.2.1/24');
    b.inet.v4.addAddress(eb, '192.0.2.2/24');
    L.run(3000);
    const ifaA = ea.if_addrhead.find((x) => x.ifa_addr.family === 2)!;
    const ifaB = eb.if_addrhead.find((x) => x.ifa_addr.family === 2)!;
    const rx = b.inet.socket().bind('0.0.0.0', 4000);
    const tx = a.inet.socket();
    const [ao, bi] = [ifaA.ifa_opackets!, ifaB.ifa_ipackets!];
    tx.send('abc', '192.0.2.2', 4000);
    L.run(100);
    expect(rx.recv()?.data.length).toBe(3);
    expect(ifaA.ifa_opackets).toBe(ao + 1); // counted once, when handed to the interface (ARP held it meanwhile)
    expect(ifaB.ifa_ipackets).toBe(bi + 1);
    const bi2 = ifaB.ifa_ipackets!;
    tx.send('m', '224.0.0.1', 4000);
    L.run(100);
    expect(ifaB.ifa_ipackets).toBe(bi2);
  });
});
