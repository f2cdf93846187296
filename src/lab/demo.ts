/**
 * `taplab demo`: the smallest real scene. A taplab host sits on a TAP in a
 * private network namespace; the Linux kernel on the other end sends UDP to
 * two multicast groups. Before the host joins, the TAP's receive filter
 * (programmed by the host's driver) keeps every group frame out of userspace;
 * after a socket on the host joins one group (IP_ADD_MEMBERSHIP), exactly
 * that group's datagrams arrive, and the socket reads them.
 */
import { RealScheduler } from '../kern/clock.js';
import { Host } from '../host.js';
import { TapDevice } from '../driver/tap.js';
import { macToString } from '../driver/sockaddr.js';
import { etherMapIpMulticast } from '../l2/ether.js';
import { IP_ADD_MEMBERSHIP, IPPROTO_IP } from '../inet/socket.js';
import { SysctlTree } from '../stats/sysctl.js';
import { ifmcstat } from '../tools/ifmcstat.js';
import { createNetns, deleteNetns, type Netns } from './netns.js';

const KERNEL_ADDR = '192.0.2.1';
const HOST_ADDR = '192.0.2.10';
const GROUPS = ['239.1.1.1', '239.2.2.2'];

function kernelSend(ns: Netns, group: string, count: number): void {
  const script = `
    const s = require('dgram').createSocket('udp4');
    s.bind(0, '${KERNEL_ADDR}', () => {
      s.setMulticastInterface('${KERNEL_ADDR}');
      let left = ${count};
      const next = () => left-- > 0 ? s.send('taplab demo', 5000, '${group}', next) : s.close();
      next();
    });`;
  ns.exec(process.execPath, ['-e', script], { timeoutMs: 10_000 });
}

function kernelCounters(ns: Netns, dev: string): Record<string, number> {
  const get = (f: string) => Number(ns.exec('cat', [`/sys/class/net/${dev}/statistics/${f}`]).trim());
  return { tx_packets: get('tx_packets'), tx_dropped: get('tx_dropped'), rx_packets: get('rx_packets') };
}

export async function runDemo(out: (line: string) => void = console.log): Promise<number> {
  const ns = createNetns('taplab-demo');
  // keepAlive: the demo's own waits are callouts, and they must hold the process open.
  const sched = new RealScheduler(true);
  const host = new Host('h1', sched);
  try {
    ns.exec('sysctl', ['-qw', 'net.ipv6.conf.all.disable_ipv6=1', 'net.ipv6.conf.default.disable_ipv6=1']);
    const tap = TapDevice.open({ name: 'tap0', netns: ns.path, up: true });
    ns.ip('addr', 'add', `${KERNEL_ADDR}/24`, 'dev', 'tap0');
    const em0 = host.addEther(tap, { name: 'em0', mac: '02:00:5e:10:00:01' });
    host.inet.v4.addAddress(em0, `${HOST_ADDR}/24`);
    const so = host.inet.socket().bind(undefined, 5000);
    const received: string[] = [];
    so.onMessage((d) => received.push(`${d.dst} from ${d.src}`));
    const settle = () => new Promise<void>((r) => sched.callout(300, r, 'demo settle'));
    const show = (title: string) => {
      const d = em0.if_data;
      const k = kernelCounters(ns, 'tap0');
      out(`  ${title}`);
      out(`    taplab em0: ipackets ${d.ifi_ipackets}  imcasts ${d.ifi_imcasts}; the socket read ${received.length} datagram(s)`);
      out(`    kernel tap0: tx_packets ${k.tx_packets}  tx_dropped ${k.tx_dropped} (frames its filter kept from us)`);
    };

    out(`taplab demo: host h1 (em0, 02:00:5e:10:00:01, ${HOST_ADDR}) on TAP tap0 in namespace ${ns.name}`);
    out(`the kernel (${KERNEL_ADDR}) sends 5 UDP datagrams to each of ${GROUPS.join(' and ')}`);
    await settle();
    const base = { i: em0.if_data.ifi_imcasts };
    for (const g of GROUPS) kernelSend(ns, g, 5);
    await settle();
    show("before any join: the TAP filter holds em0's MAC, broadcast and the stack's own groups (224.0.0.1, ff02::1, the solicited-node group)");
    const before = em0.if_data.ifi_imcasts - base.i;

    so.setsockopt(IPPROTO_IP, IP_ADD_MEMBERSHIP, { imr_multiaddr: GROUPS[0], imr_interface: HOST_ADDR });
    const mac = etherMapIpMulticast(Uint8Array.from(GROUPS[0].split('.').map(Number)));
    out(`h1: a socket joins ${GROUPS[0]} (IP_ADD_MEMBERSHIP); em0 adds ${macToString(mac)} to the filter (SIOCADDMULTI)`);
    for (const g of GROUPS) kernelSend(ns, g, 5);
    await settle();
    show(`after the join: only ${GROUPS[0]} passes`);
    out('h1: ifmcstat -i em0 -f inet (read from h1\'s sysctl tree, as FreeBSD\'s ifmcstat reads its kernel\'s)');
    for (const l of ifmcstat(new SysctlTree(host), ['-i', 'em0', '-f', 'inet']).stdout.trimEnd().split('\n')) out(`    ${l.replace(/\t/g, '  ')}`);
    const ok = before === 0 && received.length === 5 && received.every((r) => r.startsWith(GROUPS[0]));
    out(ok ? "result: the filter works as a NIC's does" : `result: unexpected (before the join ${before} group frames got in; the socket read ${received.length})`);
    return ok ? 0 : 1;
  } finally {
    host.destroy();
    sched.shutdown();
    deleteNetns(ns);
  }
}
