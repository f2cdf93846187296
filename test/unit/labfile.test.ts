// Lab files: every broken file is rejected with file:line:col messages that say what was expected;
// valid files (the ones in labs/ included) load into normalised data.
import { describe, expect, it } from 'vitest';
import { readdirSync } from 'node:fs';
import { LabFileError, TAPLAB_COMMANDS, formatDiagnostic, loadLabFile, parseDuration, parseLab, splitWords } from '../../src/lab/labfile.js';
import { TOOLS } from '../../src/tools/registry.js';

const F = 'labs/x.yaml';

/** A minimal valid lab, with `extra` appended (YAML text). */
function lab(body: string): string {
  return `name: t\nsegments:\n  lan: {type: memory}\n${body}`;
}

const HOST = `hosts:
  h1:
    interfaces:
      - name: em0
        segment: lan
        inet: 192.0.2.10/24
`;

function errors(text: string): string[] {
  try {
    parseLab(text, F);
  } catch (e) {
    if (e instanceof LabFileError) return e.diagnostics.map(formatDiagnostic);
    throw e;
  }
  throw new Error('the lab was accepted');
}

describe('lab file schema errors: file:line:col, path, what was expected', () => {
  const cases: [string, string, string[]][] = [
    [
      'an IPv4 address without a valid prefix length',
      lab(`hosts:\n  h1:\n    interfaces:\n      - name: em0\n        segment: lan\n        inet: 192.0.2.10/33\n`),
      ['labs/x.yaml:9:15: hosts.h1.interfaces[0].inet: expected an IPv4 address with a prefix length, like 192.0.2.10/24'],
    ],
    [
      'a bad address in a list of addresses',
      lab(`hosts:\n  h1:\n    interfaces:\n      - name: em0\n        segment: lan\n        inet: [192.0.2.10/24, 192.0.2]\n`),
      ['labs/x.yaml:9:31: hosts.h1.interfaces[0].inet[1]: expected an IPv4 address with a prefix length, like 192.0.2.10/24'],
    ],
    [
      'an unknown key at the top',
      lab(`${HOST}stpes: []\n`),
      ['labs/x.yaml:10:1: stpes: unknown key "stpes"; expected one of: name, description, duration, seed, segments, hosts, kernel, steps, expect'],
    ],
    [
      'a missing required key',
      `name: t\nhosts: {}\n`,
      ['labs/x.yaml:1:1: missing key "segments" (expected a lab: name, description, segments, hosts and/or kernel, steps, expect)'],
    ],
    [
      'an interface without a segment',
      lab(`hosts:\n  h1:\n    interfaces:\n      - name: em0\n`),
      ['labs/x.yaml:7:9: hosts.h1.interfaces[0]: missing key "segment" (expected an interface: name, segment, and optionally mac, inet, inet6, igmp_version, mld_version, querier)'],
    ],
    [
      'a wrong type',
      lab(`hosts:\n  h1:\n    interfaces: em0\n`),
      ['labs/x.yaml:6:17: hosts.h1.interfaces: expected a list of interfaces'],
    ],
    [
      'a segment of an unknown type',
      `name: t\nsegments:\n  lan: {type: hub}\n`,
      ['labs/x.yaml:3:15: segments.lan.type: expected memory or bridge'],
    ],
    [
      'a bad duration',
      lab(`${HOST}steps:\n  - at: 2 seconds\n    h1: join 239.1.1.1\n`),
      ['labs/x.yaml:11:9: steps[0].at: expected a time since the lab started, such as 2s or 1500ms'],
    ],
    [
      'a bad MAC',
      lab(`hosts:\n  h1:\n    interfaces:\n      - {name: em0, segment: lan, mac: 02:00:5e:10:00}\n`),
      ['labs/x.yaml:7:40: hosts.h1.interfaces[0].mac: expected a MAC address such as 02:00:5e:10:00:01'],
    ],
    [
      'a bad host name',
      lab(`hosts:\n  1h:\n    interfaces: [{name: em0, segment: lan}]\n`),
      ['labs/x.yaml:5:3: hosts.1h: "1h" is not a name: a letter, then letters, digits, - or _ (at most 32)'],
    ],
    [
      'a querier version out of range',
      lab(`hosts:\n  r1:\n    interfaces:\n      - name: em0\n        segment: lan\n        inet: 192.0.2.1/24\n        querier: {igmp: {version: 4}}\n`),
      ['labs/x.yaml:10:35: hosts.r1.interfaces[0].querier.igmp.version: expected the querier version: IGMP 1, 2 or 3; MLD 1 or 2'],
    ],
    ['a YAML syntax error', `name: t\nsegments:\n  lan: {type: memory\n`, ['labs/x.yaml:4:1: YAML: Flow map in block collection must be sufficiently indented and end with a }']],
    [
      'a duplicate host (a key twice in a map)',
      lab(`hosts:\n  h1:\n    interfaces: [{name: em0, segment: lan}]\n  h1:\n    interfaces: [{name: em1, segment: lan}]\n`),
      ['labs/x.yaml:7:3: this key appears twice in the same map (names must be unique)'],
    ],
    [
      'an invalid regular expression',
      lab(`${HOST}expect:\n  - h1: ifmcstat\n    matches: "group ("\n`),
      ['labs/x.yaml:12:14: expect[0].matches: expected a valid regular expression'],
    ],
  ];
  for (const [what, text, want] of cases) it(what, () => expect(errors(text)).toEqual(want));
});

describe('lab file semantic errors', () => {
  const cases: [string, string, string[]][] = [
    [
      'an unknown segment',
      lab(`hosts:\n  h1:\n    interfaces: [{name: em0, segment: wan}]\n`),
      ['labs/x.yaml:6:39: hosts.h1.interfaces[0].segment: no segment named "wan" (segments: lan)'],
    ],
    [
      'a kernel host on a memory segment',
      lab(`kernel:\n  k1:\n    interfaces: [{name: eth0, segment: lan}]\n`),
      ['labs/x.yaml:6:40: kernel.k1.interfaces[0].segment: a kernel host can only be linked to a bridge segment; lan is a memory segment (it lives inside the taplab process)'],
    ],
    [
      'a name used by a taplab host and a kernel host',
      `name: t\nsegments:\n  br0: {type: bridge}\nhosts:\n  h1:\n    interfaces: [{name: em0, segment: br0}]\nkernel:\n  h1:\n    interfaces: [{name: eth0, segment: br0}]\n`,
      ['labs/x.yaml:8:3: kernel.h1: "h1" is already the name of a taplab host; every host needs its own name'],
    ],
    [
      'two interfaces of one name, a MAC and an address used twice',
      lab(`hosts:\n  h1:\n    interfaces:\n      - {name: em0, segment: lan, mac: 02:00:00:00:00:01, inet: 192.0.2.1/24}\n      - {name: em0, segment: lan, mac: 02:00:00:00:00:01, inet: 192.0.2.1/24}\n`),
      [
        'labs/x.yaml:8:16: hosts.h1.interfaces[1].name: host h1 already has an interface named em0',
        'labs/x.yaml:8:40: hosts.h1.interfaces[1].mac: MAC 02:00:00:00:00:01 is already used by h1.em0',
        'labs/x.yaml:8:65: hosts.h1.interfaces[1].inet: address 192.0.2.1 is already used on segment lan by h1.em0',
      ],
    ],
    [
      'a step with two actions, a step for an unknown host, steps out of order, an unknown command',
      lab(`${HOST}steps:\n  - at: 2s\n    h1: join 239.1.1.1\n    pause: 1s\n  - at: 3s\n    h2: join 239.1.1.1\n  - at: 1s\n    h1: jion 239.1.1.1\n`),
      [
        'labs/x.yaml:13:5: steps[0].pause: a step does one thing; this one has h1 and pause (split it into steps)',
        'labs/x.yaml:15:5: steps[1].h2: no host named "h2" (hosts: h1); a step runs one action: HOST: COMMAND, pause, link, version, bridge or expect',
        'labs/x.yaml:16:9: steps[2].at: expected a time no earlier than the previous step (3.000s); steps run in order',
        'labs/x.yaml:17:9: steps[2].h1: "jion" is not a taplab command; expected one of: ifmcstat, netstat, join, leave, block, unblock, send, groups, snapshot, sysctl, ifconfig, querier, dmesg',
      ],
    ],
    [
      'a taplab host command whose group is no multicast address is refused when the lab loads',
      lab(`${HOST}steps:\n  - at: 1s\n    h1: join 10.1.1.1 -i em0\n  - at: 2s\n    h1: send -i em0 --count 2 192.0.2.9:5000\n  - at: 3s\n    h1: send 239.1.1.1:5000 --count 2\n`),
      [
        'labs/x.yaml:12:9: steps[0].h1: join: 10.1.1.1 is not a multicast group address',
        'labs/x.yaml:14:9: steps[1].h1: send: 192.0.2.9:5000 is not a multicast group address',
      ],
    ],
    [
      'a misspelt key in a step is named as unknown, with the likely key',
      lab(`${HOST}steps:\n  - atx: 2s\n    h1: join 239.1.1.1\n`),
      [
        'labs/x.yaml:11:5: steps[0].atx: unknown key "atx" (did you mean at?); a step has at or after, an optional note, and one action: HOST: COMMAND, pause, link, version, bridge or expect',
      ],
    ],
    [
      'checks: a key of another kind, two kinds at once, references to nothing',
      lab(`${HOST}expect:\n  - h1: ifmcstat\n    has: {group: 239.1.1.1}\n  - sysctl: h1 net.inet.igmp.default_version\n    mdb: lan\n  - packets: h1.em7\n  - mdb: lan\n    has: {group: 239.1.1.1}\n`),
      [
        'labs/x.yaml:12:5: expect[0].has: "has" does not go with a command check (it takes contains, not_contains, matches, exit)',
        'labs/x.yaml:14:5: expect[1].mdb: a check tests one thing; this one has sysctl and mdb (make two checks)',
        'labs/x.yaml:15:14: expect[2].packets: host h1 has no interface named "em7" (it has em0)',
        'labs/x.yaml:16:10: expect[3].mdb: no bridge segment named "lan"',
      ],
    ],
    [
      'a packets window after the step that checks it',
      lab(`${HOST}steps:\n  - at: 2s\n    expect: {packets: h1.em0, between: [1s, 3s]}\n`),
      ['labs/x.yaml:12:40: steps[0].expect.between: the window ends at 3.000s, after this step runs (2.000s); move the check to a later step or to expect'],
    ],
    [
      'a packets check whose sender is of the other family',
      lab(`${HOST}expect:\n  - {packets: h1.em0, proto: mld, from: 192.0.2.1}\n`),
      ['labs/x.yaml:11:41: expect[0].from: expected an IPv6 source address for MLD'],
    ],
    [
      'a kernel host joining in EXCLUDE mode, and without an IPv4 address',
      `name: t\nsegments:\n  br0: {type: bridge}\nkernel:\n  k1:\n    interfaces: [{name: eth0, segment: br0}]\nsteps:\n  - k1: join 239.1.1.1 --exclude 198.51.100.1\n  - k1: join 239.1.1.1\n`,
      [
        'labs/x.yaml:8:9: steps[0].k1: a kernel host joins through a Node dgram socket, which has no MCAST_BLOCK_SOURCE; use --include or a plain join',
        'labs/x.yaml:9:9: steps[1].k1: k1.eth0 has no IPv4 address (inet) to join or send from',
      ],
    ],
    [
      'an IGMP querier without an IPv4 address',
      lab(`hosts:\n  r1:\n    interfaces: [{name: em0, segment: lan, querier: {igmp: true}}]\n`),
      ['labs/x.yaml:6:60: hosts.r1.interfaces[0].querier.igmp: an IGMP querier sends from the interface\'s IPv4 address; give the interface an inet address'],
    ],
  ];
  for (const [what, text, want] of cases) it(what, () => expect(errors(text)).toEqual(want));

  it('the error names every problem at once and says nothing was accepted', () => {
    try {
      parseLab(lab(`hosts:\n  h1:\n    interfaces: [{name: em0, segment: wan, inet: 10.0.0.1}]\n`), F);
      expect.unreachable();
    } catch (e) {
      expect(e).toBeInstanceOf(LabFileError);
      expect((e as LabFileError).code).toBe('EINVAL');
      expect((e as Error).message).toMatch(/^EINVAL: labs\/x\.yaml: 1 error:\nlabs\/x\.yaml:6:50: hosts\.h1\.interfaces\[0\]\.inet: expected an IPv4 address with a prefix length/);
    }
  });
});

describe('valid lab files', () => {
  it('a full lab loads into normalised data: durations in ms, address lists, split command lines, times from at/after/pause', () => {
    const { lab: l, warnings } = parseLab(
      `name: full
description: every kind of step
duration: 1m
segments:
  lan: {type: memory, delay: 2ms, loss: 0.25, seed: 9}
  br0: {type: bridge, querier: true, query_interval: 3s, last_member_interval: 500ms, inet: 192.0.2.1/24}
hosts:
  h1:
    interfaces:
      - {name: em0, segment: lan, inet: 10.1.1.1/8, inet6: [2001:db8::1/64], igmp_version: 2, querier: {igmp: {qi: 10, qri: 2}, mld: true}}
      - {name: em1, segment: br0, mac: 02:00:5E:10:00:01}
kernel:
  k1:
    interfaces: [{name: eth0, segment: br0, inet: 192.0.2.20/24}]
    sysctl: {net.ipv4.conf.all.force_igmp_version: 2, net.ipv6.conf.all.disable_ipv6: true}
steps:
  - at: 1s
    h1: join 239.1.1.1 -i em0 --include "198.51.100.1,198.51.100.2"
  - after: 500ms
    k1: join 232.1.1.1 --include 198.51.100.7
  - pause: 2s
  - h1: ifmcstat -v
  - at: 5s
    link: h1.em0 down
  - version: {interface: h1.em0, igmp: 3}
  - bridge: {segment: br0, querier: false, fast_leave: true}
  - note: just a note
  - expect:
      - {mdb: br0, has: {group: 232.1.1.1, port: k1.eth0, source: 198.51.100.7}, within: 2s}
      - {packets: h1.em0, dir: out, proto: igmp, type: report, version: 2, group: 239.1.1.1}
expect:
  - {sysctl: k1 net.ipv4.conf.all.force_igmp_version, equals: 2}
  - {h1: "ifmcstat -i em0", contains: [group, "239.1.1.1"], not_contains: 232.9.9.9, matches: "^em0:", exit: 0}
`,
      F,
    );
    expect(warnings.map(formatDiagnostic)).toEqual([
      'labs/x.yaml:10:41: hosts.h1.interfaces[0].inet: 10.1.1.1 is outside the documentation ranges (192.0.2.0/24, 198.51.100.0/24, 203.0.113.0/24, 2001:db8::/32); it stays inside the lab, but labs should use those',
    ]);
    expect(l.durationMs).toBe(60_000);
    expect(l.endMs).toBe(60_000);
    expect(l.virtualTimeRefusal).toBe('kernel host k1 runs on the real kernel, in real time');
    expect(l.segments[0]).toEqual({ name: 'lan', type: 'memory', delayMs: 2, loss: 0.25, seed: 9, where: 'labs/x.yaml:5:8' });
    expect(l.segments[1]).toMatchObject({ type: 'bridge', settings: { querier: true, queryInterval: 3000, lastMemberInterval: 500 }, inet: ['192.0.2.1/24'] });
    const h1 = l.hosts[0];
    expect(h1.interfaces[0]).toMatchObject({ inet: ['10.1.1.1/8'], inet6: ['2001:db8::1/64'], igmpVersion: 2, querier: { igmp: { qi: 10, qri: 2 }, mld: {} } });
    expect(h1.interfaces[1].mac).toBe('02:00:5e:10:00:01');
    expect(l.hosts[1]).toMatchObject({ kind: 'kernel', sysctl: [['net.ipv4.conf.all.force_igmp_version', '2'], ['net.ipv6.conf.all.disable_ipv6', '1']] });
    expect(l.steps.map((s) => [s.atMs, s.action.kind])).toEqual([
      [1000, 'command'],
      [1500, 'command'],
      [1500, 'pause'],
      [3500, 'command'],
      [5000, 'link'],
      [5000, 'version'],
      [5000, 'bridge'],
      [5000, 'note'],
      [5000, 'expect'],
    ]);
    expect(l.steps[0].action).toMatchObject({ host: 'h1', argv: ['join', '239.1.1.1', '-i', 'em0', '--include', '198.51.100.1,198.51.100.2'] });
    expect(l.steps[4].action).toEqual({ kind: 'link', iface: { host: 'h1', ifname: 'em0' }, up: false });
    expect(l.steps[6].action).toEqual({ kind: 'bridge', segment: 'br0', settings: { querier: false, fastLeave: true } });
    const ex = l.steps[8].action;
    expect(ex.kind === 'expect' && ex.checks.map((c) => [c.kind, c.withinMs])).toEqual([
      ['mdb', 2000],
      ['packets', 0],
    ]);
    expect(l.expect[1]).toMatchObject({ kind: 'output', contains: ['group', '239.1.1.1'], notContains: ['232.9.9.9'], matches: ['^em0:'], exit: 0, label: 'h1: ifmcstat -i em0' });
  });

  it('every lab file at the top of labs/ (the runner\'s examples) is valid, without warnings', () => {
    const files = readdirSync('labs').filter((f) => f.endsWith('.yaml'));
    expect(files.length).toBeGreaterThanOrEqual(2);
    for (const f of files) {
      const { lab: l, warnings } = loadLabFile(`labs/${f}`);
      expect(warnings, f).toEqual([]);
      expect(l.name.length, f).toBeGreaterThan(0);
    }
  });

  it('the taplab commands a lab may use are exactly the tools of the registry', () => {
    expect([...TAPLAB_COMMANDS].sort()).toEqual([...TOOLS.keys()].sort());
  });

  it('durations and command lines', () => {
    expect([parseDuration('2s'), parseDuration('500ms'), parseDuration('1.5s'), parseDuration('2m'), parseDuration('1m30s'), parseDuration(3), parseDuration(0.25)]).toEqual([2000, 500, 1500, 120_000, 90_000, 3000, 250]);
    expect([parseDuration('2'), parseDuration('s'), parseDuration('-1s'), parseDuration(''), parseDuration(-1)]).toEqual([undefined, undefined, undefined, undefined, undefined]);
    expect(splitWords(`send 239.1.1.1 --data 'hello world' --x "a\\"b"`)).toEqual(['send', '239.1.1.1', '--data', 'hello world', '--x', 'a"b']);
    expect(splitWords(`join 'unterminated`)).toBeUndefined();
  });
});

describe('lab directories', () => {
  it('a directory is read as its lab.yaml, and named so in messages', () => {
    const loaded = loadLabFile('labs/03-igmpv3-ssm-filters');
    expect(loaded.lab.name).toMatch(/IGMPv3 source filters/);
    expect(() => loadLabFile('labs/no-such-lab')).toThrow(/cannot read the lab file labs\/no-such-lab/);
  });
});
