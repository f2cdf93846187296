#!/usr/bin/env node
// The taplab command: runs the compiled sources in dist/ (built by `npm install` / `npm run build`).
import { existsSync } from 'node:fs';

const entry = new URL('../dist/tools/cli.js', import.meta.url);
if (!existsSync(entry)) {
  process.stderr.write('taplab: the TypeScript sources are not compiled; run `npm run build` in the taplab folder\n');
  process.exit(70);
}
const { main } = await import(entry.href);
process.exitCode = await main(process.argv.slice(2));
