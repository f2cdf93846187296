/**
 * The control socket of `taplab host` over a real Unix socket in a temporary
 * directory, with an in-process host on an in-memory segment in real time:
 * the JSON-lines protocol (docs/control-protocol.md), bad requests, several
 * requests at once, streaming and cancel, the name rules (a second host of
 * the same name refused, a stale socket replaced, mode 0600), the `taplab -j`
 * client and its errors, and the daemon's stop (leaves sent, socket removed).
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { spawnSync } from 'node:child_process';
import { createConnection, type Socket } from 'node:net';
import { mkdtempSync, rmSync, statSync, writeFileSync, existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { RealScheduler } from '../../src/kern/clock.js';
import { Random } from '../../src/kern/random.js';
import { Segment } from '../../src/driver/segment.js';
import { Host } from '../../src/host.js';
import { SysctlTree } from '../../src/stats/sysctl.js';
import { TOOLS } from '../../src/tools/registry.js';
import type { Tool } from '../../src/tools/tool.js';
import { ifmcstat } from '../../src/tools/ifmcstat.js';
import { ControlClient, ControlServer, MAX_REQUEST_BYTES, controlSocketPath, listHosts, probeSocket } from '../../src/lab/control.js';
import { HostDaemon } from '../../src/lab/hostd.js';
import { runRemote } from '../../src/tools/cli.js';
import { recordTypeName } from '../../src/igmp/codec.js';
import { inToString } from '../../src/inet/in.js';

let dir: string;
beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), 'taplab-control-'));
  process.env.TAPLAB_RUNTIME_DIR = join(dir, 'run');
});
afterAll(() => {
  delete process.env.TAPLAB_RUNTIME_DIR;
  rmSync(dir, { recursive: true, force: true });
});

/** A tool that prints a line every `ms` until cancelled (stands in for netstat -w). */
const ticker: Tool = {
  name: 'ticker',
  summary: 'print tick N every 20 ms until cancelled',
  async run(env) {
    for (let i = 1; ; i++) {
      env.out(`tick ${i}\n`);
      await env.sleep(20);
    }
  },
};
/** A tool that throws. */
const broken: Tool = {
  name: 'broken',
  summary: 'throws',
  run() {
    throw new Error('boom');
  },
};

function makeHost(name: string) {
  const sched = new RealScheduler();
  const seg = new Segment(sched, new Random(1));
  const host = new Host(name, sched);
  const em0 = host.addEther(seg.port('h.em0'), { name: 'em0', mac: '02:00:5e:10:00:01' });
  host.inet.v4.addAddress(em0, '192.0.2.10/24');
  return { sched, seg, host, em0, tree: new SysctlTree(host) };
}

async function withServer(name: string, fn: (s: ControlServer, h: ReturnType<typeof makeHost>) => Promise<void>): Promise<void> {
  const h = makeHost(name);
  const tools = new Map(TOOLS);
  tools.set('ticker', ticker);
  tools.set('broken', broken);
  const s = await ControlServer.start({ host: h.host, tree: h.tree, tools, info: () => `${name} test` });
  try {
    await fn(s, h);
  } finally {
    await s.close();
    h.host.destroy();
    h.sched.shutdown();
  }
}

/** A raw connection that collects reply lines. */
async function raw(path: string) {
  const sock: Socket = createConnection(path);
  await new Promise<void>((res, rej) => (sock.once('connect', res), sock.once('error', rej)));
  const lines: Record<string, unknown>[] = [];
  let buf = '';
  const waiters: (() => void)[] = [];
  sock.setEncoding('utf8');
  sock.on('data', (d: string) => {
    buf += d;
    let nl: number;
    while ((nl = buf.indexOf('\n')) >= 0) {
      lines.push(JSON.parse(buf.slice(0, nl)) as Record<string, unknown>);
      buf = buf.slice(nl + 1);
    }
    for (const w of waiters.splice(0)) w();
  });
  const until = async (pred: () => boolean, what: string, ms = 5000) => {
    const end = Date.now() + ms;
    while (!pred()) {
      if (Date.now() > end) throw new Error(`timed out waiting for ${what}; got ${JSON.stringify(lines)}`);
      await new Promise<void>((r) => {
        waiters.push(r);
        setTimeout(r, 50);
      });
    }
  };
  return {
    sock,
    lines,
    send: (s: string) => sock.write(s),
    until,
    /** Wait for the exit or error reply of `id` and return every line of it. */
    async reply(id: unknown) {
      await until(() => lines.some((l) => l.id === id && ('exit' in l || 'error' in l)), `the end of request ${JSON.stringify(id)}`);
      return lines.filter((l) => l.id === id);
    },
    close: () => sock.destroy(),
  };
}

describe('control socket protocol', () => {
  it('listens at $TAPLAB_RUNTIME_DIR/NAME.sock, mode 0600, in a 0700 directory', () =>
    withServer('p1', async (s) => {
      expect(s.path).toBe(join(dir, 'run', 'p1.sock'));
      expect(controlSocketPath('p1')).toBe(s.path);
      const st = statSync(s.path);
      expect(st.isSocket()).toBe(true);
      expect(st.mode & 0o777).toBe(0o600);
      expect(statSync(join(dir, 'run')).mode & 0o777).toBe(0o700);
    }));

  it('runs a tool: out chunks then exit, the same text as in-process', () =>
    withServer('p2', async (s, h) => {
      const c = await raw(s.path);
      c.send('{"id":1,"cmd":"ifmcstat","argv":["-i","em0"]}\n');
      const r = await c.reply(1);
      const out = r.filter((l) => 'out' in l).map((l) => l.out).join('');
      expect(out).toBe(ifmcstat(h.tree, ['-i', 'em0']).stdout);
      expect(r[r.length - 1]).toEqual({ id: 1, exit: 0 });
      // A usage error of the tool: err chunk and its exit status.
      c.send('{"id":"u","cmd":"ifmcstat","argv":["-x"]}\n');
      const u = await c.reply('u');
      expect(u.some((l) => typeof l.err === 'string' && /usage: ifmcstat/.test(l.err))).toBe(true);
      expect(u[u.length - 1]).toEqual({ id: 'u', exit: 64 });
      c.close();
    }));

  it('help lists every command; help COMMAND runs its --help; info answers one line', () =>
    withServer('p3', async (s) => {
      const c = await raw(s.path);
      c.send('{"cmd":"help"}\n');
      const r = await c.reply(null);
      const text = String(r[0].out);
      for (const name of ['help', 'info', 'ifmcstat', 'join', 'leave', 'block', 'unblock', 'send', 'groups', 'snapshot']) expect(text).toMatch(new RegExp(`^  ${name} +\\S`, 'm'));
      expect(r[1]).toEqual({ id: null, exit: 0 });
      c.send('{"id":2,"cmd":"help","argv":["join"]}\n');
      expect(String((await c.reply(2))[0].out)).toMatch(/^usage: join GROUP/);
      c.send('{"id":3,"cmd":"info"}\n');
      expect(await c.reply(3)).toEqual([{ id: 3, out: 'p3 test\n' }, { id: 3, exit: 0 }]);
      c.close();
    }));

  it('bad requests get an EINVAL error reply and the connection and host carry on', () =>
    withServer('p4', async (s) => {
      const c = await raw(s.path);
      const bad: [string, unknown, RegExp][] = [
        ['not json at all', null, /is not JSON/],
        ['[1,2]', null, /must be a JSON object/],
        ['"str"', null, /must be a JSON object/],
        ['{"id":{"x":1},"cmd":"help"}', null, /"id" must be a number or a string/],
        ['{"id":5}', 5, /lacks "cmd"/],
        ['{"id":6,"cmd":""}', 6, /lacks "cmd"/],
        ['{"id":7,"cmd":"ifmcstat","argv":"-v"}', 7, /"argv" of ifmcstat must be an array of strings/],
        ['{"id":8,"cmd":"ifmcstat","argv":[1]}', 8, /must be an array of strings/],
        ['{"id":9,"cmd":"rm","argv":["-rf","/"]}', 9, /no command named "rm" \(taplab -j p4 help lists them\)/],
        ['{"id":10,"cmd":"help","extra":1}', 10, /unknown field "extra"/],
        ['{"id":11,"cancel":true}', 11, /no request with id 11 is running/],
        ['{"id":12,"cancel":1}', 12, /"cancel" must be true/],
        ['{"id":13,"cmd":"help","argv":["nope"]}', 13, /no command named "nope"/],
      ];
      for (const [line, id, msg] of bad) {
        const before = c.lines.length;
        c.send(`${line}\n`);
        await c.until(() => c.lines.length > before, `the reply to ${line}`);
        const r = c.lines[before];
        expect(r.id, line).toEqual(id);
        expect((r.error as { errno: string }).errno, line).toBe('EINVAL');
        expect((r.error as { message: string }).message, line).toMatch(msg);
      }
      // Blank lines and CRLF are fine.
      c.send('\n\r\n{"id":20,"cmd":"info"}\r\n');
      expect((await c.reply(20)).map((l) => Object.keys(l).sort().join())).toEqual(['id,out', 'exit,id']);
      // A tool that throws: an err line and exit 70; the host is unharmed.
      c.send('{"id":21,"cmd":"broken"}\n');
      expect(await c.reply(21)).toEqual([{ id: 21, err: 'broken: internal error: boom\n' }, { id: 21, exit: 70 }]);
      c.send('{"id":22,"cmd":"ifmcstat"}\n');
      expect((await c.reply(22)).pop()).toEqual({ id: 22, exit: 0 });
      c.close();
    }));

  it('an oversized line is refused and discarded up to its newline, also when it arrives in pieces', () =>
    withServer('p5', async (s) => {
      const c = await raw(s.path);
      const big = `{"id":1,"cmd":"ifmcstat","argv":["${'x'.repeat(MAX_REQUEST_BYTES + 10)}"]}`;
      // In pieces, so the server sees the limit passed before the newline.
      for (let i = 0; i < big.length; i += 8192) c.send(big.slice(i, i + 8192));
      await c.until(() => c.lines.length > 0, 'the oversized reply');
      c.send('\n{"id":2,"cmd":"info"}\n');
      const r2 = await c.reply(2);
      expect(c.lines[0]).toEqual({ id: null, error: { errno: 'EINVAL', message: `request line longer than ${MAX_REQUEST_BYTES} bytes; it was discarded up to its newline` } });
      expect(c.lines.filter((l) => 'error' in l).length).toBe(1);
      expect(r2.pop()).toEqual({ id: 2, exit: 0 });
      // In one piece with its newline.
      c.send(`${big}\n{"id":3,"cmd":"info"}\n`);
      expect((await c.reply(3)).pop()).toEqual({ id: 3, exit: 0 });
      expect(c.lines.filter((l) => 'error' in l).length).toBe(2);
      c.close();
    }));

  it('runs concurrent requests on one connection and on several, told apart by id', () =>
    withServer('p6', async (s) => {
      const a = await raw(s.path);
      const b = await raw(s.path);
      a.send('{"id":1,"cmd":"ticker"}\n{"id":2,"cmd":"ifmcstat"}\n{"id":3,"cmd":"join","argv":["239.1.1.1"]}\n{"id":1,"cmd":"info"}\n');
      b.send('{"id":1,"cmd":"ifmcstat","argv":["-f","inet"]}\n{"id":2,"cmd":"join","argv":["239.1.1.1"]}\n');
      expect((await a.reply(2)).pop()).toEqual({ id: 2, exit: 0 });
      expect(await a.reply(3)).toEqual([{ id: 3, out: 'joined 239.1.1.1 on em0: exclude {}\n' }, { id: 3, exit: 0 }]);
      // A second request with a running request's id is refused.
      await a.until(() => a.lines.some((l) => l.id === 1 && 'error' in l), 'the duplicate-id error');
      expect(a.lines.find((l) => l.id === 1 && 'error' in l)!.error).toEqual({ errno: 'EINVAL', message: 'a request with id 1 is already running on this connection' });
      expect((await b.reply(1)).pop()).toEqual({ id: 1, exit: 0 });
      // b's join ran after a's (or before): one of them is EADDRINUSE; the same ids on two connections do not mix.
      const bj = await b.reply(2);
      const ajOk = a.lines.some((l) => l.id === 3 && l.exit === 0);
      expect(ajOk).toBe(true);
      expect(bj.pop()).toEqual({ id: 2, exit: 71 });
      expect(s.running).toBe(1); // the ticker
      a.close();
      b.close();
      await a.until(() => s.running === 0, 'the ticker to stop when its client went away');
    }));

  it('streams output until cancel, then exits 130; a disconnect cancels as well', () =>
    withServer('p7', async (s) => {
      const c = await raw(s.path);
      c.send('{"id":"w","cmd":"ticker"}\n');
      await c.until(() => c.lines.filter((l) => l.id === 'w').length >= 3, 'three ticks');
      c.send('{"id":"w","cancel":true}\n');
      const r = await c.reply('w');
      expect(r.slice(0, 3)).toEqual([{ id: 'w', out: 'tick 1\n' }, { id: 'w', out: 'tick 2\n' }, { id: 'w', out: 'tick 3\n' }]);
      expect(r.pop()).toEqual({ id: 'w', exit: 130 });
      expect(s.running).toBe(0);
      c.send('{"id":"x","cmd":"ticker"}\n');
      await c.until(() => c.lines.some((l) => l.id === 'x'), 'a tick');
      expect(s.running).toBe(1);
      c.close();
      await c.until(() => s.running === 0 && s.connections === 0, 'the server to drop the request');
    }));

  it('a client that shuts down its sending side still gets every reply, then the server closes', () =>
    withServer('p8', async (s) => {
      const c = await raw(s.path);
      let ended = false;
      c.sock.on('end', () => (ended = true));
      c.sock.end('{"id":1,"cmd":"ifmcstat"}\n{"id":2,"cmd":"send","argv":["239.1.1.1","--count","3","--interval","30"]}\n');
      await c.until(() => ended, 'the server to close its side');
      expect(c.lines.filter((l) => 'exit' in l)).toEqual([{ id: 1, exit: 0 }, { id: 2, exit: 0 }]);
      expect(c.lines.find((l) => l.id === 2 && 'out' in l)?.out).toBe('sent 3 datagrams of 6 bytes to 239.1.1.1 port 5000 on em0 (ttl 1)\n');
      c.close();
    }));

  it('refuses a second host of the same name (EADDRINUSE), replaces a stale socket, refuses a non-socket file', async () => {
    await withServer('dup', async (s) => {
      const h = makeHost('dup');
      await expect(ControlServer.start({ host: h.host, tree: h.tree, tools: TOOLS })).rejects.toThrow(
        `EADDRINUSE: a taplab host named dup is already running (its control socket ${s.path} answers); stop it or choose another name`,
      );
      h.host.destroy();
      h.sched.shutdown();
      expect(await probeSocket(s.path)).toBe('alive');
    });
    // A stale socket: its process died without removing it (SIGKILL).
    const stale = controlSocketPath('stale');
    const r = spawnSync(process.execPath, ['-e', `require('net').createServer().listen(${JSON.stringify(stale)}, () => process.kill(process.pid, 'SIGKILL'))`], { timeout: 10_000 });
    expect(r.signal).toBe('SIGKILL');
    expect(statSync(stale).isSocket()).toBe(true);
    expect(await probeSocket(stale)).toBe('stale');
    const client = await runCli(['stale', 'info']);
    expect(client).toEqual({ code: 69, out: '', err: `taplab: host stale is not running (stale control socket at ${stale})\n` });
    expect((await listHosts()).find((x) => x.name === 'stale')?.state).toBe('stale');
    await withServer('stale', async (s) => {
      expect(s.path).toBe(stale);
      expect(await probeSocket(stale)).toBe('alive');
      expect(statSync(stale).mode & 0o777).toBe(0o600);
    });
    expect(existsSync(stale)).toBe(false);
    // Not a socket: refused, and left alone.
    const file = controlSocketPath('afile');
    writeFileSync(file, 'x');
    const h = makeHost('afile');
    await expect(ControlServer.start({ host: h.host, tree: h.tree, tools: TOOLS })).rejects.toThrow(/^EEXIST: .*afile\.sock exists and is not a socket/);
    h.host.destroy();
    h.sched.shutdown();
    expect(existsSync(file)).toBe(true);
  });
});

async function runCli(argv: string[]): Promise<{ code: number; out: string; err: string }> {
  let out = '';
  let err = '';
  const code = await runRemote(argv[0], argv[1], argv.slice(2), { out: (s) => void (out += s), err: (s) => void (err += s) });
  return { code, out, err };
}

describe('taplab -j client', () => {
  it('runs commands with their exit status, and says when there is no such host', async () => {
    expect(await runCli(['nohost', 'ifmcstat'])).toEqual({
      code: 69,
      out: '',
      err: `taplab: no host named nohost (no control socket at ${controlSocketPath('nohost')}; taplab -j reaches taplab hosts, from taplab host NAME or a running lab)\n`,
    });
    expect((await runCli(['bad/name', 'ifmcstat'])).code).toBe(64);
    await withServer('j1', async () => {
      const j = await runCli(['j1', 'join', '232.1.1.1', '--include', '198.51.100.7,198.51.100.8']);
      expect(j).toEqual({ code: 0, out: 'joined 232.1.1.1 on em0: include {198.51.100.7, 198.51.100.8}\n', err: '' });
      const v = await runCli(['j1', 'ifmcstat', '-v', '-f', 'inet']);
      expect(v.code).toBe(0);
      expect(v.out).toContain('group 232.1.1.1 mode include');
      expect(v.out).toContain('198.51.100.8');
      const dup = await runCli(['j1', 'join', '232.1.1.1', '--include', '198.51.100.7']);
      expect(dup.code).toBe(71);
      expect(dup.err).toMatch(/^join: EADDRNOTAVAIL: .*the source is already included\n$/);
      const unknown = await runCli(['j1', 'frobnicate']);
      expect(unknown).toEqual({ code: 64, out: '', err: 'taplab: host j1: no command named "frobnicate" (taplab -j j1 help lists them) (EINVAL)\n' });
      // A relative snapshot file is made absolute in the client's directory, not the host's.
      const cwd = process.cwd();
      process.chdir(dir);
      try {
        const snap = await runCli(['j1', 'snapshot', 'rel.snap']);
        expect(snap).toEqual({ code: 0, out: `wrote a snapshot of host j1 to ${join(dir, 'rel.snap')}\n`, err: '' });
      } finally {
        process.chdir(cwd);
      }
      expect(existsSync(join(dir, 'rel.snap'))).toBe(true);
      const hosts = await listHosts();
      expect(hosts.find((x) => x.name === 'j1')).toMatchObject({ state: 'alive', info: 'j1 test' });
    });
  });

  it('a client talking to a host that goes away is told so', async () => {
    const h = makeHost('gone');
    const tools = new Map(TOOLS);
    tools.set('ticker', ticker);
    const s = await ControlServer.start({ host: h.host, tree: h.tree, tools });
    const c = await ControlClient.connect(s.path, 'gone');
    let out = '';
    const req = c.request('ticker', [], { out: (x) => void (out += x), err: () => {} });
    while (!out) await new Promise((r) => setTimeout(r, 10));
    await s.close();
    await expect(req.done).rejects.toThrow(/closed its control connection/);
    h.host.destroy();
    h.sched.shutdown();
  });
});

describe('the host daemon (in-process, on a segment)', () => {
  it('serves the commands; stop leaves the groups (IGMP and MLD say so), removes the socket and the device', async () => {
    const sched = new RealScheduler();
    const seg = new Segment(sched, new Random(2));
    const d = await HostDaemon.start({ name: 'd1', device: seg.port('d1.em0'), sched, inet: ['192.0.2.10/24'], inet6: ['auto', '2001:db8::10/64'], igmpVersion: 3, robustness: 2, mac: '02:00:5e:10:00:01' });
    try {
      expect(d.banner()).toBe(
        `taplab host d1: em0 02:00:5e:10:00:01 on a test device, inet 192.0.2.10/24, inet6 fe80::5eff:fe10:1%em0/64, inet6 2001:db8::10/64; control socket ${controlSocketPath('d1')}`,
      );
      const out: string[] = [];
      d.host.igmp.observe((e) => {
        if (e.dir === 'out' && e.msg.kind === 'v3report') for (const r of e.msg.records) out.push(`${recordTypeName(r.type)} ${inToString(r.group)} {${r.sources.map((x) => inToString(x)).join(',')}}`);
      });
      let mldOut = 0;
      d.host.mld.observe((e) => void (e.dir === 'out' && mldOut++));
      expect((await runCli(['d1', 'join', '239.1.1.1'])).code).toBe(0);
      expect((await runCli(['d1', 'join', '232.1.1.1', '--include', '198.51.100.7'])).code).toBe(0);
      expect((await runCli(['d1', 'join', 'ff12::1:1'])).code).toBe(0);
      expect((await runCli(['d1', 'groups'])).out).toBe('em0\tinet \t239.1.1.1\texclude {}\nem0\tinet \t232.1.1.1\tinclude {198.51.100.7}\nem0\tinet6\tff12::1:1\texclude {}\n');
      const dupHost = HostDaemon.start({ name: 'd1', device: seg.port('x'), sched });
      await expect(dupHost).rejects.toThrow(/EADDRINUSE: a taplab host named d1 is already running/);
      const mldBefore = mldOut;
      out.length = 0;
      const r = await d.stop();
      expect(r.left.map((m) => m.group)).toEqual(['239.1.1.1', '232.1.1.1', 'ff12::1:1']);
      expect(r.waitedMs).toBeLessThan(3000);
      // RV = 2: each leave goes out twice (TO_IN {} for the ASM group, BLOCK for the SSM one).
      expect(out.filter((x) => x === 'CHANGE_TO_INCLUDE_MODE 239.1.1.1 {}' || x === 'TO_IN 239.1.1.1 {}').length).toBe(2);
      expect(out.filter((x) => x.endsWith('232.1.1.1 {198.51.100.7}') && /BLOCK/.test(x)).length).toBe(2);
      expect(mldOut - mldBefore).toBeGreaterThanOrEqual(2);
      expect(existsSync(controlSocketPath('d1'))).toBe(false);
      expect(await d.stop()).toBe(r);
    } finally {
      await d.stop();
      sched.shutdown();
    }
  });

  it('refuses bad options before opening anything', async () => {
    await expect(HostDaemon.start({ name: 'o1' })).rejects.toThrow(/needs --attach TAP .* or --create/);
    await expect(HostDaemon.start({ name: 'o1', attach: 'tap0', create: true })).rejects.toThrow(/not both/);
    await expect(HostDaemon.start({ name: 'o1', attach: 'tap0', inet: ['192.0.2.10'] })).rejects.toThrow(/--inet 192.0.2.10: expected an IPv4 address with a prefix length/);
    await expect(HostDaemon.start({ name: 'o1', attach: 'tap0', inet6: ['bogus'] })).rejects.toThrow(/--inet6 bogus/);
    await expect(HostDaemon.start({ name: 'o1', attach: 'tap0', igmpVersion: 4 })).rejects.toThrow('EINVAL: --igmp-version 4 is not one of 1, 2, 3');
    await expect(HostDaemon.start({ name: 'o1', attach: 'tap0', mldVersion: 3 })).rejects.toThrow(/--mld-version 3/);
    await expect(HostDaemon.start({ name: 'o1', attach: 'tap0', robustness: 0 })).rejects.toThrow('EINVAL: --robustness 0 is not an integer from 1 to 7');
    expect(existsSync(controlSocketPath('o1'))).toBe(false);
  });
});
