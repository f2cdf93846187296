/**
 * Protocol statistics with FreeBSD's field names and meanings (struct
 * ipstat, icmpstat, udpstat in netinet/*_var.h; struct ip6stat, icmp6stat,
 * in6_ifstat, icmp6_ifstat in netinet6/). Counters only; the tools format
 * them.
 */

/** struct ipstat */
export class IpStat {
  ips_total = 0; // total packets received
  ips_badsum = 0; // checksum bad
  ips_tooshort = 0; // packet too short
  ips_toosmall = 0; // not enough data
  ips_badhlen = 0; // ip header length < data size
  ips_badlen = 0; // ip length < ip header length
  ips_fragments = 0; // fragments received
  ips_fragdropped = 0; // frags dropped (taplab does not reassemble)
  ips_fragtimeout = 0;
  ips_forward = 0;
  ips_fastforward = 0;
  ips_cantforward = 0; // packets rcvd for unreachable dest (hosts do not forward)
  ips_redirectsent = 0;
  ips_noproto = 0; // unknown or unsupported protocol
  ips_delivered = 0; // datagrams delivered to upper level
  ips_localout = 0; // total ip packets generated here
  ips_odropped = 0; // lost packets due to nobufs, etc.
  ips_reassembled = 0;
  ips_fragmented = 0;
  ips_ofragments = 0;
  ips_cantfrag = 0; // don't fragment flag was set, etc. (taplab: too big, not fragmented)
  ips_badoptions = 0; // error in option processing
  ips_noroute = 0; // packets discarded due to no route
  ips_badvers = 0; // ip version != 4
  ips_rawout = 0;
  ips_toolong = 0;
  ips_notmember = 0; // multicasts for unregistered grps
  ips_nogif = 0;
  ips_badaddr = 0; // invalid address on header
}

/** struct icmpstat (ICMP_MAXTYPE = 40) */
export class IcmpStat {
  icps_error = 0; // # of calls to icmp_error
  icps_oldshort = 0; // no error 'cuz old ip too short
  icps_oldicmp = 0; // no error 'cuz old was icmp
  icps_outhist: number[] = new Array(41).fill(0);
  icps_badcode = 0; // icmp_code out of range
  icps_tooshort = 0; // packet < ICMP_MINLEN
  icps_checksum = 0; // bad checksum
  icps_badlen = 0; // calculated bound mismatch
  icps_reflect = 0; // number of responses
  icps_inhist: number[] = new Array(41).fill(0);
  icps_bmcastecho = 0; // b/mcast echo requests dropped
  icps_bmcasttstamp = 0;
  icps_badaddr = 0;
  icps_noroute = 0;
}

/** struct udpstat */
export class UdpStat {
  udps_ipackets = 0; // total input packets
  udps_hdrops = 0; // packet shorter than header
  udps_badsum = 0; // checksum error
  udps_nosum = 0; // no checksum
  udps_badlen = 0; // data length larger than packet
  udps_noport = 0; // no socket on port
  udps_noportbcast = 0; // of above, arrived as broadcast
  udps_fullsock = 0; // not delivered, input socket full
  udpps_pcbcachemiss = 0;
  udpps_pcbhashmiss = 0;
  udps_opackets = 0; // total output packets
  udps_fastout = 0;
  udps_noportmcast = 0; // of no socket on port, multicast
  udps_filtermcast = 0; // blocked by multicast filter
}

/** struct ip6stat, every field in FreeBSD's order (taplab counts some; the rest stay 0 as on a non-router). */
export class Ip6Stat {
  ip6s_total = 0;
  ip6s_tooshort = 0;
  ip6s_toosmall = 0;
  ip6s_fragments = 0;
  ip6s_fragdropped = 0;
  ip6s_fragtimeout = 0;
  ip6s_fragoverflow = 0;
  ip6s_forward = 0;
  ip6s_cantforward = 0;
  ip6s_redirectsent = 0;
  ip6s_delivered = 0;
  ip6s_localout = 0;
  ip6s_odropped = 0;
  ip6s_reassembled = 0;
  ip6s_atomicfrags = 0;
  ip6s_fragmented = 0;
  ip6s_ofragments = 0;
  ip6s_cantfrag = 0;
  ip6s_badoptions = 0;
  ip6s_noroute = 0;
  ip6s_badvers = 0;
  ip6s_rawout = 0;
  ip6s_badscope = 0;
  ip6s_notmember = 0;
  ip6s_nxthist: number[] = new Array(256).fill(0);
  ip6s_m1 = 0;
  ip6s_m2m: number[] = new Array(32).fill(0);
  ip6s_mext1 = 0;
  ip6s_mext2m = 0;
  ip6s_exthdrtoolong = 0;
  ip6s_nogif = 0;
  ip6s_toomanyhdr = 0;
  // Source address selection (IP6S_SCOPECNT = IP6S_RULESMAX = 16).
  ip6s_sources_none = 0;
  ip6s_sources_sameif: number[] = new Array(16).fill(0);
  ip6s_sources_otherif: number[] = new Array(16).fill(0);
  ip6s_sources_samescope: number[] = new Array(16).fill(0);
  ip6s_sources_otherscope: number[] = new Array(16).fill(0);
  ip6s_sources_deprecated: number[] = new Array(16).fill(0);
  ip6s_sources_rule: number[] = new Array(16).fill(0);
}

/** struct icmp6errstat: the histogram of errors to be generated. */
export class Icmp6ErrStat {
  icp6errs_dst_unreach_noroute = 0;
  icp6errs_dst_unreach_admin = 0;
  icp6errs_dst_unreach_beyondscope = 0;
  icp6errs_dst_unreach_addr = 0;
  icp6errs_dst_unreach_noport = 0;
  icp6errs_packet_too_big = 0;
  icp6errs_time_exceed_transit = 0;
  icp6errs_time_exceed_reassembly = 0;
  icp6errs_paramprob_header = 0;
  icp6errs_paramprob_nextheader = 0;
  icp6errs_paramprob_option = 0;
  icp6errs_redirect = 0;
  icp6errs_unknown = 0;
}

/** struct icmp6stat */
export class Icmp6Stat {
  icp6s_error = 0;
  icp6s_canterror = 0;
  icp6s_toofreq = 0;
  icp6s_outhist: number[] = new Array(256).fill(0);
  icp6s_badcode = 0;
  icp6s_tooshort = 0;
  icp6s_checksum = 0;
  icp6s_badlen = 0;
  icp6s_dropped = 0;
  icp6s_reflect = 0;
  icp6s_inhist: number[] = new Array(256).fill(0);
  icp6s_nd_toomanyopt = 0;
  /** icp6s_odst_unreach_noroute and the other icp6s_o* names are FreeBSD macros for these fields. */
  readonly icp6s_outerrhist = new Icmp6ErrStat();
  icp6s_pmtuchg = 0;
  icp6s_nd_badopt = 0;
  icp6s_badns = 0;
  icp6s_badna = 0;
  icp6s_badrs = 0;
  icp6s_badra = 0;
  icp6s_badredirect = 0;
  icp6s_overflowdefrtr = 0;
  icp6s_overflowprfx = 0;
  icp6s_overflownndp = 0;
  icp6s_overflowredirect = 0;
  icp6s_invlhlim = 0;
  icp6s_spare: number[] = new Array(32).fill(0);
}

/** struct in6_ifstat: per-interface IPv6 counters (`netstat -s -I if -p ip6`). */
export class In6IfStat {
  ifs6_in_receive = 0;
  ifs6_in_hdrerr = 0;
  ifs6_in_toobig = 0;
  ifs6_in_noroute = 0;
  ifs6_in_addrerr = 0;
  ifs6_in_protounknown = 0;
  ifs6_in_truncated = 0;
  ifs6_in_discard = 0;
  ifs6_in_deliver = 0;
  ifs6_out_forward = 0;
  ifs6_out_request = 0;
  ifs6_out_discard = 0;
  ifs6_out_fragok = 0;
  ifs6_out_fragfail = 0;
  ifs6_out_fragcreat = 0;
  ifs6_reass_reqd = 0;
  ifs6_reass_ok = 0;
  ifs6_reass_fail = 0;
  ifs6_in_mcast = 0;
  ifs6_out_mcast = 0;
}

/** struct icmp6_ifstat: per-interface ICMPv6 counters, MLD by message type. */
export class Icmp6IfStat {
  ifs6_in_msg = 0;
  ifs6_in_error = 0;
  ifs6_in_dstunreach = 0;
  ifs6_in_adminprohib = 0;
  ifs6_in_timeexceed = 0;
  ifs6_in_paramprob = 0;
  ifs6_in_pkttoobig = 0;
  ifs6_in_echo = 0;
  ifs6_in_echoreply = 0;
  ifs6_in_routersolicit = 0;
  ifs6_in_routeradvert = 0;
  ifs6_in_neighborsolicit = 0;
  ifs6_in_neighboradvert = 0;
  ifs6_in_redirect = 0;
  ifs6_in_mldquery = 0;
  ifs6_in_mldreport = 0;
  ifs6_in_mlddone = 0;
  ifs6_out_msg = 0;
  ifs6_out_error = 0;
  ifs6_out_dstunreach = 0;
  ifs6_out_adminprohib = 0;
  ifs6_out_timeexceed = 0;
  ifs6_out_paramprob = 0;
  ifs6_out_pkttoobig = 0;
  ifs6_out_echo = 0;
  ifs6_out_echoreply = 0;
  ifs6_out_routersolicit = 0;
  ifs6_out_routeradvert = 0;
  ifs6_out_neighborsolicit = 0;
  ifs6_out_neighboradvert = 0;
  ifs6_out_redirect = 0;
  ifs6_out_mldquery = 0;
  ifs6_out_mldreport = 0;
  ifs6_out_mlddone = 0;
}

/**
 * Count an ICMPv6 message of `type` in the per-interface stats (as
 * icmp6_ifstat_inc does): every message, errors (types < 128), and the
 * message's own counter. Plain field increments, one switch per direction:
 * a field picked by a computed name is a keyed lookup on the stats object,
 * and this runs for every ICMPv6 message (each MLD report and query).
 */
export function icmp6IfCount(st: Icmp6IfStat, dir: 'in' | 'out', type: number, code = 0): void {
  if (dir === 'in') icmp6IfCountIn(st, type, code);
  else icmp6IfCountOut(st, type, code);
}

function icmp6IfCountIn(st: Icmp6IfStat, type: number, code: number): void {
  st.ifs6_in_msg++;
  if (type < 128) st.ifs6_in_error++;
  switch (type) {
    case 1:
      st.ifs6_in_dstunreach++;
      if (code === 1) st.ifs6_in_adminprohib++;
      break;
    case 2: st.ifs6_in_pkttoobig++; break;
    case 3: st.ifs6_in_timeexceed++; break;
    case 4: st.ifs6_in_paramprob++; break;
    case 128: st.ifs6_in_echo++; break;
    case 129: st.ifs6_in_echoreply++; break;
    case 130: st.ifs6_in_mldquery++; break;
    case 131: // MLDv2 reports (143) count with v1 reports, as mld6.c does
    case 143: st.ifs6_in_mldreport++; break;
    case 132: st.ifs6_in_mlddone++; break;
    case 133: st.ifs6_in_routersolicit++; break;
    case 134: st.ifs6_in_routeradvert++; break;
    case 135: st.ifs6_in_neighborsolicit++; break;
    case 136: st.ifs6_in_neighboradvert++; break;
    case 137: st.ifs6_in_redirect++; break;
  }
}

function icmp6IfCountOut(st: Icmp6IfStat, type: number, code: number): void {
  st.ifs6_out_msg++;
  if (type < 128) st.ifs6_out_error++;
  switch (type) {
    case 1:
      st.ifs6_out_dstunreach++;
      if (code === 1) st.ifs6_out_adminprohib++;
      break;
    case 2: st.ifs6_out_pkttoobig++; break;
    case 3: st.ifs6_out_timeexceed++; break;
    case 4: st.ifs6_out_paramprob++; break;
    case 128: st.ifs6_out_echo++; break;
    case 129: st.ifs6_out_echoreply++; break;
    case 130: st.ifs6_out_mldquery++; break;
    case 131:
    case 143: st.ifs6_out_mldreport++; break;
    case 132: st.ifs6_out_mlddone++; break;
    case 133: st.ifs6_out_routersolicit++; break;
    case 134: st.ifs6_out_routeradvert++; break;
    case 135: st.ifs6_out_neighborsolicit++; break;
    case 136: st.ifs6_out_neighboradvert++; break;
    case 137: st.ifs6_out_redirect++; break;
  }
}
