/**
 * `taplab host` as a process, driven only through `taplab -j` processes, in
 * a private namespace: tap0 (a persistent TAP) is a port of br0, a Linux
 * bridge with multicast snooping and its own IGMPv3 querier. The test
 * checks, with the kernel as judge:
 *
 *  - `join 232.1.1.1 --include 198.51.100.7,198.51.100.8` and an any-source
 *    join show in `ifmcstat -v` (with the sources) and in the bridge's MDB
 *    on tap0; an explicit `leave` removes its MDB entry while the host runs;
 *  - errors over -j: a second join (EADDRINUSE, exit 71), an unknown host
 *    (exit 69), a second `taplab host h1` (refused, EADDRINUSE);
 *  - `netstat -i -b` agrees with `ip -s link` on tap0 (taplab's Ipkts/Ibytes =
 *    the kernel's TX, Opkts/Obytes = its RX), read in a quiet moment: the
 *    kernel's counters are read before and after taplab's and must not move.
 *    This is done before any leave: a frame the kernel queued for the TAP
 *    just before a filter change (the bridge's group-specific query racing
 *    the host's leave) is counted in the kernel's TX but dropped by
 *    taplab's receive filter, as a NIC's filter would (if_rxfiltered, which
 *    no tool shows); over the whole run the capture, which sees frames
 *    before that filter, must hold exactly the kernel's TX and RX counts;
 *  - SIGTERM: the host exits 0, its leave reports (TO_IN {} for the
 *    any-source group, BLOCK {S1,S2} for the source-specific one) are in its
 *    pcapng and reached the kernel (tap0's RX counter grew by them), the
 *    control socket is gone;
 *  - the pcapng opens in tshark (exit 0) with no malformed frame and no
 *    expert warning on the host's frames, with checksums verified.
 *
 * The taplab command is bin/taplab.js (dist/, built by `npm ci`) when dist/
 * is at least as new as src/, else the sources through tsx.
 */
import { describe, expect, it } from 'vitest';
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { copyFileSync, existsSync, mkdtempSync, readdirSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { tapAddonAvailable } from '../../src/driver/native.js';
import { canUseNetns, withNetns, type Netns } from '../helpers/netns.js';

const ROOT = fileURLToPath(new URL('../..', import.meta.url));
const can = canUseNetns();
const has = (cmd: string, args: string[]) => spawnSync(cmd, args, { stdio: 'ignore', timeout: 10_000 }).status === 0;
const skipReason = !can.ok
  ? can.reason
  : !tapAddonAvailable()
    ? 'the native TAP addon is not built (npm run build:native)'
    : !has('tshark', ['-v'])
      ? 'tshark is not installed (bash scripts/install-deps.sh)'
      : !has('bridge', ['-V'])
        ? 'the iproute2 bridge command is not installed'
        : '';
if (skipReason) console.warn(`\n*** kernel taplab host tests SKIPPED: ${skipReason} ***\n`);

const HOST_MAC = '02:00:5e:10:00:01';
const HOST_V4 = '192.0.2.10';
const BR_V4 = '192.0.2.1';
const G_SSM = '232.1.1.1';
const G_ASM = '239.1.1.1';
const G_ASM2 = '239.2.2.2';
const S1 = '198.51.100.7';
const S2 = '198.51.100.8';

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

// ---------------------------------------------------------------- which taplab to run

function newestMtime(dir: string, ext: string): number {
  let t = 0;
  for (const e of readdirSync(dir, { withFileTypes: true })) {
    const p = join(dir, e.name);
    if (e.isDirectory()) t = Math.max(t, newestMtime(p, ext));
    else if (e.name.endsWith(ext)) t = Math.max(t, statSync(p).mtimeMs);
  }
  return t;
}

/** bin/taplab.js when dist/ is built and not older than src/, else the sources through tsx. */
function taplabCommand(): { argv: string[]; how: string } {
  const dist = join(ROOT, 'dist');
  const fresh = existsSync(join(dist, 'tools', 'cli.js')) && existsSync(join(dist, 'lab', 'hostd.js')) && newestMtime(dist, '.js') >= newestMtime(join(ROOT, 'src'), '.ts');
  if (fresh) return { argv: [join(ROOT, 'bin', 'taplab.js')], how: 'bin/taplab.js (dist/)' };
  return { argv: ['--import', 'tsx', join(ROOT, 'test', 'helpers', 'taplab_cli.ts')], how: 'the sources through tsx (dist/ is missing or older than src/)' };
}

interface Run {
  code: number | null;
  signal: NodeJS.Signals | null;
  out: string;
  err: string;
}

/** Run a short taplab command, bounded; killed by its PID when it overstays. */
function taplab(env: NodeJS.ProcessEnv, args: string[], timeoutMs = 30_000): Promise<Run> {
  const { argv } = taplabCommand();
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [...argv, ...args], { cwd: ROOT, env, stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    let err = '';
    child.stdout.on('data', (d: Buffer) => (out += d.toString()));
    child.stderr.on('data', (d: Buffer) => (err += d.toString()));
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      reject(new Error(`taplab ${args.join(' ')}: no exit within ${timeoutMs} ms\n${out}${err}`));
    }, timeoutMs);
    child.on('error', (e) => (clearTimeout(timer), reject(e)));
    child.on('close', (code, signal) => (clearTimeout(timer), resolve({ code, signal, out, err })));
  });
}

interface HostProc {
  child: ChildProcess;
  out(): string;
  err(): string;
  exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
}

/** Start `taplab host ...` and wait (bounded) for its start line. */
async function startHost(env: NodeJS.ProcessEnv, args: string[]): Promise<HostProc> {
  const { argv } = taplabCommand();
  const child = spawn(process.execPath, [...argv, 'host', ...args], { cwd: ROOT, env, stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  let err = '';
  child.stdout!.on('data', (d: Buffer) => (out += d.toString()));
  child.stderr!.on('data', (d: Buffer) => (err += d.toString()));
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((r) => child.on('close', (code, signal) => r({ code, signal })));
  const p: HostProc = { child, out: () => out, err: () => err, exited };
  const end = Date.now() + 30_000;
  let gone = false;
  void exited.then(() => (gone = true));
  while (!out.includes('control socket')) {
    if (gone) throw new Error(`taplab host exited before its start line:\n${out}${err}`);
    if (Date.now() > end) {
      child.kill('SIGKILL');
      throw new Error(`taplab host printed no start line within 30 s:\n${out}${err}`);
    }
    await sleep(50);
  }
  return p;
}

// ---------------------------------------------------------------- the kernel's views

interface MdbEntry {
  port: string;
  grp: string;
  src?: string;
  filter_mode?: string;
  source_list?: { address: string; timer: string }[];
}

async function mdbTap0(ns: Netns): Promise<MdbEntry[]> {
  const r = await ns.exec('bridge', ['-j', '-d', 'mdb', 'show', 'dev', 'br0']);
  const j = JSON.parse(r.stdout || '[]') as { mdb?: MdbEntry[] }[];
  return j.flatMap((x) => x.mdb ?? []).filter((e) => e.port === 'tap0');
}

/** (*,G) of a group on tap0: mode and the sources with running timers. */
function star(m: MdbEntry[], grp: string): { mode: string; sources: string[] } | undefined {
  const e = m.find((x) => x.grp === grp && !x.src);
  return e && { mode: e.filter_mode ?? '', sources: (e.source_list ?? []).filter((s) => parseFloat(s.timer) > 0).map((s) => s.address).sort() };
}

async function waitMdb(ns: Netns, what: string, pred: (m: MdbEntry[]) => boolean, timeoutMs = 8000): Promise<MdbEntry[]> {
  const end = Date.now() + timeoutMs;
  for (;;) {
    const m = await mdbTap0(ns);
    if (pred(m)) return m;
    if (Date.now() > end) throw new Error(`timed out after ${timeoutMs} ms waiting for the bridge MDB: ${what}\n${JSON.stringify(m)}`);
    await sleep(100);
  }
}

/** One row of `netstat -i -b -n -I em0`, by the header's column names. */
function netstatLinkRow(text: string): Record<string, string> {
  const lines = text.split('\n').filter(Boolean);
  const head = lines[0].trim().split(/\s+/);
  const row = lines.find((l) => /<Link#\d+>/.test(l));
  if (!row) throw new Error(`no <Link#> row in netstat -i:\n${text}`);
  const cells = row.trim().split(/\s+/);
  if (cells.length !== head.length) throw new Error(`netstat -i row has ${cells.length} cells for ${head.length} columns:\n${text}`);
  return Object.fromEntries(head.map((h, i) => [h, cells[i]]));
}

// ---------------------------------------------------------------- tshark

interface Frame {
  n: number;
  src: string;
  protocols: string;
  malformed: string;
  severity: number[];
  expert: string;
  recTypes: number[];
  recGroups: string[];
  time: number;
}

async function tsharkFrames(ns: Netns, file: string): Promise<Frame[]> {
  const fields = ['frame.number', 'eth.src', 'frame.protocols', '_ws.malformed', '_ws.expert.severity', '_ws.expert.message', 'igmp.record_type', 'igmp.maddr', 'frame.time_epoch'];
  const r = await ns.exec(
    'tshark',
    ['-r', file, '-n', '-o', 'ip.check_checksum:TRUE', '-o', 'udp.check_checksum:TRUE', '-T', 'fields', '-E', 'separator=/t', '-E', 'occurrence=a', '-E', 'aggregator=;', ...fields.flatMap((f) => ['-e', f])],
    { timeoutMs: 30_000 },
  );
  return r.stdout
    .split('\n')
    .filter((l) => l.trim())
    .map((l) => {
      const f = l.split('\t');
      return {
        n: Number(f[0]),
        src: f[1],
        protocols: f[2],
        malformed: f[3] ?? '',
        severity: (f[4] ?? '').split(';').filter(Boolean).map(Number),
        expert: f[5] ?? '',
        recTypes: (f[6] ?? '').split(';').filter(Boolean).map(Number),
        recGroups: (f[7] ?? '').split(';').filter(Boolean),
        time: Number(f[8]),
      };
    });
}

/** Wireshark's PI_WARN. */
const PI_WARN = 0x00600000;
const REC_TO_IN = 3;
const REC_BLOCK = 6;

// ---------------------------------------------------------------- the test

describe.skipIf(!!skipReason)('taplab host driven through taplab -j (private netns, Linux bridge)', () => {
  it(
    'joins show in ifmcstat -v and the bridge MDB; netstat -i agrees with ip -s link; SIGTERM sends the leaves and removes the socket; the pcapng is clean in tshark',
    () =>
      withNetns(async (ns) => {
        const dir = mkdtempSync(join(tmpdir(), 'taplab-hostd-'));
        const env = { ...process.env, TAPLAB_RUNTIME_DIR: join(dir, 'run') };
        const pcap = join(dir, 'h1.pcapng');
        const sock = join(dir, 'run', 'h1.sock');
        let host: HostProc | undefined;
        console.log(`taplab command: ${taplabCommand().how}`);
        try {
          await ns.exec('ip', [
            'link', 'add', 'br0', 'type', 'bridge', 'mcast_snooping', '1', 'mcast_igmp_version', '3', 'mcast_query_use_ifaddr', '1',
            'mcast_query_interval', '300', 'mcast_query_response_interval', '100', 'mcast_startup_query_interval', '100',
            'mcast_startup_query_count', '2', 'mcast_last_member_interval', '50', 'mcast_last_member_count', '2',
          ]);
          await ns.exec('sysctl', ['-qw', 'net.ipv6.conf.br0.disable_ipv6=1', 'net.ipv6.conf.default.disable_ipv6=1']);
          await ns.exec('ip', ['tuntap', 'add', 'dev', 'tap0', 'mode', 'tap']);
          await ns.exec('sysctl', ['-qw', 'net.ipv6.conf.tap0.disable_ipv6=1']);
          await ns.exec('ip', ['link', 'set', 'tap0', 'master', 'br0']);
          await ns.exec('ip', ['link', 'set', 'tap0', 'up']);
          await ns.exec('ip', ['addr', 'add', `${BR_V4}/24`, 'dev', 'br0']);
          await ns.exec('ip', ['link', 'set', 'br0', 'up']);

          host = await startHost(env, ['h1', '--attach', 'tap0', '--netns', ns.name, '--inet', `${HOST_V4}/24`, '--mac', HOST_MAC, '--pcap', pcap]);
          expect(host.out()).toBe(
            `taplab host h1: em0 ${HOST_MAC} on TAP tap0 in netns ${ns.name}, inet ${HOST_V4}/24, inet6 fe80::5eff:fe10:1%em0/64; control socket ${sock}; capturing to ${pcap}\n`,
          );
          expect(statSync(sock).mode & 0o777).toBe(0o600);
          await ns.exec('ip', ['link', 'set', 'br0', 'type', 'bridge', 'mcast_querier', '1']);
          const j = (...args: string[]) => taplab(env, ['-j', 'h1', ...args]);

          // ---- joins
          expect(await j('join', G_SSM, '--include', `${S1},${S2}`)).toMatchObject({ code: 0, out: `joined ${G_SSM} on em0: include {${S1}, ${S2}}\n`, err: '' });
          expect(await j('join', G_ASM)).toMatchObject({ code: 0, out: `joined ${G_ASM} on em0: exclude {}\n` });
          expect(await j('join', G_ASM2)).toMatchObject({ code: 0 });
          const mc = await j('ifmcstat', '-v', '-i', 'em0', '-f', 'inet');
          expect(mc.code).toBe(0);
          expect(mc.out).toMatch(new RegExp(`group ${G_SSM.replace(/\./g, '\\.')} mode include`));
          expect(mc.out).toContain(S1);
          expect(mc.out).toContain(S2);
          expect(mc.out).toMatch(new RegExp(`group ${G_ASM.replace(/\./g, '\\.')} mode exclude`));
          await waitMdb(ns, `${G_SSM} INCLUDE {S1,S2}, ${G_ASM} and ${G_ASM2} EXCLUDE {}`, (m) =>
            JSON.stringify([star(m, G_SSM), star(m, G_ASM), star(m, G_ASM2)]) ===
            JSON.stringify([{ mode: 'include', sources: [S1, S2] }, { mode: 'exclude', sources: [] }, { mode: 'exclude', sources: [] }]),
          );

          // ---- errors through -j
          const dup = await j('join', G_ASM);
          expect(dup.code).toBe(71);
          expect(dup.err).toMatch(/^join: EADDRINUSE: .*239\.1\.1\.1 on em0: the host is already a member\n$/);
          expect(await taplab(env, ['-j', 'h9', 'ifmcstat'])).toMatchObject({ code: 69, err: `taplab: no host named h9 (no control socket at ${join(dir, 'run', 'h9.sock')}; taplab -j reaches taplab hosts, from taplab host NAME or a running lab)\n` });
          const second = await taplab(env, ['host', 'h1', '--create', 'tap9', '--netns', ns.name]);
          expect(second.code).toBe(71);
          expect(second.err).toBe(`taplab host h1: EADDRINUSE: a taplab host named h1 is already running (its control socket ${sock} answers); stop it or choose another name\n`);
          expect(await ns.hasLink('tap9')).toBe(false);
          expect((await taplab(env, ['hosts'])).out).toMatch(/^h1 pid \d+ em0 inet 192\.0\.2\.10\/24/);

          // ---- traffic both ways, then the counters
          expect((await j('send', `${G_ASM}:5000`, '--count', '20', '--data', 'from taplab')).code).toBe(0);
          await ns.exec(process.execPath, ['-e', `
            const s = require('dgram').createSocket('udp4');
            s.bind(0, '${BR_V4}', () => { s.setMulticastInterface('${BR_V4}'); let n = 20;
              const next = () => n-- > 0 ? s.send('from the kernel', 5000, '${G_ASM}', next) : s.close(); next(); });`], { timeoutMs: 10_000 });
          let agreed: { taplab: Record<string, string>; kernel: Awaited<ReturnType<Netns['linkStats']>> } | undefined;
          const tries: string[] = [];
          for (let i = 0; i < 20 && !agreed; i++) {
            await sleep(300);
            const k1 = await ns.linkStats('tap0');
            const ns1 = await j('netstat', '-i', '-b', '-n', '-I', 'em0');
            const k2 = await ns.linkStats('tap0');
            expect(ns1.code, ns1.err).toBe(0);
            const t = netstatLinkRow(ns1.out);
            tries.push(`kernel before ${JSON.stringify(k1)} taplab ${JSON.stringify(t)} kernel after ${JSON.stringify(k2)}`);
            // Quiet: the kernel's counters did not move while taplab's were read.
            if (JSON.stringify(k1) === JSON.stringify(k2)) agreed = { taplab: t, kernel: k1 };
          }
          if (!agreed) throw new Error(`no quiet moment to compare counters in 20 tries:\n${tries.join('\n')}`);
          const { taplab: t, kernel: k } = agreed;
          expect({ Ipkts: Number(t.Ipkts), Ibytes: Number(t.Ibytes), Opkts: Number(t.Opkts), Obytes: Number(t.Obytes) }, tries[tries.length - 1]).toEqual({
            Ipkts: k.txPackets,
            Ibytes: k.txBytes,
            Opkts: k.rxPackets,
            Obytes: k.rxBytes,
          });
          expect(Number(t.Ipkts)).toBeGreaterThanOrEqual(20); // the kernel's datagrams got in (the group is joined)
          expect(Number(t.Opkts)).toBeGreaterThanOrEqual(20 + 3);
          console.log(`netstat -i agreed with ip -s link: Ipkts ${t.Ipkts} Ibytes ${t.Ibytes} Opkts ${t.Opkts} Obytes ${t.Obytes} (try ${tries.length})`);

          // ---- an explicit leave, while the link is up: the bridge drops the entry (after its last-member queries)
          expect(await j('leave', G_ASM2)).toMatchObject({ code: 0, out: `left ${G_ASM2} on em0\n` });
          await waitMdb(ns, `${G_ASM2} gone after leave`, (m) => !star(m, G_ASM2) && !!star(m, G_ASM));

          // ---- SIGTERM
          const rxBefore = (await ns.linkStats('tap0')).rxPackets;
          const tTerm = Date.now() / 1000;
          host.child.kill('SIGTERM');
          const ended = await Promise.race([host.exited, sleep(15_000).then(() => undefined)]);
          if (!ended) throw new Error(`taplab host did not exit within 15 s of SIGTERM:\n${host.out()}${host.err()}`);
          expect(ended, host.err()).toEqual({ code: 0, signal: null });
          expect(host.out().split('\n')[1]).toMatch(new RegExp(`^taplab host h1: SIGTERM: left 2 groups \\(${G_SSM.replace(/\./g, '\\.')}, ${G_ASM.replace(/\./g, '\\.')}\\) in \\d+ ms; \\d+ frames captured to ${pcap.replace(/[.]/g, '\\.')}; stopped$`));
          expect(existsSync(sock)).toBe(false);
          const final = await ns.linkStats('tap0');
          const rxAfter = final.rxPackets;
          expect(await taplab(env, ['-j', 'h1', 'ifmcstat'])).toMatchObject({ code: 69 });
          // With nobody on the TAP the port loses carrier and the bridge forgets it too.
          await waitMdb(ns, 'no entries on tap0 after the host stopped', (m) => m.length === 0);

          // ---- the capture
          const plain = await ns.exec('tshark', ['-r', pcap, '-n'], { allowFail: true, timeoutMs: 30_000 });
          expect(plain.code, plain.stderr).toBe(0);
          const verbose = await ns.exec('tshark', ['-r', pcap, '-n', '-V'], { timeoutMs: 30_000 });
          expect(verbose.stdout).not.toMatch(/Malformed/i);
          const frames = await tsharkFrames(ns, pcap);
          expect(frames.length).toBeGreaterThan(40);
          expect(frames.filter((f) => f.malformed).map((f) => `${f.n} ${f.protocols}`)).toEqual([]);
          const mine = frames.filter((f) => f.src === HOST_MAC);
          expect(mine.filter((f) => f.severity.some((s) => s >= PI_WARN)).map((f) => `${f.n} ${f.protocols}: ${f.expert}`)).toEqual([]);
          // Over the whole run, what the kernel handed to the TAP and took from it is what the capture
          // holds (the capture sees frames before taplab's receive filter, so this also counts frames
          // the filter dropped, which Ipkts does not).
          const inbound = frames.filter((f) => f.src !== HOST_MAC).length;
          expect({ inbound, outbound: mine.length }).toEqual({ inbound: final.txPackets, outbound: final.rxPackets });
          // The leaves: after SIGTERM, TO_IN {} for the any-source group and BLOCK for the SSM group, each sent RV = 2 times.
          const leaves = mine.filter((f) => f.time >= tTerm - 1 && f.protocols.includes('igmp'));
          const toIn = leaves.filter((f) => f.recTypes.some((t, i) => t === REC_TO_IN && f.recGroups[i] === G_ASM));
          const block = leaves.filter((f) => f.recTypes.some((t, i) => t === REC_BLOCK && f.recGroups[i] === G_SSM));
          expect({ toIn: toIn.length, block: block.length }, JSON.stringify(leaves)).toEqual({ toIn: 2, block: 2 });
          // ...and reached the kernel.
          expect(rxAfter - rxBefore).toBeGreaterThanOrEqual(new Set([...toIn, ...block].map((f) => f.n)).size);
          console.log(`SIGTERM: ${toIn.length} TO_IN {} for ${G_ASM} and ${block.length} BLOCK for ${G_SSM} in the pcapng; tap0 RX grew by ${rxAfter - rxBefore}; ${frames.length} frames in the capture`);
        } finally {
          if (host && host.child.exitCode === null && host.child.signalCode === null) {
            host.child.kill('SIGKILL');
            await Promise.race([host.exited, sleep(5000)]);
          }
          if (process.env.TAPLAB_KEEP_PCAP && existsSync(pcap)) copyFileSync(pcap, join(process.env.TAPLAB_KEEP_PCAP, `${ns.name}.pcapng`));
          rmSync(dir, { recursive: true, force: true });
        }
      }),
    120_000,
  );
});
