/**
 * The forwarding benchmark's floor for taplab: the same two TapDevices and
 * the same native read and write paths as forward-taplab, but no per-frame
 * JavaScript at all: each receive batch is handed back to the second TAP as
 * it lies in the first one's arena (the arena has the fixed-slot layout a
 * transmit takes). The difference between this and forward-taplab is what
 * the ifnet path (ether_input, the handler, ether_output, if_snd, if_start,
 * the counters) costs per frame with the kernel and the addon around it.
 * Usage: forward-addon IN OUT
 */
import { TapDevice } from '../src/driver/tap.js';
import type { DeviceHandlers } from '../src/driver/device.js';

const [inName, outName] = process.argv.slice(2);
if (!inName || !outName) {
  process.stderr.write('usage: forward-addon IN OUT\n');
  process.exit(64);
}
const devIn = TapDevice.open({ name: inName, attach: true });
const devOut = TapDevice.open({ name: outName, attach: true });
const idle: DeviceHandlers = { input() {}, writable() {}, linkState() {} };
devOut.start(idle);
devIn.start({
  ...idle,
  input(buf, slotSize, lengths, count) {
    devOut.transmit(buf, slotSize, 0, lengths, count);
  },
});
process.stdout.write(`ready ${devIn.readPath} reads, ${devOut.ioUring ? 'io_uring' : 'write()'} writes\n`);
const stop = () => {
  devIn.close();
  devOut.close();
  process.exit(0);
};
process.on('SIGTERM', stop);
process.on('SIGINT', stop);
