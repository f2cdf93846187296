/**
 * The protocol-independent vocabulary of Multicast Group Membership
 * Discovery (IGMP for IPv4, MLD for IPv6): versions as "generations" of
 * behaviour, group states with FreeBSD's numbers and names, and the
 * abstract messages the host machine sends and receives. The IGMP and MLD
 * bindings translate these to and from bytes.
 *
 *   generation 1: IGMPv1 (no leave message)
 *   generation 2: IGMPv2, MLDv1 (reports with suppression, leave/done)
 *   generation 3: IGMPv3, MLDv2 (source filters, no suppression)
 */
import type { RecordType } from '../inet/in_mcast.js';

export type Generation = 1 | 2 | 3;

// Group states (igmp_var.h / mld6_var.h), reference §5.1.
export const NOT_MEMBER = 0;
export const SILENT_MEMBER = 1;
export const REPORTING_MEMBER = 2;
export const IDLE_MEMBER = 3;
export const LAZY_MEMBER = 4;
export const SLEEPING_MEMBER = 5;
export const AWAKENING_MEMBER = 6;
export const G_QUERY_PENDING_MEMBER = 7;
export const SG_QUERY_PENDING_MEMBER = 8;
export const LEAVING_MEMBER = 9;

/** The corrected ten-entry state names (FreeBSD's own table is shifted by one from state 2 on; reference §5.2). */
export const STATE_NAMES = [
  'not-member',
  'silent',
  'reporting',
  'idle',
  'lazy',
  'sleeping',
  'awakening',
  'query-pending',
  'sg-query-pending',
  'leaving',
] as const;

/** A group record of a v3/MLDv2 report. */
export interface McRecord {
  type: RecordType;
  group: Uint8Array;
  sources: Uint8Array[];
}

/** What the host machine asks its binding to send. */
export type HostMessage =
  | { kind: 'report'; generation: 1 | 2; group: Uint8Array }
  | { kind: 'leave'; group: Uint8Array }
  | { kind: 'v3report'; records: McRecord[] };

/** A query as the host machine sees it, whatever its version on the wire. */
export interface HostQuery {
  generation: Generation;
  /** The group queried; all zeroes for a general query. */
  group: Uint8Array;
  /** Sources of a group-and-source-specific query (generation 3). */
  sources: Uint8Array[];
  /** Maximum response time in milliseconds, decoded. */
  maxRespMs: number;
  /** Generation 3: Querier's Robustness Variable (0: not given). */
  qrv: number;
  /** Generation 3: Querier's Query Interval in seconds (0: not given). */
  qqiSeconds: number;
  /** S flag: routers suppress timer updates; hosts ignore it. */
  sFlag: boolean;
}

/** Interface flags (igi_flags / mli_flags). */
export const IGIF_SILENT = 0x1;
export const IGIF_LOOPBACK = 0x2;
export const MLIF_SILENT = 0x1;
export const MLIF_USEALLOW = 0x2;
