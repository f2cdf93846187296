/**
 * Protocol statistics and knobs in the sysctl tree: net.inet.ip, icmp, udp,
 * net.inet6.ip6, icmp6 (stats and per-interface stats), and the writable
 * IGMP/MLD/multicast knobs.
 */
import type { SysctlTree } from './sysctl.js';

export function registerProto(_tree: SysctlTree): void {}
