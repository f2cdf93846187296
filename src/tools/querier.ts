/**
 * `querier`: show and drive a host's IGMP/MLD querier.
 *
 *   querier [-v] [-i IF] [-f inet|inet6] [--json]     show (reads net.inet.igmp.querier.<i>,
 *                                                      net.inet6.mld.querier.<i> only)
 *   querier enable  [-i IF] [-f FAM] [--version N] [--rv N] [--qi S] [--qri S]
 *                   [--lmqi MS] [--lmqc N] [--startup-count N] [--startup-interval MS]
 *   querier set     (the same options, on a querier already enabled)
 *   querier disable [-i IF] [-f FAM]
 *   querier query   [-i IF] [-f FAM] [GROUP [SOURCE...]]    an extra general, group or
 *                                                            group-and-source query now
 *
 * Without -f, enable/disable/set act on both IGMP and MLD; query picks the
 * family from GROUP (IGMP for a general query without -f). Without -i the
 * host's only Ethernet interface is used; show lists every interface with
 * a querier enabled.
 *
 * The display, one block per interface and protocol:
 *
 *   em0: IGMPv3 querier 192.0.2.1 (this host), next general query in 97 s
 *   	rv 2 qi 125 qri 10 lmqi 1 lmqc 2
 *   	group 232.1.1.1 include compat v3 reporter 192.0.2.2 uptime 6
 *   		source 198.51.100.7 timer 254                        (-v)
 *   	group 239.1.1.1 exclude timer 254 compat v3 reporter 192.0.2.2 uptime 6
 *   	stats: 3 general, 0 group, 0 group-source queries sent; ... (-v)
 *
 * A non-querier reads `IGMPv3 non-querier, querier 192.0.2.0, other querier
 * present 250 s`. --json prints {"querier": [{interface, protocol, ...}]}.
 */
import { parseArgs } from 'node:util';
import { parseArgsMessage } from './getopt.js';
import type { Ifnet } from '../driver/ifnet.js';
import { IFF_LOOPBACK } from '../driver/if_var.js';
import { KernError } from '../kern/errno.js';
import { inIsMulticast, inParse } from '../inet/in.js';
import { in6IsMulticast, in6Parse } from '../inet/in6.js';
import type { RouterConfig } from '../mgmd/router.js';
import type { IflistEntry } from '../stats/sysctl.js';
import type { QuerierInfo } from '../stats/sysctl_querier.js';
import type { Tool, ToolEnv } from './tool.js';

const EX_USAGE = 64;
const EX_OSERR = 71;

const USAGE = `usage: querier [-v] [-i interface] [-f inet|inet6] [--json]
       querier enable|set [-i interface] [-f inet|inet6] [--version N] [--rv N] [--qi SECONDS]
                      [--qri SECONDS] [--lmqi MS] [--lmqc N] [--startup-count N] [--startup-interval MS]
       querier disable [-i interface] [-f inet|inet6]
       querier query [-i interface] [-f inet|inet6] [GROUP [SOURCE ...]]
`;

type Fam = 'inet' | 'inet6';
class Usage extends Error {}

function gen(fam: Fam, g: number): string {
  return fam === 'inet' ? `IGMPv${g}` : `MLDv${g - 1}`;
}

/** One interface's block of the display. */
function block(ifname: string, fam: Fam, q: Exclude<QuerierInfo, { enabled: false }>, verbose: boolean): string {
  let s = `${ifname}: ${gen(fam, q.generation)} `;
  if (q.querier) s += `querier ${q.querierAddr ?? '?'} (this host), next general query in ${q.nextQuery} s`;
  else s += `non-querier, querier ${q.querierAddr ?? 'unknown'}, other querier present ${q.otherQuerierTimer} s`;
  if (q.startupQueriesLeft > 0) s += `, ${q.startupQueriesLeft} startup ${q.startupQueriesLeft === 1 ? 'query' : 'queries'} left`;
  s += `\n\trv ${q.rv} qi ${q.qi} qri ${q.qri} lmqi ${q.lmqi} lmqc ${q.lmqc}\n`;
  for (const g of q.groups) {
    s += `\tgroup ${g.group} ${g.mode}`;
    if (g.mode === 'exclude') s += ` timer ${g.timer}`;
    s += ` compat ${fam === 'inet' ? `v${g.compat}` : `v${g.compat - 1}`}`;
    if (g.v1HostTimer) s += ` v1host ${g.v1HostTimer}`;
    if (g.v2HostTimer) s += ` ${fam === 'inet' ? 'v2host' : 'v1host'} ${g.v2HostTimer}`;
    s += ` reporter ${g.lastReporter ?? '-'} uptime ${g.uptime}`;
    if (!verbose && g.sources.length) s += ` sources ${g.sources.length}`;
    s += '\n';
    if (verbose) for (const src of g.sources) s += `\t\tsource ${src.addr} timer ${src.timer}${g.mode === 'exclude' && src.timer === 0 ? ' (excluded)' : ''}\n`;
  }
  if (verbose) {
    const st = q.stats;
    s += `\tstats: ${st.generalQueriesSent} general, ${st.groupQueriesSent} group, ${st.groupSourceQueriesSent} group-and-source queries sent; `;
    s += `${st.reportsReceived} reports, ${st.recordsProcessed} records processed, ${st.recordsIgnored} ignored, ${st.badRecords} malformed; `;
    s += `${st.queriesReceived} queries received, querier lost ${st.querierLost} times\n`;
  }
  return s;
}

function show(env: ToolEnv, opts: { verbose: boolean; ifname?: string; fam?: Fam; json: boolean }): number {
  const links = (env.tree.get('net.route.iflist').value as IflistEntry[]).filter((a) => a.family === 'link');
  if (opts.ifname && !links.some((l) => l.ifname === opts.ifname)) {
    env.err(`querier: ${opts.ifname}: no such interface\n`);
    return EX_USAGE;
  }
  let out = '';
  const json: unknown[] = [];
  for (const l of links) {
    if (opts.ifname && l.ifname !== opts.ifname) continue;
    for (const fam of ['inet', 'inet6'] as const) {
      if (opts.fam && opts.fam !== fam) continue;
      const name = fam === 'inet' ? `net.inet.igmp.querier.${l.ifindex}` : `net.inet6.mld.querier.${l.ifindex}`;
      let q: QuerierInfo;
      try {
        q = env.tree.get(name).value as QuerierInfo;
      } catch (e) {
        if (e instanceof KernError && e.code === 'ENOENT') continue;
        throw e;
      }
      if (!q.enabled) continue;
      if (opts.json) json.push({ interface: l.ifname, protocol: fam === 'inet' ? 'igmp' : 'mld', ...q });
      else out += block(l.ifname, fam, q, opts.verbose);
    }
  }
  if (opts.json) env.out(JSON.stringify({ querier: json }, null, 2) + '\n');
  else if (out) env.out(out);
  else env.out(`no querier enabled${opts.ifname ? ` on ${opts.ifname}` : ''}${opts.fam ? ` for ${opts.fam === 'inet' ? 'IGMP' : 'MLD'}` : ''}\n`);
  return 0;
}

function intOpt(v: string | undefined, name: string): number | undefined {
  if (v === undefined) return undefined;
  if (!/^\d+$/.test(v)) throw new Usage(`querier: --${name} ${v}: not a non-negative integer`);
  return Number(v);
}

export const querierTool: Tool = {
  name: 'querier',
  summary: 'show the IGMP/MLD querier and its membership table; enable, tune, disable it; send a query now',
  run(env, argv) {
    if (argv[0] === '--help' || argv[0] === '-h') {
      env.out(USAGE);
      return 0;
    }
    const verbs = ['enable', 'set', 'disable', 'query'];
    const verb = verbs.includes(argv[0]) ? argv[0] : 'show';
    const rest = verb === 'show' ? argv : argv.slice(1);
    try {
      const { values, positionals } = parseArgs({
        args: rest,
        allowPositionals: true,
        options: {
          v: { type: 'boolean', short: 'v' },
          i: { type: 'string', short: 'i' },
          f: { type: 'string', short: 'f' },
          json: { type: 'boolean' },
          version: { type: 'string' },
          rv: { type: 'string' },
          qi: { type: 'string' },
          qri: { type: 'string' },
          lmqi: { type: 'string' },
          lmqc: { type: 'string' },
          'startup-count': { type: 'string' },
          'startup-interval': { type: 'string' },
        },
      });
      if (values.f !== undefined && values.f !== 'inet' && values.f !== 'inet6') throw new Usage(`querier: ${values.f}: unknown address family (inet or inet6)`);
      const fam = values.f as Fam | undefined;
      if (verb === 'show') {
        if (positionals.length) throw new Usage(`querier: unexpected argument "${positionals[0]}"`);
        return show(env, { verbose: !!values.v, ifname: values.i, fam, json: !!values.json });
      }
      const host = env.host;
      if (!host) {
        env.err(`querier ${verb}: needs a live host (this is a snapshot)\n`);
        return EX_USAGE;
      }
      let ifp: Ifnet | undefined;
      if (values.i !== undefined) {
        ifp = host.ifunit(values.i);
        if (!ifp) throw new Usage(`querier: ${values.i}: no such interface`);
      } else {
        const eth = host.interfaces().filter((i) => !(i.if_flags & IFF_LOOPBACK));
        if (eth.length !== 1) throw new Usage(`querier: host ${host.name} has ${eth.length} Ethernet interfaces; name one with -i`);
        ifp = eth[0];
      }
      const fams: Fam[] = fam ? [fam] : ['inet', 'inet6'];
      if (verb === 'disable') {
        for (const f of fams) (f === 'inet' ? host.igmp : host.mld).disableQuerier(ifp);
        return 0;
      }
      if (verb === 'query') {
        const [groupText, ...sourceTexts] = positionals;
        let f: Fam = fam ?? 'inet';
        let group: Uint8Array | undefined;
        if (groupText !== undefined) {
          const g4 = inParse(groupText);
          const g6 = g4 ? undefined : in6Parse(groupText);
          if (g4 && inIsMulticast(g4)) f = 'inet';
          else if (g6 && in6IsMulticast(g6)) f = 'inet6';
          else throw new Usage(`querier: ${groupText}: not a multicast group`);
          if (fam && fam !== f) throw new Usage(`querier: ${groupText} is not an ${fam} group`);
          group = g4 ?? g6;
        }
        const sources = sourceTexts.map((t) => {
          const a = f === 'inet' ? inParse(t) : in6Parse(t);
          if (!a) throw new Usage(`querier: ${t}: not an ${f === 'inet' ? 'IPv4' : 'IPv6'} source address`);
          return a;
        });
        const r = (f === 'inet' ? host.igmp : host.mld).routers.active(ifp);
        if (!r) {
          env.err(`querier query: no ${f === 'inet' ? 'IGMP' : 'MLD'} querier enabled on ${ifp.if_xname}\n`);
          return EX_OSERR;
        }
        if (!r.querier) {
          env.err(`querier query: ${ifp.if_xname} is not the ${f === 'inet' ? 'IGMP' : 'MLD'} querier (another router with a lower address is)\n`);
          return EX_OSERR;
        }
        r.queryNow(group, sources);
        return 0;
      }
      // enable / set
      const version = intOpt(values.version, 'version');
      const cfg: Partial<RouterConfig> = {};
      const set = <K extends keyof RouterConfig>(k: K, v: RouterConfig[K] | undefined) => {
        if (v !== undefined) cfg[k] = v;
      };
      set('rv', intOpt(values.rv, 'rv'));
      set('qi', intOpt(values.qi, 'qi'));
      set('qri', intOpt(values.qri, 'qri'));
      set('lmqiMs', intOpt(values.lmqi, 'lmqi'));
      set('lmqc', intOpt(values.lmqc, 'lmqc'));
      set('startupQueryCount', intOpt(values['startup-count'], 'startup-count'));
      set('startupQueryIntervalMs', intOpt(values['startup-interval'], 'startup-interval'));
      for (const f of fams) {
        if (verb === 'set' && !(f === 'inet' ? host.igmp : host.mld).routers.active(ifp)) {
          if (fam) {
            env.err(`querier set: no ${f === 'inet' ? 'IGMP' : 'MLD'} querier enabled on ${ifp.if_xname} (use enable)\n`);
            return EX_OSERR;
          }
          continue;
        }
        if (f === 'inet') {
          if (version !== undefined && (version < 1 || version > 3)) throw new Usage(`querier: IGMP version ${version}: use 1, 2 or 3`);
          host.igmp.enableQuerier(ifp, { ...cfg, ...(version ? { generation: version as 1 | 2 | 3 } : {}) });
        } else {
          const v6 = version === undefined ? undefined : version === 3 ? 2 : version;
          if (v6 !== undefined && v6 !== 1 && v6 !== 2) throw new Usage(`querier: MLD version ${version}: use 1 or 2`);
          host.mld.enableQuerier(ifp, { ...cfg, ...(v6 ? { version: v6 as 1 | 2 } : {}) });
        }
      }
      return 0;
    } catch (e) {
      if (e instanceof Usage) {
        env.err(`${e.message}\n${USAGE}`);
        return EX_USAGE;
      }
      if (e instanceof KernError) {
        env.err(`querier ${verb}: ${e.message.replace(/^[A-Z0-9]+: /, '')}\n`);
        return EX_OSERR;
      }
      if (e instanceof TypeError && (e as { code?: string }).code?.startsWith('ERR_PARSE_ARGS')) {
        env.err(`querier: ${parseArgsMessage(e)}\n${USAGE}`);
        return EX_USAGE;
      }
      throw e;
    }
  },
};
