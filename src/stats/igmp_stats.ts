/** struct igmpstat (IGMPv3 version, netinet/igmp_var.h): IGMP counters with FreeBSD's names. */
export class IgmpStat {
  readonly igps_version = 3;
  readonly igps_len = 168;
  igps_rcv_total = 0; // total IGMP messages received
  igps_rcv_tooshort = 0; // received with too few bytes
  igps_rcv_badttl = 0; // received with ttl other than 1
  igps_rcv_badsum = 0; // received with bad checksum
  igps_rcv_v1v2_queries = 0; // received IGMPv1/IGMPv2 queries
  igps_rcv_v3_queries = 0; // received IGMPv3 queries
  igps_rcv_badqueries = 0; // received invalid queries
  igps_rcv_gen_queries = 0; // received general queries
  igps_rcv_group_queries = 0; // received group queries
  igps_rcv_gsr_queries = 0; // received group-source queries
  igps_drop_gsr_queries = 0; // dropped group-source queries
  igps_rcv_reports = 0; // received membership reports
  igps_rcv_badreports = 0; // received invalid reports
  igps_rcv_ourreports = 0; // received reports for our groups
  igps_rcv_nora = 0; // received w/o Router Alert option
  igps_snd_reports = 0; // sent membership reports
}
