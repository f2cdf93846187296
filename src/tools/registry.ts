/**
 * Every tool taplab has, by name: the CLI, the control socket of
 * `taplab host` and the lab shell all dispatch through this table.
 */
import { hostEnv, runToolToString, type Tool, type ToolResult } from './tool.js';
import type { Host } from '../host.js';
import { SysctlTree } from '../stats/sysctl.js';
import { ifmcstatTool } from './ifmcstat.js';
import { netstatTool } from './netstat.js';
import { HOST_COMMANDS } from './hostcmd.js';
import { sysctlTool } from './sysctl_cmd.js';
import { ifconfigTool } from './ifconfig.js';
import { querierTool } from './querier.js';
import { dmesgTool } from './dmesg.js';

export const TOOLS: ReadonlyMap<string, Tool> = new Map<string, Tool>([
  [ifmcstatTool.name, ifmcstatTool],
  [netstatTool.name, netstatTool],
  ...HOST_COMMANDS.map((t): [string, Tool] => [t.name, t]),
  [sysctlTool.name, sysctlTool],
  [ifconfigTool.name, ifconfigTool],
  [querierTool.name, querierTool],
  [dmesgTool.name, dmesgTool],
]);

const trees = new WeakMap<Host, SysctlTree>();

/** The sysctl tree of a host (one per host, made on first use). */
export function sysctlTreeOf(host: Host): SysctlTree {
  let t = trees.get(host);
  if (!t) trees.set(host, (t = new SysctlTree(host)));
  return t;
}

/**
 * Run a tool in-process on a lab's host, as `taplab -j NAME <argv>` runs it
 * in `taplab host`: `runOnHost(h1, ['ifmcstat', '-v'])`. Interval tools
 * (netstat -w) wait on the host's scheduler, so in virtual time the lab
 * must advance it; pass a signal to stop them.
 */
export async function runOnHost(host: Host, argv: string[], opts: { signal?: AbortSignal } = {}): Promise<ToolResult> {
  const [name, ...args] = argv;
  const tool = name === undefined ? undefined : TOOLS.get(name);
  if (!tool) return { stdout: '', stderr: `taplab: ${name === undefined ? 'no command given' : `${name}: unknown command`} (commands: ${[...TOOLS.keys()].join(', ')})\n`, code: 64 };
  return runToolToString(tool, { ...hostEnv(host, sysctlTreeOf(host), { out: () => {}, err: () => {}, signal: opts.signal }) }, args);
}
