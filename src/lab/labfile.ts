/**
 * Lab files: YAML, validated against LAB_SCHEMA (labschema.ts), then checked
 * as a whole (references, step and check kinds, times in order). Every
 * problem becomes one sentence `file:line:col: path: what was expected`;
 * loading a file with any error throws a LabFileError that lists them all,
 * and nothing is started. Warnings (addresses outside the documentation
 * ranges) do not stop a lab.
 *
 *   const { lab, warnings } = loadLabFile('labs/01-igmpv3-join.yaml');
 *   const { lab } = parseLab(text, 'inline.yaml');
 *
 * The Lab returned is plain data with every value normalised (durations in
 * milliseconds, addresses as lists, command lines split into words) and a
 * `where` ("file:line:col") on everything a runtime error may need to point
 * at. The format is documented in labs/README.md.
 */
import { readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { Ajv, type ErrorObject } from 'ajv';
import { LineCounter, parseDocument, isMap, isSeq, isScalar, isPair, type Document, type Node as YamlNode } from 'yaml';
import { KernError } from '../kern/errno.js';
import { inIsMulticast, inParse, inParsePrefix } from '../inet/in.js';
import { in6IsMulticast, in6IsLinkLocal, in6Parse } from '../inet/in6.js';
import { CHECK_KEYS, LAB_SCHEMA, NAME_RE, STEP_KEYS } from './labschema.js';

// ---------------------------------------------------------------- the model

export type Where = string;

export interface QuerierSpec {
  version?: number;
  rv?: number;
  qi?: number;
  qri?: number;
  lmqi?: number;
  lmqc?: number;
  startupCount?: number;
  startupInterval?: number;
}

export interface InterfaceSpec {
  name: string;
  mac?: string;
  segment: string;
  inet: string[];
  inet6: string[];
  /** taplab: the forced version; kernel: force_igmp_version / force_mld_version. */
  igmpVersion?: number;
  mldVersion?: number;
  /** taplab hosts only. */
  querier?: { igmp?: QuerierSpec; mld?: QuerierSpec };
  where: Where;
}

export interface HostSpec {
  name: string;
  kind: 'taplab' | 'kernel';
  description: string;
  interfaces: InterfaceSpec[];
  /** Kernel hosts: sysctls to set (names under net.). */
  sysctl: [string, string][];
  where: Where;
}

/** Linux bridge settings (timers in milliseconds); undefined: the kernel's default. */
export interface BridgeSettings {
  snooping?: boolean;
  querier?: boolean;
  igmpVersion?: number;
  mldVersion?: number;
  queryInterval?: number;
  queryResponseInterval?: number;
  startupQueryInterval?: number;
  startupQueryCount?: number;
  lastMemberInterval?: number;
  lastMemberCount?: number;
  membershipInterval?: number;
  querierInterval?: number;
  fastLeave?: boolean;
}

export type SegmentSpec =
  | { name: string; type: 'memory'; delayMs: number; loss: number; seed?: number; where: Where }
  | { name: string; type: 'bridge'; settings: BridgeSettings; inet: string[]; inet6: string[]; where: Where };

export interface IfRef {
  host: string;
  ifname: string;
}

export type MdbMatch = { group: string; port?: IfRef; source?: string; mode?: 'include' | 'exclude' };

export type CheckSpec = { where: Where; label: string; withinMs: number } & (
  | { kind: 'output'; host: string; line: string; argv: string[]; contains: string[]; notContains: string[]; matches: string[]; exit: number }
  | { kind: 'sysctl'; host: string; name: string; field?: string; equals?: string | number | boolean; min?: number; max?: number }
  | { kind: 'mdb'; segment: string; has: MdbMatch[]; lacks: MdbMatch[] }
  | {
      kind: 'packets';
      iface: IfRef;
      dir: 'in' | 'out' | 'any';
      proto?: 'igmp' | 'mld';
      type?: 'query' | 'report' | 'leave' | 'done';
      version?: number;
      group?: string;
      record?: string;
      sources?: string[];
      /** The IP source address of the message. */
      from?: string;
      fromMs: number;
      /** Infinity: up to the time of the check. */
      toMs: number;
      count?: number;
      min?: number;
      max?: number;
    }
);

export type StepAction =
  | { kind: 'command'; host: string; line: string; argv: string[] }
  | { kind: 'pause'; ms: number }
  | { kind: 'link'; iface: IfRef; up: boolean }
  | { kind: 'version'; iface: IfRef; igmp?: number; mld?: number }
  | { kind: 'bridge'; segment: string; settings: BridgeSettings }
  | { kind: 'expect'; checks: CheckSpec[] }
  | { kind: 'note' };

export interface StepSpec {
  /** When the step is due, in milliseconds since the lab started (from at/after, known before the run). */
  atMs: number;
  note?: string;
  action: StepAction;
  where: Where;
}

export interface Lab {
  file: string;
  name: string;
  description: string;
  /** The lab runs at least this long (ms); the end is the later of this and the last step. */
  durationMs: number;
  seed?: number;
  hosts: HostSpec[];
  segments: SegmentSpec[];
  steps: StepSpec[];
  /** Checks made when the lab ends. */
  expect: CheckSpec[];
  /** When the lab ends (ms since start): the later of duration and the last step, or SETTLE_MS after the last step without a duration. */
  endMs: number;
  /** Why the lab cannot run in virtual time, or undefined when it can. */
  virtualTimeRefusal?: string;
}

export interface Diagnostic {
  file: string;
  line: number;
  col: number;
  /** The path in the document, like hosts.h1.interfaces[0].inet. */
  path: string;
  message: string;
}

export function formatDiagnostic(d: Diagnostic): string {
  return `${d.file}:${d.line}:${d.col}: ${d.path ? `${d.path}: ` : ''}${d.message}`;
}

/** A lab file that cannot be run: every error, in file order. */
export class LabFileError extends KernError {
  constructor(
    readonly file: string,
    readonly diagnostics: Diagnostic[],
  ) {
    super('EINVAL', `${file}: ${diagnostics.length} error${diagnostics.length === 1 ? '' : 's'}:\n${diagnostics.map(formatDiagnostic).join('\n')}`);
    this.name = 'LabFileError';
  }
}

// ---------------------------------------------------------------- values

/** Parse a duration: 2s, 500ms, 1.5s, 2m, 1m30s, or a number of seconds. Undefined when malformed. */
export function parseDuration(v: unknown): number | undefined {
  if (typeof v === 'number') return Number.isFinite(v) && v >= 0 ? Math.round(v * 1000) : undefined;
  if (typeof v !== 'string') return undefined;
  const m = /^\s*(?:(\d+(?:\.\d+)?)m(?!s))?\s*(?:(\d+(?:\.\d+)?)s)?\s*(?:(\d+(?:\.\d+)?)ms)?\s*$/.exec(v);
  if (!m || (m[1] === undefined && m[2] === undefined && m[3] === undefined)) return undefined;
  return Math.round(Number(m[1] ?? 0) * 60_000 + Number(m[2] ?? 0) * 1000 + Number(m[3] ?? 0));
}

/** A time for people: 4.002s. */
export function formatTime(ms: number): string {
  return `${(ms / 1000).toFixed(3)}s`;
}

const IFNAME_RE = /^[^/:\s]{1,15}$/;
const MAC_RE = /^[0-9A-Fa-f]{2}(:[0-9A-Fa-f]{2}){5}$/;

function isIpv6Prefix(s: string): boolean {
  const m = /^([^/]+)\/(\d{1,3})$/.exec(s);
  return !!m && !!in6Parse(m[1]) && Number(m[2]) <= 128;
}
function isGroup(s: string): boolean {
  const a = inParse(s);
  if (a) return inIsMulticast(a);
  const b = in6Parse(s);
  return !!b && in6IsMulticast(b);
}
function isUnicast(s: string): boolean {
  const a = inParse(s);
  if (a) return !inIsMulticast(a);
  const b = in6Parse(s);
  return !!b && !in6IsMulticast(b);
}

/** Whether a unicast address is in the documentation ranges (RFC 5737, RFC 3849) or link-local. */
export function isDocumentationAddress(addr: string): boolean {
  const a = inParse(addr);
  if (a) return (a[0] === 192 && a[1] === 0 && a[2] === 2) || (a[0] === 198 && a[1] === 51 && a[2] === 100) || (a[0] === 203 && a[1] === 0 && a[2] === 113);
  const b = in6Parse(addr);
  if (!b) return false;
  return in6IsLinkLocal(b) || (b[0] === 0x20 && b[1] === 0x01 && b[2] === 0x0d && b[3] === 0xb8);
}

/** Split a command line into words: spaces separate, '...' and "..." quote, \ escapes outside single quotes. */
export function splitWords(line: string): string[] | undefined {
  const out: string[] = [];
  let cur = '';
  let has = false;
  let q: '"' | "'" | '' = '';
  for (let i = 0; i < line.length; i++) {
    const c = line[i];
    if (q === "'") {
      if (c === "'") q = '';
      else cur += c;
    } else if (q === '"') {
      if (c === '"') q = '';
      else if (c === '\\' && i + 1 < line.length) cur += line[++i];
      else cur += c;
    } else if (c === "'" || c === '"') {
      q = c;
      has = true;
    } else if (c === '\\' && i + 1 < line.length) {
      cur += line[++i];
      has = true;
    } else if (/\s/.test(c)) {
      if (has || cur) out.push(cur);
      cur = '';
      has = false;
    } else cur += c;
  }
  if (q) return undefined;
  if (has || cur) out.push(cur);
  return out;
}

// ---------------------------------------------------------------- schema validation

const FORMATS: Record<string, { test: (s: string) => boolean; what: string }> = {
  'ipv4-prefix': { test: (s) => !!inParsePrefix(s), what: 'an IPv4 address with a prefix length, like 192.0.2.10/24' },
  'ipv6-prefix': { test: isIpv6Prefix, what: 'an IPv6 address with a prefix length, like 2001:db8::10/64' },
  mac: { test: (s) => MAC_RE.test(s), what: 'a MAC address such as 02:00:5e:10:00:01' },
  name: { test: (s) => NAME_RE.test(s), what: 'a name: a letter, then letters, digits, - or _ (at most 32)' },
  ifname: { test: (s) => IFNAME_RE.test(s) && s !== '.' && s !== '..', what: 'an interface name of 1 to 15 bytes without "/", ":" or spaces' },
  ifref: { test: (s) => /^[A-Za-z][A-Za-z0-9_-]{0,31}\.[^/:\s]{1,15}$/.test(s), what: 'an interface as HOST.IF, like h1.em0' },
  group: { test: isGroup, what: 'a multicast group address such as 239.1.1.1 or ff05::1:3' },
  address: { test: isUnicast, what: 'a unicast address such as 198.51.100.7 or 2001:db8::7' },
  duration: { test: (s) => parseDuration(s) !== undefined, what: 'a duration such as 2s, 500ms, 1.5s or 1m30s' },
  regex: {
    test: (s) => {
      try {
        new RegExp(s, 'm');
        return true;
      } catch {
        return false;
      }
    },
    what: 'a valid regular expression',
  },
};

let compiled: ReturnType<Ajv['compile']> | undefined;
function validator(): ReturnType<Ajv['compile']> {
  if (compiled) return compiled;
  const ajv = new Ajv({ allErrors: true, strict: true, allowUnionTypes: true, discriminator: true, verbose: true });
  for (const [name, f] of Object.entries(FORMATS)) ajv.addFormat(name, { type: 'string', validate: f.test });
  compiled = ajv.compile(LAB_SCHEMA);
  return compiled;
}

type Path = (string | number)[];

function pathText(p: Path): string {
  let s = '';
  for (const k of p) s += typeof k === 'number' ? `[${k}]` : s ? `.${k}` : k;
  return s;
}

function typeName(t: unknown): string {
  const one = (x: string) => (x === 'integer' ? 'a whole number' : x === 'array' ? 'a list' : x === 'object' ? 'a map' : x === 'boolean' ? 'true or false' : `a ${x}`);
  return Array.isArray(t) ? t.map((x) => one(String(x))).join(' or ') : one(String(t));
}

/** Turn an ajv error into [path, message, pointAtKey]. */
function describeAjvError(e: ErrorObject): { path: Path; message: string; key?: string } | undefined {
  const path: Path = e.instancePath
    .split('/')
    .slice(1)
    .map((s) => s.replace(/~1/g, '/').replace(/~0/g, '~'))
    .map((s) => (/^\d+$/.test(s) ? Number(s) : s));
  const ps = (e.parentSchema ?? {}) as { description?: string; type?: unknown; properties?: Record<string, unknown>; patternProperties?: unknown };
  const expected = ps.description;
  switch (e.keyword) {
    case 'additionalProperties': {
      const key = String((e.params as { additionalProperty: string }).additionalProperty);
      const known = ps.properties ? Object.keys(ps.properties) : [];
      const extra = ps.patternProperties ? ', or a host name' : '';
      return { path: [...path, key], key, message: `unknown key "${key}"${known.length ? `; expected one of: ${known.join(', ')}${extra}` : ''}` };
    }
    case 'required': {
      const key = String((e.params as { missingProperty: string }).missingProperty);
      return { path, message: `missing key "${key}"${expected ? ` (expected ${expected})` : ''}` };
    }
    case 'propertyNames':
      return undefined; // the inner error (format/pattern on the name) says it
    case 'type':
      if (expected && /^(an?|the|true|how|HOST|[A-Z])/.test(expected)) return { path, message: `expected ${expected}` };
      return { path, message: `expected ${typeName((e.params as { type: unknown }).type)}` };
    case 'format': {
      const f = FORMATS[(e.params as { format: string }).format];
      if (e.propertyName !== undefined) return { path: [...path, e.propertyName], key: e.propertyName, message: `"${e.propertyName}" is not ${f?.what ?? expected}` };
      // A duration's own description says what the time means (since the start, a delay...).
      const fmtName = (e.params as { format: string }).format;
      return { path, message: `expected ${fmtName === 'duration' && expected ? expected : (f?.what ?? expected)}` };
    }
    case 'pattern':
      if (e.propertyName !== undefined) return { path: [...path, e.propertyName], key: e.propertyName, message: `"${e.propertyName}" is not ${expected}` };
      return { path, message: `expected ${expected}` };
    case 'const':
    case 'enum':
    case 'minimum':
    case 'maximum':
    case 'minItems':
    case 'maxItems':
      return { path, message: `expected ${expected ?? e.message}` };
    case 'discriminator':
    case 'oneOf':
      return undefined; // the segment's `type` enum (or required) says it; with a known type the branch's own errors do
    default:
      return { path, message: `expected ${expected ?? e.message}` };
  }
}

// ---------------------------------------------------------------- positions

class Locator {
  constructor(
    private readonly doc: Document,
    private readonly lc: LineCounter,
    readonly file: string,
  ) {}

  /** The node at a path, and the deepest existing ancestor if the path runs out. */
  private find(path: Path, key = false): YamlNode | undefined {
    let node: unknown = this.doc.contents;
    let last: YamlNode | undefined = node as YamlNode;
    for (let i = 0; i < path.length; i++) {
      const seg = path[i];
      if (isMap(node)) {
        const pair = node.items.find((p) => isPair(p) && isScalar(p.key) && String(p.key.value) === String(seg));
        if (!pair) return last;
        if (key && i === path.length - 1) return pair.key as YamlNode;
        node = pair.value;
        if (node === null) return pair.key as YamlNode;
      } else if (isSeq(node) && typeof seg === 'number') {
        node = node.items[seg];
      } else return last;
      if (node && typeof node === 'object' && 'range' in (node as object)) last = node as YamlNode;
      else return last;
    }
    return last;
  }

  pos(path: Path, key = false): { line: number; col: number } {
    const n = this.find(path, key);
    const off = n?.range?.[0] ?? 0;
    return this.lc.linePos(off);
  }

  where(path: Path): Where {
    const p = this.pos(path);
    return `${this.file}:${p.line}:${p.col}`;
  }

  diag(path: Path, message: string, key = false): Diagnostic {
    const p = this.pos(path, key);
    return { file: this.file, line: p.line, col: p.col, path: pathText(path), message };
  }
}

// ---------------------------------------------------------------- loading

export interface LoadedLab {
  lab: Lab;
  warnings: Diagnostic[];
}

/** Read and check a lab file. Throws LabFileError (every problem) or KernError ENOENT. */
export function loadLabFile(path: string, displayName = path): LoadedLab {
  let text: string;
  // A curriculum lab is a directory holding lab.yaml beside its README.
  if (isDirectory(path)) {
    path = join(path, 'lab.yaml');
    displayName = join(displayName, 'lab.yaml');
  }
  try {
    text = readFileSync(path, 'utf8');
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    const why = code === 'ENOENT' ? 'no such file or directory' : code === 'EACCES' ? 'permission denied' : (e as Error).message;
    throw new KernError(code === 'EACCES' ? 'EACCES' : 'ENOENT', `cannot read the lab file ${displayName}: ${why}`);
  }
  return parseLab(text, displayName);
}

function isDirectory(path: string): boolean {
  try {
    return statSync(path).isDirectory();
  } catch {
    return false;
  }
}

/**
 * Load a lab for a command (`taplab run`, `taplab shell`): warnings and
 * errors go to `err` in file:line:col form, prefixed by the command's name
 * `me`; the result is the lab, or 65 (EX_DATAERR) when it is not valid and
 * nothing may start.
 */
/** The lab, or the exit status after the problems were printed: 65 an invalid lab file, 66 an unreadable one. */
export function loadLabForCommand(file: string, me: string, err: (s: string) => void): Lab | 65 | 66 {
  try {
    const loaded = loadLabFile(file);
    for (const w of loaded.warnings) err(`warning: ${formatDiagnostic(w)}\n`);
    return loaded.lab;
  } catch (e) {
    if (e instanceof LabFileError) {
      for (const d of e.diagnostics) err(`${formatDiagnostic(d)}\n`);
      err(`${me}: ${file} is not a valid lab (${e.diagnostics.length} error${e.diagnostics.length === 1 ? '' : 's'}); nothing was started\n`);
      return 65;
    }
    if (e instanceof KernError) {
      err(`${me}: ${e.message}\n`);
      return 66; // EX_NOINPUT
    }
    throw e;
  }
}

/** Parse and check lab text; `file` names it in messages. Throws LabFileError. */
export function parseLab(text: string, file: string): LoadedLab {
  const lc = new LineCounter();
  const doc = parseDocument(text, { lineCounter: lc, prettyErrors: false, uniqueKeys: true });
  const loc = new Locator(doc, lc, file);
  const errors: Diagnostic[] = [];
  for (const e of doc.errors) {
    const p = lc.linePos(e.pos[0]);
    errors.push({ file, line: p.line, col: p.col, path: '', message: yamlMessage(e.message) });
  }
  if (errors.length) throw new LabFileError(file, errors);
  const data: unknown = doc.toJS({ maxAliasCount: 100 });
  if (data === null || data === undefined || typeof data !== 'object' || Array.isArray(data))
    throw new LabFileError(file, [loc.diag([], 'expected a map with name, segments, hosts and/or kernel, steps, expect (see labs/README.md)')]);

  const validate = validator();
  if (!validate(data)) {
    const seen = new Set<string>();
    for (const e of validate.errors ?? []) {
      const d = describeAjvError(e);
      if (!d) continue;
      const diag = loc.diag(d.path, d.message, d.key !== undefined);
      const k = formatDiagnostic(diag);
      if (!seen.has(k)) {
        seen.add(k);
        errors.push(diag);
      }
    }
    if (errors.length === 0) errors.push(loc.diag([], 'does not match the lab file format (see labs/README.md)'));
    throw new LabFileError(file, sortDiags(errors));
  }
  const warnings: Diagnostic[] = [];
  const lab = new Checker(data as RawLab, loc, errors, warnings).lab();
  if (errors.length) throw new LabFileError(file, sortDiags(errors));
  return { lab, warnings: sortDiags(warnings) };
}

function yamlMessage(m: string): string {
  const first = m.split('\n')[0].replace(/ at line \d+, column \d+:?$/, '');
  if (/Map keys must be unique/.test(first)) return 'this key appears twice in the same map (names must be unique)';
  return `YAML: ${first}`;
}

function sortDiags(d: Diagnostic[]): Diagnostic[] {
  return [...d].sort((a, b) => a.line - b.line || a.col - b.col);
}

// ---------------------------------------------------------------- whole-file checks

/* The shapes the schema guarantees. */
type RawQuerier = { version?: number; rv?: number; qi?: number; qri?: number; lmqi?: number; lmqc?: number; startup_count?: number; startup_interval?: number };
type RawIf = { name: string; mac?: string; segment: string; inet?: string | string[]; inet6?: string | string[]; igmp_version?: number; mld_version?: number; querier?: { igmp?: RawQuerier | boolean; mld?: RawQuerier | boolean } };
type RawHost = { description?: string; interfaces: RawIf[]; sysctl?: Record<string, string | number | boolean> };
type RawBridge = Record<string, unknown>;
type RawSegment = { type: 'memory'; delay?: string | number; loss?: number; seed?: number } | ({ type: 'bridge'; inet?: string | string[]; inet6?: string | string[] } & RawBridge);
type RawCheck = Record<string, unknown>;
type RawStep = Record<string, unknown>;
interface RawLab {
  name: string;
  description?: string;
  duration?: string | number;
  seed?: number;
  segments: Record<string, RawSegment>;
  hosts?: Record<string, RawHost>;
  kernel?: Record<string, RawHost>;
  steps?: RawStep[];
  expect?: RawCheck[];
}

const list = (v: string | string[] | undefined): string[] => (v === undefined ? [] : Array.isArray(v) ? v : [v]);

/** How long a lab without a duration runs after its last step. */
export const SETTLE_MS = 1000;

const KERNEL_WORDS = new Set(['join', 'leave', 'send']);

class Checker {
  private readonly hosts = new Map<string, HostSpec>();
  private readonly segments = new Map<string, SegmentSpec>();

  constructor(
    private readonly raw: RawLab,
    private readonly loc: Locator,
    private readonly errors: Diagnostic[],
    private readonly warnings: Diagnostic[],
  ) {}

  private err(path: Path, message: string, key = false): void {
    this.errors.push(this.loc.diag(path, message, key));
  }

  private warn(path: Path, message: string): void {
    this.warnings.push(this.loc.diag(path, message));
  }

  lab(): Lab {
    const r = this.raw;
    for (const [name, s] of Object.entries(r.segments)) this.segment(name, s);
    if (!r.hosts && !r.kernel) this.err([], 'a lab needs hosts, kernel hosts, or both');
    for (const [name, h] of Object.entries(r.hosts ?? {})) this.host(name, h, 'taplab');
    for (const [name, h] of Object.entries(r.kernel ?? {})) {
      if (this.hosts.has(name)) this.err(['kernel', name], `"${name}" is already the name of a taplab host; every host needs its own name`, true);
      else this.host(name, h, 'kernel');
    }
    this.crossChecks();
    const steps = this.steps(r.steps ?? []);
    const expect = (r.expect ?? []).map((c, i) => this.check(c, ['expect', i])).filter((c): c is CheckSpec => !!c);
    const durationMs = r.duration === undefined ? 0 : parseDuration(r.duration) ?? 0;
    const lastStep = steps.length ? steps[steps.length - 1] : undefined;
    const lastEnd = lastStep ? lastStep.atMs + (lastStep.action.kind === 'pause' ? lastStep.action.ms : 0) : 0;
    const hostList = [...this.hosts.values()];
    const segList = [...this.segments.values()];
    const kernelHost = hostList.find((h) => h.kind === 'kernel');
    const bridge = segList.find((s) => s.type === 'bridge');
    const virtualTimeRefusal = kernelHost
      ? `kernel host ${kernelHost.name} runs on the real kernel, in real time`
      : bridge
        ? `segment ${bridge.name} is a Linux bridge, which runs in real time`
        : undefined;
    return {
      file: this.loc.file,
      name: r.name,
      description: r.description ?? '',
      durationMs,
      seed: r.seed,
      hosts: hostList,
      segments: segList,
      steps,
      expect,
      // Without a duration the lab ends a second after its last step, so that what the step set off is seen.
      endMs: r.duration === undefined ? lastEnd + SETTLE_MS : Math.max(durationMs, lastEnd),
      virtualTimeRefusal,
    };
  }

  private segment(name: string, s: RawSegment): void {
    const where = this.loc.where(['segments', name]);
    if (s.type === 'memory') {
      this.segments.set(name, { name, type: 'memory', delayMs: parseDuration(s.delay ?? 0) ?? 0, loss: s.loss ?? 0, seed: s.seed, where });
      return;
    }
    if (!IFNAME_RE.test(name)) this.err(['segments', name], `a bridge segment's name is its Linux interface name, at most 15 bytes; "${name}" is too long`, true);
    const inet = list(s.inet);
    const inet6 = list(s.inet6);
    this.segments.set(name, { name, type: 'bridge', settings: bridgeSettingsOf(s), inet, inet6, where });
    inet.forEach((a, i) => this.docCheck(['segments', name, 'inet', ...(Array.isArray(s.inet) ? [i] : [])], a));
    inet6.forEach((a, i) => this.docCheck(['segments', name, 'inet6', ...(Array.isArray(s.inet6) ? [i] : [])], a));
  }

  private docCheck(path: Path, prefix: string): void {
    const addr = prefix.split('/')[0];
    if (!isDocumentationAddress(addr))
      this.warn(path, `${addr} is outside the documentation ranges (192.0.2.0/24, 198.51.100.0/24, 203.0.113.0/24, 2001:db8::/32); it stays inside the lab, but labs should use those`);
  }

  private host(name: string, h: RawHost, kind: 'taplab' | 'kernel'): void {
    const section = kind === 'taplab' ? 'hosts' : 'kernel';
    if ((STEP_KEYS as readonly string[]).includes(name) || (CHECK_KEYS as readonly string[]).includes(name))
      this.err([section, name], `"${name}" is a key of steps or checks and cannot name a host`, true);
    const ifnames = new Set<string>();
    const interfaces: InterfaceSpec[] = [];
    h.interfaces.forEach((i, n) => {
      const p: Path = [section, name, 'interfaces', n];
      if (ifnames.has(i.name)) this.err([...p, 'name'], `host ${name} already has an interface named ${i.name}`);
      ifnames.add(i.name);
      const seg = this.segments.get(i.segment);
      if (!seg) this.err([...p, 'segment'], `no segment named "${i.segment}" (segments: ${[...this.segments.keys()].join(', ') || 'none'})`);
      else if (kind === 'kernel' && seg.type !== 'bridge')
        this.err([...p, 'segment'], `a kernel host can only be linked to a bridge segment; ${i.segment} is a memory segment (it lives inside the taplab process)`);
      const inet = list(i.inet);
      const inet6 = list(i.inet6);
      inet.forEach((a, k) => this.docCheck([...p, 'inet', ...(Array.isArray(i.inet) ? [k] : [])], a));
      inet6.forEach((a, k) => this.docCheck([...p, 'inet6', ...(Array.isArray(i.inet6) ? [k] : [])], a));
      const spec: InterfaceSpec = { name: i.name, mac: i.mac?.toLowerCase(), segment: i.segment, inet, inet6, igmpVersion: i.igmp_version, mldVersion: i.mld_version, where: this.loc.where(p) };
      if (i.querier) {
        if (kind === 'kernel') this.err([...p, 'querier'], 'kernel hosts have no querier; use a bridge segment with querier: true');
        const q: InterfaceSpec['querier'] = {};
        for (const fam of ['igmp', 'mld'] as const) {
          const v = i.querier[fam];
          if (v === undefined || v === false) continue;
          q[fam] = v === true ? {} : querierOf(v);
          if (fam === 'mld' && (v as RawQuerier).version !== undefined && (v as RawQuerier).version! > 2)
            this.err([...p, 'querier', 'mld', 'version'], 'expected an MLD querier version: 1 or 2');
          if (fam === 'igmp' && inet.length === 0) this.err([...p, 'querier', 'igmp'], 'an IGMP querier sends from the interface\'s IPv4 address; give the interface an inet address');
          const qq = q[fam]!;
          if (qq.qri !== undefined && qq.qri >= (qq.qi ?? 125)) this.err([...p, 'querier', fam, 'qri'], `expected a Query Response Interval less than the Query Interval (${qq.qi ?? 125} s)`);
        }
        spec.querier = q;
      }
      interfaces.push(spec);
    });
    const sysctl: [string, string][] = Object.entries(h.sysctl ?? {}).map(([k, v]) => [k, typeof v === 'boolean' ? (v ? '1' : '0') : String(v)]);
    this.hosts.set(name, { name, kind, description: h.description ?? '', interfaces, sysctl, where: this.loc.where([section, name]) });
  }

  /** Addresses and MACs unique; a bridge segment with a kernel querier needs an address to query from. */
  private crossChecks(): void {
    const macs = new Map<string, string>();
    const addrs = new Map<string, string>();
    for (const h of this.hosts.values()) {
      const section = h.kind === 'taplab' ? 'hosts' : 'kernel';
      h.interfaces.forEach((i, n) => {
        const p: Path = [section, h.name, 'interfaces', n];
        if (i.mac) {
          const other = macs.get(i.mac);
          if (other) this.err([...p, 'mac'], `MAC ${i.mac} is already used by ${other}`);
          else macs.set(i.mac, `${h.name}.${i.name}`);
        }
        for (const fam of ['inet', 'inet6'] as const)
          for (const a of i[fam]) {
            const key = `${i.segment}/${a.split('/')[0]}`;
            const other = addrs.get(key);
            if (other) this.err([...p, fam], `address ${a.split('/')[0]} is already used on segment ${i.segment} by ${other}`);
            else addrs.set(key, `${h.name}.${i.name}`);
          }
      });
    }
  }

  private ifref(text: string, path: Path, want?: 'bridge'): IfRef | undefined {
    const dot = text.indexOf('.');
    const host = text.slice(0, dot);
    const ifname = text.slice(dot + 1);
    const h = this.hosts.get(host);
    if (!h) {
      this.err(path, `no host named "${host}" (hosts: ${[...this.hosts.keys()].join(', ')})`);
      return undefined;
    }
    const ifs = h.interfaces.find((i) => i.name === ifname);
    if (!ifs) {
      this.err(path, `host ${host} has no interface named "${ifname}" (it has ${h.interfaces.map((i) => i.name).join(', ')})`);
      return undefined;
    }
    if (want === 'bridge' && this.segments.get(ifs.segment)?.type !== 'bridge') {
      this.err(path, `${text} is on memory segment ${ifs.segment}, not on a bridge`);
      return undefined;
    }
    return { host, ifname };
  }

  private hostKeys(o: Record<string, unknown>, reserved: readonly string[]): string[] {
    return Object.keys(o).filter((k) => !reserved.includes(k));
  }

  private command(host: string, line: string, path: Path): { argv: string[] } | undefined {
    const h = this.hosts.get(host);
    if (!h) {
      this.err(path, `no host named "${host}" (hosts: ${[...this.hosts.keys()].join(', ') || 'none'}); a step runs one action: HOST: COMMAND, pause, link, version, bridge or expect`, true);
      return undefined;
    }
    const argv = splitWords(line);
    if (!argv) {
      this.err(path, 'the command line has an unterminated quote');
      return undefined;
    }
    if (argv.length === 0) {
      this.err(path, 'expected a command line, such as ifmcstat -v');
      return undefined;
    }
    if (h.kind === 'taplab' && !TAPLAB_COMMANDS.includes(argv[0]))
      this.err(path, `"${argv[0]}" is not a taplab command; expected one of: ${TAPLAB_COMMANDS.join(', ')}`);
    if (h.kind === 'taplab' && TAPLAB_GROUP_COMMANDS.has(argv[0])) {
      const problem = checkTaplabGroupArg(argv);
      if (problem) this.err(path, problem);
    }
    if (h.kind === 'kernel' && KERNEL_WORDS.has(argv[0])) {
      const problem = checkKernelSocketCommand(argv, h);
      if (problem) this.err(path, problem);
    }
    return { argv };
  }

  private steps(raw: RawStep[]): StepSpec[] {
    const out: StepSpec[] = [];
    let base = 0;
    let prevAt = 0;
    raw.forEach((s, i) => {
      const p: Path = ['steps', i];
      const actions = Object.keys(s).filter((k) => k !== 'at' && k !== 'after' && k !== 'note');
      if (s.at !== undefined && s.after !== undefined) this.err([...p, 'after'], 'a step takes at or after, not both', true);
      let atMs = base;
      if (s.at !== undefined) {
        atMs = parseDuration(s.at) ?? 0;
        if (atMs < prevAt) this.err([...p, 'at'], `expected a time no earlier than the previous step (${formatTime(prevAt)}); steps run in order`);
      } else if (s.after !== undefined) atMs = base + (parseDuration(s.after) ?? 0);
      const where = this.loc.where(p);
      const note = s.note as string | undefined;
      if (actions.length > 1) {
        // A misspelt key (atx:, pasue:) reads as a second action: name it as unknown instead.
        const known = (k: string) => STEP_ACTIONS.includes(k) || this.hosts.has(k);
        const odd = actions.find((k) => !known(k));
        if (odd !== undefined) {
          const near = nearest(odd, ['at', 'after', 'note', ...STEP_ACTIONS, ...this.hosts.keys()]);
          this.err([...p, odd], `unknown key "${odd}"${near ? ` (did you mean ${near}?)` : ''}; a step has at or after, an optional note, and one action: HOST: COMMAND, pause, link, version, bridge or expect`, true);
        } else this.err([...p, actions[1]], `a step does one thing; this one has ${actions.join(' and ')} (split it into steps)`, true);
        return;
      }
      let action: StepAction | undefined;
      if (actions.length === 0) {
        if (note === undefined) this.err(p, 'expected an action: HOST: COMMAND, pause, link, version, bridge, expect or note');
        action = { kind: 'note' };
      } else {
        const k = actions[0];
        const v = s[k];
        const kp: Path = [...p, k];
        switch (k) {
          case 'pause':
            action = { kind: 'pause', ms: parseDuration(v) ?? 0 };
            break;
          case 'link': {
            const [ref, state] = String(v).split(/\s+/);
            const iface = this.ifref(ref, kp);
            if (iface) action = { kind: 'link', iface, up: state === 'up' };
            break;
          }
          case 'version': {
            const o = v as { interface: string; igmp?: number; mld?: number };
            if (o.igmp === undefined && o.mld === undefined) this.err(kp, 'expected igmp and/or mld (the version to force; 0 returns to the default)');
            const iface = this.ifref(o.interface, [...kp, 'interface']);
            if (iface) action = { kind: 'version', iface, igmp: o.igmp, mld: o.mld };
            break;
          }
          case 'bridge': {
            const o = v as { segment: string } & RawBridge;
            const seg = this.segments.get(o.segment);
            if (!seg || seg.type !== 'bridge') this.err([...kp, 'segment'], `no bridge segment named "${o.segment}"`);
            else action = { kind: 'bridge', segment: o.segment, settings: bridgeSettingsOf(o) };
            if (Object.keys(o).length === 1) this.err(kp, 'expected at least one bridge setting to change');
            break;
          }
          case 'expect': {
            const items = Array.isArray(v) ? (v as RawCheck[]) : [v as RawCheck];
            const checks = items.map((c, n) => this.check(c, Array.isArray(v) ? [...kp, n] : kp, atMs)).filter((c): c is CheckSpec => !!c);
            action = { kind: 'expect', checks };
            break;
          }
          default: {
            const c = this.command(k, String(v), kp);
            if (c) action = { kind: 'command', host: k, line: String(v), argv: c.argv };
          }
        }
      }
      if (action) out.push({ atMs, note, action, where });
      prevAt = atMs;
      base = atMs + (action?.kind === 'pause' ? action.ms : 0);
    });
    return out;
  }

  private check(c: RawCheck, p: Path, stepAt?: number): CheckSpec | undefined {
    const kinds = this.hostKeys(c, CHECK_KEYS).concat(['sysctl', 'mdb', 'packets'].filter((k) => k in c));
    if (kinds.length === 0) {
      this.err(p, 'expected a check: HOST: COMMAND, sysctl: HOST NAME, mdb: SEGMENT or packets: HOST.IF');
      return undefined;
    }
    if (kinds.length > 1) {
      this.err([...p, kinds[1]], `a check tests one thing; this one has ${kinds.join(' and ')} (make two checks)`, true);
      return undefined;
    }
    const kind = kinds[0];
    const allowed: Record<string, string[]> = {
      sysctl: ['field', 'equals', 'min', 'max'],
      mdb: ['has', 'lacks'],
      packets: ['dir', 'proto', 'type', 'version', 'group', 'record', 'sources', 'from', 'between', 'count', 'min', 'max'],
    };
    const mine = allowed[kind] ?? ['contains', 'not_contains', 'matches', 'exit'];
    const kindName = allowed[kind] ? `a ${kind} check` : 'a command check';
    let bad = false;
    for (const k of Object.keys(c)) {
      if (k === kind || k === 'label' || k === 'within' || mine.includes(k)) continue;
      this.err([...p, k], `"${k}" does not go with ${kindName} (it takes ${mine.join(', ')})`, true);
      bad = true;
    }
    if (bad) return undefined;
    const within = c.within === undefined ? 0 : parseDuration(c.within) ?? 0;
    const where = this.loc.where(p);
    const str = (x: unknown): string[] => (x === undefined ? [] : Array.isArray(x) ? x.map(String) : [String(x)]);
    if (kind === 'sysctl') {
      const [host, name] = String(c.sysctl).split(/\s+/);
      if (!this.hosts.has(host)) {
        this.err([...p, 'sysctl'], `no host named "${host}"`);
        return undefined;
      }
      if (c.equals === undefined && c.min === undefined && c.max === undefined) this.err(p, 'a sysctl check needs equals, min or max');
      const field = c.field as string | undefined;
      if (field !== undefined && this.hosts.get(host)?.kind !== 'taplab') this.err([...p, 'field'], `field works on taplab hosts' structure values; ${host} is a kernel host`);
      return { kind: 'sysctl', host, name, field, equals: c.equals as string | number | boolean | undefined, min: c.min as number | undefined, max: c.max as number | undefined, where, withinMs: within, label: (c.label as string) ?? `${host} sysctl ${name}${field ? ` ${field}` : ''}` };
    }
    if (kind === 'mdb') {
      const seg = this.segments.get(String(c.mdb));
      if (!seg || seg.type !== 'bridge') {
        this.err([...p, 'mdb'], `no bridge segment named "${String(c.mdb)}"`);
        return undefined;
      }
      if (c.has === undefined && c.lacks === undefined) this.err(p, 'an mdb check needs has or lacks');
      const matches = (key: 'has' | 'lacks'): MdbMatch[] => {
        const v = c[key];
        if (v === undefined) return [];
        const items = Array.isArray(v) ? v : [v];
        return items.map((m: { group: string; port?: string; source?: string; mode?: 'include' | 'exclude' }, n) => {
          const mp: Path = Array.isArray(v) ? [...p, key, n] : [...p, key];
          let port: IfRef | undefined;
          if (m.port !== undefined) {
            port = this.ifref(m.port, [...mp, 'port'], 'bridge');
            const ifs = port && this.hosts.get(port.host)!.interfaces.find((i) => i.name === port!.ifname);
            if (ifs && ifs.segment !== seg.name) this.err([...mp, 'port'], `${m.port} is on segment ${ifs.segment}, not ${seg.name}`);
          }
          return { group: m.group, port, source: m.source, mode: m.mode };
        });
      };
      return { kind: 'mdb', segment: seg.name, has: matches('has'), lacks: matches('lacks'), where, withinMs: within, label: (c.label as string) ?? `mdb ${seg.name}` };
    }
    if (kind === 'packets') {
      const iface = this.ifref(String(c.packets), [...p, 'packets']);
      if (!iface) return undefined;
      const between = c.between as unknown[] | undefined;
      const fromMs = between ? parseDuration(between[0]) ?? 0 : 0;
      const toMs = between ? parseDuration(between[1]) ?? 0 : Infinity;
      if (between && toMs < fromMs) this.err([...p, 'between'], 'expected [FROM, TO] with FROM no later than TO');
      if (stepAt !== undefined && between && toMs > stepAt) this.err([...p, 'between'], `the window ends at ${formatTime(toMs)}, after this step runs (${formatTime(stepAt)}); move the check to a later step or to expect`);
      const proto = c.proto as 'igmp' | 'mld' | undefined;
      const group = c.group as string | undefined;
      if (proto && group && (proto === 'igmp') !== !!inParse(group)) this.err([...p, 'group'], `expected ${proto === 'igmp' ? 'an IPv4' : 'an IPv6'} group for ${proto.toUpperCase()}`);
      if (c.record !== undefined && c.type !== undefined && c.type !== 'report') this.err([...p, 'record'], 'record types are in reports; use type: report or leave type out');
      if (c.count !== undefined && (c.min !== undefined || c.max !== undefined)) this.err([...p, 'count'], 'use count, or min and/or max, not both');
      const from = c.from as string | undefined;
      if (proto && from && (proto === 'igmp') !== !!inParse(from)) this.err([...p, 'from'], `expected ${proto === 'igmp' ? 'an IPv4' : 'an IPv6'} source address for ${proto.toUpperCase()}`);
      const dir = (c.dir as 'in' | 'out' | 'any') ?? 'any';
      const label =
        (c.label as string) ??
        `packets on ${c.packets}${dir !== 'any' ? ` ${dir}` : ''}${proto ? ` ${proto}` : ''}${c.type ? ` ${c.type}` : ''}${c.version ? ` v${c.version}` : ''}${c.record ? ` ${c.record}` : ''}${group ? ` ${group}` : ''}${c.sources ? ` {${(c.sources as string[]).join(', ')}}` : ''}${from ? ` from ${from}` : ''}${between ? ` in [${formatTime(fromMs)}, ${formatTime(toMs)}]` : ''}`;
      return {
        kind: 'packets', iface, dir, proto, type: c.type as 'query' | 'report' | 'leave' | 'done' | undefined, version: c.version as number | undefined, group, record: c.record as string | undefined,
        sources: c.sources as string[] | undefined, from, fromMs, toMs, count: c.count as number | undefined, min: c.min as number | undefined, max: c.max as number | undefined,
        where, withinMs: within, label,
      };
    }
    const host = kind;
    const line = String(c[kind]);
    const cmd = this.command(host, line, [...p, kind]);
    if (!cmd) return undefined;
    const out: CheckSpec = {
      kind: 'output', host, line, argv: cmd.argv,
      contains: str(c.contains), notContains: str(c.not_contains), matches: str(c.matches), exit: (c.exit as number | undefined) ?? 0,
      where, withinMs: within, label: (c.label as string) ?? `${host}: ${line}`,
    };
    return out;
  }
}

function querierOf(v: RawQuerier): QuerierSpec {
  return { version: v.version, rv: v.rv, qi: v.qi, qri: v.qri, lmqi: v.lmqi, lmqc: v.lmqc, startupCount: v.startup_count, startupInterval: v.startup_interval };
}

function bridgeSettingsOf(o: RawBridge): BridgeSettings {
  const d = (k: string) => (o[k] === undefined ? undefined : parseDuration(o[k]));
  const n = (k: string) => o[k] as number | undefined;
  const b = (k: string) => o[k] as boolean | undefined;
  const s: BridgeSettings = {
    snooping: b('snooping'),
    querier: b('querier'),
    igmpVersion: n('igmp_version'),
    mldVersion: n('mld_version'),
    queryInterval: d('query_interval'),
    queryResponseInterval: d('query_response_interval'),
    startupQueryInterval: d('startup_query_interval'),
    startupQueryCount: n('startup_query_count'),
    lastMemberInterval: d('last_member_interval'),
    lastMemberCount: n('last_member_count'),
    membershipInterval: d('membership_interval'),
    querierInterval: d('querier_interval'),
    fastLeave: b('fast_leave'),
  };
  for (const k of Object.keys(s) as (keyof BridgeSettings)[]) if (s[k] === undefined) delete s[k];
  return s;
}

/**
 * The commands a taplab host runs in steps and checks: every tool of
 * src/tools/registry.ts. Kept here as names so that checking a file does
 * not load the tools (the runner dispatches through runOnHost).
 */
export const TAPLAB_COMMANDS = ['ifmcstat', 'netstat', 'join', 'leave', 'block', 'unblock', 'send', 'groups', 'snapshot', 'sysctl', 'ifconfig', 'querier', 'dmesg'];

/** A kernel host's join/leave/send, held by a socket process in its namespace. */
export interface KernelSocketCommand {
  verb: 'join' | 'leave' | 'send';
  group: string;
  ifname: string;
  /** join --include / leave --source: source-specific (RFC 3678 MCAST_JOIN_SOURCE_GROUP). */
  sources: string[];
  port: number;
  count: number;
  ttl: number;
  data: string;
}

/** Parse `join G [-i IF] [--include S,..]`, `leave G [-i IF] [--source S,..]`, `send G[:PORT] [-i IF] [--count N] [--ttl N] [--data T]`. */
export function parseKernelSocketCommand(argv: string[], host: HostSpec): KernelSocketCommand | string {
  const [verb, ...rest] = argv;
  const cmd: KernelSocketCommand = { verb: verb as KernelSocketCommand['verb'], group: '', ifname: '', sources: [], port: 5000, count: 1, ttl: 1, data: 'taplab' };
  let groupText: string | undefined;
  for (let i = 0; i < rest.length; i++) {
    const a = rest[i];
    const val = () => {
      if (i + 1 >= rest.length) throw new Error(`${a} needs a value`);
      return rest[++i];
    };
    try {
      if (a === '-i' || a === '--interface') cmd.ifname = val();
      else if (verb === 'join' && a === '--include') cmd.sources.push(...val().split(','));
      else if (verb === 'join' && a === '--exclude') return 'a kernel host joins through a Node dgram socket, which has no MCAST_BLOCK_SOURCE; use --include or a plain join';
      else if (verb === 'leave' && a === '--source') cmd.sources.push(...val().split(','));
      else if (verb === 'send' && (a === '--count' || a === '--ttl' || a === '--port')) {
        const v = val();
        if (!/^\d+$/.test(v)) return `${a} takes a whole number, not ${JSON.stringify(v)}`;
        if (a === '--count') cmd.count = Number(v);
        else if (a === '--ttl') cmd.ttl = Number(v);
        else cmd.port = Number(v);
      } else if (verb === 'send' && a === '--data') cmd.data = val();
      else if (a.startsWith('-')) return `${verb} on a kernel host does not take ${a} (usage: ${KERNEL_USAGE[verb]})`;
      else if (groupText === undefined) groupText = a;
      else return `unexpected argument ${JSON.stringify(a)} (usage: ${KERNEL_USAGE[verb]})`;
    } catch (e) {
      return `${(e as Error).message} (usage: ${KERNEL_USAGE[verb]})`;
    }
  }
  if (groupText === undefined) return `${verb} needs a group (usage: ${KERNEL_USAGE[verb]})`;
  let g = groupText;
  if (verb === 'send') {
    const m = /^(.*):(\d+)$/.exec(g);
    if (m && (inParse(m[1]) || in6Parse(m[1].replace(/^\[|\]$/g, '')))) {
      g = m[1].replace(/^\[|\]$/g, '');
      cmd.port = Number(m[2]);
    }
  }
  if (!isGroup(g)) return `${groupText} is not a multicast group address`;
  cmd.group = g;
  const v4 = !!inParse(g);
  for (const s of cmd.sources) if (!isUnicast(s) || !!inParse(s) !== v4) return `source ${s} is not a unicast address of the group's family`;
  if (!cmd.ifname) {
    if (host.interfaces.length !== 1) return `host ${host.name} has ${host.interfaces.length} interfaces; name one with -i`;
    cmd.ifname = host.interfaces[0].name;
  }
  const ifs = host.interfaces.find((i) => i.name === cmd.ifname);
  if (!ifs) return `host ${host.name} has no interface named ${cmd.ifname}`;
  if (v4 && ifs.inet.length === 0) return `${host.name}.${ifs.name} has no IPv4 address (inet) to join or send from`;
  if (cmd.port < 1 || cmd.port > 65535) return 'the port must be from 1 to 65535';
  return cmd;
}

const KERNEL_USAGE: Record<string, string> = {
  join: 'join GROUP [-i IF] [--include S1,S2]',
  leave: 'leave GROUP [-i IF] [--source S1,S2]',
  send: 'send GROUP[:PORT] [-i IF] [--port P] [--count N] [--ttl N] [--data TEXT]',
};

function checkKernelSocketCommand(argv: string[], host: HostSpec): string | undefined {
  const r = parseKernelSocketCommand(argv, host);
  return typeof r === 'string' ? r : undefined;
}

/** taplab host commands whose first operand is a group (checked when the lab is loaded, as a kernel host's are). */
const TAPLAB_GROUP_COMMANDS = new Set(['join', 'leave', 'block', 'unblock', 'send']);
/** Their options that take a value (the next word is not the group). */
const TAPLAB_VALUE_OPTIONS = new Set(['-i', '--interface', '--include', '--exclude', '-s', '--socket', '--source', '--port', '--ttl', '--count', '--interval', '--data']);

function checkTaplabGroupArg(argv: string[]): string | undefined {
  const [verb, ...rest] = argv;
  for (let i = 0; i < rest.length; i++) {
    const a = rest[i];
    if (a === '--') {
      if (i + 1 < rest.length) return groupProblem(verb, rest[i + 1]);
      break;
    }
    if (a.startsWith('-')) {
      if (TAPLAB_VALUE_OPTIONS.has(a)) i++;
      continue;
    }
    return groupProblem(verb, a);
  }
  return `${verb} needs a group address`;
}

function groupProblem(verb: string, text: string): string | undefined {
  let g = text;
  if (verb === 'send') {
    const m = /^(.*):(\d+)$/.exec(g);
    if (m && (inParse(m[1]) || in6Parse(m[1].replace(/^\[|\]$/g, '')))) g = m[1].replace(/^\[|\]$/g, '');
  }
  return isGroup(g) ? undefined : `${verb}: ${text} is not a multicast group address`;
}

/** A step's action keys besides host names. */
const STEP_ACTIONS: readonly string[] = ['pause', 'link', 'version', 'bridge', 'expect'];

/** The candidate within edit distance 2 of `word` (the closest), for "did you mean". */
function nearest(word: string, candidates: Iterable<string>): string | undefined {
  let best: string | undefined;
  let bestD = 3;
  for (const c of candidates) {
    const d = editDistance(word, c);
    if (d < bestD) {
      bestD = d;
      best = c;
    }
  }
  return best;
}

function editDistance(a: string, b: string): number {
  let prev = Array.from({ length: b.length + 1 }, (_, j) => j);
  for (let i = 1; i <= a.length; i++) {
    const cur = [i];
    for (let j = 1; j <= b.length; j++) cur[j] = Math.min(prev[j] + 1, cur[j - 1] + 1, prev[j - 1] + (a[i - 1] === b[j - 1] ? 0 : 1));
    prev = cur;
  }
  return prev[b.length];
}
