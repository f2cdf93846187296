import { describe, expect, it } from 'vitest';
import { mgmdLab } from '../helpers/mgmd_lab.js';
import { SysctlTree } from '../../src/stats/sysctl.js';
import { SnapshotTree, takeSnapshot } from '../../src/stats/snapshot.js';
import { hostEnv, runToolToString } from '../../src/tools/tool.js';
import { querierTool } from '../../src/tools/querier.js';
import { TOOLS } from '../../src/tools/registry.js';
import { IP_ADD_MEMBERSHIP, IP_ADD_SOURCE_MEMBERSHIP, IPPROTO_IP } from '../../src/inet/socket.js';

function lab(seed = 90) {
  const l = mgmdLab(seed, { n: 2 });
  const tree = new SysctlTree(l.h);
  const run = (argv: string[]) => runToolToString(querierTool, hostEnv(l.h, tree, { out: () => {}, err: () => {} }), argv);
  return { ...l, tree, run };
}

describe('querier tool', () => {
  it('is registered and prints its usage for --help', async () => {
    expect(TOOLS.get('querier')).toBe(querierTool);
    const { run } = lab();
    const r = await run(['--help']);
    expect(r).toMatchObject({ code: 0, stderr: '' });
    expect(r.stdout).toMatch(/^usage: querier /);
  });

  it('enable, then the membership table of taplab members, with -v sources and stats', async () => {
    const { run, L, hosts } = lab();
    expect((await run([])).stdout).toBe('no querier enabled\n');
    expect(await run(['enable', '-f', 'inet'])).toEqual({ stdout: '', stderr: '', code: 0 });
    const so = hosts[1].inet.socket();
    so.setsockopt(IPPROTO_IP, IP_ADD_MEMBERSHIP, { imr_multiaddr: '239.1.1.1' });
    so.setsockopt(IPPROTO_IP, IP_ADD_SOURCE_MEMBERSHIP, { imr_multiaddr: '232.1.1.1', imr_sourceaddr: '198.51.100.7' });
    L.run(6000);
    const r = await run([]);
    expect(r.code).toBe(0);
    const lines = r.stdout.split('\n');
    expect(lines[0]).toBe('em0: IGMPv3 querier 192.0.2.1 (this host), next general query in 26 s, 1 startup query left');
    expect(lines[1]).toBe('\trv 2 qi 125 qri 10 lmqi 1 lmqc 2');
    expect(lines[2]).toBe('\tgroup 232.1.1.1 include compat v3 reporter 192.0.2.2 uptime 6 sources 1');
    expect(lines[3]).toMatch(/^\tgroup 239\.1\.1\.1 exclude timer 26\d compat v3 reporter 192\.0\.2\.2 uptime 6$/);
    expect(lines.length).toBe(5);
    const v = (await run(['-v'])).stdout.split('\n');
    expect(v[3]).toMatch(/^\t\tsource 198\.51\.100\.7 timer 26\d$/);
    expect(v[5]).toMatch(/^\tstats: 1 general, 0 group, 0 group-and-source queries sent; \d+ reports, \d+ records processed, 0 ignored, 0 malformed; 0 queries received, querier lost 0 times$/);
    const j = JSON.parse((await run(['--json'])).stdout);
    expect(j.querier[0]).toMatchObject({ interface: 'em0', protocol: 'igmp', querier: true, querierAddr: '192.0.2.1', generation: 3 });
    expect(j.querier[0].groups.map((g: { group: string }) => g.group)).toEqual(['232.1.1.1', '239.1.1.1']);
  });

  it('set changes the timers on the wire; query sends an extra group-and-source query; disable stops it', async () => {
    const { run, L, wire, now } = lab(91);
    await run(['enable', '--qi', '60', '--qri', '5', '--startup-count', '1']);
    const t = now();
    L.run(61_000);
    expect(wire.select({ from: 'h1.em0', af: 4, since: t }).filter(({ e }) => e.msg.endsWith('general')).map(({ e }) => e.t - t)).toEqual([0, 60_000]);
    expect(await run(['set', '-f', 'inet', '--lmqc', '3'])).toMatchObject({ code: 0 });
    const t2 = now();
    expect(await run(['query', '232.1.1.1', '198.51.100.7'])).toEqual({ stdout: '', stderr: '', code: 0 });
    L.run(0);
    expect(wire.msgs('h1.em0', 4, t2)).toEqual(['IGMPv3 query 232.1.1.1 {198.51.100.7}']);
    expect(await run(['query', 'ff02::1:3'])).toMatchObject({ code: 0 });
    L.run(0);
    expect(wire.msgs('h1.em0', 6, t2)).toEqual(['MLDv2 query ff02::1:3']);
    expect(await run(['disable', '-f', 'inet'])).toMatchObject({ code: 0 });
    expect((await run([])).stdout).toMatch(/^em0: MLDv2 querier fe80::ff:fe00:1 /);
    expect(await run(['query'])).toEqual({ stdout: '', stderr: 'querier query: no IGMP querier enabled on em0\n', code: 71 });
  });

  it('errors: bad family, interface, version, values, queries on a non-querier, and snapshots', async () => {
    const { run, wire, L, tree } = lab(92);
    const bad = async (argv: string[], code: number, msg: RegExp) => {
      const r = await run(argv);
      expect(r.code, argv.join(' ')).toBe(code);
      expect(r.stderr, argv.join(' ')).toMatch(msg);
      expect(r.stdout).toBe('');
    };
    await bad(['-f', 'inet7'], 64, /^querier: inet7: unknown address family/);
    await bad(['-i', 'em9'], 64, /^querier: em9: no such interface/);
    await bad(['enable', '-i', 'em9'], 64, /^querier: em9: no such interface/);
    await bad(['enable', '-f', 'inet', '--version', '4'], 64, /IGMP version 4/);
    await bad(['enable', '--qi', 'ten'], 64, /--qi ten: not a non-negative integer/);
    await bad(['enable', '--qi', '5', '--qri', '10'], 71, /^querier enable: em0: IGMP querier: the query response interval \(10 s\) must be less than the query interval \(5 s\)\n$/);
    await bad(['query', '10.0.0.1'], 64, /10\.0\.0\.1: not a multicast group/);
    await bad(['--bogus'], 64, /^querier: unknown option --bogus\n/);
    await bad(['set', '-f', 'inet'], 71, /no IGMP querier enabled on em0 \(use enable\)/);
    // A querier with a lower address appears: h1 is not querier any more.
    await run(['enable', '-f', 'inet']);
    wire.query4({ version: 3, maxRespTenths: 100 }, { src: '192.0.2.0' });
    L.run(10);
    expect((await run(['-f', 'inet'])).stdout.split('\n')[0]).toBe('em0: IGMPv3 non-querier, querier 192.0.2.0, other querier present 255 s');
    await bad(['query'], 71, /em0 is not the IGMP querier/);
    // A snapshot shows the table and refuses actions.
    const snap = new SnapshotTree(takeSnapshot(tree));
    const r = await runToolToString(querierTool, { tree: snap, sleep: async () => {} }, ['-f', 'inet']);
    expect(r.stdout.split('\n')[0]).toMatch(/^em0: IGMPv3 non-querier/);
    const r2 = await runToolToString(querierTool, { tree: snap, sleep: async () => {} }, ['disable']);
    expect(r2).toMatchObject({ code: 64, stderr: 'querier disable: needs a live host (this is a snapshot)\n' });
  });
});
