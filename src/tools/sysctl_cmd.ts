/**
 * sysctl(8) (FreeBSD sbin/sysctl): read and set a host's sysctl tree.
 *
 *   sysctl [-bdeiNnoqtx] name[=value] ...
 *   sysctl [-bdeNnoqtx] -a
 *
 * The tool works only from what the tree says about each leaf: its format
 * string (`describe(name).fmt`: I int, IU unsigned, L/LU long, Q/QU 64-bit,
 * A string, S,<struct> opaque, N node) and its description; a reader
 * without describe() (a bare snapshot) gets formats inferred from the
 * values. FreeBSD's rules, as sysctl.c applies them:
 *
 *  - `name: value` lines (-e: `name=value`; -n: the value alone; -N: the
 *    name alone; -d: the description; -t: the type; -d -t both);
 *  - a name that is a node prints every leaf beneath it, in OID order;
 *    -a prints every leaf of the tree;
 *  - integers print in decimal (-x: `0x`-prefixed hex padded to the type's
 *    width, printf's `%#0*jx`, so a zero prints as zeros without `0x`),
 *    strings as text;
 *  - opaque structs that have no formatter are skipped entirely unless -o
 *    or -x is given; then they print as
 *    `Format:S,igmpstat Length:168 Dump:0x<hex>`: -x dumps every byte, -o
 *    the first 16 followed by `...`. FreeBSD's loop counts down an unsigned
 *    length after the last byte printed, so the `...` appears exactly when
 *    the value has at most 16 bytes or at least 34, and not for 17..33
 *    bytes; that quirk is kept so the output matches byte for byte;
 *  - reading errors while listing are skipped silently.
 *
 * taplab extension: the S,json leaves (net.route.iflist, net.route.ifmalist,
 * which FreeBSD serves as routing messages taplab does not model) have a
 * formatter, as S,clockinfo or S,timeval do in FreeBSD: they print as one
 * line of JSON, so `sysctl -n net.route.iflist` feeds a JSON parser.
 *
 * -b writes the raw bytes of each value and no newline. env.out takes text,
 * so the bytes are passed as a "binary string": one character per byte,
 * code 0..255 (Buffer's 'latin1' encoding). A caller that writes to a file
 * or a pipe must convert with `Buffer.from(s, 'latin1')` (the CLI and the
 * control socket do); for -b output nothing else is ever mixed in, since
 * every other line is ASCII.
 *
 * Writes (`name=value`): the old value is shown, the value is set through
 * env.writer, and the new value is shown: `name: 2 -> 3`. Numbers are parsed
 * as strtol(3) does with base 0 (decimal, 0x hex, 0 octal; several values
 * separated by spaces or commas make an array); unlike FreeBSD, a number out
 * of the leaf's range is refused as invalid rather than silently truncated.
 * A tree without a writer (a snapshot) refuses every write with one line.
 *
 * Errors are FreeBSD's sentences, one line each on stderr:
 *   sysctl: unknown oid 'foo.bar'                      (-q hides it, -i ignores the name)
 *   sysctl: unknown oid 'net.inet.igmp.ifinfo.1.2': Invalid argument
 *   sysctl: oid 'net.link.generic.system.ifcount' is read only
 *   sysctl: oid 'net.inet.igmp' isn't a leaf node
 *   sysctl: oid 'net.inet.igmp.stats' is type 5, cannot set that
 *   sysctl: invalid integer 'abc'
 *   sysctl: empty numeric value
 *   sysctl: net.inet.igmp.default_version=7: Invalid argument
 * The exit status is the number of names that failed (0 when all did
 * their work), as sysctl(8)'s is; a usage error exits 1.
 *
 * Differences from FreeBSD: no -f (files), -B, -h, -T, -W; a node has no
 * description of its own here, so `sysctl -d NODE` prints only its leaves.
 * FreeBSD's name lookup fails for table rows that do not exist; this
 * tree's lookup is lazy for tables, so a named leaf whose read answers
 * ENOENT is reported as an unknown oid, like FreeBSD.
 */
import { getopt, getoptMessage } from './getopt.js';
import type { SysctlReader, Tool, ToolEnv } from './tool.js';
import type { SysctlInfo } from '../stats/sysctl.js';

const USAGE = 'usage: sysctl [-bdeiNnoqtx] name[=value] ...\n       sysctl [-bdeNnoqtx] -a\n';

const HELP =
  USAGE +
  `
Read and set the host's sysctl tree (FreeBSD sysctl(8)).
  -a   all leaves             -n   values only            -N   names only
  -e   name=value             -d   descriptions           -t   types
  -o   opaque values (16 bytes shown)                     -x   hex: integers and whole opaque values
  -b   raw bytes, no newline (written as bytes; in-process: a latin1 string, one char per byte)
  -q   no 'unknown oid' warnings                          -i   ignore unknown names
A node name prints every leaf beneath it; name=value sets a writable leaf
and prints 'name: old -> new'. The exit status is the number of names that failed.
`;

// CTLTYPE_* (sys/sys/sysctl.h)
const CTLTYPE_NODE = 1;
const CTLTYPE_INT = 2;
const CTLTYPE_STRING = 3;
const CTLTYPE_S64 = 4;
const CTLTYPE_OPAQUE = 5;
const CTLTYPE_UINT = 6;
const CTLTYPE_LONG = 7;
const CTLTYPE_ULONG = 8;
const CTLTYPE_U64 = 9;
const CTLTYPE_U8 = 0xa;
const CTLTYPE_S8 = 0xc;

interface CtlKind {
  type: number;
  name: string;
  /** Bytes per element for the integer types, 0 otherwise. */
  size: number;
  signed: boolean;
}

const KINDS: Record<number, CtlKind> = {
  [CTLTYPE_NODE]: { type: CTLTYPE_NODE, name: 'node', size: 0, signed: false },
  [CTLTYPE_INT]: { type: CTLTYPE_INT, name: 'integer', size: 4, signed: true },
  [CTLTYPE_STRING]: { type: CTLTYPE_STRING, name: 'string', size: 0, signed: false },
  [CTLTYPE_S64]: { type: CTLTYPE_S64, name: 'int64_t', size: 8, signed: true },
  [CTLTYPE_OPAQUE]: { type: CTLTYPE_OPAQUE, name: 'opaque', size: 0, signed: false },
  [CTLTYPE_UINT]: { type: CTLTYPE_UINT, name: 'unsigned integer', size: 4, signed: false },
  [CTLTYPE_LONG]: { type: CTLTYPE_LONG, name: 'long integer', size: 8, signed: true },
  [CTLTYPE_ULONG]: { type: CTLTYPE_ULONG, name: 'unsigned long', size: 8, signed: false },
  [CTLTYPE_U64]: { type: CTLTYPE_U64, name: 'uint64_t', size: 8, signed: false },
  [CTLTYPE_U8]: { type: CTLTYPE_U8, name: 'uint8_t', size: 1, signed: false },
  [CTLTYPE_S8]: { type: CTLTYPE_S8, name: 'int8_t', size: 1, signed: true },
};

/** The CTLTYPE a format string stands for (the kernel keeps both; the tree gives the format). */
export function kindOfFmt(fmt: string): CtlKind {
  switch (fmt) {
    case 'N':
      return KINDS[CTLTYPE_NODE];
    case 'A':
      return KINDS[CTLTYPE_STRING];
    case 'I':
      return KINDS[CTLTYPE_INT];
    case 'IU':
      return KINDS[CTLTYPE_UINT];
    case 'L':
      return KINDS[CTLTYPE_LONG];
    case 'LU':
      return KINDS[CTLTYPE_ULONG];
    case 'Q':
      return KINDS[CTLTYPE_S64];
    case 'QU':
      return KINDS[CTLTYPE_U64];
    case 'C':
      return KINDS[CTLTYPE_S8];
    case 'CU':
      return KINDS[CTLTYPE_U8];
    default:
      // IK (deci-Kelvin) is an int; everything else ("S,...", unknown) is opaque.
      return fmt.startsWith('IK') ? KINDS[CTLTYPE_INT] : KINDS[CTLTYPE_OPAQUE];
  }
}

const STRERROR: Record<string, string> = {
  EPERM: 'Operation not permitted',
  ENOENT: 'No such file or directory',
  ESRCH: 'No such process',
  EIO: 'Input/output error',
  ENXIO: 'Device not configured',
  ENOMEM: 'Cannot allocate memory',
  EACCES: 'Permission denied',
  EBUSY: 'Device busy',
  EEXIST: 'File exists',
  ENODEV: 'Operation not supported by device',
  ENOTDIR: 'Not a directory',
  EINVAL: 'Invalid argument',
  ENOTTY: 'Inappropriate ioctl for device',
  ENOSPC: 'No space left on device',
  EAGAIN: 'Resource temporarily unavailable',
  EOPNOTSUPP: 'Operation not supported',
  EAFNOSUPPORT: 'Address family not supported by protocol family',
  EADDRNOTAVAIL: "Can't assign requested address",
  ENETDOWN: 'Network is down',
  ENOBUFS: 'No buffer space available',
};

/** errno name of a thrown error (KernError.code), if it has one. */
export function errnoOf(e: unknown): string | undefined {
  const code = (e as { code?: unknown } | null)?.code;
  return typeof code === 'string' ? code : undefined;
}

/** strerror(3) of a thrown KernError; the message of anything else. */
export function strerror(e: unknown): string {
  const code = errnoOf(e);
  if (code) return STRERROR[code] ?? code;
  return e instanceof Error ? e.message : String(e);
}

/** A leaf as sysctl(8) sees it after name2oid and oidfmt. */
interface Leaf {
  name: string;
  fmt: string;
  kind: CtlKind;
  descr: string;
  writable: boolean;
}

interface Flags {
  a: boolean;
  b: boolean;
  d: boolean;
  e: boolean;
  i: boolean;
  N: boolean;
  n: boolean;
  o: boolean;
  q: boolean;
  t: boolean;
  x: boolean;
}

class Exit {
  constructor(readonly code: number) {}
}

/** describe() when the reader has it (SysctlTree does; a snapshot reader may not). */
function describeOf(tree: SysctlReader): ((name: string) => SysctlInfo) | undefined {
  if ('describe' in tree && typeof (tree as { describe?: unknown }).describe === 'function')
    return (name) => (tree as unknown as { describe(n: string): SysctlInfo }).describe(name);
  return undefined;
}

/** A format for a leaf of a reader without describe(): from the value's JS type and byte length. */
function inferFmt(tree: SysctlReader, name: string): string {
  const v = tree.get(name);
  if (typeof v.value === 'string') return 'A';
  if (typeof v.value === 'number' && Number.isInteger(v.value)) return v.bytes.byteLength === 8 ? 'Q' : 'I';
  if (typeof v.value === 'bigint') return 'Q';
  return 'S,opaque';
}

/** One run of sysctl: output is collected and handed to env at the end (or as it goes for large listings). */
class Sysctl {
  out = '';
  err = '';
  private readonly describe: ((name: string) => SysctlInfo) | undefined;

  constructor(
    private readonly env: ToolEnv,
    private readonly f: Flags,
  ) {
    this.describe = describeOf(env.tree);
  }

  private warnx(msg: string): void {
    this.err += `sysctl: ${msg}\n`;
  }

  /** name2oid + oidfmt for a leaf; throws what the tree throws. */
  private leaf(name: string): Leaf {
    if (this.describe) {
      const d = this.describe(name);
      return { name: d.name, fmt: d.fmt, kind: kindOfFmt(d.fmt), descr: d.descr, writable: d.writable };
    }
    this.env.tree.name2oid(name);
    const fmt = inferFmt(this.env.tree, name);
    // Writability is unknown without describe(): let the writer (or its absence) decide.
    return { name, fmt, kind: kindOfFmt(fmt), descr: '', writable: true };
  }

  /** The leaves below a node name, or undefined when `name` is not a node (a leaf or unknown). */
  private children(name: string): string[] | undefined {
    let list: string[];
    try {
      list = this.env.tree.list(name);
    } catch {
      return undefined;
    }
    if (list.includes(name)) return undefined;
    return list;
  }

  /**
   * show_var(): print one leaf without its newline. Returns true when
   * something was printed (the caller adds the newline unless -b).
   * `forceN` prints the value alone (the new value after a write).
   */
  private show(l: Leaf, forceN = false): boolean {
    const f = this.f;
    const nflag = f.n || forceN;
    if (f.N) {
      this.out += l.name;
      return true;
    }
    const sep = f.e ? '=' : ': ';
    if (f.t || f.d) {
      if (!nflag) this.out += l.name + sep;
      if (f.t && f.d) this.out += l.kind.name + sep;
      else if (f.t) {
        this.out += l.kind.name;
        return true;
      }
      this.out += l.descr;
      return true;
    }
    const json = l.fmt === 'S,json';
    // Opaque values without a formatter are not even fetched unless asked for.
    if (l.kind.type === CTLTYPE_OPAQUE && !json && !f.b && !f.o && !f.x) return false;
    let v: { value: unknown; bytes: Uint8Array };
    try {
      v = this.env.tree.get(l.name);
    } catch {
      return false;
    }
    const bytes = v.bytes;
    if (bytes.byteLength === 0 && l.kind.type !== CTLTYPE_STRING) return false;
    if (f.b) {
      this.out += binaryString(bytes);
      return true;
    }
    const head = nflag ? '' : l.name + sep;
    switch (l.kind.type) {
      case CTLTYPE_STRING: {
        this.out += head + (typeof v.value === 'string' ? v.value : cString(bytes));
        return true;
      }
      case CTLTYPE_OPAQUE:
        if (json) {
          this.out += head + JSON.stringify(v.value);
          return true;
        }
        this.out += head + dump(l.fmt, bytes, f.x);
        return true;
      case CTLTYPE_NODE:
        return false;
      default:
        this.out += head + integers(l.kind, bytes, f.x, v.value);
        return true;
    }
  }

  private showLine(l: Leaf): void {
    if (this.show(l) && !this.f.b) this.out += '\n';
  }

  /** sysctl_all(): every leaf under a prefix (all of them without one). */
  listAll(prefix?: string): void {
    let names: string[];
    try {
      names = this.env.tree.list(prefix);
    } catch {
      return;
    }
    for (const name of names) {
      let l: Leaf;
      try {
        l = this.leaf(name);
      } catch {
        continue;
      }
      this.showLine(l);
    }
  }

  /** parse(): one command-line argument. Returns 1 when it failed, 0 otherwise. */
  parse(arg: string): number {
    const f = this.f;
    // Split at the first '=' or ':', trim, strip one pair of quotes around the value.
    const cut = arg.search(/[=:]/);
    let name = cut < 0 ? arg : arg.slice(0, cut);
    let value: string | undefined;
    if (cut >= 0) {
      value = arg.slice(cut + 1).replace(/^\s+/, '');
      const q = value[0];
      if (q === '"' || q === "'") value = value.endsWith(q) && value.length > 1 ? value.slice(1, -1) : value.slice(1);
    }
    name = name.replace(/\s+$/, '');

    const kids = name === '' ? undefined : this.children(name);
    let l: Leaf | undefined;
    if (kids === undefined) {
      try {
        l = this.leaf(name);
        // FreeBSD's lookup fails for rows that do not exist; this tree's is lazy for tables.
        this.env.tree.get(name);
      } catch (e) {
        if (f.i) return 0;
        if (!f.q) this.warnx(errnoOf(e) === 'ENOENT' || name === '' ? `unknown oid '${name}'` : `unknown oid '${name}': ${strerror(e)}`);
        return 1;
      }
    }

    if (value === undefined || f.d) {
      if (kids !== undefined) for (const k of kids) this.listAllOne(k);
      else this.showLine(l!);
      return 0;
    }

    // A new value to set.
    if (kids !== undefined || !l) {
      this.warnx(`oid '${name}' isn't a leaf node`);
      return 1;
    }
    if (!l.writable) {
      this.warnx(`oid '${name}' is read only`);
      return 1;
    }
    const writer = this.env.writer;
    if (!writer) {
      this.warnx(`oid '${name}' cannot be set: this tree is a snapshot, not a live host`);
      return 1;
    }
    const t = l.kind.type;
    let newval: unknown;
    if (t === CTLTYPE_STRING) {
      newval = value;
    } else if (l.kind.size > 0) {
      if (value.length === 0) {
        this.warnx('empty numeric value');
        return 1;
      }
      const nums: bigint[] = [];
      for (const tok of value.split(/[ ,]/)) {
        if (tok === '') continue;
        const n = parseCInteger(tok, l.kind);
        if (n === undefined) {
          this.warnx(`invalid ${l.kind.name} '${tok}'`);
          return 1;
        }
        nums.push(n);
      }
      newval = nums.length === 1 ? scalar(nums[0]) : packIntegers(nums, l.kind);
    } else {
      this.warnx(`oid '${name}' is type ${t}, cannot set that`);
      return 1;
    }

    const shown = this.show(l);
    try {
      writer.set(l.name, newval);
    } catch (e) {
      if (shown && !f.b) this.out += '\n';
      const code = errnoOf(e);
      if (code === 'EOPNOTSUPP') this.warnx(`${arg}: value is not available`);
      else if (code === 'ENOTDIR') this.warnx(`${arg}: specification is incomplete`);
      else if (code === 'ENOMEM') this.warnx(`${arg}: type is unknown to this program`);
      else this.warnx(`${arg}: ${strerror(e)}`);
      return 1;
    }
    if (!f.b) this.out += ' -> ';
    if (this.show(l, true) && !f.b) this.out += '\n';
    return 0;
  }

  private listAllOne(name: string): void {
    let l: Leaf;
    try {
      l = this.leaf(name);
    } catch {
      return;
    }
    this.showLine(l);
  }
}

/** Bytes as a binary string: one char per byte (Buffer 'latin1'). */
export function binaryString(bytes: Uint8Array): string {
  let s = '';
  for (let i = 0; i < bytes.length; i += 4096) s += String.fromCharCode(...bytes.subarray(i, i + 4096));
  return s;
}

/** printf("%.*s"): the bytes up to the first NUL, as UTF-8 text. */
function cString(bytes: Uint8Array): string {
  const nul = bytes.indexOf(0);
  return new TextDecoder().decode(nul < 0 ? bytes : bytes.subarray(0, nul));
}

function hex2(b: number): string {
  return b.toString(16).padStart(2, '0');
}

/** `Format:<fmt> Length:<n> Dump:0x<hex>`, with FreeBSD's 16-byte cut and its `...` rule. */
function dump(fmt: string, bytes: Uint8Array, all: boolean): string {
  const len = bytes.byteLength;
  let s = `Format:${fmt} Length:${len} Dump:0x`;
  const shown = all ? len : Math.min(len, 16);
  for (let i = 0; i < shown; i++) s += hex2(bytes[i]);
  // The C loop leaves the unsigned count at len-17 after a cut (len > 16), or
  // wrapped below zero after printing everything (len <= 16).
  if (!all && (len <= 16 || len - 17 > 16)) s += '...';
  return s;
}

/** The integer elements of a value, space separated, as show_var prints them. */
function integers(kind: CtlKind, bytes: Uint8Array, hex: boolean, value: unknown): string {
  const size = kind.size;
  const dv = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const parts: string[] = [];
  for (let off = 0; off + size <= bytes.byteLength; off += size) {
    let u: bigint;
    let s: bigint;
    if (size === 1) {
      u = BigInt(dv.getUint8(off));
      s = BigInt(dv.getInt8(off));
    } else if (size === 4) {
      u = BigInt(dv.getUint32(off, true));
      s = BigInt(dv.getInt32(off, true));
    } else {
      u = dv.getBigUint64(off, true);
      s = dv.getBigInt64(off, true);
    }
    parts.push(hex ? hexWidth(u, 2 + size * 2) : kind.signed ? s.toString() : u.toString());
  }
  if (parts.length === 0 && (typeof value === 'number' || typeof value === 'bigint')) parts.push(String(value));
  return parts.join(' ');
}

/** printf("%#0*jx", width, v): `0x` and zero padding to `width` in all; zero has no `0x`. */
function hexWidth(v: bigint, width: number): string {
  if (v === 0n) return '0'.repeat(width);
  return '0x' + v.toString(16).padStart(width - 2, '0');
}

/** strtol/strtoul with base 0, the whole token consumed and in the type's range; undefined if not. */
export function parseCInteger(tok: string, kind: CtlKind): bigint | undefined {
  const m = /^\s*([+-]?)(?:0[xX]([0-9a-fA-F]+)|(0[0-7]*)|([1-9][0-9]*))$/.exec(tok);
  if (!m) return undefined;
  let n = m[2] !== undefined ? BigInt('0x' + m[2]) : m[3] !== undefined ? BigInt('0o' + (m[3].slice(1) || '0')) : BigInt(m[4]);
  if (m[1] === '-') n = -n;
  const bits = BigInt(kind.size * 8);
  const lo = kind.signed ? -(1n << (bits - 1n)) : 0n;
  const hi = kind.signed ? (1n << (bits - 1n)) - 1n : (1n << bits) - 1n;
  return n < lo || n > hi ? undefined : n;
}

/** One parsed number as the writer takes it: a JS number when exact, else a bigint. */
function scalar(n: bigint): number | bigint {
  return n >= BigInt(Number.MIN_SAFE_INTEGER) && n <= BigInt(Number.MAX_SAFE_INTEGER) ? Number(n) : n;
}

/** Several numbers: the little-endian array a C program would pass as newval. */
function packIntegers(nums: bigint[], kind: CtlKind): Uint8Array {
  const out = new Uint8Array(nums.length * kind.size);
  const dv = new DataView(out.buffer);
  nums.forEach((n, i) => {
    const off = i * kind.size;
    if (kind.size === 1) dv.setUint8(off, Number(BigInt.asUintN(8, n)));
    else if (kind.size === 4) dv.setUint32(off, Number(BigInt.asUintN(32, n)), true);
    else dv.setBigUint64(off, BigInt.asUintN(64, n), true);
  });
  return out;
}

/** Run sysctl(8) over a tool environment; returns the exit status. */
export function sysctl(env: ToolEnv, argv: string[]): number {
  const flags: Flags = { a: false, b: false, d: false, e: false, i: false, N: false, n: false, o: false, q: false, t: false, x: false };
  let err = '';
  const usage = (): never => {
    err += USAGE;
    throw new Exit(1);
  };
  let s: Sysctl | undefined;
  try {
    if (argv[0] === '--help') {
      env.out(HELP);
      return 0;
    }
    const { items, operands } = getopt(argv, 'AabdeiNnoqtwXx');
    for (const it of items) {
      if (it.error) {
        err += getoptMessage('sysctl', it);
        usage();
      } else if (it.opt in flags) flags[it.opt as keyof Flags] = true;
      else if (it.opt === 'A') flags.a = flags.o = true; // compatibility, as FreeBSD
      else if (it.opt === 'X') flags.a = flags.x = true;
      // -w: compatibility, name=value implies a write
    }
    const names = operands;
    if (flags.N && flags.n) usage();
    s = new Sysctl(env, flags);
    if (flags.a && names.length === 0) {
      s.listAll();
      return 0;
    }
    if (names.length === 0) usage();
    let failures = 0;
    for (const n of names) failures += s.parse(n);
    return Math.min(failures, 255);
  } catch (e) {
    if (e instanceof Exit) return e.code;
    throw e;
  } finally {
    if (s?.out) env.out(s.out);
    if (s?.err) err = s.err + err;
    if (err) env.err(err);
  }
}

/** sysctl as a Tool (CLI, control socket, lab shell). */
export const sysctlTool: Tool = {
  name: 'sysctl',
  summary: "get or set the host's sysctl variables (FreeBSD sysctl(8))",
  run: (env, argv) => sysctl(env, argv),
};
