/**
 * Every tool taplab has, by name: the CLI, the control socket of
 * `taplab host` and the lab shell all dispatch through this table.
 */
import type { Tool } from './tool.js';
import { ifmcstatTool } from './ifmcstat.js';
import { netstatTool } from './netstat.js';
import { HOST_COMMANDS } from './hostcmd.js';
import { sysctlTool } from './sysctl_cmd.js';
import { ifconfigTool } from './ifconfig.js';
import { querierTool } from './querier.js';

export const TOOLS: ReadonlyMap<string, Tool> = new Map<string, Tool>([
  [ifmcstatTool.name, ifmcstatTool],
  [netstatTool.name, netstatTool],
  ...HOST_COMMANDS.map((t): [string, Tool] => [t.name, t]),
  [sysctlTool.name, sysctlTool],
  [ifconfigTool.name, ifconfigTool],
  [querierTool.name, querierTool],
]);
