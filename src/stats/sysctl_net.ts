/**
 * What netstat(1) reads besides protocol statistics: socket lists
 * (pcblist), the route table and routing statistics, packet-buffer
 * statistics.
 */
import type { SysctlTree } from './sysctl.js';

export function registerNet(_tree: SysctlTree): void {}
