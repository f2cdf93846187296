/**
 * Every tool taplab has, by name: the CLI, the control socket of
 * `taplab host` and the lab shell all dispatch through this table.
 */
import type { Tool } from './tool.js';
import { ifmcstatTool } from './ifmcstat.js';
import { sysctlTool } from './sysctl_cmd.js';
import { ifconfigTool } from './ifconfig.js';

export const TOOLS: ReadonlyMap<string, Tool> = new Map<string, Tool>([
  [ifmcstatTool.name, ifmcstatTool],
  [sysctlTool.name, sysctlTool],
  [ifconfigTool.name, ifconfigTool],
]);
