/**
 * Packet capture against the Linux kernel, in a private namespace: a taplab
 * host on a TAP is pinged by the kernel and joins a group (IGMPv3 report)
 * while captureHost writes a pcapng; tshark must read every packet without
 * a malformed one, and the counts and directions must agree with the host's
 * if_data and with the kernel's counters on the other end of the TAP.
 */
import { describe, expect, it } from 'vitest';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { RealScheduler } from '../../src/kern/clock.js';
import { Host } from '../../src/host.js';
import { TapDevice } from '../../src/driver/tap.js';
import { tapAddonAvailable } from '../../src/driver/native.js';
import { IPPROTO_IP, IP_ADD_MEMBERSHIP } from '../../src/inet/socket.js';
import { captureHost } from '../../src/lab/pcapng.js';
import { canUseNetns, withNetns } from '../helpers/netns.js';

const can = canUseNetns();
const hasTshark = spawnSync('tshark', ['-v'], { stdio: 'ignore', timeout: 20_000 }).status === 0;
const skipReason = !can.ok
  ? can.reason
  : !tapAddonAvailable()
    ? 'the native TAP addon is not built (npm run build:native)'
    : !hasTshark
      ? 'tshark is not installed (scripts/install-deps.sh installs it)'
      : '';
if (skipReason) console.warn(`\n*** kernel capture tests SKIPPED: ${skipReason} ***\n`);

const HOST_MAC = '02:00:5e:10:00:01';
const HOST_V4 = '192.0.2.10';
const KERNEL_V4 = '192.0.2.1';

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
async function waitFor(what: string, pred: () => boolean, timeoutMs = 8000): Promise<void> {
  const end = Date.now() + timeoutMs;
  while (!pred()) {
    if (Date.now() > end) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await sleep(20);
  }
}

interface Row {
  no: number;
  len: number;
  caplen: number;
  dir: number;
  src: string;
  dst: string;
  proto: string;
  icmpType: string;
  igmpType: string;
  malformed: string;
  severity: string;
}

/** Read a capture with tshark, one row per packet (fields separated by tabs). */
function tsharkRows(path: string): Row[] {
  const fields = [
    'frame.number', 'frame.len', 'frame.cap_len', 'frame.packet_flags_direction', 'eth.src', 'eth.dst',
    '_ws.col.Protocol', 'icmp.type', 'igmp.type', '_ws.malformed', '_ws.expert.severity',
  ];
  const r = spawnSync('tshark', ['-r', path, '-T', 'fields', '-E', 'separator=/t', ...fields.flatMap((f) => ['-e', f])], {
    encoding: 'utf8',
    timeout: 60_000,
  });
  if (r.status !== 0) throw new Error(`tshark -r ${path} failed (exit ${r.status}): ${r.stderr}`);
  return r.stdout
    .split('\n')
    .filter((l) => l.length > 0)
    .map((l) => {
      const c = l.split('\t');
      return {
        no: Number(c[0]),
        len: Number(c[1]),
        caplen: Number(c[2]),
        dir: Number(c[3]),
        src: c[4],
        dst: c[5],
        proto: c[6],
        icmpType: c[7],
        igmpType: c[8],
        malformed: c[9],
        severity: c[10],
      };
    });
}

describe.skipIf(!!skipReason)('pcapng capture against the kernel (private netns)', () => {
  it('kernel ping and an IGMP join, captured and read back by tshark without malformed packets', () =>
    withNetns(async (ns) => {
      const dir = mkdtempSync(join(tmpdir(), 'taplab-pcap-'));
      const path = join(dir, 'h1.pcapng');
      const sched = new RealScheduler();
      const host = new Host('h1', sched);
      let cap: ReturnType<typeof captureHost> | undefined;
      try {
        const tap = TapDevice.open({ name: 'tap0', netns: ns.path, up: true });
        await ns.exec('ip', ['addr', 'add', `${KERNEL_V4}/24`, 'dev', 'tap0']);
        const em0 = host.addEther(tap, { name: 'em0', mac: HOST_MAC });
        host.inet.v4.addAddress(em0, `${HOST_V4}/24`);
        // Start from a quiet link: the attach-time reports and DAD are done.
        await sleep(1500);
        const k0 = await ns.linkStats('tap0');
        const d = em0.if_data;
        const o0 = d.ifi_opackets;
        const i0 = d.ifi_ipackets + d.ifi_ierrors + em0.if_rxfiltered;
        cap = captureHost(host, path);

        const ping = await ns.exec('ping', ['-c', '2', '-i', '0.2', '-W', '2', HOST_V4], { timeoutMs: 15_000 });
        expect(ping.stdout).toMatch(/2 received/);
        const reports0 = host.igmp.stat.igps_snd_reports;
        const so = host.inet.socket();
        so.setsockopt(IPPROTO_IP, IP_ADD_MEMBERSHIP, { imr_multiaddr: '239.1.2.3', imr_interface: HOST_V4 });
        await waitFor('the IGMPv3 state-change report', () => host.igmp.stat.igps_snd_reports > reports0);
        // On a real clock the capture reaches the file within a second, without close().
        await waitFor('the periodic flush of the capture', () => statSync(path).size > 0, 3000);
        await sleep(300);
        const packets = cap.packets();
        cap.close();
        cap = undefined;
        const k1 = await ns.linkStats('tap0');
        const sent = d.ifi_opackets - o0;
        const arrived = d.ifi_ipackets + d.ifi_ierrors + em0.if_rxfiltered - i0;

        const rows = tsharkRows(path);
        expect(rows.length).toBe(packets);
        // Every packet parses: whole frames, nothing malformed, no expert errors.
        for (const r of rows) {
          expect(r.malformed, `packet ${r.no} is malformed`).toBe('');
          expect(r.caplen, `packet ${r.no} was cut`).toBe(r.len);
          expect([1, 2], `packet ${r.no} has a direction`).toContain(r.dir);
          // PI_ERROR is 0x00800000 in Wireshark's expert severities.
          const errors = r.severity.split(',').filter((x) => x !== '' && Number(x) >= 0x00800000);
          expect(errors, `packet ${r.no} has expert errors`).toEqual([]);
        }
        const sev = spawnSync('tshark', ['-r', path, '-q', '-z', 'expert,error'], { encoding: 'utf8', timeout: 60_000 });
        expect(sev.status).toBe(0);
        expect(sev.stdout).not.toMatch(/Errors \(\d+\)/);
        expect(sev.stdout).not.toMatch(/Malformed/);

        // Directions: outbound frames come from the host's MAC, inbound ones from the kernel.
        const out = rows.filter((r) => r.dir === 2);
        const inb = rows.filter((r) => r.dir === 1);
        for (const r of out) expect(r.src, `packet ${r.no}`).toBe(HOST_MAC);
        for (const r of inb) expect(r.src, `packet ${r.no}`).not.toBe(HOST_MAC);
        // Counts: what the host sent and received while capturing, and what the kernel saw of it.
        expect(out.length).toBe(sent);
        expect(inb.length).toBe(arrived);
        expect(out.length).toBe(k1.rxPackets - k0.rxPackets);
        expect(inb.length).toBeLessThanOrEqual(k1.txPackets - k0.txPackets);
        // The exchange itself: two echo requests in, two replies out, and the IGMPv3 report out.
        expect(inb.filter((r) => r.icmpType === '8').length).toBe(2);
        expect(out.filter((r) => r.icmpType === '0').length).toBe(2);
        expect(out.filter((r) => r.igmpType === '0x22').length).toBeGreaterThanOrEqual(1);
        expect(out.find((r) => r.igmpType === '0x22')!.dst).toBe('01:00:5e:00:00:16');
      } finally {
        try {
          cap?.close();
        } finally {
          host.destroy();
          sched.shutdown();
          rmSync(dir, { recursive: true, force: true });
        }
      }
    }));
});
