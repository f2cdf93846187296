// taplab run in virtual time: the same seed gives byte-identical timelines; failing checks and
// failing steps make the exit status non-zero and say why; refusals start nothing.
import { describe, expect, it } from 'vitest';
import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { runLabCommand, type RunCommandOptions } from '../../src/lab/runcmd.js';
import { loadLabFile } from '../../src/lab/labfile.js';
import { LabSession, runLab } from '../../src/lab/runner.js';

async function run(file: string, o: RunCommandOptions = {}): Promise<{ code: number; out: string; err: string }> {
  let out = '';
  let err = '';
  const code = await runLabCommand(file, { ...o, progress: false, out: (s) => void (out += s), err: (s) => void (err += s) });
  return { code, out, err };
}

function withLab<T>(text: string, fn: (file: string, dir: string) => Promise<T>): Promise<T> {
  const dir = mkdtempSync(join(tmpdir(), 'taplab-lab-'));
  const file = join(dir, 'lab.yaml');
  writeFileSync(file, text);
  return fn(file, dir).finally(() => rmSync(dir, { recursive: true, force: true }));
}

const TWO_HOSTS = `
segments:
  lan: {type: memory, delay: 1ms}
hosts:
  r1:
    interfaces:
      - {name: em0, segment: lan, inet: 192.0.2.1/24, querier: {igmp: {qi: 10, qri: 2}}}
  h1:
    interfaces:
      - {name: em0, segment: lan, inet: 192.0.2.10/24}
  h2:
    interfaces:
      - {name: em0, segment: lan, inet: 192.0.2.11/24}
`;

describe('taplab run --virtual-time', () => {
  it('labs/01-igmpv3-join.yaml passes, twice with the same seed gives byte-identical output, and runs in well under a second', async () => {
    const t = performance.now();
    const a = await run('labs/01-igmpv3-join.yaml', { virtualTime: true });
    const ms = performance.now() - t;
    const b = await run('labs/01-igmpv3-join.yaml', { virtualTime: true });
    expect(a.code, a.out + a.err).toBe(0);
    expect(b.code).toBe(0);
    expect(a.out).toBe(b.out);
    expect(a.out).toContain('   2.000s  h1 → 224.0.0.22  IGMPv3 report: ALLOW(232.1.1.1 {198.51.100.7})');
    expect(a.out).toMatch(/r1 → 224\.0\.0\.1  IGMPv3 general query, max resp 2 s/);
    expect(a.out).toMatch(/^PASS: 7 of 7 checks held \(IGMPv3 source-specific join, seed 1, virtual time\)$/m);
    expect(ms).toBeLessThan(5000);
  });

  it('report delays come from the seed: another seed gives another (equally repeatable) timeline', async () => {
    await withLab(
      `name: seeds${TWO_HOSTS}steps:\n  - at: 1s\n    h1: join 239.1.1.1\n  - at: 1s\n    h2: join 239.1.1.1\nduration: 25s\n`,
      async (file) => {
        const s1 = await run(file, { virtualTime: true, seed: 1 });
        const s1b = await run(file, { virtualTime: true, seed: 1 });
        const s2 = await run(file, { virtualTime: true, seed: 2 });
        expect(s1.out).toBe(s1b.out);
        expect(s1.out).not.toBe(s2.out);
        expect(s1.code).toBe(0);
      },
    );
  });

  it('failed checks make the exit status 1 and say what was seen', async () => {
    await withLab(
      `name: failing${TWO_HOSTS}steps:\n  - at: 1s\n    h1: join 239.1.1.1\nexpect:\n  - h1: ifmcstat -i em0 -f inet\n    contains: 239.9.9.9\n  - packets: h1.em0\n    dir: out\n    group: 239.1.1.1\n    count: 5\n  - sysctl: h1 net.inet.igmp.default_version\n    equals: 2\n  - packets: h2.em0\n    dir: out\n    group: 239.1.1.1\n    max: 0\n`,
      async (file) => {
        const r = await run(file, { virtualTime: true });
        expect(r.code).toBe(1);
        expect(r.out).toMatch(/✗ h1: ifmcstat -i em0 -f inet: no "239\.9\.9\.9"; the output was:\n\s+em0:/);
        expect(r.out).toMatch(/✗ packets on h1\.em0 out 239\.1\.1\.1: 2 matching messages in \[0\.000s, 2\.000s\] \(expected exactly 5\); all 4 on h1\.em0 in the window:\n.*0\.000s out :: → ff02::16 MLDv2 report/);
        expect(r.out).toMatch(/✗ h1 sysctl net\.inet\.igmp\.default_version: net\.inet\.igmp\.default_version is 3 \(expected = 2\)/);
        expect(r.out).toMatch(/✓ packets on h2\.em0 out 239\.1\.1\.1: 0 matching messages in \[0\.000s, 2\.000s\]/);
        expect(r.out).toMatch(/^FAIL: 1 of 4 checks held/m);
        expect(r.out).toMatch(/✗ h1 sysctl net\.inet\.igmp\.default_version: .*\(.*lab\.yaml:24:5\)$/m); // each check names its line
        const q = await run(file, { virtualTime: true, quiet: true });
        expect(q.code).toBe(1);
        expect(q.out).not.toContain('✓');
        expect(q.out.split('\n').filter((l) => l.startsWith('  ✗')).length).toBe(3);
      },
    );
  });

  it('a failing step fails the lab with its exit status and message; the rest still runs', async () => {
    await withLab(
      `name: badstep${TWO_HOSTS}steps:\n  - at: 1s\n    h1: leave 239.1.1.1\n  - at: 2s\n    h1: join 239.1.1.1\nexpect:\n  - h1: groups\n    contains: 239.1.1.1\n`,
      async (file) => {
        const r = await run(file, { virtualTime: true });
        expect(r.code).toBe(1);
        expect(r.out).toMatch(/✗ step h1: leave 239\.1\.1\.1: exit 71: .*EADDRNOTAVAIL/);
        expect(r.out).toMatch(/✓ h1: groups: has "239\.1\.1\.1"/);
      },
    );
  });

  it('version and link steps act on the interface: IGMPv2 after the version change, nothing heard while the cable is out', async () => {
    await withLab(
      `name: steps${TWO_HOSTS}steps:\n  - at: 1s\n    version: {interface: h1.em0, igmp: 2}\n  - h1: join 239.1.1.1\n  - at: 3s\n    link: h2.em0 down\n  - h1: join 239.2.2.2\n  - at: 4s\n    link: h2.em0 up\nexpect:\n  - {packets: h1.em0, dir: out, type: report, version: 2, group: 239.1.1.1, between: [1s, 2s]}\n  - {packets: h2.em0, dir: in, group: 239.2.2.2, count: 0}\n  - {packets: r1.em0, dir: in, group: 239.2.2.2}\n`,
      async (file) => {
        const r = await run(file, { virtualTime: true });
        expect(r.code, r.out).toBe(0);
        expect(r.out).toContain('h1 → 239.1.1.1  IGMPv2 report 239.1.1.1');
      },
    );
  });

  it('kernel messages (an older querier on the link) show on the timeline, and dmesg reads them', async () => {
    const lab = `name: older
segments:
  lan: {type: memory, delay: 1ms}
hosts:
  r1:
    interfaces:
      - {name: em0, segment: lan, inet: 192.0.2.1/24, querier: {igmp: {qi: 10, qri: 2}}}
  r2:
    interfaces:
      - {name: em0, segment: lan, inet: 192.0.2.2/24, querier: {igmp: {version: 2, qi: 10, qri: 2}}}
steps:
  - at: 5s
    expect: {r1: dmesg, contains: "igmp: em0: IGMPv2 querier 192.0.2.2 on the link, and this router runs IGMPv3: configure it for IGMPv2"}
expect:
  - {r2: dmesg, matches: "^$"}
`;
    await withLab(lab, async (file) => {
      const r = await run(file, { virtualTime: true });
      expect(r.code, r.out).toBe(0);
      expect(r.out).toMatch(/^\s+0\.\d{3}s  r1: kernel: igmp: em0: IGMPv2 querier 192\.0\.2\.2 on the link/m);
    });
  });

  it('a command check sees the error message of a command expected to fail', async () => {
    await withLab(
      `name: stderr${TWO_HOSTS}steps:\n  - at: 1s\n    h1: join 239.1.1.1\n  - expect:\n      h1: join 239.1.1.1\n      exit: 71\n      contains: EADDRINUSE\n`,
      async (file) => {
        const r = await run(file, { virtualTime: true });
        expect(r.code, r.out).toBe(0);
        expect(r.out).toMatch(/✓ h1: join 239\.1\.1\.1: has "EADDRINUSE"/);
      },
    );
  });

  it('packets checks filter by sender (from): the querier hears both members, each report from its own address', async () => {
    await withLab(
      `name: from${TWO_HOSTS}steps:\n  - at: 1s\n    h1: join 239.1.1.1\n  - h2: join 239.1.1.2\nexpect:\n  - {packets: r1.em0, dir: in, type: report, from: 192.0.2.10, group: 239.1.1.1}\n  - {packets: r1.em0, dir: in, type: report, from: 192.0.2.10, group: 239.1.1.2, count: 0}\n  - {packets: r1.em0, dir: in, type: report, from: 192.0.2.11, group: 239.1.1.2}\n  - {packets: r1.em0, dir: in, from: 192.0.2.99, count: 0}\n`,
      async (file) => {
        const r = await run(file, { virtualTime: true });
        expect(r.code, r.out).toBe(0);
        expect(r.out).toMatch(/✓ packets on r1\.em0 in report 239\.1\.1\.1 from 192\.0\.2\.10: [1-9]\d* matching message/);
        expect(r.out).toMatch(/✓ packets on r1\.em0 in from 192\.0\.2\.99: 0 matching messages/);
      },
    );
  });

  it('--json prints the result as data; --pcap writes a pcapng file per taplab interface', async () => {
    await withLab(`name: json${TWO_HOSTS}steps:\n  - at: 1s\n    h1: join 239.1.1.1\nexpect:\n  - {packets: r1.em0, dir: in, group: 239.1.1.1}\n`, async (file, dir) => {
      const r = await run(file, { virtualTime: true, json: true, pcap: join(dir, 'pcap') });
      expect(r.code).toBe(0);
      const j = JSON.parse(r.out) as { ok: boolean; clock: string; timeline: { kind: string; event?: { host: string; records: unknown[] } }[]; checks: { ok: boolean }[] };
      expect(j.ok).toBe(true);
      expect(j.clock).toBe('virtual');
      expect(j.checks).toHaveLength(1);
      expect(j.timeline.some((l) => l.kind === 'message' && l.event?.host === 'h1' && l.event.records.length === 1)).toBe(true);
      const files = readdirSync(join(dir, 'pcap')).sort();
      expect(files).toEqual(['h1-em0.pcapng', 'h2-em0.pcapng', 'r1-em0.pcapng']);
      expect(readFileSync(join(dir, 'pcap', 'h1-em0.pcapng')).readUInt32LE(0)).toBe(0x0a0d0d0a);
    });
  });

  it('an invalid lab file exits 65 with every error and starts nothing', async () => {
    await withLab(`name: bad\nsegments:\n  lan: {type: memory}\nhosts:\n  h1:\n    interfaces: [{name: em0, segment: wan}]\n`, async (file) => {
      const r = await run(file, { virtualTime: true });
      expect(r.code).toBe(65);
      expect(r.out).toBe('');
      expect(r.err).toContain(`${file}:6:39: hosts.h1.interfaces[0].segment: no segment named "wan" (segments: lan)`);
      expect(r.err).toContain('is not a valid lab (1 error); nothing was started');
    });
  });

  it('a lab file that does not exist exits 66 (EX_NOINPUT) with one plain sentence', async () => {
    const r = await run('labs/no-such-lab.yaml', { virtualTime: true });
    expect(r.code).toBe(66);
    expect(r.out).toBe('');
    expect(r.err).toBe('taplab run: ENOENT: cannot read the lab file labs/no-such-lab.yaml: no such file or directory\n');
  });

  it('--virtual-time is refused, before anything starts, for a lab with a bridge or a kernel host', async () => {
    const r = await run('labs/02-kernel-bridge.yaml', { virtualTime: true });
    expect(r.code).toBe(64);
    expect(r.out).toBe('');
    expect(r.err).toBe('taplab run: labs/02-kernel-bridge.yaml: --virtual-time needs a lab with only memory segments and no kernel hosts: kernel host k1 runs on the real kernel, in real time; run it without --virtual-time\n');
    const { lab } = loadLabFile('labs/02-kernel-bridge.yaml');
    await expect(LabSession.start(lab, { virtualTime: true })).rejects.toThrow(/^EINVAL: --virtual-time needs a lab/);
  });

  it('LabSession: commands, clock and checks by hand (the API the lab shell uses)', async () => {
    const { lab } = loadLabFile('labs/01-igmpv3-join.yaml');
    const s = await LabSession.start(lab, { virtualTime: true });
    const lines: string[] = [];
    s.onLine((l) => lines.push(l.text));
    try {
      expect((await s.command('h1', ['join', '239.5.5.5'])).code).toBe(0);
      await s.advanceTo(1000);
      expect(s.now()).toBe(1000);
      const r = await s.check({ kind: 'output', host: 'h1', line: 'groups', argv: ['groups'], contains: ['239.5.5.5'], notContains: [], matches: [], exit: 0, where: 'x:1:1', withinMs: 0, label: 'joined' });
      expect(r).toMatchObject({ ok: true, atMs: 1000 });
      expect(lines.some((l) => l.includes('h1 → 224.0.0.22  IGMPv3 report: TO_EX(239.5.5.5 {})'))).toBe(true);
    } finally {
      await s.close();
    }
  });

  it('an aborted run tears down and says it was interrupted', async () => {
    const { lab } = loadLabFile('labs/01-igmpv3-join.yaml');
    const ac = new AbortController();
    ac.abort();
    const r = await runLab(lab, { virtualTime: true, signal: ac.signal });
    expect(r.ok).toBe(false);
    expect(r.interrupted).toBe(true);
  });
});
