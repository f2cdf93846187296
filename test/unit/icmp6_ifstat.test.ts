import { describe, expect, it } from 'vitest';
import { Icmp6IfStat, icmp6IfCount } from '../../src/stats/inet_stats.js';

/** The counter each ICMPv6 type lands in besides ifs6_<dir>_msg (FreeBSD icmp6_ifstat_inc; MLDv2 reports with v1's). */
const BY_TYPE: [number, string][] = [
  [1, 'dstunreach'], [2, 'pkttoobig'], [3, 'timeexceed'], [4, 'paramprob'],
  [128, 'echo'], [129, 'echoreply'], [130, 'mldquery'], [131, 'mldreport'], [132, 'mlddone'],
  [133, 'routersolicit'], [134, 'routeradvert'], [135, 'neighborsolicit'], [136, 'neighboradvert'],
  [137, 'redirect'], [143, 'mldreport'],
];

function nonZero(st: Icmp6IfStat): Record<string, number> {
  return Object.fromEntries(Object.entries(st).filter(([, v]) => v !== 0));
}

describe('icmp6IfCount: the per-interface ICMPv6 counters', () => {
  for (const dir of ['in', 'out'] as const)
    it(`counts each type in ifs6_${dir}_msg, its own counter, and errors (type < 128) in ifs6_${dir}_error`, () => {
      for (const [type, name] of BY_TYPE) {
        const st = new Icmp6IfStat();
        icmp6IfCount(st, dir, type);
        const want: Record<string, number> = { [`ifs6_${dir}_msg`]: 1, [`ifs6_${dir}_${name}`]: 1 };
        if (type < 128) want[`ifs6_${dir}_error`] = 1;
        expect(nonZero(st), `type ${type}`).toEqual(want);
      }
      // Destination Unreachable code 1 (administratively prohibited) counts in adminprohib too.
      const st = new Icmp6IfStat();
      icmp6IfCount(st, dir, 1, 1);
      expect(nonZero(st)).toEqual({ [`ifs6_${dir}_msg`]: 1, [`ifs6_${dir}_error`]: 1, [`ifs6_${dir}_dstunreach`]: 1, [`ifs6_${dir}_adminprohib`]: 1 });
      // A type without a counter of its own counts only as a message (and as an error below 128).
      const other = new Icmp6IfStat();
      icmp6IfCount(other, dir, 200);
      icmp6IfCount(other, dir, 100);
      expect(nonZero(other)).toEqual({ [`ifs6_${dir}_msg`]: 2, [`ifs6_${dir}_error`]: 1 });
    });
});
