/**
 * The JSON Schema of a lab file (labs/README.md describes every key). It is
 * strict: every object lists its keys and refuses others. Each schema that a
 * person can get wrong carries a `description` written as what was expected
 * ("an IPv4 address with a prefix length, like 192.0.2.10/24"); labfile.ts
 * turns a validation error into `file:line:col: path: expected <description>`.
 *
 * The schema checks shapes and the syntax of values (addresses, durations,
 * names). What needs the whole file (references between hosts, segments and
 * interfaces; which keys go with which kind of step or check; times in
 * order) is checked afterwards by labfile.ts.
 */

type Schema = Record<string, unknown>;

/** Names of hosts, kernel hosts and segments. */
export const NAME_RE = /^[A-Za-z][A-Za-z0-9_-]{0,31}$/;
/** Keys of a step that are not host names. */
export const STEP_KEYS = ['at', 'after', 'note', 'pause', 'link', 'version', 'bridge', 'expect'] as const;
/** Keys of an expect check that are not host names. */
export const CHECK_KEYS = [
  'label', 'within',
  'contains', 'not_contains', 'matches', 'exit',
  'sysctl', 'field', 'equals', 'min', 'max',
  'mdb', 'has', 'lacks',
  'packets', 'dir', 'proto', 'type', 'version', 'group', 'record', 'sources', 'from', 'between', 'count',
] as const;

const notReserved = (keys: readonly string[]) => `^(?!(?:${keys.join('|')})$)[A-Za-z][A-Za-z0-9_-]{0,31}$`;

const str = (description: string, extra: Schema = {}): Schema => ({ type: 'string', description, ...extra });
const fmt = (format: string, description: string): Schema => ({ type: 'string', format, description });
/** One value or a list of them (the same format). */
const oneOrList = (format: string, description: string): Schema => ({
  type: ['string', 'array'],
  format,
  items: { type: 'string', format, description },
  description: `${description}, or a list of them`,
});
const int = (min: number, max: number, description?: string): Schema => ({
  type: 'integer',
  minimum: min,
  maximum: max,
  description: description ?? `a whole number from ${min} to ${max}`,
});
const duration = (description = 'a duration such as 2s, 500ms, 1.5s or 1m30s (a bare number is seconds)'): Schema => ({
  type: ['string', 'number'],
  format: 'duration',
  minimum: 0,
  description,
});
const bool: Schema = { type: 'boolean', description: 'true or false' };
const obj = (properties: Record<string, Schema>, description: string, required: string[] = [], extra: Schema = {}): Schema => ({
  type: 'object',
  description,
  properties,
  ...(required.length ? { required } : {}),
  additionalProperties: false,
  ...extra,
});

const querier = obj(
  {
    version: int(1, 3, 'the querier version: IGMP 1, 2 or 3; MLD 1 or 2'),
    rv: int(1, 7, 'the Robustness Variable, a whole number from 1 to 7'),
    qi: int(1, 31744, 'the Query Interval in seconds, a whole number from 1 to 31744'),
    qri: int(1, 3174, 'the Query Response Interval in seconds, a whole number from 1 to 3174'),
    lmqi: int(100, 25500, 'the Last Member Query Interval in milliseconds, a whole number from 100 to 25500'),
    lmqc: int(1, 7, 'the Last Member Query Count, a whole number from 1 to 7'),
    startup_count: int(1, 7, 'the Startup Query Count, a whole number from 1 to 7'),
    startup_interval: int(100, 7_936_000, 'the Startup Query Interval in milliseconds'),
  },
  'querier settings (version, rv, qi, qri, lmqi, lmqc, startup_count, startup_interval), or true for the defaults',
);
const querierOrTrue: Schema = { ...querier, type: ['object', 'boolean'] };

const taplabInterface = obj(
  {
    name: fmt('ifname', 'an interface name such as em0 (letters then a unit number, at most 15 bytes)'),
    mac: fmt('mac', 'a MAC address such as 02:00:5e:10:00:01'),
    segment: fmt('name', 'the name of a segment declared under segments'),
    inet: oneOrList('ipv4-prefix', 'an IPv4 address with a prefix length, like 192.0.2.10/24'),
    inet6: oneOrList('ipv6-prefix', 'an IPv6 address with a prefix length, like 2001:db8::10/64'),
    igmp_version: int(1, 3, 'the IGMP version the interface is forced to: 1, 2 or 3'),
    mld_version: int(1, 2, 'the MLD version the interface is forced to: 1 or 2'),
    querier: obj(
      { igmp: querierOrTrue, mld: querierOrTrue },
      'the querier role: igmp and/or mld, each true or querier settings',
    ),
  },
  'an interface: name, segment, and optionally mac, inet, inet6, igmp_version, mld_version, querier',
  ['name', 'segment'],
);

const kernelInterface = obj(
  {
    name: fmt('ifname', 'a Linux interface name such as eth0 (at most 15 bytes, no "/", ":" or spaces)'),
    mac: fmt('mac', 'a MAC address such as 02:00:5e:20:00:01'),
    segment: fmt('name', 'the name of a bridge segment declared under segments'),
    inet: oneOrList('ipv4-prefix', 'an IPv4 address with a prefix length, like 192.0.2.20/24'),
    inet6: oneOrList('ipv6-prefix', 'an IPv6 address with a prefix length, like 2001:db8::20/64'),
    igmp_version: int(0, 3, 'the IGMP version to force (force_igmp_version): 0 (automatic), 1, 2 or 3'),
    mld_version: int(0, 2, 'the MLD version to force (force_mld_version): 0 (automatic), 1 or 2'),
  },
  'a kernel interface: name, segment, and optionally mac, inet, inet6, igmp_version, mld_version',
  ['name', 'segment'],
);

/** Bridge settings, shared by a bridge segment and the `bridge` step. */
const bridgeSettings: Record<string, Schema> = {
  snooping: bool,
  querier: bool,
  igmp_version: int(2, 3, 'the bridge\'s IGMP version: 2 or 3'),
  mld_version: int(1, 2, 'the bridge\'s MLD version: 1 or 2'),
  query_interval: duration(),
  query_response_interval: duration(),
  startup_query_interval: duration(),
  startup_query_count: int(1, 255),
  last_member_interval: duration(),
  last_member_count: int(1, 255),
  membership_interval: duration(),
  querier_interval: duration(),
  fast_leave: bool,
};

const segment: Schema = {
  type: 'object',
  description: 'a segment: type memory (loss, delay, seed) or type bridge (a Linux bridge with snooping)',
  required: ['type'],
  properties: { type: { enum: ['memory', 'bridge'], description: 'memory or bridge' } },
  discriminator: { propertyName: 'type' },
  oneOf: [
    obj(
      {
        type: { const: 'memory', description: 'memory or bridge' },
        delay: duration('a one-way delay such as 1ms (a bare number is seconds)'),
        loss: { type: 'number', minimum: 0, maximum: 1, description: 'a probability from 0 to 1 that a frame is lost' },
        seed: int(0, 4294967295, 'a seed: a whole number from 0 to 4294967295'),
      },
      'a memory segment: type, and optionally delay, loss, seed',
      ['type'],
    ),
    obj(
      {
        type: { const: 'bridge', description: 'memory or bridge' },
        ...bridgeSettings,
        inet: oneOrList('ipv4-prefix', 'an IPv4 address with a prefix length for the bridge, like 192.0.2.1/24'),
        inet6: oneOrList('ipv6-prefix', 'an IPv6 address with a prefix length for the bridge, like 2001:db8::1/64'),
      },
      'a bridge segment: type, and optionally snooping, querier, versions, timers, fast_leave, inet, inet6',
      ['type'],
    ),
  ],
};

const mdbMatch = obj(
  {
    group: fmt('group', 'a multicast group address such as 239.1.1.1 or ff05::1:3'),
    port: fmt('ifref', 'an interface as HOST.IF, like h1.em0'),
    source: fmt('address', 'a unicast source address such as 198.51.100.7'),
    mode: { enum: ['include', 'exclude'], description: 'include or exclude' },
  },
  'an MDB entry to look for: group, and optionally port (HOST.IF), source, mode',
  ['group'],
);
const oneOrListOf = (item: Schema, description: string): Schema => ({
  type: ['object', 'array'],
  ...Object.fromEntries(Object.entries(item).filter(([k]) => k !== 'type' && k !== 'description')),
  items: item,
  description,
});

const check: Schema = {
  type: 'object',
  description: 'a check: HOST: COMMAND with contains/not_contains/matches/exit, sysctl: HOST NAME with equals/min/max, mdb: SEGMENT with has/lacks, or packets: HOST.IF with filters',
  properties: {
    label: str('a label for the summary line'),
    within: duration('how long to keep retrying the check until it holds, such as 3s'),
    contains: { type: ['string', 'array'], items: { type: 'string' }, description: 'a text, or a list of texts, the output must contain' },
    not_contains: { type: ['string', 'array'], items: { type: 'string' }, description: 'a text, or a list of texts, the output must not contain' },
    matches: { type: ['string', 'array'], format: 'regex', items: { type: 'string', format: 'regex' }, description: 'a regular expression (or a list) the output must match' },
    exit: int(0, 255, 'the exit status the command must have (default 0)'),
    sysctl: str('HOST NAME, like h1 net.inet.igmp.default_version', { pattern: '^\\S+\\s+\\S+$' }),
    field: str('with sysctl: a field of a structure value, as a dotted path, like ips_notmember or data.ifi_imcasts', { pattern: '^[A-Za-z_][A-Za-z0-9_]*(\\.[A-Za-z0-9_]+)*$' }),
    equals: { type: ['string', 'number', 'boolean'], description: 'the value expected' },
    min: { type: 'number', description: 'a number: the least value (or count) expected' },
    max: { type: 'number', description: 'a number: the greatest value (or count) expected' },
    mdb: fmt('name', 'the name of a bridge segment'),
    has: oneOrListOf(mdbMatch, 'an MDB entry (group, port, source, mode) or a list of them that must be present'),
    lacks: oneOrListOf(mdbMatch, 'an MDB entry (group, port, source, mode) or a list of them that must be absent'),
    packets: fmt('ifref', 'an interface as HOST.IF, like h1.em0'),
    dir: { enum: ['in', 'out', 'any'], description: 'in, out or any' },
    proto: { enum: ['igmp', 'mld'], description: 'igmp or mld' },
    type: { enum: ['query', 'report', 'leave', 'done'], description: 'query, report, leave or done' },
    version: int(1, 3, 'a protocol version: IGMP 1 to 3, MLD 1 or 2'),
    group: fmt('group', 'a multicast group address such as 239.1.1.1 or ff05::1:3'),
    record: { enum: ['IS_IN', 'IS_EX', 'TO_IN', 'TO_EX', 'ALLOW', 'BLOCK'], description: 'a record type: IS_IN, IS_EX, TO_IN, TO_EX, ALLOW or BLOCK' },
    sources: { type: 'array', items: fmt('address', 'a unicast source address such as 198.51.100.7'), description: 'a list of source addresses' },
    from: fmt('address', 'the IP source address of the message (its sender), such as 192.0.2.2 or fe80::2'),
    between: {
      type: 'array',
      minItems: 2,
      maxItems: 2,
      items: duration('a time since the lab started, such as 2s'),
      description: 'a time window [FROM, TO] since the lab started, such as [2s, 5s]',
    },
    count: int(0, 1_000_000, 'the exact number of packets expected'),
  },
  patternProperties: { [notReserved(CHECK_KEYS)]: str('a command line to run on the host, such as ifmcstat -v') },
  additionalProperties: false,
};

const step: Schema = {
  type: 'object',
  description: 'a step: at or after, and one action (HOST: COMMAND, pause, link, version, bridge or expect)',
  properties: {
    at: duration('a time since the lab started, such as 2s or 1500ms'),
    after: duration('a delay after the previous step, such as 1s'),
    note: str('a note printed on the timeline'),
    pause: duration('how long to pause before the next step, such as 2s'),
    link: str('HOST.IF up or HOST.IF down, like h1.em0 down', { pattern: '^\\S+\\s+(up|down)$' }),
    version: obj(
      {
        interface: fmt('ifref', 'an interface as HOST.IF, like h1.em0'),
        igmp: int(0, 3, 'an IGMP version: 0 (back to the default), 1, 2 or 3'),
        mld: int(0, 2, 'an MLD version: 0 (back to the default), 1 or 2'),
      },
      'a version change: interface (HOST.IF) and igmp and/or mld',
      ['interface'],
    ),
    bridge: obj({ segment: fmt('name', 'the name of a bridge segment'), ...bridgeSettings }, 'bridge settings: segment, and the settings to change', ['segment']),
    expect: { type: ['object', 'array'], items: check, ...Object.fromEntries(Object.entries(check).filter(([k]) => k !== 'type' && k !== 'description')), description: 'a check or a list of checks' },
  },
  patternProperties: { [notReserved(STEP_KEYS)]: str('a command line to run on the host, such as join 239.1.1.1') },
  additionalProperties: false,
};

export const LAB_SCHEMA: Schema = {
  $id: 'https://taplab.invalid/lab.schema.json',
  type: 'object',
  description: 'a lab: name, description, segments, hosts and/or kernel, steps, expect',
  properties: {
    name: str('the lab\'s name'),
    description: str('a description of the lab'),
    duration: duration('how long the lab runs at least, such as 30s'),
    seed: int(0, 4294967295, 'a seed: a whole number from 0 to 4294967295'),
    segments: {
      type: 'object',
      description: 'a map of segment names to segments',
      propertyNames: { format: 'name', description: 'a segment name (a letter, then letters, digits, - or _)' },
      additionalProperties: segment,
    },
    hosts: {
      type: 'object',
      description: 'a map of taplab host names to hosts',
      propertyNames: { format: 'name', description: 'a host name (a letter, then letters, digits, - or _; at most 32)' },
      additionalProperties: obj(
        {
          description: str('a description of the host'),
          interfaces: { type: 'array', minItems: 1, items: taplabInterface, description: 'a list of interfaces' },
        },
        'a taplab host: interfaces, and optionally description',
        ['interfaces'],
      ),
    },
    kernel: {
      type: 'object',
      description: 'a map of kernel host names to kernel hosts',
      propertyNames: { format: 'name', description: 'a kernel host name (a letter, then letters, digits, - or _; at most 32)' },
      additionalProperties: obj(
        {
          description: str('a description of the host'),
          interfaces: { type: 'array', minItems: 1, items: kernelInterface, description: 'a list of interfaces' },
          sysctl: {
            type: 'object',
            description: 'a map of sysctl names to values',
            propertyNames: { pattern: '^net\\.[A-Za-z0-9_.-]+$', description: 'a sysctl name under net., like net.ipv4.conf.eth0.force_igmp_version' },
            additionalProperties: { type: ['string', 'number', 'boolean'], description: 'a sysctl value' },
          },
        },
        'a kernel host: interfaces, and optionally description, sysctl',
        ['interfaces'],
      ),
    },
    steps: { type: 'array', items: step, description: 'a list of steps' },
    expect: { type: 'array', items: check, description: 'a list of checks made when the lab ends' },
  },
  required: ['name', 'segments'],
  additionalProperties: false,
};
