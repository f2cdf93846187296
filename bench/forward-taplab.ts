/**
 * taplab's side of the forwarding benchmark, run inside the benchmark's
 * network namespace: a host with two Ethernet interfaces on two persistent
 * TAPs; a handler registered on EtherType 0x88b5 sends every frame that
 * arrives on the first interface out of the second, through the full path
 * (TapDevice -> ether_input -> handler -> ether_output -> if_snd -> if_start
 * -> TapDevice), counters on.
 * Usage: forward-taplab IN OUT [--no-io-uring] [--uring-read|--batch-read|--no-uring-read] [--batch N] [--slot N]
 * (--no-io-uring: write() instead of io_uring writes; --uring-read: the io_uring
 * multishot read, --batch-read: batched io_uring reads, --no-uring-read: read();
 * default: TapDevice's.)
 */
import { RealScheduler } from '../src/kern/clock.js';
import { Host } from '../src/host.js';
import { TapDevice } from '../src/driver/tap.js';
import { ETHERTYPE_EXP1, ether_output } from '../src/l2/ether.js';
import { sockaddrDl, parseMac } from '../src/driver/sockaddr.js';

const [inName, outName] = process.argv.slice(2);
const ioUring = !process.argv.includes('--no-io-uring');
const uringRead = process.argv.includes('--uring-read')
  ? 'multishot'
  : process.argv.includes('--batch-read')
    ? 'batch'
    : process.argv.includes('--no-uring-read')
      ? false
      : undefined;
const optNum = (k: string) => (process.argv.includes(k) ? Number(process.argv[process.argv.indexOf(k) + 1]) : undefined);
const batch = optNum('--batch');
const slotSize = optNum('--slot');
const sched = new RealScheduler(true);
const host = new Host('fwd', sched);
const devIn = TapDevice.open({ name: inName, attach: true, ioUring, uringRead, batch, slotSize });
const devOut = TapDevice.open({ name: outName, attach: true, ioUring, uringRead, batch, slotSize });
const ifIn = host.addEther(devIn, { name: 'em0', mac: '02:00:00:00:aa:01' });
const ifOut = host.addEther(devOut, { name: 'em1', mac: '02:00:00:00:aa:02' });
const dst = sockaddrDl(parseMac('02:00:00:00:bb:01')!);

host.registerEthertype(ETHERTYPE_EXP1, (ifp, buf, off, len) => {
  if (ifp === ifIn) ether_output(ifOut, buf, off, len, dst, ETHERTYPE_EXP1);
});

const readWords = { read: 'read()', 'io_uring-batch': 'batched io_uring', 'io_uring-multishot': 'multishot' } as const;
process.stdout.write(`ready ${readWords[devIn.readPath]} reads, ${devOut.ioUring ? 'io_uring' : 'write()'} writes\n`);
const stop = () => {
  const d = (i: typeof ifIn) => ({
    ipackets: i.if_data.ifi_ipackets,
    opackets: i.if_data.ifi_opackets,
    oqdrops: i.if_data.ifi_oqdrops,
  });
  process.stdout.write(`${JSON.stringify({ in: d(ifIn), out: d(ifOut) })}\n`);
  host.destroy();
  sched.shutdown();
  process.exit(0);
};
process.on('SIGTERM', stop);
process.on('SIGINT', stop);
