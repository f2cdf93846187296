/**
 * The lab shell (src/lab/shell.ts) driven with a scripted input stream on a
 * memory-only lab: tools on hosts with their output as printed, the
 * timeline's lines, completion candidates, errors for unknown hosts and
 * commands, steps/step/run/expect/wait/time, Ctrl-C (a running command, then
 * twice at the prompt), `taplab run --shell`, and `taplab -j` reaching a lab
 * host through its control socket in a temporary runtime directory.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { PassThrough } from 'node:stream';
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseLab, type Lab } from '../../src/lab/labfile.js';
import { LabShell, runShellCommand, type ShellOptions } from '../../src/lab/shell.js';
import { runRemote } from '../../src/tools/cli.js';
import { KernError } from '../../src/kern/errno.js';

const root = join(dirname(fileURLToPath(import.meta.url)), '..', '..');

const LAB = `
name: shell test lab
seed: 7
duration: 6s
segments:
  lan: { type: memory, delay: 1ms }
hosts:
  r1:
    interfaces:
      - name: em0
        segment: lan
        inet: 192.0.2.1/24
        querier:
          igmp: { version: 3, qi: 4, qri: 1, startup_count: 1 }
  h1:
    interfaces:
      - name: em0
        segment: lan
        inet: 192.0.2.10/24
steps:
  - at: 1s
    h1: join 232.1.1.1 --include 198.51.100.7
  - at: 2s
    expect:
      - r1: querier -v
        contains: "group 232.1.1.1 include"
        within: 1s
        label: r1 learned the source
expect:
  - packets: h1.em0
    dir: out
    record: ALLOW
    group: 232.1.1.1
    between: [1s, 2s]
    label: the join went out as ALLOW
`;

let dir: string;
let labFile: string;
beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), 'taplab-shell-'));
  process.env.TAPLAB_RUNTIME_DIR = join(dir, 'run');
  labFile = join(dir, 'shell-lab.yaml');
  writeFileSync(labFile, LAB);
});
afterAll(() => {
  delete process.env.TAPLAB_RUNTIME_DIR;
  rmSync(dir, { recursive: true, force: true });
});

function lab(): Lab {
  return parseLab(LAB, 'shell-lab.yaml').lab;
}

/** Collects everything written to it as text. */
function sink(): { stream: PassThrough; text: () => string; waitFor: (s: string | RegExp, ms?: number) => Promise<void> } {
  const stream = new PassThrough();
  let buf = '';
  const waiters: (() => void)[] = [];
  stream.on('data', (d: Buffer) => {
    buf += d.toString();
    for (const w of waiters.splice(0)) w();
  });
  const has = (s: string | RegExp) => (typeof s === 'string' ? buf.includes(s) : s.test(buf));
  return {
    stream,
    text: () => buf,
    // Bounded by the test's own timeout.
    waitFor: async (s) => {
      while (!has(s)) await new Promise<void>((r) => waiters.push(r));
    },
  };
}

const quiet: ShellOptions = { terminal: false, handleSignals: false, historyFile: null, controlSockets: false };

/** Open a shell on the test lab, feed it `lines` and the end of input; its exit status and output. */
async function drive(lines: string[], opts: ShellOptions = {}): Promise<{ code: number; out: string }> {
  const input = new PassThrough();
  const out = sink();
  const sh = await LabShell.open(lab(), { virtualTime: true, ...quiet, ...opts, input, output: out.stream });
  const done = sh.run();
  input.end(lines.map((l) => `${l}\n`).join(''));
  const code = await done;
  return { code, out: out.text() };
}

describe('lab shell: commands', () => {
  it('runs tools on hosts with their output as printed, and shows the timeline as it happens', async () => {
    const { code, out } = await drive(['h1 join 239.1.1.1', 'wait 2s', 'h1 ifmcstat -i em0 -f inet', 'r1 querier', 'h1 groups', 'time']);
    expect(code).toBe(0);
    expect(out).toContain('joined 239.1.1.1 on em0');
    expect(out).toMatch(/h1 → 224\.0\.0\.22 {2}IGMPv3 report: TO_EX\(239\.1\.1\.1 \{\}\)/);
    expect(out).toMatch(/\tgroup 239\.1\.1\.1 mode exclude\n\t\t\tmcast-macaddr 01:00:5e:01:01:01/);
    expect(out).toMatch(/IGMPv3 querier 192\.0\.2\.1 \(this host\)/);
    expect(out).toMatch(/group 239\.1\.1\.1 exclude/);
    expect(out).toContain('lab time 2.000s (virtual time); next: step 1 at 1.000s (due)');
  });

  it('lists the hosts with their interfaces', async () => {
    const { out } = await drive(['hosts', 'help']);
    expect(out).toMatch(/^r1 {2}taplab, querier: em0 192\.0\.2\.1\/24 on lan \(memory\); no control socket$/m);
    expect(out).toMatch(/^h1 {2}taplab: em0 192\.0\.2\.10\/24 on lan \(memory\)/m);
    expect(out).toContain('commands (HOST is one of r1, h1):');
    expect(out).toMatch(/taplab tools on taplab hosts: ifmcstat, netstat/);
  });

  it('says in one line what is wrong with an unknown host, tool or argument, and goes on', async () => {
    const { code, out } = await drive(['h9 ifmcstat', 'h1 frobnicate', 'h1', 'ifmcstat -v', 'step x', 'wait', 'h1 join "239.1.1.1', 'help nothing', 'timeline maybe', 'time']);
    expect(code).toBe(0);
    expect(out).toContain('h9: no such host or command (hosts: r1, h1; help lists the commands)\n');
    expect(out).toMatch(/^h1: frobnicate: no such taplab tool \(tools: ifmcstat, .*querier, dmesg\)$/m);
    expect(out).toContain('h1: which command? e.g. h1 ifmcstat');
    expect(out).toContain('ifmcstat: no such host or command (hosts: r1, h1; help lists the commands); to run ifmcstat, name the host first, e.g. r1 ifmcstat\n');
    expect(out).toContain('step: "x" is not a number of steps');
    expect(out).toContain('wait: expected one duration');
    expect(out).toContain('unbalanced quote in: h1 join "239.1.1.1');
    expect(out).toContain('help: no command named nothing');
    expect(out).toContain('timeline: expected on or off');
    expect(out).toContain('lab time 0.000s'); // still there after the errors
  });

  it('a tool that fails prints its own error and the shell goes on', async () => {
    const { out } = await drive(['h1 join 10.1.1.1', 'h1 leave 239.9.9.9', 'time']);
    expect(out).toMatch(/join: .*10\.1\.1\.1/);
    expect(out).toMatch(/leave: .*239\.9\.9\.9/);
    expect(out).toContain('lab time 0.000s');
  });
});

describe('lab shell: completion', () => {
  it('completes host names, shell commands, a host\'s tools and its interfaces', async () => {
    const sh = await LabShell.open(lab(), { virtualTime: true, ...quiet, input: new PassThrough(), output: new PassThrough() });
    try {
      const [all] = sh.complete('');
      expect(all).toEqual(expect.arrayContaining(['h1', 'r1', 'step', 'steps', 'expect', 'time', 'help', 'exit', 'wait', 'run']));
      expect(sh.complete('h')).toEqual([['h1', 'help', 'hosts'], 'h']);
      expect(sh.complete('st')).toEqual([['step', 'steps'], 'st']);
      expect(sh.complete('h1 ifm')).toEqual([['ifmcstat'], 'ifm']);
      expect(sh.complete('r1 q')).toEqual([['querier'], 'q']);
      expect(sh.complete('h1 ')[0]).toEqual(expect.arrayContaining(['ifmcstat', 'netstat', 'join', 'leave', 'sysctl', 'querier']));
      expect(sh.complete('r1 querier -i e')).toEqual([['em0'], 'e']);
      expect(sh.complete('timeline o')).toEqual([['off', 'on'], 'o']);
      expect(sh.complete('help ne')).toEqual([['netstat'], 'ne']);
      expect(sh.complete('zz')).toEqual([[], 'zz']);
      expect(sh.complete('step ')).toEqual([[], '']);
    } finally {
      await sh.close();
    }
  });
});

describe('lab shell: the lab\'s timeline', () => {
  it('steps lists the steps, step runs the next one when due, expect checks now, run runs the rest', async () => {
    const { code, out } = await drive(['steps', 'expect', 'step', 'time', 'steps', 'step', 'run', 'step', 'time']);
    expect(code).toBe(0);
    expect(out).toMatch(/^> 1 {4}1\.000s {2}h1: join 232\.1\.1\.1 --include 198\.51\.100\.7$/m);
    expect(out).toMatch(/^ {2}2 {4}2\.000s {2}expect: r1 learned the source$/m);
    // expect before any step: the check's window [1 s, 2 s] has not opened, so it is not judged.
    expect(out).toContain('  · the join went out as ALLOW: not due yet (its window opens at 1.000s)');
    expect(out).toContain('SO FAR: 0 of 1 expectation held at 0.000s, 1 not due yet');
    expect(out).not.toMatch(/✗ the join went out as ALLOW/);
    // step: waits until 1 s, then runs the join (the timeline shows it and the report).
    expect(out).toMatch(/ {3}1\.000s {2}h1: join 232\.1\.1\.1 --include 198\.51\.100\.7\n/);
    expect(out).toMatch(/1\.00\ds {2}h1 → 224\.0\.0\.22 {2}IGMPv3 report: ALLOW\(232\.1\.1\.1 \{198\.51\.100\.7\}\)/);
    expect(out).toContain('lab time 1.000s (virtual time); next: step 2 at 2.000s (in 1.000s)');
    expect(out).toMatch(/^ {2}1 {4}1\.000s {2}h1: join .*\(done\)$/m);
    expect(out).toMatch(/^> 2 /m);
    expect(out).toMatch(/2\.000s {2}✓ r1 learned the source: has "group 232\.1\.1\.1 include"/);
    // run: the rest of the timeline (no steps left), the end at 6 s, the expectations.
    expect(out).toMatch(/6\.000s {2}✓ the join went out as ALLOW: \d+ matching messages? in \[1\.000s, 2\.000s\]/);
    expect(out).toContain('PASS: 1 of 1 expectation held at 6.000s');
    expect(out).toContain('no more steps (the lab\'s timeline ends at 6.000s');
    expect(out).toContain('lab time 6.000s (virtual time); every step has run');
  });

  it('taplab run LAB --shell runs the steps and checks first, then opens the prompt on the live lab', async () => {
    const input = new PassThrough();
    const out = sink();
    let text = '';
    const done = runShellCommand(labFile, { virtualTime: true, runFirst: true, out: (s) => void (text += s), err: (s) => void (text += s), shell: { ...quiet, input, output: out.stream } });
    input.end('time\nh1 groups\nexit\n');
    expect(await done).toBe(0);
    expect(text).toMatch(/^taplab shell: shell test lab \(.*shell-lab\.yaml\), seed 7, virtual time/m);
    expect(out.text()).toContain('PASS: 1 of 1 expectation held at 6.000s');
    expect(out.text()).toContain('lab time 6.000s (virtual time); every step has run');
    expect(out.text()).toMatch(/em0\tinet \t232\.1\.1\.1\tinclude \{198\.51\.100\.7\}/);
  });

  it('refuses a lab file with errors (65) and virtual time for a lab on a bridge (64), starting nothing', async () => {
    const bad = join(dir, 'bad.yaml');
    writeFileSync(bad, 'name: bad\nhosts:\n  h1:\n    interfaces: 3\n');
    let err = '';
    expect(await runShellCommand(bad, { err: (s) => void (err += s), out: () => {} })).toBe(65);
    expect(err).toMatch(/bad\.yaml:\d+:\d+: /);
    expect(err).toContain('is not a valid lab');
    const br = join(dir, 'br.yaml');
    writeFileSync(br, 'name: br\nsegments:\n  br0: { type: bridge }\nhosts:\n  h1:\n    interfaces:\n      - { name: em0, segment: br0, inet: 192.0.2.10/24 }\n');
    err = '';
    expect(await runShellCommand(br, { virtualTime: true, err: (s) => void (err += s), out: () => {} })).toBe(64);
    expect(err).toMatch(/--virtual-time needs a lab with only memory segments/);
  });
});

describe('lab shell: Ctrl-C', () => {
  it('stops a running command, then leaves on the second Ctrl-C at the prompt (130), tearing down', async () => {
    const input = new PassThrough();
    const out = sink();
    const sh = await LabShell.open(lab(), { ...quiet, input, output: out.stream }); // real time: netstat -w ticks
    const done = sh.run();
    input.write('h1 netstat -w 1 -I em0\n');
    await out.waitFor(/input +em0 +output/);
    sh.interrupt();
    await out.waitFor('^C\n');
    input.write('time\n');
    await out.waitFor('lab time ');
    sh.interrupt();
    await out.waitFor('(Ctrl-C again, Ctrl-D or exit to tear the lab down and leave)');
    sh.interrupt();
    expect(await done).toBe(130);
    expect(out.text()).toMatch(/lab time \d+\.\d{3}s \(real time\)/);
  });
});

describe('lab shell: control sockets', () => {
  it('serves taplab -j for each taplab host while it runs, refuses a second lab with the same host names, and removes the sockets at the end', async () => {
    const input = new PassThrough();
    const out = sink();
    const sh = await LabShell.open(lab(), { virtualTime: true, ...quiet, controlSockets: true, input, output: out.stream });
    const done = sh.run();
    const sock = join(process.env.TAPLAB_RUNTIME_DIR!, 'h1.sock');
    try {
      expect(existsSync(sock)).toBe(true);
      expect(sh.servers.map((s) => s.path).sort()).toEqual([sock, join(process.env.TAPLAB_RUNTIME_DIR!, 'r1.sock')]);
      let rout = '';
      const io = { out: (s: string) => void (rout += s), err: (s: string) => void (rout += s) };
      expect(await runRemote('h1', 'join', ['239.2.2.2'], io)).toBe(0);
      expect(rout).toContain('joined 239.2.2.2 on em0');
      rout = '';
      expect(await runRemote('h1', 'ifmcstat', ['-i', 'em0', '-f', 'inet'], io)).toBe(0);
      expect(rout).toContain('group 239.2.2.2 mode exclude');
      rout = '';
      expect(await runRemote('r1', 'info', [], io)).toBe(0);
      expect(rout).toMatch(/^r1 pid \d+ in lab shell test lab \(taplab shell\) em0 192\.0\.2\.1\/24/);
      // The membership made over the socket is the shell's host's own.
      input.write('h1 groups\n');
      await out.waitFor(/em0\tinet \t239\.2\.2\.2\texclude \{\}/);
      // A second lab with a host of the same name is refused before anything is built.
      const e = await LabShell.open(lab(), { virtualTime: true, ...quiet, controlSockets: true, input: new PassThrough(), output: new PassThrough() }).catch((x: unknown) => x);
      expect(e).toBeInstanceOf(KernError);
      expect((e as KernError).code).toBe('EADDRINUSE');
      expect((e as KernError).message).toMatch(/a taplab host named r1 is already running \(control socket .*r1\.sock\)/);
    } finally {
      input.end('exit\n');
    }
    expect(await done).toBe(0);
    expect(existsSync(sock)).toBe(false);
    let err = '';
    expect(await runRemote('h1', 'groups', [], { out: () => {}, err: (s) => void (err += s) })).toBe(69);
    expect(err).toMatch(/h1/);
  });
});

describe('taplab shell --help', () => {
  it('documents the commands, taplab -j and rootless use', () => {
    const r = spawnSync(process.execPath, ['--import', 'tsx', join(root, 'test/helpers/taplab_cli.ts'), 'shell', '--help'], { encoding: 'utf8', timeout: 30_000, cwd: root });
    expect(r.status).toBe(0);
    for (const s of ['Usage: taplab shell', '--virtual-time', 'step [N]', 'expect', 'taplab -j h1 ifmcstat -v', 'Ctrl-C', 'user and network namespace', 'taplab run LAB --shell']) expect(r.stdout).toContain(s);
  });
});

describe('taplab CLI usage errors', () => {
  const cli = (...args: string[]) => spawnSync(process.execPath, ['--import', 'tsx', join(root, 'test/helpers/taplab_cli.ts'), ...args], { encoding: 'utf8', timeout: 30_000, cwd: root });
  it('taplab host without --attach or --create, and taplab demo with an argument, are usage errors (64) that open nothing', () => {
    const h = cli('host', 'o9');
    expect(h.status).toBe(64);
    expect(h.stderr).toBe('taplab host o9: EINVAL: taplab host needs --attach TAP (an existing TAP) or --create [TAP] (a new one)\n');
    const d = cli('demo', 'extra');
    expect(d.status).toBe(64);
    expect(d.stderr).toMatch(/too many arguments for 'demo'/);
  });
});
