#!/usr/bin/env node
// Build the TAP addon (native/tap.c -> build/Release/taplab_tap.node).
//
// Run by `npm install` (the package's "install" script) and by
// `npm run build:native`. The addon is needed only for labs on real TAP
// devices; everything on in-memory segments works without it. So by default
// a failed build explains what is missing and exits 0, letting the install
// finish; with --strict (as `npm run build:native` uses) it exits 1.
//
// Offline by design: node-gyp is pointed at local Node headers (npm's
// `nodedir`, else the headers next to this node binary) and never downloads.
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const strict = process.argv.includes('--strict');
const addon = join(root, 'build', 'Release', 'taplab_tap.node');

function say(msg) {
  console.log(`taplab: ${msg}`);
}

function have(cmd) {
  return spawnSync('sh', ['-c', `command -v ${cmd}`], { stdio: 'ignore' }).status === 0;
}

function giveUp(problems) {
  console.error('');
  console.error('taplab: the native TAP addon was NOT built.');
  for (const p of problems) console.error(`  - ${p}`);
  console.error('  Labs on in-memory segments work without it; TapDevice.open() will');
  console.error('  throw ENXIO until it is built. Fix the above (as root:');
  console.error('  `bash scripts/install-deps.sh`), then run `npm run build:native`.');
  console.error('');
  process.exit(strict ? 1 : 0);
}

if (process.env.TAPLAB_SKIP_NATIVE === '1') {
  say('TAPLAB_SKIP_NATIVE=1: not building the native TAP addon');
  process.exit(0);
}
if (process.platform !== 'linux') {
  say(`TAP devices are Linux-only; not building the native addon on ${process.platform}`);
  process.exit(0);
}

// Where the Node headers are. npm passes its config to install scripts as
// npm_config_*; run by hand we ask npm, then fall back to this node's prefix.
function findNodedir() {
  const candidates = [];
  if (process.env.npm_config_nodedir) candidates.push(process.env.npm_config_nodedir);
  else {
    const r = spawnSync('npm', ['config', 'get', 'nodedir'], { encoding: 'utf8' });
    const v = (r.stdout ?? '').trim();
    if (r.status === 0 && v && v !== 'undefined' && v !== 'null') candidates.push(v);
  }
  candidates.push(dirname(dirname(process.execPath)), '/usr', '/usr/local');
  return candidates.find((d) => existsSync(join(d, 'include', 'node', 'node_api.h')));
}

const problems = [];
const nodedir = findNodedir();
if (!nodedir)
  problems.push(
    'Node headers: no include/node/node_api.h under npm\'s nodedir, the node prefix, /usr or /usr/local ' +
      '(install the nodejs development headers, or set `npm config set nodedir DIR`)',
  );
if (!have('cc') && !have('gcc')) problems.push('C compiler: neither cc nor gcc found (apt-get install build-essential)');
if (!have('make')) problems.push('make not found (apt-get install build-essential)');
if (!have('python3')) problems.push('python3 not found (node-gyp needs it: apt-get install python3)');

const req = createRequire(import.meta.url);
let gyp = join(root, 'node_modules', 'node-gyp', 'bin', 'node-gyp.js');
if (!existsSync(gyp)) {
  try {
    gyp = req.resolve('node-gyp/bin/node-gyp.js');
  } catch {
    gyp = null;
  }
}
if (problems.length) giveUp(problems);

const uring = existsSync('/usr/include/liburing.h');
say(
  `building the native TAP addon (node headers from ${nodedir}; ` +
    (uring ? 'io_uring writes via liburing)' : 'no liburing.h: plain write() path; apt-get install liburing-dev for io_uring)'),
);

const args = ['rebuild', `--nodedir=${nodedir}`];
const r = gyp
  ? spawnSync(process.execPath, [gyp, ...args], { cwd: root, stdio: 'inherit' })
  : spawnSync('npx', ['--no-install', 'node-gyp', ...args], { cwd: root, stdio: 'inherit' });
if (r.error || r.status !== 0) {
  giveUp([
    r.error
      ? `could not run node-gyp (${r.error.message}); it is a dependency of taplab: run npm install`
      : `node-gyp rebuild failed with status ${r.status}; its output above names the first error`,
  ]);
}

// Load it in a child process: a build that links but cannot load (missing
// liburing.so at run time, wrong ABI) should be reported here, not at open.
const check = spawnSync(
  process.execPath,
  ['-e', `const a=require(${JSON.stringify(addon)});console.log(a.hasLiburing?'io_uring':'write()')`],
  { encoding: 'utf8' },
);
if (check.status !== 0) giveUp([`the addon was built but does not load: ${(check.stderr || '').trim().split('\n')[0]}`]);
say(`native TAP addon ready: ${addon} (write path: ${check.stdout.trim()})`);
